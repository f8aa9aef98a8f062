"""`genlab completion [bash|zsh|fish]`: the script that makes a shell complete genlab's
commands, backend names and personas (the names come from genlab/cli/completers.py).

The scripts run click's own completion protocol (`_GENLAB_COMPLETE=bash_complete genlab`
with COMP_WORDS and COMP_CWORD); the bash and zsh ones are click's with two things a backend
name needs: bash splits `markov:novel` at the colon, so its script puts such a word back
together and hands bash only the part after the colon; and a word that goes on (`markov:`, a
folder/) gets no space after it. fish does both by itself, so its script is click's own.
"""

from __future__ import annotations

import os

import click
from click.shell_completion import BashComplete, FishComplete, ZshComplete

from genlab.errors import GenlabError


# bash: COMP_WORDS has `markov:no` as three words (markov, :, no) and replaces only `no`;
# glue the pieces that no space separates, complete the glued word, and hand back each
# answer without the part bash does not replace. A path goes back as a file name, so readline
# quotes it and adds the / of a folder. Needs bash 4.4 (complete -o nosort).
_BASH = r"""%(complete_func)s() {
    local IFS=$'\n' rest=$COMP_LINE gap word head cur full value response
    local -a words=()
    local i j=-1 cword=0
    for ((i = 0; i <= COMP_CWORD && i < ${#COMP_WORDS[@]}; i++)); do
        word=${COMP_WORDS[i]}
        gap=${rest%%%%[![:space:]]*}
        rest=${rest#"$gap"}
        rest=${rest#"$word"}
        if ((j >= 0)) && [[ -z $gap ]] && [[ ( -n $word && -z ${word//[:=]/} ) || ${words[j]} == *[:=] ]]; then
            words[j]+=$word
        else
            words[++j]=$word
        fi
        ((i == COMP_CWORD)) && cword=$j
    done
    cur=${COMP_WORDS[COMP_CWORD]}
    [[ -n $cur && -z ${cur//[:=]/} ]] && cur=
    head=${words[cword]%%"$cur"}
    [[ ${words[cword]} == -*=* ]] && full=${words[cword]%%%%=*}= || full=

    response=$(env COMP_WORDS="${words[*]}" COMP_CWORD=$cword %(complete_var)s=bash_complete $1)

    COMPREPLY=()
    for completion in $response; do
        IFS=',' read type value <<< "$completion"
        if [[ $type == 'dir' ]]; then
            COMPREPLY=()
            compopt -o dirnames
        elif [[ $type == 'file' ]]; then
            COMPREPLY=()
            compopt -o default
        elif [[ $type == 'plain' ]]; then
            value=$full$value
            value=${value#"$head"}
            if [[ $value == */* ]]; then
                compopt -o filenames  # readline quotes it, and marks a folder with / itself
                value=${value%%/}
            elif [[ $value == *: ]]; then
                compopt -o nospace
            fi
            COMPREPLY+=("$value")
        fi
    done
    return 0
}

%(complete_func)s_setup() {
    complete -o nosort -F %(complete_func)s %(prog_name)s
}

%(complete_func)s_setup;
"""

# zsh: click's script, with no space after a word that goes on (`markov:`, a folder/)
_ZSH = r"""#compdef %(prog_name)s

%(complete_func)s() {
    local -a response described plain described_on plain_on
    (( ! $+commands[%(prog_name)s] )) && return 1

    response=("${(@f)$(env COMP_WORDS="${words[*]}" COMP_CWORD=$((CURRENT-1)) \
%(complete_var)s=zsh_complete %(prog_name)s)}")

    for type key descr in ${response}; do
        if [[ "$type" == "plain" ]]; then
            if [[ "$descr" == "_" ]]; then
                [[ "$key" == *[:/] ]] && plain_on+=("$key") || plain+=("$key")
            else
                [[ "$key" == *[:/] ]] && described_on+=("$key":"$descr") || described+=("$key":"$descr")
            fi
        elif [[ "$type" == "dir" ]]; then
            _path_files -/
        elif [[ "$type" == "file" ]]; then
            _path_files -f
        fi
    done

    (( $#described )) && _describe -V unsorted described -U
    (( $#described_on )) && _describe -V unsorted described_on -U -S ''
    (( $#plain )) && compadd -U -V unsorted -a plain
    (( $#plain_on )) && compadd -U -V unsorted -S '' -a plain_on
    return 0
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    %(complete_func)s "$@"
else
    compdef %(complete_func)s %(prog_name)s
fi
"""


class _Bash(BashComplete):
    source_template = _BASH


class _Zsh(ZshComplete):
    source_template = _ZSH


SHELLS = {"bash": _Bash, "zsh": _Zsh, "fish": FishComplete}


def completion_script(shell: str, prog_name: str = "genlab") -> str:
    """The script that makes `shell` complete `prog_name` (the root of the genlab commands)."""
    from genlab.cli import cli

    var = "_{}_COMPLETE".format(prog_name.replace("-", "_").replace(".", "_").upper())
    return SHELLS[shell](cli, {}, prog_name, var).source()


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
    markov:/llama: files) and personas. Load it from your shell's start-up file:

    \b
      bash  (~/.bashrc):                  eval "$(genlab completion bash)"
      zsh   (~/.zshrc, after compinit):   eval "$(genlab completion zsh)"
      fish  (~/.config/fish/config.fish): genlab completion fish | source
    """
    click.echo(completion_script(shell or _shell_from_env()), nl=False)
