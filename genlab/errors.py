"""One exception type for every mistake a user can make.

The CLI turns a GenlabError into a single line on stderr and a non-zero exit; library
callers can catch it like any other exception.
"""


class GenlabError(Exception):
    """An error caused by input (a file, a flag, a model), worded for the user."""

    exit_code = 1
