"""Project Gutenberg: books as training text.

`strip` cuts a book's header and licence footer off its text and says what it cut; `title`
reads the header's Title line; `fetch_gutenberg` downloads a book by number from a mirror
(with a user agent that names genlab, a timeout, and a check that nothing was cut off) and
saves the stripped text under a file name made from its title. Every failure is one
GenlabError line.

Whatever the mirror sends, a download costs at most MAX_BOOK bytes (the body streams to a
temporary file and stops there; a larger Content-Length is refused before reading) and each
64 KB of it must arrive within the timeout, so a mirror dripping bytes cannot hold genlab.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from genlab import __version__
from genlab.atomic import write_text
from genlab.errors import GenlabError, cannot
from genlab.progress import progress
from genlab.secrets import redact_url
from genlab.server.deadline import opener, restart_body
from genlab.text import normalize

__all__ = [
    "DEFAULT_GUTENBERG_MIRROR",
    "MIRROR_ENV_VAR",
    "Stripped",
    "fetch_gutenberg",
    "gutenberg_title",
    "parse_source",
    "slugify",
    "strip",
    "strip_gutenberg",
]

DEFAULT_GUTENBERG_MIRROR = "https://www.gutenberg.org"
MIRROR_ENV_VAR = "GENLAB_GUTENBERG_MIRROR"
USER_AGENT = f"genlab/{__version__} (corpus fetcher; +https://www.gutenberg.org/policy/robot_access.html)"
MAX_BOOK = 64 * 2**20  # bytes; the longest Project Gutenberg texts are a few MB
CHUNK = 64 * 2**10  # bytes read at a time, each within the timeout

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


# --------------------------------------------------------------------------- the text


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
    text = normalize(text)
    start = _START_RE.search(text)
    if start is None:
        return text, Stripped()
    body_from = _after_start_marker(text, start)
    end = _END_RE.search(text, body_from)
    body_to = end.start() if end else len(text)
    body = _trim_blank_lines(text[body_from:body_to])
    return (body + "\n" if body else ""), Stripped(header=text[:body_from], footer=text[body_to:])


def strip_gutenberg(text: str, source: str | None = None) -> str:
    """`strip`'s body, for text that must be a book: no START marker, or nothing between the
    header and the footer, is an error naming `source` (default "the text")."""
    body, cut = strip(text)
    what = source or "the text"
    if not cut:
        raise GenlabError(f"{what} does not look like a Project Gutenberg text (no START marker)")
    if not body:
        raise GenlabError(f"{what} has nothing between the Project Gutenberg header and footer")
    return body


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


def _after_start_marker(text: str, start: re.Match[str]) -> int:
    """Where the body begins: after the START marker's line, or after its second line when a
    long title wraps the marker onto a line of its own that ends in '***'."""
    body_from = start.end()
    marker = start.group(0).rstrip()
    if re.match(r"\s*\*{3}\s*START", marker, re.IGNORECASE) and not marker.endswith("***"):
        nl = text.find("\n", body_from + 1)
        nxt = text[body_from + 1 : nl if nl != -1 else len(text)]
        if nxt.strip() and nxt.rstrip().endswith("***"):
            body_from = nl if nl != -1 else len(text)
    return body_from


def _trim_blank_lines(text: str) -> str:
    lines = text.split("\n")
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


# --------------------------------------------------------------------------- the download


def parse_source(spec: str) -> tuple[str, int]:
    """Parse a corpus source such as ``gutenberg:1342`` into ``("gutenberg", 1342)``."""
    match = re.fullmatch(r"\s*gutenberg:(\d+)\s*", spec or "", re.IGNORECASE)
    if match is None or int(match.group(1)) <= 0:
        raise GenlabError(
            f"unknown corpus source {spec!r}: the supported form is gutenberg:<book number>, "
            f"e.g. gutenberg:1342"
        )
    return "gutenberg", int(match.group(1))


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
    base = _mirror(mirror)
    dest = Path(dest_dir)
    if dest.exists() and not dest.is_dir():
        raise GenlabError(f"{dest} exists and is not a directory")

    url = f"{base}/cache/epub/{number}/pg{number}.txt"
    try:
        data, charset = _download(url, timeout, f"pg{number}.txt")
    except _NotFound:
        raise GenlabError(f"no Project Gutenberg book numbered {number} (HTTP 404 from {url})") from None
    raw = _decode(data, charset, f"book {number} from {url}")

    body = strip_gutenberg(raw, source=f"book {number} from {url}")
    title = gutenberg_title(raw)
    stem = slugify(title) if title else ""
    path = dest / f"{stem or f'gutenberg-{number}'}.txt"
    if path.exists() and not overwrite:
        raise GenlabError(f"{path} already exists (use --force to overwrite it)")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot("save", path, exc) from None
    write_text(path, body, overwrite=overwrite)
    return path


def _mirror(mirror: str | None) -> str:
    base = mirror or os.environ.get(MIRROR_ENV_VAR) or DEFAULT_GUTENBERG_MIRROR
    base = base.strip().rstrip("/")
    if not re.match(r"https?://[^/]", base, re.IGNORECASE):
        raise GenlabError(f"the Gutenberg mirror must be an http:// or https:// URL, got {redact_url(base)!r}")
    if "@" in base.split("/")[2]:  # never echoed whole: it may hold a password
        raise GenlabError(f"the Gutenberg mirror {redact_url(base)!r} cannot carry credentials (user:password@)")
    return base


def _decode(data: bytes, charset: str | None, what: str) -> str:
    """UTF-8 first (what Gutenberg serves), then the charset the server declared."""
    for codec in dict.fromkeys(["utf-8", charset or "utf-8"]):
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    raise GenlabError(f"{what} is not valid UTF-8 text")


class _NotFound(GenlabError):
    """HTTP 404 from the server."""


def _download(url: str, timeout: float, desc: str) -> tuple[bytes, str | None]:
    """GET ``url``; return the body and the declared charset. Raises only GenlabError."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with opener().open(request, timeout=timeout) as resp, tempfile.TemporaryFile() as held:
            length_header = resp.headers.get("Content-Length")
            try:
                total = int(length_header) if length_header is not None else None
            except ValueError:
                total = None
            if total is not None and total > MAX_BOOK:
                raise GenlabError(f"download of {url} refused: the mirror says {total:,} bytes, more than the "
                                  f"{MAX_BOOK // 2**20} MB of any book (is the mirror right?)")
            charset = resp.headers.get_content_charset()
            received = 0
            with progress(total, desc) as advance:
                while True:
                    restart_body(resp)  # each chunk within the timeout, however the mirror paces it
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > MAX_BOOK:
                        raise GenlabError(f"download of {url} stopped: the mirror sends more than "
                                          f"{MAX_BOOK // 2**20} MB, more than any book (is the mirror right?)")
                    held.write(chunk)
                    advance(len(chunk))
            if total is not None and received < total:
                raise GenlabError(f"download of {url} was cut off after {received} of {total} bytes; try again")
            held.seek(0)
            return held.read(), charset
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
