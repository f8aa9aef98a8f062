"""Project Gutenberg: books as training text.

`strip_gutenberg` is genlab.boilerplate's `strip` (the rules every reader of text uses) for
text that must be a book; `fetch_gutenberg` downloads a book by number from a mirror
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
from http.client import HTTPException
from pathlib import Path

from genlab import __version__
from genlab.atomic import write_text
from genlab.boilerplate import Stripped, gutenberg_title, strip
from genlab.errors import GenlabError, cannot
from genlab.progress import progress
from genlab.secrets import redact_url
from genlab.server.deadline import opener, restart_body

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


# --------------------------------------------------------------------------- the text


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
