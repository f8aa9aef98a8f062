"""`llama:PATH.gguf` and `hf:OWNER/REPO/FILE.gguf`: GGUF files run in process by llama.cpp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.kinds import Kind, Target
from genlab.errors import GenlabError
from genlab.generator import Generator
from genlab.folders import expand_user

# the settings a llama model takes from an alias, a found model or the command line
SETTINGS = ("n_ctx", "n_threads", "n_gpu_layers", "chat_format", "verbose", "f32_cache")


def _resolve_file(rest: str, name: str) -> Target:
    return Target(name=name, kind="llama", location=str(expand_user(rest)), source="path", load_with=_load,
                  chat_with=_can_chat)


def _resolve_hf(rest: str, name: str) -> Target:
    from genlab.llama.hub import hf_download

    return Target(name=name, kind="llama", location=str(hf_download(rest)), source="Hugging Face Hub",
                  load_with=_load, chat_with=_can_chat)


def _can_chat(target: Target, options: dict[str, Any]) -> bool | None:
    """A chosen chat format, or a chat template in the header (read in milliseconds); None when
    the header cannot be read (loading then says why)."""
    from genlab.llama.gguf_header import has_chat_template

    if options.get("chat_format"):
        return True
    try:
        return has_chat_template(target.location)
    except GenlabError:
        return None


def _load(target: Target, options: dict[str, Any]) -> Generator:
    try:
        from genlab.llama.generator import LlamaGenerator
    except ImportError:
        raise GenlabError("llama models need llama-cpp-python: pip install 'genlab[llama]'") from None
    kwargs = {k: options[k] for k in SETTINGS if k in options}
    if not target.name.startswith(("llama:", "hf:")):
        kwargs["name"] = target.name  # reports say "llama3", not the file name
    return LlamaGenerator(Path(target.location), **kwargs)


LLAMA = Kind("llama", "llama:PATH.gguf", "a GGUF file run by llama.cpp", _resolve_file,
             commands={"tiny-model": "genlab.llama.commands:tiny_model"})
HF = Kind("hf", "hf:OWNER/REPO/FILE.gguf", "a GGUF file from the Hugging Face Hub", _resolve_hf)
