"""One genlab model as an llm model: continue a prompt, or chat.

How a prompt is answered (the `chat` option overrides it):
- a single prompt (`llm -m NAME "text"`) to a model made for chat (a chat template, a server)
  gets a chat reply, as llm's other plugins give; a Markov chain, or a base model with no chat
  template, continues the text, and the response is the prompt followed by its continuation,
  exactly what `genlab generate --prompt "text"` prints (`-o echo false`: the continuation alone);
- in a conversation (`llm chat`, `llm -c`) the model's chat() answers the whole history (llm's
  system prompt, earlier prompts and responses, the new prompt); a model that cannot chat
  continues each prompt instead, and says so once on stderr. With a seed, reply k of a
  conversation uses seed + k, as in genlab chat.
Defaults are genlab's: the model's own sampling (an alias may bring its own) over genlab
generate's defaults for a continuation, genlab chat's for a chat; the options given win.
"""

from __future__ import annotations

import atexit
import sys
from typing import Any, Iterator

import click
import llm

from genlab.errors import GenlabError
from genlab.generator import ROLES, Generator
from genlab.kinds import Target
from genlab.llm_plugin.options import Options, given_sampling
from genlab.sampling import nth_reply


class GenlabModelError(llm.ModelError, click.ClickException):
    """A genlab error inside llm: `llm` prints it as one `Error: ...` line (and so does `llm
    chat`, which lets other exceptions through as tracebacks)."""

    def __init__(self, message: str):
        click.ClickException.__init__(self, message)


# where a name comes from (genlab.catalog's sources), in words
_SOURCES = {"chain": "Markov chain", "alias": "alias", "genlab": "./models GGUF", "package": "package GGUF",
            "ollama": "Ollama GGUF", "huggingface": "Hugging Face GGUF", "lmstudio": "LM Studio GGUF"}


class GenlabModel(llm.Model):
    can_stream = True
    Options = Options

    def __init__(self, name: str, source: str = ""):
        self.model_id = name
        self.source = source

    def __str__(self) -> str:
        """How `llm models` shows it: "genlab Markov chain: markov:novel", "genlab package GGUF: smollm2"."""
        what = _SOURCES.get(self.source.partition(":")[0], self.source)
        return f"genlab {what}: {self.model_id}" if what else f"genlab: {self.model_id}"

    def execute(self, prompt: Any, stream: bool, response: Any, conversation: Any) -> Iterator[str]:
        try:
            yield from self._answer(prompt, response, conversation)
        except GenlabError as exc:
            raise GenlabModelError(" ".join(str(exc).split())) from None

    def _answer(self, prompt: Any, response: Any, conversation: Any) -> Iterator[str]:
        options = prompt.options
        given = given_sampling(options)
        messages = chat_messages(prompt, conversation)
        talking = any(m["role"] == "assistant" for m in messages) or _in_llm_chat()
        target, model = loaded(self.model_id)
        if _chats(model, getattr(options, "chat", None), talking, bool(prompt.system)):
            from genlab.chat.persona import CHAT_DEFAULTS

            if prompt.system and not model.capabilities.persona_prompts:
                _note(f"{model.name} answers from the words of your message only: it does not use the system prompt")
            earlier = sum(m["role"] == "assistant" for m in messages)  # as genlab chat: reply k, seed + k
            sampling = nth_reply(target.default_sampling(CHAT_DEFAULTS).merged(**given), earlier)
            pieces, said = _no_trailing_newlines(model.chat(messages, sampling)), messages[-1]["content"]
        else:
            sampling = target.default_sampling().merged(**given)
            said = prompt.prompt
            echo = getattr(options, "echo", None)
            if echo if echo is not None else not talking:
                yield said
            pieces = model.stream(said, sampling)
        out = []
        for piece in pieces:
            out.append(piece)
            yield piece
        _set_usage(response, model, said, "".join(out))


def _chats(model: Generator, chat: bool | None, talking: bool, system: bool) -> bool:
    """Whether to answer with model.chat() (see the module docstring)."""
    caps = model.capabilities
    if chat is not None:
        if chat and not caps.chat:
            raise GenlabError(f"{model.name} cannot chat (it has no chat template); leave out -o chat true "
                              "and it continues your text")
        return chat
    if not caps.chat:
        if talking or system:
            _note(f"{model.name} cannot chat (it has no chat template): it continues your text instead"
                  + (", without the system prompt" if system else ""))
        return False
    # a model that reads system prompts and turns is made for chat; a Markov chain only continues
    return talking or caps.persona_prompts


def _no_trailing_newlines(pieces: Iterator[str]) -> Iterator[str]:
    """A reply's pieces, newlines held back until text follows them: no blank lines after a
    reply (genlab chat shows replies so too)."""
    held = ""
    for piece in pieces:
        text = held + piece
        body = text.rstrip("\n")
        held = text[len(body):]
        if body:
            yield body


def chat_messages(prompt: Any, conversation: Any) -> list[dict[str, str]]:
    """genlab chat messages of llm's conversation so far: the system prompt, earlier prompts and
    responses, then this prompt (the whole chain as llm keeps it in prompt.messages; an llm
    older than that: the conversation's responses)."""
    chain = getattr(prompt, "messages", None)
    out: list[dict[str, str]] = []
    if chain is not None:
        for m in chain:
            if getattr(m, "role", None) in ROLES:
                text = "".join(p.text for p in m.parts if type(p).__name__ == "TextPart")
                out.append({"role": m.role, "content": text})
    else:
        earlier = list(getattr(conversation, "responses", None) or [])
        system = next((r.prompt.system for r in earlier if r.prompt.system), None) or prompt.system
        if system:
            out.append({"role": "system", "content": system})
        for r in earlier:
            out += [{"role": "user", "content": r.prompt.prompt}, {"role": "assistant", "content": r.text()}]
    if not out or out[-1]["role"] != "user":
        out.append({"role": "user", "content": prompt.prompt})
    return out


def _in_llm_chat() -> bool:
    """Whether llm's `chat` command asked: its first message is a conversation too."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.command.name == "chat"


# --- the models this process loaded --------------------------------------------------------------

_loaded: dict[str, tuple[Target, Generator]] = {}


def loaded(name: str) -> tuple[Target, Generator]:
    """The target and loaded model of `name`, loaded once per process (llm chat sends every
    message to the same one) and closed when the process ends."""
    if name not in _loaded:
        from genlab.backends import resolve

        target = resolve(name)
        model = target.load()
        if not _loaded:
            atexit.register(close_all)
        _loaded[name] = (target, model)
    return _loaded[name]


def close_all() -> None:
    while _loaded:
        _, (_, model) = _loaded.popitem()
        try:
            model.close()
        except Exception:  # the process is ending: one model failing to close must not stop the rest
            pass


def _set_usage(response: Any, model: Generator, said: str, answer: str) -> None:
    """Tokens in and out, as the model counted them (a llama model's exact counts), else by
    counting the texts in the model's own units (a Markov chain's words)."""
    if not hasattr(response, "set_usage"):
        return
    usage = getattr(model, "last_usage", None)
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int) and isinstance(
            usage.get("completion_tokens"), int):
        response.set_usage(input=usage["prompt_tokens"], output=usage["completion_tokens"])
        return
    try:
        response.set_usage(input=model.count_tokens(said), output=model.count_tokens(answer))
    except GenlabError:
        pass


_noted: set[str] = set()


def _note(message: str) -> None:
    """One line on stderr, once per process."""
    if message not in _noted:
        _noted.add(message)
        print(f"genlab: note: {message}", file=sys.stderr)
