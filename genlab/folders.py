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
