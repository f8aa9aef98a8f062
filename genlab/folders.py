"""Where genlab keeps the user's things, found one way everywhere.

Data (Markov models, personas, chat transcripts, input history): $GENLAB_HOME when set (tests,
portable setups), else platformdirs' user data folder. Configuration (genlab.toml with model
aliases): $GENLAB_CONFIG_DIR, else platformdirs' user config folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from genlab.errors import GenlabError


def expand_user(path: str | os.PathLike[str]) -> Path:
    """`path` with a leading ~ or ~user expanded; one clear error when that user has no home."""
    try:
        return Path(path).expanduser()
    except RuntimeError:  # "Could not determine home directory"
        raise GenlabError(f"cannot find the home folder in {os.fspath(path)!r}") from None


def shown(path: str | os.PathLike[str]) -> str:
    """`path` as printable text: bytes that are not UTF-8 appear as \\xNN escapes."""
    text = os.fspath(path)
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that did not come from a file name's byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def checked_path(path: str | os.PathLike[str]) -> Path:
    """`path`, refused in one line when the system could not take it (a NUL character) or genlab
    could not print it (a name that is not UTF-8): genlab names its files in what it prints."""
    text = os.fspath(path)
    if "\0" in text:
        raise GenlabError(f"cannot use {shown(text)!r}: the name holds a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise GenlabError(f"cannot use {shown(text)}: the name is not UTF-8 text (rename it)") from None
    return Path(text)


def working_dir() -> Path:
    """The current folder, absolute; one clear error when it has been removed under genlab."""
    try:
        return Path.cwd()
    except FileNotFoundError:
        raise GenlabError("the current folder no longer exists (cd to another one)") from None


def data_dir() -> Path:
    base = os.environ.get("GENLAB_HOME")
    if base:
        return expand_user(base)
    import platformdirs

    return Path(platformdirs.user_data_dir("genlab"))


def config_dir() -> Path:
    base = os.environ.get("GENLAB_CONFIG_DIR")
    if base:
        return expand_user(base)
    import platformdirs

    return Path(platformdirs.user_config_dir("genlab"))


def models_dir() -> Path:
    """The user's Markov models (beside ./models, which comes first)."""
    return data_dir() / "models"


def personas_dir() -> Path:
    return data_dir() / "personas"


def transcripts_dir() -> Path:
    return data_dir() / "chats"


def input_history_file() -> Path:
    return data_dir() / "chat-input-history"
