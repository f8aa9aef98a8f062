"""Tests for genlab.corpus, genlab.gutenberg and the ``genlab corpus`` CLI.

Downloads are served by a local http.server on 127.0.0.1; nothing here touches the
internet.
"""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from genlab.corpus import corpus_name, iter_corpus, parse_corpus_spec, read_corpus, sha256_file
from genlab.errors import GenlabError
from genlab.gutenberg import fetch_gutenberg, gutenberg_title, parse_source, slugify, strip, strip_gutenberg

# An original stand-in for a Project Gutenberg file (not a real book).
FAKE_BOOK = """\
The Project Gutenberg eBook of The Lamplighter's Ledger

This ebook is for the use of anyone anywhere in the United States and
most other parts of the world at no cost and with almost no restrictions
whatsoever.

Title: The Lamplighter's Ledger

Author: A. Nobody

Release date: January 1, 2099 [eBook #90001]

Language: English

*** START OF THE PROJECT GUTENBERG EBOOK THE LAMPLIGHTER'S LEDGER ***



CHAPTER I.

Every evening Maren climbed the tower stairs with a tin of oil and a
ledger, and every evening she wrote down one thing the town had done
wrong.

\u201cYou keep accounts of us,\u201d said the baker, \u201cas if we owed you.\u201d

\u201cYou do,\u201d said Maren. \u201cOne candle each.\u201d


      *** END OF THE PROJECT GUTENBERG EBOOK THE LAMPLIGHTER'S LEDGER ***

Updated editions will replace the previous one.
Section 5. General Information About Project Gutenberg electronic works
"""

EXPECTED_BODY = """\
CHAPTER I.

Every evening Maren climbed the tower stairs with a tin of oil and a
ledger, and every evening she wrote down one thing the town had done
wrong.

\u201cYou keep accounts of us,\u201d said the baker, \u201cas if we owed you.\u201d

\u201cYou do,\u201d said Maren. \u201cOne candle each.\u201d
"""

OLD_STYLE_BOOK = """\
The Project Gutenberg EBook of Small Hours, by Nobody in Particular

Title: Small Hours

Author: Nobody in Particular

*** START OF THIS PROJECT GUTENBERG EBOOK SMALL HOURS ***

Produced by nobody.



The clock struck three and the cat, unimpressed, struck back.



End of the Project Gutenberg EBook of Small Hours, by Nobody in Particular

*** END OF THIS PROJECT GUTENBERG EBOOK SMALL HOURS ***

***** This file should be named 12345.txt or 12345.zip *****
"""


def as_served(text: str) -> bytes:
    """How the fake file is served: BOM, CRLF line endings, UTF-8."""
    return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")


# --------------------------------------------------------------------------- read_corpus


def test_read_corpus_strips_bom_and_normalises_newlines(tmp_path: Path) -> None:
    p = tmp_path / "c.txt"
    p.write_bytes(b"\xef\xbb\xbfone\r\ntwo\rthree\n" + "é".encode("utf-8"))
    assert read_corpus(p) == "one\ntwo\nthree\né"


def test_read_corpus_utf8_sig_encoding(tmp_path: Path) -> None:
    p = tmp_path / "c.txt"
    p.write_bytes(b"\xef\xbb\xbfhello\r\n")
    assert read_corpus(p, encoding="utf-8-sig") == "hello\n"


def test_read_corpus_missing(tmp_path: Path) -> None:
    with pytest.raises(GenlabError, match=r"nope\.txt: no such file"):
        read_corpus(tmp_path / "nope.txt")


def test_read_corpus_directory(tmp_path: Path) -> None:
    with pytest.raises(GenlabError, match="is a directory"):
        read_corpus(tmp_path)


@pytest.mark.parametrize("content", [b"", b"  \n\r\n\t  \n"])
def test_read_corpus_empty_or_whitespace(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "blank.txt"
    p.write_bytes(content)
    with pytest.raises(GenlabError, match=r"blank\.txt (is empty|contains only whitespace)"):
        read_corpus(p)


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",  # NUL bytes
        bytes(range(1, 9)) * 200 + b"some text",  # mostly control characters
    ],
)
def test_read_corpus_binary(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "image.bin"
    p.write_bytes(content)
    with pytest.raises(GenlabError, match="looks like a binary file, not text") as info:
        read_corpus(p)
    assert "image.bin" in str(info.value)


def test_read_corpus_binary_even_with_explicit_encoding(tmp_path: Path) -> None:
    p = tmp_path / "x.bin"
    p.write_bytes(b"abc\x00def" * 10)
    with pytest.raises(GenlabError, match="binary"):
        read_corpus(p, encoding="latin-1")


def test_read_corpus_latin1_reports_offset(tmp_path: Path) -> None:
    p = tmp_path / "corpus.txt"
    p.write_bytes(b"A plain start, then caf\xe9 au lait.\n")
    offset = p.read_bytes().index(b"\xe9")
    with pytest.raises(GenlabError) as info:
        read_corpus(p)
    msg = str(info.value)
    assert f"invalid byte 0xE9 at offset {offset}" in msg
    assert "corpus.txt is not UTF-8" in msg
    assert "--encoding latin-1" in msg
    assert "\n" not in msg


def test_read_corpus_explicit_latin1(tmp_path: Path) -> None:
    p = tmp_path / "corpus.txt"
    p.write_bytes(b"caf\xe9\r\nna\xefve\r\n")
    assert read_corpus(p, encoding="latin-1") == "café\nnaïve\n"


def test_read_corpus_explicit_encoding_is_strict(tmp_path: Path) -> None:
    p = tmp_path / "corpus.txt"
    p.write_bytes(b"ok \xff")
    with pytest.raises(GenlabError, match=r"not valid ascii: invalid byte 0xFF at offset 3"):
        read_corpus(p, encoding="ascii")


@pytest.mark.parametrize("enc", ["no-such-codec", "rot13"])
def test_read_corpus_unknown_encoding(tmp_path: Path, enc: str) -> None:
    p = tmp_path / "corpus.txt"
    p.write_text("hello")
    with pytest.raises(GenlabError, match=enc):
        read_corpus(p, encoding=enc)


def test_read_corpus_utf16_hint(tmp_path: Path) -> None:
    p = tmp_path / "wide.txt"
    p.write_bytes("hello\r\nworld".encode("utf-16"))
    with pytest.raises(GenlabError, match="--encoding utf-16"):
        read_corpus(p)
    assert read_corpus(p, encoding="utf-16") == "hello\nworld"


def test_read_corpus_permission_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "secret.txt"
    p.write_text("hello")

    def denied(self: Path, *args: object, **kwargs: object) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(GenlabError, match=r"cannot read .*secret\.txt: permission denied"):
        read_corpus(p)


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5])
def test_iter_corpus_pieces_cut_anywhere(tmp_path: Path, chunk_bytes: int) -> None:
    import hashlib

    p = tmp_path / "c.txt"
    data = "\ufeffcaf\u00e9 \u20ac\r\nline\rend\r\n".encode("utf-8")
    p.write_bytes(data)
    digest = hashlib.sha256()
    pieces = list(iter_corpus(p, chunk_bytes=chunk_bytes, digest=digest))
    assert "".join(pieces) == read_corpus(p) == "caf\u00e9 \u20ac\nline\nend\n"
    assert all(pieces)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    p.write_bytes(b"ok text " * 3 + b"\xe9 more")
    with pytest.raises(GenlabError, match="invalid byte 0xE9 at offset 24 "):
        list(iter_corpus(p, chunk_bytes=chunk_bytes))


# --------------------------------------------------------------------------- small helpers


def test_parse_corpus_spec(tmp_path: Path) -> None:
    assert parse_corpus_spec("corpus.txt") == (Path("corpus.txt"), 1.0)
    assert parse_corpus_spec("corpus.txt:2.0") == (Path("corpus.txt"), 2.0)
    assert parse_corpus_spec("dir/c.txt:0.5") == (Path("dir/c.txt"), 0.5)
    assert parse_corpus_spec("notes:draft.txt") == (Path("notes:draft.txt"), 1.0)
    for bad in ["c.txt:0", "c.txt:-1", "c.txt:nan", "c.txt:inf", "c.txt:"]:
        with pytest.raises(GenlabError):
            parse_corpus_spec(bad)


def test_parse_corpus_spec_prefers_existing_file_with_colon(tmp_path: Path) -> None:
    odd = tmp_path / "weird.txt:3"
    odd.write_text("text")
    assert parse_corpus_spec(str(odd)) == (odd, 1.0)


def test_corpus_name_and_sha(tmp_path: Path) -> None:
    assert corpus_name("corpora/novel.txt") == "novel"
    p = tmp_path / "a.txt"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(GenlabError):
        sha256_file(tmp_path / "missing.txt")


def test_parse_source() -> None:
    assert parse_source("gutenberg:1342") == ("gutenberg", 1342)
    for bad in ["nonsense", "gutenberg:", "gutenberg:abc", "gutenberg:0", "http://x/1342"]:
        with pytest.raises(GenlabError, match="gutenberg:<book number>"):
            parse_source(bad)


def test_slugify() -> None:
    assert slugify("Pride and Prejudice") == "pride-and-prejudice"
    assert slugify("The Lamplighter\u2019s Ledger") == "the-lamplighters-ledger"
    assert slugify("Les Misérables") == "les-miserables"
    assert slugify("???") == ""
    assert len(slugify("word " * 40)) <= 60


# --------------------------------------------------------------------------- strip_gutenberg


def test_strip_gutenberg_new_style_with_indented_end() -> None:
    raw = "\ufeff" + FAKE_BOOK.replace("\n", "\r\n")
    assert strip_gutenberg(raw) == EXPECTED_BODY
    assert gutenberg_title(raw) == "The Lamplighter's Ledger"


def test_strip_gutenberg_old_style_markers() -> None:
    out = strip_gutenberg(OLD_STYLE_BOOK)
    assert out == (
        "Produced by nobody.\n\n\n\n"
        "The clock struck three and the cat, unimpressed, struck back.\n"
    )
    assert gutenberg_title(OLD_STYLE_BOOK) == "Small Hours"


def test_strip_gutenberg_end_of_projects_gutenbergs() -> None:
    text = (
        "Title: X\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nBody line.\n"
        "End of Project Gutenberg's X, by Y\nlicence text\n"
    )
    assert strip_gutenberg(text) == "Body line.\n"


def test_strip_gutenberg_case_insensitive_and_wrapped_start() -> None:
    text = (
        "*** Start of the Project Gutenberg eBook A VERY LONG TITLE THAT\n"
        "WRAPS ONTO A SECOND LINE ***\nThe body.\n*** end of the project gutenberg ebook ***\n"
    )
    assert strip_gutenberg(text) == "The body.\n"


def test_strip_gutenberg_requires_start_marker() -> None:
    with pytest.raises(GenlabError, match=r"does not look like a Project Gutenberg text \(no START marker\)"):
        strip_gutenberg("Just some text.\n")


def test_strip_says_what_it_cut() -> None:
    body, cut = strip("\ufeff" + FAKE_BOOK.replace("\n", "\r\n"))
    assert body == EXPECTED_BODY
    assert cut
    assert cut.header.startswith("The Project Gutenberg eBook of The Lamplighter's Ledger\n")
    assert cut.header.rstrip().endswith("*** START OF THE PROJECT GUTENBERG EBOOK THE LAMPLIGHTER'S LEDGER ***")
    assert cut.footer.lstrip().startswith("*** END OF THE PROJECT GUTENBERG EBOOK")
    assert cut.footer.endswith("General Information About Project Gutenberg electronic works\n")
    assert "\r" not in cut.header + body + cut.footer


def test_strip_leaves_other_text_whole() -> None:
    body, cut = strip("\ufeffJust some text.\r\n\r\n")
    assert body == "Just some text.\n\n"
    assert not cut and cut.header == "" and cut.footer == ""


def test_strip_without_end_marker_cuts_only_the_header() -> None:
    body, cut = strip("Title: X\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\nThe body.\n")
    assert body == "The body.\n"
    assert cut.header == "Title: X\n*** START OF THE PROJECT GUTENBERG EBOOK X ***"
    assert cut.footer == ""


def test_strip_gutenberg_requires_a_body() -> None:
    text = "*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\n"
    assert strip(text)[0] == ""
    with pytest.raises(GenlabError, match=r"^book 7 has nothing between the Project Gutenberg header and footer$"):
        strip_gutenberg(text, source="book 7")


def test_gutenberg_title_missing() -> None:
    assert gutenberg_title("*** START OF THE PROJECT GUTENBERG EBOOK ***\nTitle: not header\n") is None


# --------------------------------------------------------------------------- fetch_gutenberg


class _Handler(http.server.BaseHTTPRequestHandler):
    books: dict[int, bytes] = {
        90001: as_served(FAKE_BOOK),
        90003: as_served(FAKE_BOOK.replace("Title: The Lamplighter's Ledger\n", "")),
        90004: b"<html><body>Not a book</body></html>",
    }
    requests: list[tuple[str, str]] = []

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        type(self).requests.append((self.path, self.headers.get("User-Agent", "")))
        if self.path == "/cache/epub/90002/pg90002.txt":
            # Promise a long body, send a little, then hang up.
            body = as_served(FAKE_BOOK)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:200])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path == "/cache/epub/90005/pg90005.txt":
            time.sleep(1.0)  # longer than the client's timeout
            try:
                self.send_error(500)
            except OSError:  # the client has given up and closed the connection
                pass
            return
        if self.path == "/cache/epub/90006/pg90006.txt":
            self.send_error(503, "Busy")
            return
        for number, body in self.books.items():
            if self.path == f"/cache/epub/{number}/pg{number}.txt":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        self.send_error(404)


@pytest.fixture(scope="module")
def mirror():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_fetch_gutenberg_end_to_end(tmp_path: Path, mirror: str) -> None:
    dest = tmp_path / "corpora"
    path = fetch_gutenberg(90001, dest_dir=dest, mirror=mirror + "/")
    assert path == dest / "the-lamplighters-ledger.txt"
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in data
    assert data.decode("utf-8") == EXPECTED_BODY
    assert _files(dest) == ["the-lamplighters-ledger.txt"]
    path_seen, agent = _Handler.requests[-1]
    assert path_seen == "/cache/epub/90001/pg90001.txt"
    assert "genlab" in agent
    # The saved file is a valid corpus.
    assert read_corpus(path) == EXPECTED_BODY


def test_fetch_gutenberg_refuses_overwrite(tmp_path: Path, mirror: str) -> None:
    fetch_gutenberg(90001, dest_dir=tmp_path, mirror=mirror)
    target = tmp_path / "the-lamplighters-ledger.txt"
    target.write_text("mine\n")
    with pytest.raises(GenlabError, match="already exists"):
        fetch_gutenberg(90001, dest_dir=tmp_path, mirror=mirror)
    assert target.read_text() == "mine\n"
    assert _files(tmp_path) == ["the-lamplighters-ledger.txt"]
    fetch_gutenberg(90001, dest_dir=tmp_path, mirror=mirror, overwrite=True)
    assert target.read_text() == EXPECTED_BODY


def test_fetch_gutenberg_env_mirror_and_fallback_name(
    tmp_path: Path, mirror: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENLAB_GUTENBERG_MIRROR", mirror)
    path = fetch_gutenberg(90003, dest_dir=tmp_path)
    assert path.name == "gutenberg-90003.txt"


def test_fetch_gutenberg_404(tmp_path: Path, mirror: str) -> None:
    with pytest.raises(GenlabError, match="no Project Gutenberg book numbered 99999"):
        fetch_gutenberg(99999, dest_dir=tmp_path, mirror=mirror)
    assert _files(tmp_path) == []


def test_fetch_gutenberg_connection_dropped_mid_body(tmp_path: Path, mirror: str) -> None:
    with pytest.raises(GenlabError, match="cut off|dropped") as info:
        fetch_gutenberg(90002, dest_dir=tmp_path, mirror=mirror)
    assert "\n" not in str(info.value)
    assert _files(tmp_path) == []


@pytest.mark.parametrize(
    ("number", "pattern"),
    [
        (90004, "does not look like a Project Gutenberg text"),
        (90006, "HTTP 503"),
    ],
)
def test_fetch_gutenberg_bad_responses(tmp_path: Path, mirror: str, number: int, pattern: str) -> None:
    with pytest.raises(GenlabError, match=pattern):
        fetch_gutenberg(number, dest_dir=tmp_path, mirror=mirror)
    assert _files(tmp_path) == []


def test_fetch_gutenberg_timeout(tmp_path: Path, mirror: str) -> None:
    with pytest.raises(GenlabError, match="timed out"):
        fetch_gutenberg(90005, dest_dir=tmp_path, mirror=mirror, timeout=0.2)
    assert _files(tmp_path) == []


def test_fetch_gutenberg_connection_refused(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # find a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GenlabError, match="cannot download"):
        fetch_gutenberg(1, dest_dir=tmp_path, mirror=f"http://127.0.0.1:{port}", timeout=2)


def test_fetch_gutenberg_unwritable_destination(tmp_path: Path, mirror: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = blocker / "corpora" / "the-lamplighters-ledger.txt"
    with pytest.raises(GenlabError) as info:
        fetch_gutenberg(90001, dest_dir=blocker / "corpora", mirror=mirror)
    assert str(info.value) == f"cannot save {target}: Not a directory"
    assert _files(tmp_path) == ["file"]


def test_fetch_gutenberg_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(GenlabError, match="positive integer"):
        fetch_gutenberg(0, dest_dir=tmp_path, mirror="http://127.0.0.1:1")
    with pytest.raises(GenlabError, match="http:// or https://"):
        fetch_gutenberg(1, dest_dir=tmp_path, mirror="ftp://example")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(GenlabError, match="not a directory"):
        fetch_gutenberg(1, dest_dir=f, mirror="http://127.0.0.1:1")


# --------------------------------------------------------------------------- CLI


def _cli() -> click.Group:
    """The real ``genlab`` group, with its one-line error handling (no stand-in: breaking the
    real handler must fail these tests)."""
    from genlab.cli import cli

    return cli


def test_cli_fetch(tmp_path: Path, mirror: str) -> None:
    result = CliRunner().invoke(
        _cli(), ["corpus", "fetch", "gutenberg:90001", "--mirror", mirror, "--dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    saved = tmp_path / "the-lamplighters-ledger.txt"
    assert saved.read_text(encoding="utf-8") == EXPECTED_BODY
    assert str(saved) in result.output
    assert f"({len(EXPECTED_BODY.split())} words)" in result.output
    assert f"genlab train-markov {saved}" in result.output


def test_cli_fetch_force(tmp_path: Path, mirror: str) -> None:
    args = ["corpus", "fetch", "gutenberg:90001", "--mirror", mirror, "--dir", str(tmp_path)]
    runner = CliRunner()
    assert runner.invoke(_cli(), args).exit_code == 0
    again = runner.invoke(_cli(), args)
    assert again.exit_code == 1
    assert "already exists" in again.output and "--force" in again.output
    assert runner.invoke(_cli(), [*args, "--force"]).exit_code == 0


def test_cli_fetch_nonsense_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(_cli(), ["corpus", "fetch", "nonsense", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "gutenberg:<book number>" in lines[0]
    assert "Traceback" not in result.output


def test_cli_fetch_help_has_example() -> None:
    result = CliRunner().invoke(_cli(), ["corpus", "fetch", "--help"])
    assert result.exit_code == 0
    assert "genlab corpus fetch gutenberg:1342" in result.output
    assert "--force" in result.output and "--mirror" in result.output


def _ten_paragraphs(path: Path) -> Path:
    path.write_text("\n\n".join(f"Paragraph {i} of the book." for i in range(10)) + "\n", encoding="utf-8")
    return path


def test_cli_split(tmp_path: Path) -> None:
    book = _ten_paragraphs(tmp_path / "book.txt")
    out = tmp_path / "parts"
    result = CliRunner().invoke(_cli(), ["corpus", "split", str(book), "--held-out", "0.2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    train, held = (out / "book-train.txt").read_text(), (out / "book-held-out.txt").read_text()
    assert train == "\n\n".join(f"Paragraph {i} of the book." for i in range(8)) + "\n"
    assert held == "Paragraph 8 of the book.\n\nParagraph 9 of the book.\n"
    assert result.output.splitlines() == [
        f"wrote {out / 'book-train.txt'} ({len(train) - 1:,} bytes)",
        f"wrote {out / 'book-held-out.txt'} ({len(held) - 1:,} bytes)",
    ]


def test_cli_split_unwritable_folder_is_one_line(tmp_path: Path) -> None:
    book = _ten_paragraphs(tmp_path / "book.txt")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(_cli(), ["corpus", "split", str(book), "-o", str(blocker / "parts")])
    assert result.exit_code == 1
    target = blocker / "parts" / "book-train.txt"
    assert result.output.strip() == f"genlab: error: cannot write {target}: Not a directory"
