"""Read JSON and TOML that a user, a server or another tool wrote: any failure is one line.

A file is data from outside: it may be truncated, in the wrong encoding, nested ten thousand
levels deep (Python's parsers then raise RecursionError) or hold a type other than the one
expected. These readers turn each case into a GenlabError that names the source, and refuse
nesting deeper than any file genlab reads needs, so later code never recurses that deep.
"""

from __future__ import annotations

import json
import math
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


def finite_number(value: Any, *, what: str, source: str, low: float | None = None,
                  high: float | None = None) -> float:
    """`value` as a float if it is a finite number (not a bool) within [low, high], else one error line."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise GenlabError(f"cannot read {source}: {what} must be a number, not {_shown(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"between {low:g} and {high:g}" if low is not None and high is not None else (
            f"at least {low:g}" if low is not None else f"at most {high:g}")
        raise GenlabError(f"cannot read {source}: {what} must be {span}, not {value!r}")
    return float(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 120 else text[:117] + "..."
