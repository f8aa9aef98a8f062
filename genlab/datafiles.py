"""Read JSON and TOML that a user, a server or another tool wrote: any failure is one line.

A file is data from outside: it may be truncated, in the wrong encoding, nested ten thousand
levels deep (Python's parsers then raise RecursionError). These readers turn each case into a
GenlabError that names the source, and refuse nesting deeper than any file genlab reads needs,
so later code never recurses that deep. Checking types and ranges is each reader's own job.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from genlab.errors import GenlabError

MAX_DEPTH = 64


def load_json(text: str | bytes, *, source: str) -> Any:
    """Parse JSON from `source` (a file name or "the server's reply"), as one GenlabError on failure."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value = json.loads(text)
    except UnicodeDecodeError:
        raise GenlabError(f"cannot read {source}: it is not UTF-8 text") from None
    except RecursionError:
        raise GenlabError(f"cannot read {source}: it is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError
        raise GenlabError(f"cannot read {source}: not valid JSON ({_short(exc)})") from None
    check_depth(value, source=source)
    return value


def load_toml(text: str, *, source: str) -> dict[str, Any]:
    """Parse TOML from `source`, as one GenlabError on failure."""
    try:
        value = tomllib.loads(text)
    except RecursionError:
        raise GenlabError(f"cannot read {source}: it is nested too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        raise GenlabError(f"cannot read {source}: not valid TOML ({_short(exc)})") from None
    check_depth(value, source=source)
    return value


def check_depth(value: Any, *, source: str, limit: int = MAX_DEPTH) -> None:
    """Refuse data nested deeper than `limit` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise GenlabError(f"cannot read {source}: it is nested more than {limit} levels deep")
        stack.extend((child, depth + 1) for child in children)


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 120 else text[:117] + "..."
