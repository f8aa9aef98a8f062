"""A chat's sampling settings as the user types them: `/set KEY VALUE`."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from genlab.errors import GenlabError
from genlab.escapes import process_escapes
from genlab.sampling import Sampling, parse_value

SETTINGS = tuple(f.name for f in fields(Sampling))


def setting_name(key: str) -> str:
    """The Sampling field a typed key names: top-k and TOP_K are top_k."""
    return key.replace("-", "_").lower()


def changed(sampling: Sampling, key: str, value: Any) -> Sampling:
    """`sampling` with one setting changed (validated). A typed stop string has its escapes
    processed as --stop's are (so "\\n\\nUser:" stops at a blank line and "User:"); "none" or
    nothing clears the stops."""
    key = setting_name(key)
    if key not in SETTINGS:
        raise GenlabError(f"unknown setting {key!r} (known: {', '.join(SETTINGS)})")
    if key == "stop" and str(value).lower() in ("", "none"):
        parsed: Any = ()
    elif key == "stop" and isinstance(value, str):
        parsed = (process_escapes(value, "/set stop"),)
    else:
        parsed = parse_value(key, value)
    return replace(sampling, **{key: parsed})
