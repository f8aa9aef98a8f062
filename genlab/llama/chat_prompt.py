"""Chat prompts exactly as llama-cpp-python builds them, without generating anything.

`create_chat_completion` renders the messages with the GGUF's own `tokenizer.chat_template` (in
jinja2's sandbox, within limits of time, memory and size: genlab.llama.templates) or a named
`chat_format`, and passes the prompt tokens and stop strings to
`create_completion`; the engine (genlab.llama.engine) records that call instead of running it,
and LlamaGenerator generates the reply with its own loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, Sequence

from genlab.errors import GenlabError
from genlab.generator import Message, check_messages
from genlab.llama.gguf_header import GGUFInfo
from genlab.llama.quiet import first_line, quiet


class ChatModel(Protocol):
    """What a chat prompt needs of a loaded model (LlamaGenerator has it): the engine, its
    template or chat format, and its tokenizer."""

    name: str
    path: Path
    header: GGUFInfo
    chat_format: str | None
    verbose: bool

    @property
    def llm(self) -> Any: ...

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = False) -> list[int]: ...


def check_format(name: str | None) -> str | None:
    """`name` when llama-cpp-python has a chat format of that name (None: the GGUF's template)."""
    if name is not None:
        from llama_cpp import llama_chat_format

        try:
            llama_chat_format.get_chat_completion_handler(name)
        except Exception as exc:
            raise GenlabError(f"unknown chat format {name!r}: {first_line(exc)}") from None
    return name


def prompt_and_stops(g: ChatModel, messages: Sequence[Message]) -> tuple[list[int], tuple[str, ...]]:
    """The prompt tokens `g.chat(messages)` evaluates, and the stop strings of its chat format."""
    calls = _capture(g, messages).get("calls") or []
    if not calls:
        raise GenlabError(f"chat format {g.chat_format or 'of ' + g.name} produced no prompt")
    prompt, kwargs = calls[0]
    if isinstance(prompt, str):
        prompt = g.tokenize(prompt, add_bos=True, special=True)
    stop = kwargs.get("stop") or []
    stop = [stop] if isinstance(stop, str) else list(stop)
    return [int(t) for t in prompt], tuple(s for s in stop if isinstance(s, str) and s)


def rendered_text(g: ChatModel, messages: Sequence[Message]) -> str:
    """The prompt text of `messages`: the rendered template."""
    rendered = _capture(g, messages).get("rendered") or []
    return rendered[0].decode("utf-8") if rendered else ""


def continue_tokens(g: ChatModel, messages: Sequence[Message]) -> list[int]:
    """The prompt that continues the last (assistant) message: the template up to the reply,
    then the reply so far as plain text."""
    head, partial = list(messages[:-1]), messages[-1]["content"]
    tokens = prompt_and_stops(g, head)[0]
    rendered = rendered_text(g, head)
    # Tokenized as one text, as it would be inside a whole conversation (a SentencePiece
    # model tokenizes text after a special token differently from text on its own).
    whole = g.tokenize(rendered + partial, special=True)
    base = g.tokenize(rendered, special=True)
    if whole[: len(base)] == base and tokens[len(tokens) - len(base):] == base:
        return tokens[: len(tokens) - len(base)] + whole  # the template's BOS handling kept
    return tokens + g.tokenize(partial)


def _capture(g: ChatModel, messages: Sequence[Message]) -> dict[str, Any]:
    """What llama-cpp-python's chat handler renders and would send for `messages`."""
    import jinja2
    from jinja2.sandbox import SecurityError

    msgs = check_messages(messages)
    llm = g.llm
    if g.chat_format is None and g.header.chat_template is None:
        raise GenlabError(
            f"{g.name} has no chat template, so it cannot chat: choose a chat format with --chat-format "
            "(chatml, llama-3, ...) or continue text with 'genlab generate'")
    template = f"the chat template of {g.path.name}"
    capture: dict[str, Any] = {}
    llm._genlab_capture = capture
    try:
        with quiet(g.verbose):
            llm.create_chat_completion(messages=msgs, stream=True, stop=[], max_tokens=1)
    except SecurityError as exc:
        raise GenlabError(f"{template} tried an unsafe operation and was stopped ({first_line(exc)})") from None
    except jinja2.TemplateError as exc:
        raise GenlabError(f"{template} failed: {first_line(exc)}") from None
    except ValueError as exc:  # the template's raise_exception(...), e.g. roles must alternate
        raise GenlabError(f"{template} rejected the messages: {first_line(exc)}") from None
    finally:
        llm._genlab_capture = None
    return capture
