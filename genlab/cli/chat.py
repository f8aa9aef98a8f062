"""`genlab chat`: a terminal chat with any backend, in a persona."""

from __future__ import annotations

import sys

import click

from genlab.chat.persona import CHAT_DEFAULTS, DEFAULT_PERSONA
from genlab.cli.completers import complete_persona
from genlab.cli.options import backend_option, llama_options, sampling_options, typed_sampling


@click.command()
@backend_option()
@click.option("--persona", metavar="NAME_OR_PATH", shell_complete=complete_persona,
              help="Who the assistant is: a name from 'genlab personas list', a .toml file, a Character "
                   "Card V2 .json file or an Ollama Modelfile (a file named Modelfile or NAME.Modelfile, or "
                   "any file that starts with Modelfile instructions): its SYSTEM, sampling PARAMETERs and "
                   "MESSAGE turns; FROM and TEMPLATE are not used, since --backend chooses the model and its "
                   f"chat template. [default: {DEFAULT_PERSONA}]")
@click.option("--system", metavar="TEXT", help="System prompt, instead of the persona's.")
@click.option("--blocks", is_flag=True,
              help="Piped input: messages are blocks separated by blank lines (default: one per line).")
@click.option("--resume", is_flag=True, help="Reopen the last chat: its persona, settings and history.")
@sampling_options(defaults=CHAT_DEFAULTS)
@llama_options
def chat(backend: str, persona: str | None, system: str | None, blocks: bool, resume: bool, **kwargs) -> None:
    """Chat in the terminal with a llama model or a Markov chain.

    Replies stream as they are written; Ctrl-C stops one and keeps it. Enter sends,
    Alt-Enter (or Esc, Enter) starts a new line, Ctrl-D leaves; type /help for the
    commands (/set, /retry, /undo, /save ...). Every message is appended to a transcript
    in genlab's user data folder, which --resume reopens.

    Sampling flags override the persona's settings, which override genlab's chat defaults
    (the defaults shown below).

    When stdin is not a terminal, messages are read from it, one per line (or in
    blank-line-separated blocks with --blocks). Each message gets exactly one answer on
    stdout, ended by a NUL character (as 'find -print0' ends names): its reply, what a
    command printed, or nothing (/set, or a failed message: errors go to stderr). A
    persona's greeting comes first, as an answer of its own. Replies never contain NUL
    (control characters are shown as U+FFFD), so splitting stdout at NUL gives every
    reply exactly, blank lines and all; on a screen NUL shows as nothing. Each failed
    message or command prints a 'genlab: error:' line and the chat goes on; the exit
    status is then 1. A message that fails is not kept in the chat.

    One chat at a time writes a transcript: a second --resume while the chat is open
    goes on in a new transcript (a note says which). When the transcript cannot be
    written (a full disk, a read-only folder), a warning says so once and the chat goes
    on without one.

    \b
    Examples:
      genlab chat --backend llama:models/tiny.gguf --persona pogi
      genlab chat --backend markov:novel
      printf 'hello\\n/retry\\n' | genlab chat --backend markov:novel --seed 1
      printf 'hi\\nand?\\n' | genlab chat -b markov:novel | while IFS= read -r -d '' reply; do echo "[$reply]"; done
    """
    from genlab.folders import input_history_file, transcripts_dir
    from genlab.chat.persona import load_persona
    from genlab.chat.session import ChatSession, require_chat
    from genlab.chat.transcript import Transcript
    from genlab.chat.terminal import ChatTerminal
    from genlab.errors import GenlabError
    from genlab.backends import resolve

    if resume and persona:
        raise GenlabError("--resume reopens the last chat with its own persona: leave out --persona")
    given = typed_sampling(kwargs)  # the flags typed
    chosen = None if resume else load_persona(persona or DEFAULT_PERSONA)  # a bad persona fails before loading
    target = resolve(backend)
    model = target.load(**kwargs)
    require_chat(model)  # a model without a chat template: one line now, not an error at the first message
    if resume:
        path = Transcript.latest(transcripts_dir())
        # locked before it is read: nothing is appended in between; open elsewhere: a new transcript
        session = ChatSession.resume(model, path, Transcript.continuing(path))
        if system is not None:
            session.set_system(system)
        for key, value in given.items():
            session.set(key, value)
    else:
        sampling = chosen.sampling(target.default_sampling(CHAT_DEFAULTS)).merged(**given)
        session = ChatSession(model, chosen, sampling=sampling, system=system,
                              transcript=Transcript.new(transcripts_dir(), chosen.name))
    terminal = ChatTerminal(session)
    try:
        if sys.stdin.isatty() and sys.stdout.isatty():
            terminal.run_interactive(input_history_file())
        elif terminal.run_piped(_lenient(sys.stdin), blocks):
            raise click.exceptions.Exit(1)  # each failure was told in its own `genlab: error:` line
    finally:
        if session.transcript is not None:
            session.transcript.close()


def _lenient(stream):
    """Piped messages with any byte that is not UTF-8 shown as U+FFFD, instead of ending the chat."""
    try:
        stream.reconfigure(errors="replace")
    except (AttributeError, ValueError, OSError):
        pass  # not a text file of the io module (a test's StringIO): already text
    return stream
