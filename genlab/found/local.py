"""genlab's own llama models: ./models/*.gguf in the working folder, where `genlab train-llm`
writes them. Name: the file's stem ("novel-llm"). Markov chains (./models/*.markov) are listed
by genlab.catalog, not here.
"""

from __future__ import annotations

from pathlib import Path

from genlab.found.model import FoundModel, files_at_depth, gguf_model

SOURCE = "genlab"
FOLDER = Path("models")


def find(problems: list[str]) -> list[FoundModel]:
    out = []
    for _, path in files_at_depth(Path.cwd() / FOLDER, 1, problems, SOURCE):
        found = gguf_model(path, name=path.stem, source=SOURCE, where=f"./{FOLDER.as_posix()}",
                           problems=problems, what=SOURCE)
        if found is not None:
            out.append(found)
    return out
