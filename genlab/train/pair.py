"""A trained model's two files, saved as a pair: the GGUF and its checkpoint.

Both are written to temporaries first; then the GGUF takes its place, then the checkpoint. A
Ctrl-C (or SIGTERM) that arrives during the save (a second or so) is held back until both
files are in place, then acted on as it would have been, so a second Ctrl-C during a save never
leaves one file of one step and the other of another. A kill -9 between the two renames still
can: the two files carry the same save id, and `--resume` notices a pair that does not match
(see genlab.train.resume).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from genlab.atomic import replacing
from genlab.interrupts import InterruptsHeld

@contextlib.contextmanager
def replacing_pair(first: str | os.PathLike[str], second: str | os.PathLike[str]) -> Iterator[tuple[Path, Path]]:
    """Yield temporary paths for `first` and `second`, with interrupts held back; when the block
    succeeds, `first` takes its place, then `second`. On a failure in the block both temporaries
    are removed and both files stay as they were."""
    with InterruptsHeld(), replacing(second) as second_tmp, replacing(first) as first_tmp:
        yield first_tmp, second_tmp
