"""Reading training corpora safely: text files as genlab takes them.

A corpus is read strictly (UTF-8 unless told otherwise), sniffed for binary content, freed of
its BOM and CRLF line ends, in bounded memory; corpus specs (``book.txt:0.5``), corpus names
and file hashes live here too. Everything a user can get wrong (a missing file, a binary file,
the wrong encoding, a bad weight) raises one GenlabError line that names the thing at fault.
Project Gutenberg's header and licence are left out on the way by a genlab.boilerplate.Cut
when the caller passes one; books are fetched in genlab.gutenberg.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from pathlib import Path
from typing import BinaryIO, Iterator

from genlab.boilerplate import Cut
from genlab.errors import GenlabError, cannot
from genlab.text import normalize_newlines, strip_bom

__all__ = [
    "check_weight",
    "corpus_name",
    "iter_corpus",
    "parse_corpus_spec",
    "read_corpus",
    "sha256_file",
]

# Control characters that ordinary text files contain.
_TEXT_CONTROLS = "\t\n\r\f\v\x1b"
# How much of a file the "is this mostly binary?" heuristic looks at.
_SNIFF_BYTES = 64 * 1024
# A text with more than this share of other control characters is called binary.
_MAX_CONTROL_SHARE = 0.10

# The weights a corpus may be given (book.txt:2.0): wide enough for any mix, narrow enough
# that weighted counts stay ordinary finite numbers.
MIN_WEIGHT = 1e-6
MAX_WEIGHT = 1e6

_ALLOWED_CONTROL_BYTES = bytes(range(0x20, 0x100)) + _TEXT_CONTROLS.encode("ascii")


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


def read_corpus(path: str | os.PathLike[str], encoding: str | None = None, cut: Cut | None = None) -> str:
    """Read a text file for training and return its text.

    Decoded strictly (UTF-8 unless ``encoding`` names another codec), a leading byte-order
    mark dropped, CRLF / lone CR line endings made LF, and with `cut` Project Gutenberg's
    header and licence left out. Missing files, directories, empty files, binary files,
    undecodable bytes, unknown encodings and unreadable files raise :class:`GenlabError`.
    """
    return "".join(iter_corpus(path, encoding, cut=cut))


def iter_corpus(path: str | os.PathLike[str], encoding: str | None = None, chunk_bytes: int = 1 << 20,
                digest: "hashlib._Hash | None" = None, cut: Cut | None = None) -> Iterator[str]:
    """The text of a corpus file in pieces, with read_corpus's checks, in bounded memory.

    Training on a 50 MB corpus should not need the whole text (and every paragraph of it)
    in memory at once. Pieces are cut anywhere; `digest`, if given, sees every byte. `cut`,
    if given, leaves Project Gutenberg's header and licence out and counts them (the whole
    file is still read and checked); a book with nothing between them is an error.
    """
    name = os.fspath(path)
    p = Path(path)
    codec = _check_encoding(encoding)
    if p.is_dir():
        raise GenlabError(f"{name} is a directory, not a text file")
    saw_text = False
    with open_for_reading(p, "a text file") as fh:
        data = _checked_bytes(fh, name, encoding, chunk_bytes, digest)
        pieces = _lf_line_ends(_decoded(data, name, codec, encoding))
        for text in pieces if cut is None else cut.body(pieces):
            saw_text = saw_text or not text.isspace()
            yield text
    if not saw_text and cut is not None and cut.books:
        raise GenlabError(f"{name} has no text between Project Gutenberg's header and licence "
                          "(--keep-gutenberg reads the whole file)")
    if not saw_text:
        raise GenlabError(f"{name} contains only whitespace")


def _checked_bytes(fh: BinaryIO, name: str, encoding: str | None, chunk_bytes: int,
                   digest: "hashlib._Hash | None") -> Iterator[bytes]:
    """The file's bytes in pieces, ending with b"": an empty file, and (unless an encoding was
    named) a UTF-16/32 file or a binary one, are refused before anything is decoded."""
    first = True
    while True:
        try:
            data = fh.read(chunk_bytes)
        except OSError as exc:
            raise cannot("read", name, exc) from None
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
        yield data
        if not data:
            return


def _decoded(pieces: Iterator[bytes], name: str, codec: str, encoding: str | None) -> Iterator[str]:
    """Strictly decoded text, without its BOM; a bad byte is named with its offset in the file."""
    try:
        decoder = codecs.getincrementaldecoder(codec)("strict")
    except LookupError:
        raise GenlabError(f"{encoding!r} is not a text encoding (try utf-8, latin-1 or cp1252)") from None
    offset = 0
    started = False
    for data in pieces:
        try:
            text = decoder.decode(data, not data)
        except UnicodeDecodeError as exc:
            held = len(exc.object) - len(data)  # bytes the decoder kept from the last piece
            raise _decode_error(name, encoding, exc.object[exc.start], offset - held + exc.start) from None
        except LookupError:
            raise GenlabError(f"{encoding!r} is not a text encoding (try utf-8, latin-1 or cp1252)") from None
        offset += len(data)
        if not started and text:
            started = True
            text = strip_bom(text)
            if _looks_binary_text(text):
                raise GenlabError(f"{name} looks like a binary file, not text")
        elif "\x00" in text:
            raise GenlabError(f"{name} looks like a binary file, not text")
        yield text


def _decode_error(name: str, encoding: str | None, bad: int, where: int) -> GenlabError:
    if encoding is None:
        return GenlabError(f"{name} is not UTF-8: invalid byte 0x{bad:02X} at offset {where} "
                           f"(use --encoding latin-1 if that is its encoding)")
    return GenlabError(f"{name} is not valid {encoding}: invalid byte 0x{bad:02X} at offset {where}")


def _lf_line_ends(pieces: Iterator[str]) -> Iterator[str]:
    """The pieces with LF line ends, none empty; a CRLF split between two pieces stays one."""
    held = ""
    for text in pieces:
        text = held + text
        held = "\r" if text.endswith("\r") else ""
        text = normalize_newlines(text[:-1] if held else text)
        if text:
            yield text
    if held:
        yield "\n"


def open_for_reading(p: Path, kind: str):
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
        raise cannot("read", name, exc) from None


def read_at_most(p: Path, kind: str, limit: int, *, name: str | None = None) -> bytes:
    """Up to limit + 1 bytes of a file (one more than allowed, so the caller knows it is too big),
    every failure one line naming the file (`name`: how to show it, when not its path)."""
    with open_for_reading(p, kind) as fh:
        try:
            return fh.read(limit + 1)
        except OSError as exc:
            raise cannot("read", name or os.fspath(p), exc) from None


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
    check_weight(weight, f"{tail!r} in {spec!r}")
    return Path(head), weight


def check_weight(weight: float, shown: str) -> None:
    """Refuse a corpus weight outside MIN_WEIGHT..MAX_WEIGHT (NaN and infinities included)."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not MIN_WEIGHT <= weight <= MAX_WEIGHT:
        raise GenlabError(f"corpus weight must be a number from {MIN_WEIGHT:g} to {MAX_WEIGHT:g}, got {shown}")


def corpus_name(path: str | os.PathLike[str]) -> str:
    """The name models trained on ``path`` are called by: the file name without suffix."""
    return Path(path).stem


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open_for_reading(Path(path), "a file") as fh:
        try:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        except OSError as exc:
            raise cannot("read", path, exc) from None
    return digest.hexdigest()
