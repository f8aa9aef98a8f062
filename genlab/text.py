"""Text as every reader in genlab takes it: no byte-order mark, LF line ends, paragraphs.

A corpus, an eval text, a prompt file and a persona may come from Windows (CRLF), old Macs (CR)
or an editor that writes a BOM; read through here, they all mean the same text. Paragraphs
(blank lines between them) are the unit the chain trains on and perplexity windows keep whole.
"""

from __future__ import annotations

import re

BOM = "\ufeff"
REPLACEMENT = "\ufffd"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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


_PARA_BREAK = re.compile(r"\n\s*\n")
_WS_RUN = re.compile(r"\s{2,}|[^\S \u00a0\u202f]")


def _collapse_run(m: re.Match) -> str:
    run = m.group()
    if "\u202f" in run:
        return "\u202f"
    return "\u00a0" if "\u00a0" in run else " "


def collapse_whitespace(p: str) -> str:
    """One paragraph's whitespace runs as one space (a no-break space where the run held one)."""
    if "\u00a0" in p or "\u202f" in p:
        return _WS_RUN.sub(_collapse_run, p).strip()
    return " ".join(p.split())


def split_paragraphs(text: str, *, normalized: bool = False) -> list[str]:
    """Paragraphs (blank lines separate them), whitespace collapsed. The text is normalised
    first (see normalize), unless it was already (`normalized`: a corpus as read)."""
    paragraphs = (collapse_whitespace(p) for p in _PARA_BREAK.split(text if normalized else normalize(text)))
    return [p for p in paragraphs if p]


def valid_text(text: str) -> str:
    """`text` with every lone surrogate (a JSON "\\ud800", bytes read with surrogateescape) made
    U+FFFD, as a decoder does with a bad byte: UTF-8 cannot encode one, so a terminal, a file or
    a tokenizer would fail on it. The same object when there is none."""
    return _LONE_SURROGATE.sub(REPLACEMENT, text) if _LONE_SURROGATE.search(text) else text
