"""Backslash escapes in text typed on one line (--prompt, --stop, a chat's /set stop).

The escapes are llama.cpp's CLI's: \\n, \\r, \\t, \\', \\", \\\\ and \\xHH (one byte); any other
backslash stays as typed.
"""

from __future__ import annotations

import re

from genlab.errors import GenlabError

_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|[nrt'\"\\])")
_ESCAPED = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"'": b"'", b'"': b'"', b"\\": b"\\"}


def process_escapes(text: str, what: str = "--prompt") -> str:
    """`text` with its escapes processed; `what` names it in the error for \\x bytes that do
    not make UTF-8 text."""
    if "\\" not in text:
        return text

    def one(m: re.Match[bytes]) -> bytes:
        code = m.group(1)
        return bytes([int(code[1:], 16)]) if code[:1] == b"x" else _ESCAPED[code]

    data = _ESCAPE.sub(one, text.encode("utf-8", "surrogateescape"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise GenlabError(f"{what}: its \\x escapes do not make UTF-8 text (write a character as its UTF-8 "
                          "bytes, e.g. \\xc3\\xa9 for é)") from None
