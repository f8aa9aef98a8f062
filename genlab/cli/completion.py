"""`genlab completion [bash|zsh|fish]`: the script that makes a shell complete genlab's
commands, backend names and personas (the names come from genlab/cli/completers.py).

Every script asks genlab itself at each TAB, in click's protocol: it runs genlab with
_GENLAB_COMPLETE=bash_complete (or zsh_complete, fish_complete), the words typed so far in
COMP_WORDS and the index of the one being completed in COMP_CWORD, and reads back one answer per
line (bash: `kind,value`; zsh: kind, value and help on three lines). The bash and zsh scripts are
genlab's own, written for what a backend name needs: `markov:novel` is one word though bash cuts
it at the colon, and a word that goes on (`markov:`, a folder/) gets no space after it. fish needs
neither, so its script is click's FishComplete as it stands.

`use_genlab_scripts()` puts the two in click's table of shells, so the older set-up line,
eval "$(_GENLAB_COMPLETE=bash_source genlab)", prints these scripts too.
"""

from __future__ import annotations

import os

import click
from click.shell_completion import BashComplete, FishComplete, ShellComplete, ZshComplete, add_completion_class

from genlab.errors import GenlabError

# The scripts name genlab's function, variable and command by @FUNC@, @VAR@ and @PROG@.

_BASH = r"""# genlab's tab completion for bash 4.4 or later. Load it from ~/.bashrc with
#   eval "$(genlab completion bash)"
@FUNC@() {
    local IFS=$' \t\n' rest=$COMP_LINE piece gap last=-1 k
    local -a typed=()
    # bash hands a completion function `-b markov:no` cut at its colon: -b, markov, :, no.
    # genlab must see markov:no, so glue a ':' or '=' to its neighbours when no blank
    # separates them on the line.
    for ((k = 0; k <= COMP_CWORD && k < ${#COMP_WORDS[@]}; k++)); do
        piece=${COMP_WORDS[k]}
        gap=${rest%%[![:space:]]*}
        rest=${rest:${#gap}}
        rest=${rest:${#piece}}
        if ((last >= 0)) && [[ -z $gap && ( $piece == [:=]* || ${typed[last]} == *[:=] ) ]]; then
            typed[last]+=$piece
        else
            typed[++last]=$piece
        fi
    done

    # bash puts an answer in place of the piece after the last ':' or '=' only (none when the
    # cursor follows one), so each answer loses what stays on the line before that piece.
    local word=${typed[last]} swapped=${COMP_WORDS[COMP_CWORD]}
    [[ $swapped == *[!:=]* ]] || swapped=
    local stays=${word%"$swapped"} option=
    # --name=value: genlab answers with the value alone
    [[ $word == -*=* ]] && option=${word%%=*}=

    local answers line kind value fallback= as_paths= no_space=
    COMPREPLY=()
    answers=$(COMP_WORDS="${typed[*]}" COMP_CWORD=$last @VAR@=bash_complete "$1" 2>/dev/null) || return 0
    while IFS= read -r line; do
        kind=${line%%,*}
        value=$option${line#*,}
        case $kind in
            file) fallback=default ;;
            dir) fallback=dirnames ;;
            plain)
                [[ $value == "$stays"* ]] || continue
                value=${value#"$stays"}
                if [[ $value == */* ]]; then
                    as_paths=1
                    value=${value%/}  # readline marks a folder itself, with no space after it
                elif [[ $value == *: ]]; then
                    no_space=1
                fi
                COMPREPLY+=("$value")
                ;;
        esac
    done <<< "$answers"

    if [[ -n $fallback ]]; then
        # a file or folder argument: bash's own file name completion does it best
        COMPREPLY=()
        compopt -o "$fallback"
        return 0
    fi
    # a path is a file name to readline: it quotes what needs it and lists only base names
    [[ -n $as_paths ]] && compopt -o filenames
    [[ -n $no_space ]] && compopt -o nospace
    return 0
}

if ((BASH_VERSINFO[0] > 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] >= 4))); then
    complete -o nosort -F @FUNC@ @PROG@
else
    printf '%s\n' "@PROG@: tab completion needs bash 4.4 or later, and this is bash $BASH_VERSION" >&2
fi
"""

_ZSH = r"""#compdef @PROG@
# genlab's tab completion for zsh. Load it from ~/.zshrc, after compinit, with
#   eval "$(genlab completion zsh)"
# or save it as _@PROG@ in a folder on your $fpath.
@FUNC@() {
    local -a lines shown how
    local kind value about width=0 n ret=1
    (( $+commands[@PROG@] )) || return 1

    # --name=value: genlab answers with the value alone, so the part up to '=' stays as it is
    [[ $PREFIX == -*=* ]] && compset -P 1 '*='

    lines=("${(@f)$(COMP_WORDS="${words[1,CURRENT]}" COMP_CWORD=$((CURRENT - 1)) \
        @VAR@=zsh_complete @PROG@ 2>/dev/null)}")

    # line up the descriptions after the longest name
    for ((n = 2; n + 1 <= $#lines; n += 3)); do
        value=${lines[n]//\\:/:}
        (( $#value > width )) && width=$#value
    done

    for ((n = 1; n + 2 <= $#lines; n += 3)); do
        kind=$lines[n] value=$lines[n+1] about=$lines[n+2]
        case $kind in
            file) _files && ret=0 ;;
            dir) _files -/ && ret=0 ;;
            plain)
                # a value that has a description comes with its colons escaped; "_" means none
                how=(-U -V @PROG@ -i "$IPREFIX")
                if [[ $about != _ ]]; then
                    value=${value//\\:/:}
                    shown=("${(r:width:)value}  -- $about")
                    how+=(-l -d shown)
                elif [[ $value == */?* ]]; then
                    shown=("${${value%/}##*/}${(M)value%/}")  # a path is listed by its last name
                    how+=(-d shown)
                fi
                # a kind (markov:) or a folder (models/) goes on: no space after it
                [[ $value == *[:/] ]] && how+=(-S '')
                compadd "${how[@]}" -- "$value" && ret=0
                ;;
        esac
    done
    return ret
}

if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
    @FUNC@ "$@"  # autoloaded from $fpath at the first TAB: this call is the completion
else
    compdef @FUNC@ @PROG@  # eval'ed or sourced: every TAB after a genlab calls the function
fi
"""


class _Script(ShellComplete):
    """A shell's completion class whose script is genlab's: click's protocol (what genlab reads
    from the environment and how it answers) comes from the click class it is mixed with."""

    script = ""

    def source(self) -> str:
        fill = {"@FUNC@": self.func_name, "@VAR@": self.complete_var, "@PROG@": self.prog_name}
        text = self.script
        for mark, value in fill.items():
            text = text.replace(mark, value)
        return text


class BashScript(_Script, BashComplete):
    script = _BASH


class ZshScript(_Script, ZshComplete):
    script = _ZSH


SHELLS: dict[str, type[ShellComplete]] = {"bash": BashScript, "zsh": ZshScript, "fish": FishComplete}


def use_genlab_scripts() -> None:
    """Make click answer `bash_source` and `zsh_source` with genlab's scripts."""
    add_completion_class(BashScript, "bash")
    add_completion_class(ZshScript, "zsh")


def completion_script(shell: str, prog_name: str = "genlab") -> str:
    """The script that makes `shell` complete `prog_name` (the root of the genlab commands)."""
    from genlab.cli import cli, completion_variable

    return SHELLS[shell](cli, {}, prog_name, completion_variable(prog_name)).source()


def _shell_from_env() -> str:
    name = os.path.basename(os.environ.get("SHELL", "").strip())
    if name not in SHELLS:
        told = f"$SHELL is {name!r}" if name else "$SHELL is not set"
        raise GenlabError(f"genlab completes in bash, zsh and fish, and {told}: name the shell, "
                          "as in 'genlab completion bash'")
    return name


@click.command()
@click.argument("shell", required=False, metavar="[SHELL]", type=click.Choice(list(SHELLS)))
def completion(shell: str | None) -> None:
    """Tab completion in bash, zsh and fish: print the script.

    Prints the script that makes SHELL (bash, zsh or fish; without it, the one $SHELL names)
    complete genlab's commands, their options, backend names (aliases, found models, chains,
    markov:/llama: files), model aliases and personas. Load it from your shell's start-up file:

    \b
      bash  (~/.bashrc):                  eval "$(genlab completion bash)"
      zsh   (~/.zshrc, after compinit):   eval "$(genlab completion zsh)"
      fish  (~/.config/fish/config.fish): genlab completion fish | source
    """
    click.echo(completion_script(shell or _shell_from_env()), nl=False)
