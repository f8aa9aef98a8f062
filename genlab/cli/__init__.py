"""The `genlab` command: a thin click layer over the library.

Every mistake a user can make ends here as one `genlab: error: ...` line and a non-zero exit;
Ctrl-C exits 130 with nothing half-written.
"""

from __future__ import annotations

import os
import sys

import click

from genlab import __version__
from genlab.cli.lazy import LazyCommands, kind_commands
from genlab.errors import GenlabError, cannot
from genlab.secrets import redact

# click >= 8.2 raises this for a group called without a command; older clicks print the help
NoArgsIsHelp = getattr(click.exceptions, "NoArgsIsHelpError", ())


class GenlabGroup(click.Group):
    """A click group that reports errors in one line instead of usage text or tracebacks."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        prog_name = prog_name or "genlab"
        if os.environ.get(complete_var or completion_variable(prog_name)):
            # a shell asks to complete, or for its script: genlab's bash and zsh scripts answer
            from genlab.cli.completion import use_genlab_scripts

            use_genlab_scripts()
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except GenlabError as e:
            _fail(str(e), e.exit_code)
        except click.exceptions.Abort:
            _fail("interrupted", 130)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except NoArgsIsHelp as e:  # `genlab` or `genlab corpus` alone: show the help as help
            click.echo(e.ctx.get_help() if e.ctx else str(e))
            sys.exit(0)
        except click.ClickException as e:
            _fail(_one_line(e.format_message()), e.exit_code)
        except BrokenPipeError:
            sys.stderr.close()  # output went to a closed pipe (e.g. `| head`): not an error
            sys.exit(0)
        except OSError as e:  # the last net: each command names its files in its own words first
            _fail(_os_error(e), 1)
        except MemoryError:
            _fail("out of memory (an input asks for more than this machine has)", 1)
        except RecursionError:
            _fail("an input is nested too deeply to read", 1)
        except UnicodeError as e:
            _fail(f"cannot handle the text: {e.reason}", 1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


def completion_variable(prog_name: str) -> str:
    """The variable click's completion protocol is spoken in: _GENLAB_COMPLETE for genlab."""
    return "_{}_COMPLETE".format(prog_name.replace("-", "_").replace(".", "_").upper())


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _os_error(e: OSError) -> str:
    if e.filename is not None:
        return str(cannot("use", os.fsdecode(e.filename), e))
    return e.strerror or str(e)


def _fail(message: str, code: int) -> None:
    """Print the one line: secrets hidden, control characters and invalid text made visible."""
    line = _one_line(redact(message)).encode("utf-8", "backslashreplace").decode("utf-8")
    click.echo(f"genlab: error: {line}" if code != 130 else f"genlab: {line}", err=True)
    sys.exit(code)


@click.group(cls=GenlabGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genlab")
def cli() -> None:
    """Train Markov chains on novels, run local models, and compare them.

    \b
    Quick start (from the repository root):
      genlab train-markov corpora/novel.txt
      genlab generate --backend markov:novel --prompt "“Well,” said"

    Run 'genlab COMMAND --help' for the options of each command.
    """


# genlab's own commands; the backend kinds add theirs (train-markov, export-arpa, tiny-model)
COMMANDS = {
    "train-llm": "genlab.cli.train_llm:train_llm",
    "generate": "genlab.cli.generate:generate",
    "chat": "genlab.cli.chat:chat",
    "personas": "genlab.cli.personas:personas",
    "perplexity": "genlab.cli.perplexity:perplexity",
    "compare": "genlab.cli.compare:compare",
    "plot": "genlab.cli.compare:plot",
    "corpus": "genlab.cli.corpus:corpus",
    "models": "genlab.cli.models:models",
    "completion": "genlab.cli.completion:completion",
}
cli.commands = LazyCommands(COMMANDS, kind_commands)


def main() -> None:
    cli.main()
