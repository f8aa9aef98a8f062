"""Where chat keeps the user's things: personas, transcripts, input history.

One user data folder, found like the Markov models' (genlab/markov/store.py): $GENLAB_HOME
when set (tests and portable setups), else platformdirs' user data folder for genlab.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_dir() -> Path:
    base = os.environ.get("GENLAB_HOME")
    if base:
        return Path(base)
    import platformdirs

    return Path(platformdirs.user_data_dir("genlab"))


def personas_dir() -> Path:
    return user_dir() / "personas"


def transcripts_dir() -> Path:
    return user_dir() / "chats"


def input_history_file() -> Path:
    return user_dir() / "chat-input-history"
