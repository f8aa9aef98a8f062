"""The `-o KEY VALUE` options of a genlab model in llm: genlab's sampling settings, and how a
prompt is answered.

Each value is checked when llm reads the options (before a model loads or a chat starts), by the
same rules as genlab's flags, so `-o temperature -1` is refused in llm's usual way for a bad
option. An option not given keeps genlab's default for that model (see model.py).
"""

from __future__ import annotations

from typing import Any, Optional, Union

import llm
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from genlab.chat.persona import CHAT_DEFAULTS
from genlab.errors import GenlabError
from genlab.escapes import process_escapes
from genlab.sampling import FIELDS, MEANINGS, Sampling


def _setting(name: str) -> Any:
    """A sampling option, its defaults shown: genlab generate's, and genlab chat's where they differ."""
    text = MEANINGS[name]
    plain, chat = getattr(Sampling(), name), getattr(CHAT_DEFAULTS, name)
    shown = "random" if plain is None else plain
    default = f"{shown} (in a chat {chat})" if chat != plain else f"{shown}"
    return Field(None, description=f"{text} [default: {default}; an alias may set its own]")


class Options(llm.Options):
    temperature: Optional[float] = _setting("temperature")
    top_k: Optional[int] = _setting("top_k")
    top_p: Optional[float] = _setting("top_p")
    min_p: Optional[float] = _setting("min_p")
    repeat_penalty: Optional[float] = _setting("repeat_penalty")
    repeat_last_n: Optional[int] = _setting("repeat_last_n")
    seed: Optional[int] = _setting("seed")
    max_tokens: Optional[int] = _setting("max_tokens")
    stop: Optional[Union[str, list[str]]] = Field(
        None, description="Stop before this text; \\n, \\t, \\\\ ... are understood as genlab's --stop does.")
    echo: Optional[bool] = Field(
        None, description="When the model continues the prompt: print the prompt first, as genlab generate "
                          "does (default true; false in a conversation). false: the continuation alone.")
    chat: Optional[bool] = Field(
        None, description="true: answer as a chat (the model's chat template); false: continue the prompt's "
                          "text. Default: chat for a model with a chat template (always in llm chat and -c), "
                          "continue for a Markov chain or a base model.")

    @field_validator(*FIELDS)
    @classmethod
    def _genlab_rules(cls, value: Any, info: Any) -> Any:
        """The value as genlab checks it (ranges, non-empty stops, escapes); kept as typed, so a
        value llm stores (`llm models options set`) means the same when read back."""
        if value is None:
            return value
        try:
            Sampling(**{info.field_name: stop_strings(value) if info.field_name == "stop" else value})
        except GenlabError as exc:
            message = str(exc)
            for prefix in (f"{info.field_name}: ", f"{info.field_name} "):  # llm names the option already
                message = message.removeprefix(prefix)
            raise PydanticCustomError("genlab", "{message}", {"message": message}) from None
        return value


def stop_strings(value: Union[str, list[str]]) -> tuple[str, ...]:
    """The stop strings of a `stop` option, escapes processed."""
    values = (value,) if isinstance(value, str) else tuple(value)
    return tuple(process_escapes(v, "stop") for v in values)


def given_sampling(options: Options) -> dict[str, Any]:
    """The sampling settings given as options (the rest keep the model's defaults)."""
    values = {k: getattr(options, k, None) for k in FIELDS}
    if values["stop"] is not None:
        values["stop"] = stop_strings(values["stop"])
    return {k: v for k, v in values.items() if v is not None}
