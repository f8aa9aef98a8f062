"""Reading training corpora and fetching public-domain books.

Everything a user can get wrong here (a missing file, a binary file, a file in the wrong
encoding, a bad weight, a book number that does not exist, a network failure) raises
:class:`~genlab.errors.GenlabError` with a one-line message that names the thing at fault.
"""

from __future__ import annotations

import codecs
import hashlib
import math
import os
import re
import unicodedata
import urllib.error
import urllib.request
from http.client import HTTPException
from pathlib import Path
from typing import Iterator

from genlab import __version__
from genlab.atomic import write_text
from genlab.errors import GenlabError
from genlab.progress import progress

__all__ = [
    "DEFAULT_GUTENBERG_MIRROR",
    "MIRROR_ENV_VAR",
    "corpus_name",
    "fetch_gutenberg",
    "gutenberg_title",
    "iter_corpus",
    "parse_corpus_spec",
    "parse_source",
    "read_corpus",
    "sha256_file",
    "slugify",
    "strip_gutenberg",
]

DEFAULT_GUTENBERG_MIRROR = "https://www.gutenberg.org"
MIRROR_ENV_VAR = "GENLAB_GUTENBERG_MIRROR"
USER_AGENT = f"genlab/{__version__} (corpus fetcher; +https://www.gutenberg.org/policy/robot_access.html)"

_BOM = "\ufeff"
# Control characters that ordinary text files contain.
_TEXT_CONTROLS = "\t\n\r\f\v\x1b"
# How much of a file the "is this mostly binary?" heuristic looks at.
_SNIFF_BYTES = 64 * 1024
# A text with more than this share of other control characters is called binary.
_MAX_CONTROL_SHARE = 0.10

_ALLOWED_CONTROL_BYTES = bytes(range(0x20, 0x100)) + _TEXT_CONTROLS.encode("ascii")


# --------------------------------------------------------------------------- reading


def _normalise_newlines(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _looks_binary_bytes(data: bytes) -> bool:
    """True if raw bytes are clearly not text in any ASCII-compatible encoding."""
    if b"\x00" in data:
        return True
    sample = data[:_SNIFF_BYTES]
    if not sample:
        return False
    controls = len(sample.translate(None, _ALLOWED_CONTROL_BYTES))
    return controls / len(sample) > _MAX_CONTROL_SHARE


def _looks_binary_text(text: str) -> bool:
    """True if decoded text is mostly control characters (or contains NUL)."""
    if "\x00" in text:
        return True
    sample = text[:_SNIFF_BYTES]
    if not sample:
        return False
    controls = sum(1 for ch in sample if ch < " " and ch not in _TEXT_CONTROLS)
    return controls / len(sample) > _MAX_CONTROL_SHARE


def _utf16_or_32_bom(data: bytes) -> str | None:
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def read_corpus(path: str | os.PathLike[str], encoding: str | None = None) -> str:
    """Read a text file for training and return its text.

    Decoded strictly (UTF-8 unless ``encoding`` names another codec), a leading byte-order
    mark dropped, CRLF / lone CR line endings made LF. Missing files, directories, empty
    files, binary files, undecodable bytes, unknown encodings and unreadable files raise
    :class:`GenlabError`.
    """
    return "".join(iter_corpus(path, encoding))


def iter_corpus(path: str | os.PathLike[str], encoding: str | None = None, chunk_bytes: int = 1 << 20,
                digest: "hashlib._Hash | None" = None) -> Iterator[str]:
    """The text of a corpus file in pieces, with read_corpus's checks, in bounded memory.

    Training on a 50 MB corpus should not need the whole text (and every paragraph of it)
    in memory at once. Pieces are cut anywhere; `digest`, if given, sees every byte.
    """
    name = os.fspath(path)
    p = Path(path)
    codec = _check_encoding(encoding)
    if p.is_dir():
        raise GenlabError(f"{name} is a directory, not a text file")
    with _open_binary(p, "a text file") as fh:
        try:
            decoder = codecs.getincrementaldecoder(codec)("strict")
        except LookupError:
            raise GenlabError(f"{encoding!r} is not a text encoding (try utf-8, latin-1 or cp1252)") from None
        offset = 0
        first = True
        bom_checked = False
        saw_text = False
        carry_cr = False
        while True:
            try:
                data = fh.read(chunk_bytes)
            except OSError as exc:
                raise GenlabError(f"cannot read {name}: {exc.strerror or exc}") from None
            final = not data
            if first:
                first = False
                if not data:
                    raise GenlabError(f"{name} is empty")
                if encoding is None:
                    wide = _utf16_or_32_bom(data)
                    if wide is not None:
                        raise GenlabError(f"{name} looks like {wide.upper()} text, not UTF-8 (use --encoding {wide})")
                    if _looks_binary_bytes(data):
                        raise GenlabError(f"{name} looks like a binary file, not text")
            elif encoding is None and b"\x00" in data:
                raise GenlabError(f"{name} looks like a binary file, not text")
            if digest is not None:
                digest.update(data)
            try:
                text = decoder.decode(data, final)
            except UnicodeDecodeError as exc:
                held = len(exc.object) - len(data)  # bytes the decoder kept from the last piece
                where = offset - held + exc.start
                bad = exc.object[exc.start]
                if encoding is None:
                    raise GenlabError(
                        f"{name} is not UTF-8: invalid byte 0x{bad:02X} at offset {where} "
                        f"(use --encoding latin-1 if that is its encoding)"
                    ) from None
                raise GenlabError(f"{name} is not valid {encoding}: invalid byte 0x{bad:02X} at offset {where}") from None
            except LookupError:
                raise GenlabError(f"{encoding!r} is not a text encoding (try utf-8, latin-1 or cp1252)") from None
            offset += len(data)
            if not bom_checked and text:
                bom_checked = True
                if text.startswith(_BOM):
                    text = text[1:]
                if _looks_binary_text(text):
                    raise GenlabError(f"{name} looks like a binary file, not text")
            elif "\x00" in text:
                raise GenlabError(f"{name} looks like a binary file, not text")
            if carry_cr:
                text = "\r" + text
            carry_cr = text.endswith("\r") and not final  # a CRLF may be split between pieces
            if carry_cr:
                text = text[:-1]
            text = _normalise_newlines(text)
            if not saw_text and text and not text.isspace():
                saw_text = True
            if text:
                yield text
            if final:
                break
    if not saw_text:
        raise GenlabError(f"{name} contains only whitespace")


def _open_binary(p: Path, kind: str):
    """Open a file for reading, turning every way that can fail into one clear line."""
    name = os.fspath(p)
    try:
        return p.open("rb")
    except FileNotFoundError:
        raise GenlabError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise GenlabError(f"{name} is a directory, not {kind}") from None
    except PermissionError:
        raise GenlabError(f"cannot read {name}: permission denied") from None
    except OSError as exc:
        raise GenlabError(f"cannot read {name}: {exc.strerror or exc}") from None


def _check_encoding(encoding: str | None) -> str:
    if encoding is None:
        return "utf-8"
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise GenlabError(f"unknown encoding {encoding!r} (try utf-8, latin-1 or cp1252)") from None
    if not getattr(info, "_is_text_encoding", True):
        raise GenlabError(f"{encoding!r} is not a text encoding (try utf-8, latin-1 or cp1252)")
    return encoding


def parse_corpus_spec(spec: str) -> tuple[Path, float]:
    """Split ``path[:weight]`` into a path and a positive weight (default 1.0).

    A trailing ``:<number>`` is read as a weight; if a file literally named ``spec``
    exists (colon and all) the file wins.
    """
    spec = os.fspath(spec)
    if not spec:
        raise GenlabError("empty corpus path")
    if os.path.exists(spec):
        return Path(spec), 1.0
    head, sep, tail = spec.rpartition(":")
    if not sep or "/" in tail or os.sep in tail:
        return Path(spec), 1.0
    if tail == "":
        raise GenlabError(f"missing weight after ':' in {spec!r} (write {head}:2.0, or just {head})")
    try:
        weight = float(tail)
    except ValueError:
        # Not a number: the colon is part of the file name.
        return Path(spec), 1.0
    if tail != tail.strip():
        return Path(spec), 1.0
    if not head:
        raise GenlabError(f"missing corpus path before the weight in {spec!r}")
    if not math.isfinite(weight) or weight <= 0:
        raise GenlabError(f"corpus weight must be a positive number, got {tail!r} in {spec!r}")
    return Path(head), weight


def corpus_name(path: str | os.PathLike[str]) -> str:
    """The name models trained on ``path`` are called by: the file name without suffix."""
    return Path(path).stem


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with _open_binary(Path(path), "a file") as fh:
        try:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        except OSError as exc:
            raise GenlabError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from None
    return digest.hexdigest()


# --------------------------------------------------------------------------- Gutenberg

_START_RE = re.compile(
    r"^[ \t]*\*{3}[ \t]*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK\b.*$"
    r"|^[ \t]*\*END\*[ \t]*THE SMALL PRINT!.*$",
    re.IGNORECASE | re.MULTILINE,
)
_END_RE = re.compile(
    r"^[ \t]*\*{3}[ \t]*END OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK\b"
    r"|^[ \t]*End of (?:the |this )?Project Gutenberg(?:'s|\u2019s)?\b",
    re.IGNORECASE | re.MULTILINE,
)
_TITLE_RE = re.compile(r"^[ \t]*Title:[ \t]*(.*)$", re.MULTILINE)


def _clean(text: str) -> str:
    if text.startswith(_BOM):
        text = text[1:]
    return _normalise_newlines(text)


def _trim_blank_lines(text: str) -> str:
    lines = text.split("\n")
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def strip_gutenberg(text: str, source: str | None = None) -> str:
    """Remove the Project Gutenberg header and licence footer from a book's text.

    Also drops a BOM, normalises line endings and trims blank lines at both ends; the
    result ends with one newline.  ``source`` names the text in the error raised when no
    START marker is found.
    """
    text = _clean(text)
    start = _START_RE.search(text)
    if start is None:
        what = source or "the text"
        raise GenlabError(f"{what} does not look like a Project Gutenberg text (no START marker)")
    body_from = start.end()
    marker = start.group(0).rstrip()
    if re.match(r"\s*\*{3}\s*START", marker, re.IGNORECASE) and not marker.endswith("***"):
        # A long title can wrap the START marker onto a second line ending in '***'.
        nl = text.find("\n", body_from + 1)
        nxt = text[body_from + 1 : nl if nl != -1 else len(text)]
        if nxt.strip() and nxt.rstrip().endswith("***"):
            body_from = nl if nl != -1 else len(text)
    end = _END_RE.search(text, body_from)
    body = text[body_from : end.start() if end else len(text)]
    body = _trim_blank_lines(body)
    if not body:
        what = source or "the text"
        raise GenlabError(f"{what} has nothing between the Project Gutenberg header and footer")
    return body + "\n"


def gutenberg_title(text: str) -> str | None:
    """The book title from the ``Title:`` line of a Project Gutenberg header, if any."""
    text = _clean(text)
    start = _START_RE.search(text)
    header = text[: start.start()] if start else text
    match = _TITLE_RE.search(header)
    if match is None:
        return None
    parts = [match.group(1).strip()]
    # Long titles continue on indented lines.
    for line in header[match.end() + 1 :].split("\n"):
        if line[:1] in (" ", "\t") and line.strip() and ":" not in line.split()[0]:
            parts.append(line.strip())
        else:
            break
    title = " ".join(p for p in parts if p)
    return title or None


def slugify(title: str, max_length: int = 60) -> str:
    """A lowercase ASCII file-name slug: ``Pride and Prejudice`` -> ``pride-and-prejudice``."""
    text = unicodedata.normalize("NFKD", title)
    text = text.encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"['\u2019]", "", text).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        if "-" in cut and slug[max_length] != "-":
            cut = cut.rsplit("-", 1)[0]
        slug = cut.strip("-")
    return slug


def parse_source(spec: str) -> tuple[str, int]:
    """Parse a corpus source such as ``gutenberg:1342`` into ``("gutenberg", 1342)``."""
    match = re.fullmatch(r"\s*gutenberg:(\d+)\s*", spec or "", re.IGNORECASE)
    if match is None or int(match.group(1)) <= 0:
        raise GenlabError(
            f"unknown corpus source {spec!r}: the supported form is gutenberg:<book number>, "
            f"e.g. gutenberg:1342"
        )
    return "gutenberg", int(match.group(1))


class _NotFound(GenlabError):
    """HTTP 404 from the server."""


def _download(url: str, timeout: float, desc: str) -> tuple[bytes, str | None]:
    """GET ``url``; return the body and the declared charset. Raises only GenlabError."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            length_header = resp.headers.get("Content-Length")
            try:
                total = int(length_header) if length_header is not None else None
            except ValueError:
                total = None
            charset = resp.headers.get_content_charset()
            chunks: list[bytes] = []
            received = 0
            with progress(total, desc) as advance:
                while True:
                    chunk = resp.read(64 * 1024)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    received += len(chunk)
                    advance(len(chunk))
            if total is not None and received < total:
                raise GenlabError(
                    f"download of {url} was cut off after {received} of {total} bytes; try again"
                )
            return b"".join(chunks), charset
    except GenlabError:
        raise
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise _NotFound(f"HTTP 404 from {url}") from None
        raise GenlabError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise GenlabError(f"timed out after {timeout:g}s connecting to {url}") from None
        detail = getattr(reason, "strerror", None) or str(reason)
        raise GenlabError(f"cannot download {url}: {detail}") from None
    except TimeoutError:
        raise GenlabError(f"timed out after {timeout:g}s downloading {url}") from None
    except HTTPException as exc:
        detail = type(exc).__name__ if not str(exc) else str(exc)
        raise GenlabError(f"download of {url} failed: connection dropped ({detail})") from None
    except OSError as exc:
        raise GenlabError(f"download of {url} failed: {exc.strerror or exc}") from None
    except ValueError as exc:  # a malformed URL
        raise GenlabError(f"cannot download {url}: {exc}") from None


def fetch_gutenberg(
    number: int,
    dest_dir: str | os.PathLike[str] = "corpora",
    mirror: str | None = None,
    timeout: float = 30,
    overwrite: bool = False,
) -> Path:
    """Download Project Gutenberg book ``number``, strip it and save it under ``dest_dir``.

    The file is named after the book's title (``pride-and-prejudice.txt``), falling back
    to ``gutenberg-<number>.txt``, and written atomically.  ``mirror`` defaults to
    ``$GENLAB_GUTENBERG_MIRROR`` or https://www.gutenberg.org.  Returns the saved path.
    """
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        raise GenlabError(f"a Project Gutenberg book number is a positive integer, got {number!r}")
    base = mirror or os.environ.get(MIRROR_ENV_VAR) or DEFAULT_GUTENBERG_MIRROR
    base = base.strip().rstrip("/")
    if not re.match(r"https?://[^/]", base, re.IGNORECASE):
        raise GenlabError(f"the Gutenberg mirror must be an http:// or https:// URL, got {base!r}")

    dest = Path(dest_dir)
    if dest.exists() and not dest.is_dir():
        raise GenlabError(f"{dest} exists and is not a directory")

    url = f"{base}/cache/epub/{number}/pg{number}.txt"
    try:
        data, charset = _download(url, timeout, f"pg{number}.txt")
    except _NotFound:
        raise GenlabError(f"no Project Gutenberg book numbered {number} (HTTP 404 from {url})") from None

    raw: str | None = None
    for codec in dict.fromkeys(["utf-8", charset or "utf-8"]):
        try:
            raw = data.decode(codec)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    if raw is None:
        raise GenlabError(f"book {number} from {url} is not valid UTF-8 text")

    body = strip_gutenberg(raw, source=f"book {number} from {url}")
    title = gutenberg_title(raw)
    stem = slugify(title) if title else ""
    path = dest / f"{stem or f'gutenberg-{number}'}.txt"
    if path.exists() and not overwrite:
        raise GenlabError(f"{path} already exists (use --force to overwrite it)")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        write_text(path, body, overwrite=overwrite)
    except GenlabError:
        raise
    except OSError as exc:
        raise GenlabError(f"cannot save {path}: {exc.strerror or exc}") from None
    return path
