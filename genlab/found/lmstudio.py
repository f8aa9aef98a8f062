"""GGUF files in LM Studio's models folder.

Where the folder is, as LM Studio's own CLI finds it (github.com/lmstudio-ai/lms:
src/modelsFolder.ts `resolveModelsFolderPath`, src/lmstudioPaths.ts, and `findLMStudioHome`
of @lmstudio/lms-common-server):

* LM Studio's home: the path written in ~/.lmstudio-home-pointer, else ~/.cache/lm-studio when
  it exists (older releases), else ~/.lmstudio;
* the models folder: the "downloadsFolder" string of HOME/settings.json (set by "Models
  Directory" in the app), else HOME/models.

Models sit at MODELS/PUBLISHER/REPO/FILE.gguf (lmstudio.ai/docs "Import Models"; LM Studio
lists a file only at that depth). Name: the file's stem; other names "PUBLISHER/REPO/FILE.gguf"
and the file name.
"""

from __future__ import annotations

import json
from pathlib import Path

from genlab.found.model import FoundModel, expand, files_at_depth, gguf_model, home, read_small, shown

SOURCE = "lmstudio"


def lmstudio_home(problems: list[str]) -> Path | None:
    user = home()
    if user is None:
        return None
    pointer = user / ".lmstudio-home-pointer"
    if pointer.is_file():
        raw = read_small(pointer, SOURCE, problems, limit=4096)
        value = raw.decode("utf-8", "replace").strip() if raw is not None else ""
        if value:
            path = expand(value, f"{SOURCE}: {pointer}", problems)
            return user / path if path is not None else None  # a relative pointer is relative to ~
    legacy = user / ".cache" / "lm-studio"
    return legacy if legacy.is_dir() else user / ".lmstudio"


def models_dir(problems: list[str]) -> Path | None:
    base = lmstudio_home(problems)
    if base is None:
        return None
    settings = base / "settings.json"
    if settings.is_file():
        raw = read_small(settings, SOURCE, problems)
        try:
            folder = json.loads(raw.decode("utf-8")).get("downloadsFolder") if raw is not None else None
        except (UnicodeDecodeError, ValueError, AttributeError, RecursionError):
            problems.append(f"{SOURCE}: {shown(str(settings))} is not a JSON object: using {base / 'models'}")
            folder = None
        if isinstance(folder, str) and folder.strip():
            path = expand(folder.strip(), f"{SOURCE}: {settings} downloadsFolder", problems)
            return base / path if path is not None else None
    return base / "models"


def find(problems: list[str]) -> list[FoundModel]:
    root = models_dir(problems)
    if root is None:
        return []
    out = []
    for (publisher, repo, file), path in files_at_depth(root, 3, problems, SOURCE):
        found = gguf_model(path, name=path.stem, source=SOURCE, where=f"{publisher}/{repo}",
                           other_names=(f"{publisher}/{repo}/{file}",), problems=problems,
                           what=f"{SOURCE}: {publisher}/{repo}")
        if found is not None:
            out.append(found)
    return out
