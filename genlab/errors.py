"""One exception type for every mistake a user can make.

The CLI turns a GenlabError into a single line on stderr and a non-zero exit; library
callers can catch it like any other exception.
"""

from __future__ import annotations

import os


class GenlabError(Exception):
    """An error caused by input (a file, a flag, a model), worded for the user."""

    exit_code = 1


def cannot(action: str, path: str | os.PathLike[str], exc: OSError) -> GenlabError:
    """The one-line error for a failed file operation: "cannot read PATH: No such file or directory"."""
    return GenlabError(f"cannot {action} {os.fspath(path)}: {exc.strerror or exc}")
