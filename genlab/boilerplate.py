"""Project Gutenberg's boilerplate: the header before a book's text and the licence after it.

One set of rules for every reader of text. `genlab corpus fetch` strips a downloaded book with
`strip`; every command that reads a corpus or an eval text passes the file's pieces through a
`Cut`, which leaves the same header and licence out as the text streams by (a 50 MB corpus is
never held whole) and counts what it left out, for the one line the command prints
(`left_out`) and the record a model file keeps. `strip` is a `Cut` fed the whole text, so the
two cannot drift apart.

The rules: a book's text begins after a START marker line that ends within the first
HEADER_MOST characters (else the text is no book and passes untouched), and ends at the first
END marker line after it; what follows is licence, unless another START marker begins the next
book of a file that joins several. Blank lines at both ends of each book's text are dropped.
No urllib here: the bottom layer (genlab.corpus) imports this module.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from genlab.text import normalize

__all__ = ["HEADER_MOST", "KEPT", "Cut", "Stripped", "gutenberg_title", "left_out", "record", "strip", "tell"]

# A Project Gutenberg header is about 1 KB (the old "small print" ones up to some 15 KB): a START
# marker further in is a book quoted inside other text, not this file's header.
HEADER_MOST = 256 * 1024  # characters
WRAP_MOST = 200  # characters of a START marker's second line, when a long title wraps it

# The line after which a book's text begins (new and old styles).
_START_RE = re.compile(
    r"^[ \t]*\*{3}[ \t]*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK\b.*$"
    r"|^[ \t]*\*END\*[ \t]*THE SMALL PRINT!.*$",
    re.IGNORECASE | re.MULTILINE,
)
# The line at which the licence footer begins.
_END_RE = re.compile(
    r"^[ \t]*\*{3}[ \t]*END OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK\b"
    r"|^[ \t]*End of (?:the |this )?Project Gutenberg(?:'s|\u2019s)?\b",
    re.IGNORECASE | re.MULTILINE,
)
_TITLE_RE = re.compile(r"^[ \t]*Title:[ \t]*(.*)$", re.MULTILINE)
_WRAPPED_RE = re.compile(r"\s*\*{3}\s*START", re.IGNORECASE)
_NOT_SPACE = re.compile(r"\S")

KEPT = "kept"  # the record of a file read whole (--keep-gutenberg)

Say = Callable[[str], None]


def tell(line: str) -> None:
    """Say one line on stderr (where the commands' notes go)."""
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Stripped:
    """What `strip` cut off: the header (up to and including the START marker) and the footer
    (from the END marker on). Both empty, and the value false, for text that is no Gutenberg book."""

    header: str = ""
    footer: str = ""

    def __bool__(self) -> bool:
        return bool(self.header or self.footer)


def strip(text: str) -> tuple[str, Stripped]:
    """A book's text without its Project Gutenberg header and licence footer, and what was cut.

    The text is normalised first (BOM off, LF line ends). A book's body loses its blank lines at
    both ends and ends with one newline ("" if nothing is left). Text without a START marker is
    returned normalised and otherwise whole, with an empty `Stripped`.
    """
    cut = Cut(keep_text=True)
    body = "".join(cut.body([normalize(text)]))
    return body, Stripped(cut.header, cut.footer)


def gutenberg_title(text: str) -> str | None:
    """The book title from the ``Title:`` line of a Project Gutenberg header, if any."""
    text = normalize(text)
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


def record(cut: Cut | None) -> dict[str, int] | str:
    """What a model file records of one corpus: what `cut` left out, or "kept" for a file read
    whole (no cut)."""
    return KEPT if cut is None else cut.record()


def left_out(name: str, record: object) -> str | None:
    """The one line a command prints about what it left out of the file `name` (a `Cut.record()`),
    or None when nothing was (no book in it, or the file was kept whole)."""
    if not isinstance(record, dict) or not record.get("books"):
        return None
    books, header, footer = record["books"], record.get("header_bytes", 0), record.get("footer_bytes", 0)
    them = "them"
    if books > 1:
        what = f"the Project Gutenberg header and licence of each of its {books} books ({header + footer:,} bytes)"
    elif footer:
        what = f"Project Gutenberg's header ({header:,} bytes) and licence ({footer:,} bytes)"
    else:
        what, them = f"Project Gutenberg's header ({header:,} bytes)", "it"
    return f"genlab: {name}: left out {what}; --keep-gutenberg keeps {them}"


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


class Cut:
    """Leaves Project Gutenberg's header and licence out of text that arrives in pieces, and
    counts them: `books` (START markers acted on), `header_bytes` (before the first book's text),
    `footer_bytes` (everything left out after it: the licence, and between books their licences
    and headers), in UTF-8 bytes of the text as read (LF line ends). keep_text: also keep what was
    left out as `header` and `footer` (for `strip`; a stream would hold the whole licence)."""

    def __init__(self, keep_text: bool = False):
        self.books = 0
        self.header_bytes = 0
        self.footer_bytes = 0
        self.header = ""
        self.footer = ""
        self._keep = keep_text
        self._state = self._head
        self._searched = 0  # how much of the buffer the header search has seen (a line start)
        self._trim = _Trim()

    def record(self) -> dict[str, int]:
        """What was left out, as a model file records it."""
        return {"books": self.books, "header_bytes": self.header_bytes, "footer_bytes": self.footer_bytes}

    def body(self, pieces: Iterable[str]) -> Iterator[str]:
        """The text without the boilerplate, in pieces (none empty). Pieces are normalised text
        cut anywhere; text that is no book comes back unchanged. Every piece is consumed, so a
        digest or a check on the way sees the whole file."""
        buf = ""
        for piece in _with_end(pieces):
            final = piece is None
            buf += piece or ""
            while buf:
                step = self._state(buf, final)
                if step is None:
                    break
                out, used = step
                if out:
                    yield out
                buf = buf[used:]
        if self._state == self._body:
            out = self._trim.close()
            if out:
                yield out

    # Each state takes the unread text (`final`: there is no more) and returns (text to give
    # out, characters used), or None when it must see more first.

    def _head(self, buf: str, final: bool) -> tuple[str, int] | None:
        """Before the first book: find the START marker within HEADER_MOST characters."""
        if len(buf) > HEADER_MOST:
            window = buf[:buf.rfind("\n", 0, HEADER_MOST) + 1]  # the lines that end within it
        else:
            window = _whole_lines(buf, final)
        start = _START_RE.search(window, self._searched)
        if start is None:
            if final or len(buf) > HEADER_MOST:
                self._state = self._plain
                return "", 0
            self._searched = len(window)
            return None
        body_from = _after_start_marker(buf, start, final)
        if body_from is None:
            self._searched = start.start()
            return None
        self._cut(buf[:body_from], header=True)
        self._state = self._body
        self.books += 1
        return "", body_from

    def _plain(self, buf: str, final: bool) -> tuple[str, int]:
        return buf, len(buf)

    def _body(self, buf: str, final: bool) -> tuple[str, int] | None:
        """A book's text, up to the line where its licence begins."""
        lines = _whole_lines(buf, final)
        if not lines:
            return None
        end = _END_RE.search(lines)
        if end is None:
            return self._trim.feed(lines), len(lines)
        out = self._trim.feed(lines[:end.start()]) + self._trim.close()
        self._trim = _Trim(before="\n" if self._trim.started or self._trim.before else "")
        self._state = self._licence
        return out, end.start()

    def _licence(self, buf: str, final: bool) -> tuple[str, int] | None:
        """After a book: left out, unless another book's START marker follows."""
        lines = _whole_lines(buf, final)
        if not lines:
            return None
        start = _START_RE.search(lines)
        if start is None:
            self._cut(lines)
            return "", len(lines)
        body_from = _after_start_marker(buf, start, final)
        if body_from is None:  # the marker's second line is still to come
            self._cut(buf[:start.start()])
            return ("", start.start()) if start.start() else None
        self._cut(buf[:body_from])
        self._state = self._body
        self.books += 1
        return "", body_from

    def _cut(self, text: str, header: bool = False) -> None:
        if header:
            self.header_bytes += _utf8(text)
            if self._keep:
                self.header += text
        else:
            self.footer_bytes += _utf8(text)
            if self._keep:
                self.footer += text


def _whole_lines(buf: str, final: bool) -> str:
    """The lines of `buf` that have ended (a marker is judged on its whole line); all of it at the end."""
    return buf if final else buf[:buf.rfind("\n") + 1]


def _with_end(pieces: Iterable[str]) -> Iterator[str | None]:
    yield from pieces
    yield None


def _after_start_marker(text: str, start: re.Match[str], final: bool) -> int | None:
    """Where the body begins: after the START marker's line, or after its second line when a
    long title wraps the marker onto a line of its own (at most WRAP_MOST characters) that ends
    in '***'. None when that line has not all arrived yet."""
    body_from = start.end()
    marker = start.group(0).rstrip()
    if _WRAPPED_RE.match(marker) and not marker.endswith("***"):
        nl = text.find("\n", body_from + 1)
        if nl == -1 and not final and len(text) <= body_from + 1 + WRAP_MOST:
            return None
        nxt = text[body_from + 1 : nl if nl != -1 else len(text)]
        if len(nxt) <= WRAP_MOST and nxt.strip() and nxt.rstrip().endswith("***"):
            body_from = nl if nl != -1 else len(text)
    return body_from


class _Trim:
    """A book's text without blank lines at either end, ending in one newline, as it streams:
    blank lines before the first line with text are dropped, blank lines after the last one
    are held until more text follows. `before` goes out ahead of the first line (the break
    between two books of one file)."""

    def __init__(self, before: str = ""):
        self.before = before
        self.started = False
        self.held = ""

    def feed(self, text: str) -> str:
        text = self.held + text
        if not self.started:
            first = _NOT_SPACE.search(text)
            if first is None:
                self.held = text[text.rfind("\n") + 1:]  # the blank start of a line still coming
                return ""
            text = self.before + text[text.rfind("\n", 0, first.start()) + 1:]
            self.started = True
        end = len(text.rstrip())
        if end == 0:
            self.held = text
            return ""
        nl = text.find("\n", end)
        if nl == -1:
            self.held = ""
            return text
        self.held = text[nl:]
        return text[:nl]

    def close(self) -> str:
        return "\n" if self.started else ""
