"""Chat templates compiled and rendered within limits of time, memory and size.

A GGUF's `tokenizer.chat_template` is Jinja code from whoever made the file. jinja2's immutable
sandbox keeps it away from Python's internals (no template has escaped it), but not from
spending: `{{ 'a' * 10**9 }}` took 4 GB, two nested `range(100000)` loops spun for hours, a
recursive macro ended in a RecursionError traceback. Here every template is compiled and
rendered, still in that sandbox, under:

- a deadline of SECONDS for compiling and for each rendering: a SIGALRM timer in the main
  thread, else a trace function that looks at the clock at every line of Python the template
  runs (its generated code and the filters it calls);
- a memory ceiling, on systems that have RLIMIT_AS (Linux): while a template compiles or renders,
  the process may map only MEMORY more than it does, so any single operation that would allocate
  more (a `center(10**9)`) fails with MemoryError instead;
- size checks on the operators that multiply, before the result is made: `*` and `+` of
  strings and lists (SIZE items at most), `*` and `**` of whole numbers (BITS at most);
- an output cap: the prompt is collected piece by piece (`Template.generate`) and stopped
  past SIZE characters.

Each ends in one GenlabError naming the model's chat template. llama-cpp-python compiles every
chat template of a model as it loads it, with none of these limits: genlab's engine keeps the
templates out of its sight (genlab.llama.engine) and `install`s a BoundedChatFormatter for each:
llama-cpp-python's own Jinja2ChatFormatter (its environment settings, variables, stop token),
with the template compiled and rendered here.
"""

from __future__ import annotations

import resource
import signal
import sys
import threading
import time
from typing import Any, Callable, TypeVar

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from llama_cpp.llama_chat_format import Jinja2ChatFormatter, guess_chat_format_from_gguf_metadata

from genlab.errors import GenlabError
from genlab.llama.quiet import first_line

SECONDS = 5.0  # to compile a template, and to render it once
MEMORY = 128 << 20  # bytes a template may add to what the process maps
SIZE = 16 << 20  # characters of the prompt, and items of a string or list an operator makes
BITS = 1 << 16  # of a whole number an operator makes (about 20,000 digits)
KEY = "tokenizer.chat_template"  # the default template; KEY.NAME: a named one

T = TypeVar("T")


class _Exceeded(BaseException):
    """A limit, raised inside the template's code. Not an Exception, so that nothing on the way
    (jinja2's `except Exception`, a filter's) takes it for an error of its own."""


def _bits(n: Any) -> int | None:
    return abs(n).bit_length() if isinstance(n, int) and not isinstance(n, bool) else None


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple)) else None


def check_operation(operator: str, left: Any, right: Any) -> None:
    """Refuse a `*`, `+` or `**` whose result would pass SIZE items or BITS bits."""
    a, b = _bits(left), _bits(right)
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            n = _length(seq)
            if n is not None and _bits(times) is not None and n * max(times, 0) > SIZE:
                raise _Exceeded(f"makes a value of {n * times:,} items (at most {SIZE:,})")
        if a is not None and b is not None and a + b > BITS:
            raise _Exceeded(f"makes a number of about {a + b:,} bits (at most {BITS:,})")
    elif operator == "+":
        n, m = _length(left), _length(right)
        if n is not None and m is not None and n + m > SIZE:
            raise _Exceeded(f"makes a value of {n + m:,} items (at most {SIZE:,})")
    elif operator == "**" and a is not None and b is not None and a > 1 and right > 0 and (a - 1) * right > BITS:
        raise _Exceeded(f"makes a number of about {(a - 1) * right:,} bits (at most {BITS:,})")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox with the multiplying operators checked first."""

    intercepted_binops = frozenset({"*", "+", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_operation(operator, left, right)
        return super().call_binop(context, operator, left, right)


def _narrow_address_space() -> tuple[int, int] | None:
    """Let the process map at most MEMORY more than it does now; the old limits, or None when
    this system cannot say or set it."""
    try:
        with open("/proc/self/statm") as fh:
            mapped = int(fh.read().split()[0]) * resource.getpagesize()
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    limit = mapped + MEMORY
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= limit:
        return None  # already as narrow
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        return None
    return soft, hard


def _alarm_is_free() -> bool:
    """Whether SIGALRM can time this run: the main thread, no handler or timer of anyone else's."""
    return (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))


def within_limits(label: str, doing: str, work: Callable[[], T]) -> T:
    """`work()` under the deadline and the memory ceiling; a limit it meets is one GenlabError
    that names `label` (the chat template of a model).

    The deadline is a SIGALRM timer in the main thread (free while the template runs), else a
    trace function that looks at the clock at every line and call of Python (any thread, but a
    rendering takes about five times as long)."""
    deadline = time.monotonic() + SECONDS
    armed = [True]

    def stop(*_: Any) -> None:
        if armed[0]:
            armed[0] = False
            raise _Exceeded(f"took more than {SECONDS:g} s {doing}")

    def clock(frame: Any, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            stop()
        return clock

    alarm = _alarm_is_free()
    previous = signal.signal(signal.SIGALRM, stop) if alarm else sys.gettrace()
    saved = _narrow_address_space()
    try:
        try:
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, SECONDS)
            else:
                sys.settrace(clock)
            return work()
        finally:
            armed[0] = False  # first, and not a call: a late alarm now finds nothing to stop
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            else:
                sys.settrace(previous)
            if saved is not None:
                resource.setrlimit(resource.RLIMIT_AS, saved)
    except _Exceeded as exc:
        raise GenlabError(f"{label} {exc.args[0]}: it was stopped") from None
    except RecursionError:
        raise GenlabError(f"{label} recurses or nests too deeply {doing}: it was stopped") from None
    except MemoryError:
        raise GenlabError(f"{label} needed more than {MEMORY >> 20} MiB of memory {doing}: it was stopped") from None
    except OverflowError as exc:  # jinja2's sandbox refusing a range over 100,000 items, a float overflow
        raise GenlabError(f"{label} asked for too much {doing} ({first_line(exc)})") from None


class _Rendering:
    """A compiled template whose `render` runs within the limits and stops past SIZE characters."""

    def __init__(self, template: jinja2.Template, label: str):
        self.template, self.label = template, label

    def _collect(self, variables: dict[str, Any]) -> str:
        pieces: list[str] = []
        total = 0
        for piece in self.template.generate(**variables):
            total += len(piece)
            if total > SIZE:
                raise _Exceeded(f"wrote more than {SIZE:,} characters")
            pieces.append(piece)
        return "".join(pieces)

    def render(self, **variables: Any) -> str:
        try:
            return within_limits(self.label, "while rendering", lambda: self._collect(variables))
        except (jinja2.TemplateError, ValueError, GenlabError):
            raise  # the sandbox's refusals, the template's raise_exception(...): genlab.llama.chat_prompt words them
        except Exception as exc:  # a mistake in the template: 'a' + 1, 1 / 0
            what = f"{type(exc).__name__}: {first_line(exc)}"
            raise GenlabError(f"{self.label} failed while rendering ({what})") from None


class BoundedChatFormatter(Jinja2ChatFormatter):
    """llama-cpp-python's Jinja2ChatFormatter with the template compiled (now) and rendered
    (each call) within the limits. jinja2 errors pass as they are (a syntax error, the sandbox's
    SecurityError, a template's raise_exception)."""

    def __init__(self, template: str, eos_token: str, bos_token: str, *, label: str,
                 stop_token_ids: list[int] | None = None):
        super().__init__("", eos_token, bos_token, stop_token_ids=stop_token_ids)  # its settings, on nothing
        theirs = self._environment.environment
        env = BoundedSandbox(loader=theirs.loader, trim_blocks=theirs.trim_blocks, lstrip_blocks=theirs.lstrip_blocks,
                             extensions=[type(e) for e in theirs.extensions.values()])
        env.filters.update(theirs.filters)
        env.globals.update(theirs.globals)
        self.template = template
        try:
            compiled = within_limits(label, "while compiling", lambda: env.from_string(template))
        except (jinja2.TemplateError, GenlabError):
            raise
        except Exception as exc:  # Python refusing the code jinja2 made (SyntaxError: too many nested blocks)
            raise GenlabError(f"{label} cannot be compiled ({type(exc).__name__}: {first_line(exc)})") from None
        self._environment = _Rendering(compiled, label)


def template_keys(metadata: dict[str, Any]) -> dict[str, Any]:
    """The chat templates among a model's metadata: the default one and the named ones."""
    return {k: v for k, v in metadata.items() if k == KEY or k.startswith(KEY + ".")}


def install(llm: Any, templates: dict[str, str], chat_format: str | None, model_name: str) -> None:
    """Give a loaded Llama its chat templates back, each a BoundedChatFormatter under the name
    llama-cpp-python uses ("chat_template.default", "chat_template.NAME"), and choose the
    default chat format as it does: a named format it recognises in the template, else the
    template, unless the caller chose a format or a handler."""
    llm.metadata.update(templates)
    eos_id, bos_id = llm.token_eos(), llm.token_bos()
    eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
    for key, text in templates.items():
        name = "chat_template." + ("default" if key == KEY else key[len(KEY) + 1:])
        label = f"the chat template of {model_name}" + ("" if key == KEY else f" named {key[len(KEY) + 1:]!r}")
        llm._chat_handlers[name] = BoundedChatFormatter(
            text, eos, bos, label=label, stop_token_ids=[eos_id]).to_chat_handler()
    if chat_format is None and llm.chat_handler is None and "chat_template.default" in llm._chat_handlers:
        llm.chat_format = guess_chat_format_from_gguf_metadata(llm.metadata) or "chat_template.default"
