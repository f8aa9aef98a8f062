"""Text as every reader in genlab takes it: no byte-order mark, and LF line ends.

A corpus, an eval text, a prompt file and a persona may come from Windows (CRLF), old Macs (CR)
or an editor that writes a BOM; read through here, they all mean the same text.
"""

from __future__ import annotations

BOM = "\ufeff"


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR become LF."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def strip_bom(text: str) -> str:
    """Without the one byte-order mark a file may start with (a second one is text)."""
    return text[1:] if text.startswith(BOM) else text


def normalize(text: str) -> str:
    """A file's text as genlab reads it: no leading BOM, LF line ends."""
    return normalize_newlines(strip_bom(text))
