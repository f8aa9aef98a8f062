"""Shell completion: what the real `genlab` answers a shell at a TAB, asked the way the
scripts of `genlab completion bash|zsh|fish` ask (click's protocol: _GENLAB_COMPLETE,
COMP_WORDS, COMP_CWORD), and those scripts loaded in the real shells.

Every model a test completes is real and made the way a user makes it: a chain trained by
`genlab train-markov`, an alias added by `genlab models add`, a GGUF file in ./models, a model
in an Ollama store laid out as `ollama pull` leaves it. Nothing is loaded to complete.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CLI, GENLAB, NOVEL, ok, one_line_error
from test_found import OllamaStore

COMPLETE = "_GENLAB_COMPLETE"


def complete(cli: CLI, line: str) -> list[str]:
    """The words genlab offers bash for `line` (the cursor at its end), asked as the bash
    script asks: the words so far in COMP_WORDS, the index of the one being typed in COMP_CWORD.
    Completing succeeds quietly: nothing on stderr, ever."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    r = _ask(cli, "bash_complete", " ".join(words), str(cword))
    items = [item.partition(",") for item in r.stdout.splitlines()]
    assert all(kind == "plain" for kind, _, _ in items), r.stdout
    return [value for _, _, value in items]


def _ask(cli: CLI, instruction: str, words: str, cword: str) -> subprocess.CompletedProcess:
    env = {**cli.env, COMPLETE: instruction, "COMP_WORDS": words, "COMP_CWORD": cword}
    r = subprocess.run(GENLAB, cwd=cli.cwd, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", (r.returncode, r.stderr)
    assert "Traceback" not in r.stdout
    return r


@pytest.fixture
def models(cli: CLI, tiny_gguf: Path, tmp_path: Path) -> CLI:
    """A working folder with one of each kind of name: the chain markov:novel (trained on the
    start of corpora/novel.txt), the alias `mytiny`, the GGUF ./models/found.gguf and the
    model `poet` in an Ollama store."""
    (cli.cwd / "novel.txt").write_text(NOVEL.read_text("utf-8")[:20_000], "utf-8")
    ok(cli("train-markov", "novel.txt"))
    ok(cli("models", "add", "mytiny", tiny_gguf))
    shutil.copyfile(tiny_gguf, cli.cwd / "models" / "found.gguf")
    store = OllamaStore(tmp_path / "ollama")
    store.model("registry.ollama.ai/library/poet/latest", tiny_gguf.read_bytes())
    cli.env["OLLAMA_MODELS"] = str(store.root)
    return cli


def test_command_names(cli: CLI):
    assert complete(cli, "genlab ge") == ["generate"]
    assert complete(cli, "genlab compl") == ["completion"]
    every = complete(cli, "genlab ")
    # the commands of the backend kinds come through the backend table
    assert {"train-markov", "export-arpa", "tiny-model", "chat", "models", "completion"} <= set(every)
    assert complete(cli, "genlab train-") == ["train-llm", "train-markov"]


def test_backend_names(models: CLI):
    every = complete(models, "genlab generate -b ")
    assert every.count("markov:novel") == 1
    assert {"mytiny", "found", "poet", "markov:", "llama:", "hf:", "openai:", "ollama:"} <= set(every)
    assert complete(models, "genlab generate -m ") == every  # llama.cpp's spelling of --backend
    assert complete(models, "genlab chat --model ") == every
    assert complete(models, "genlab compare -b markov:novel -b ") == every  # repeatable
    assert complete(models, "genlab generate -b my") == ["mytiny"]


def test_completing_loads_no_model_library(models: CLI):
    """Completing a backend name reads names only: llama.cpp's bindings are never imported."""
    for words, cword in (("genlab generate -b", "3"), ("genlab chat -m llama:models/", "3"),
                         ("genlab models show", "3")):
        env = {**models.env, COMPLETE: "bash_complete", "COMP_WORDS": words, "COMP_CWORD": cword,
               "PYTHONPROFILEIMPORTTIME": "1"}
        r = subprocess.run(GENLAB, cwd=models.cwd, env=env, capture_output=True, text=True, timeout=60)
        imported = {line.rpartition("|")[2].strip() for line in r.stderr.splitlines()}
        assert "genlab.completion" in imported and r.stdout  # the names were looked up, and found
        assert not any(m.startswith("llama_cpp") for m in imported)


def test_backend_after_a_kind(models: CLI):
    assert complete(models, "genlab generate -b markov:") == ["markov:novel"]
    assert complete(models, "genlab generate -m markov:no") == ["markov:novel"]
    # a chain or a GGUF file by path: folders, and files of that kind only
    assert complete(models, "genlab generate -b markov:./") == ["markov:./models/"]  # not ./novel.txt
    assert complete(models, "genlab generate -b markov:./models/") == ["markov:./models/novel.markov"]
    assert complete(models, "genlab generate -b llama:models/") == ["llama:models/found.gguf"]
    assert complete(models, "genlab generate -b ./models/") == ["./models/found.gguf", "./models/novel.markov"]
    assert complete(models, "genlab generate -b ollama:") == ["ollama:poet"]


def test_personas(cli: CLI):
    user = Path(cli.env["GENLAB_HOME"]) / "personas"
    user.mkdir(parents=True)
    (user / "mine.toml").write_text('description = "Mine."\nsystem = "You are mine."\n', "utf-8")
    names = complete(cli, "genlab chat --persona ")
    assert {"pogi", "assistant", "mine"} <= set(names)
    assert complete(cli, "genlab chat --persona po") == ["pogi"]
    folder = cli.cwd / "p"
    folder.mkdir()
    for name in ("Modelfile", "bot.Modelfile", "card.json", "x.toml", "notes.txt"):
        (folder / name).write_text("", "utf-8")
    (folder / "sub").mkdir()
    assert complete(cli, "genlab chat --persona p/") == ["p/Modelfile", "p/bot.Modelfile", "p/card.json",
                                                         "p/sub/", "p/x.toml"]


def test_personas_show(cli: CLI):
    """`genlab personas show NAME_OR_PATH` takes what --persona takes, and completes it the same."""
    folder = cli.cwd / "p"
    folder.mkdir()
    (folder / "bot.Modelfile").write_text("", "utf-8")
    (folder / "notes.txt").write_text("", "utf-8")
    assert complete(cli, "genlab personas show po") == ["pogi"]
    assert complete(cli, "genlab personas show ") == complete(cli, "genlab chat --persona ")
    assert complete(cli, "genlab personas show p/") == ["p/bot.Modelfile"]


def test_models_show(models: CLI):
    """`genlab models show` reads GGUF files: aliases and found models, never a chain."""
    names = complete(models, "genlab models show ")
    assert {"mytiny", "found", "poet", "llama:", "hf:"} <= set(names)
    assert not any(n.startswith("markov") for n in names)
    assert complete(models, "genlab models show my") == ["mytiny"]
    assert complete(models, "genlab models show llama:models/") == ["llama:models/found.gguf"]
    assert complete(models, "genlab models show ./models/") == ["./models/found.gguf"]  # not the .markov


def test_models_remove_offers_aliases_by_file(models: CLI, tiny_gguf: Path):
    """`genlab models remove` deletes aliases only; after --local those of ./genlab.toml, after
    --user those of the user file. A local file that is not TOML hides its own names only."""
    ok(models("models", "add", "here", tiny_gguf, "--local"))
    assert complete(models, "genlab models remove ") == ["here", "mytiny"]
    assert complete(models, "genlab models remove --local ") == ["here"]
    assert complete(models, "genlab models remove --user ") == ["mytiny"]
    assert complete(models, "genlab models remove h") == ["here"]
    (models.cwd / "genlab.toml").write_text("[models\nbroken = ", "utf-8")
    assert complete(models, "genlab models remove ") == ["mytiny"]


def test_broken_config_and_store_complete_the_rest_quietly(models: CLI, tmp_path: Path):
    """A genlab.toml that is not TOML and an Ollama store with a broken manifest give fewer
    names, not an error: the chain is still offered and nothing reaches stderr."""
    (models.cwd / "genlab.toml").write_text("[models\nbroken = ", "utf-8")
    (tmp_path / "ollama" / "manifests" / "registry.ollama.ai" / "library" / "poet" / "latest").write_text("{not json")
    assert "not valid TOML" in one_line_error(models("models", "list"))  # the error a real command gives
    names = complete(models, "genlab generate -b ")
    assert "markov:novel" in names and "found" in names
    assert "mytiny" not in names and "poet" not in names
    assert complete(models, "genlab generate -b markov:") == ["markov:novel"]


def test_zsh_and_fish_forms(models: CLI):
    """zsh asks with the index of the word, fish with the word itself; zsh's answer is type,
    value and help on three lines (a colon in the value escaped), fish's is type,value TAB help."""
    r = _ask(models, "zsh_complete", "genlab generate -b markov:", "3")
    lines = r.stdout.split("\n")
    assert lines[:2] == ["plain", r"markov\:novel"] and "chain" in lines[2]
    r = _ask(models, "fish_complete", "genlab generate -b markov:", "markov:")
    assert r.stdout.split("\t")[0] == "plain,markov:novel"
    r = _ask(models, "zsh_complete", "genlab ge", "1")
    assert r.stdout.split("\n")[:2] == ["plain", "generate"]


# --- the scripts -----------------------------------------------------------------------------


def shell(cli: CLI, *argv: str) -> subprocess.CompletedProcess:
    """A real shell run in the working folder, `genlab` on its PATH (the scripts call it by name)."""
    env = {**cli.env, "PATH": f"{Path(GENLAB[0]).parent}:{cli.env.get('PATH', '')}"}
    return subprocess.run(argv, cwd=cli.cwd, env=env, capture_output=True, text=True, timeout=60)


def bash(cli: CLI, code: str) -> str:
    """`code` run by a real bash in which the script of `genlab completion bash` was eval'ed."""
    r = shell(cli, "bash", "--norc", "--noprofile", "-c", 'eval "$(genlab completion bash)"\n' + code)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout


def bash_tab(cli: CLI, line: str, *words: str) -> tuple[list[str], list[str]]:
    """COMPREPLY and the compopt options of the script's function for `line`, with COMP_WORDS
    split as bash splits it (at COMP_WORDBREAKS: `markov:no` is markov, :, no)."""
    quoted = " ".join(f"'{w}'" for w in words)
    out = bash(cli, f"""
        compopt() {{ printf 'compopt %s %s\\n' "$1" "$2"; }}  # the builtin works only inside a real TAB
        COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}
        COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}
        _genlab_completion genlab
        for reply in "${{COMPREPLY[@]}}"; do printf 'reply %s\\n' "$reply"; done
    """)
    lines = out.splitlines()
    return ([x[6:] for x in lines if x.startswith("reply ")], [x[8:] for x in lines if x.startswith("compopt ")])


def test_the_source_instructions_print_genlabs_scripts(cli: CLI):
    """`_GENLAB_COMPLETE=bash_source genlab` (the older set-up line) prints what `genlab
    completion bash` prints; zsh_source too."""
    for name in ("bash", "zsh"):
        script = ok(cli("completion", name))
        r = shell(cli, "env", f"{COMPLETE}={name}_source", "genlab")
        assert (r.stdout, r.stderr) == (script, "")


def test_bash_script_when_sourced(cli: CLI):
    assert "\n_genlab_completion() {\n" in ok(cli("completion", "bash"))
    assert bash(cli, "complete -p genlab").strip() == "complete -o nosort -F _genlab_completion genlab"
    assert bash_tab(cli, "genlab ge", "genlab", "ge") == (["generate"], [])


def test_bash_script_hands_a_folder_to_readline(models: CLI):
    """A folder goes back without its / and as a file name: readline marks it with / itself,
    with no space after it, and lists the base names."""
    assert bash_tab(models, "genlab generate -b markov:./m", "genlab", "generate", "-b", "markov", ":", "./m") \
        == (["./models"], ["-o filenames"])


def test_bash_script_completes_after_a_colon(models: CLI):
    """bash replaces only the text after the colon, so that is what the script hands it; a kind
    prefix gets no space after it, a path is a file name to readline (quoted, folders marked)."""
    assert bash_tab(models, "genlab generate -b markov:no", "genlab", "generate", "-b", "markov", ":", "no") \
        == (["novel"], [])
    assert bash_tab(models, "genlab generate -b markov:", "genlab", "generate", "-b", "markov", ":")[0] == ["novel"]
    assert bash_tab(models, "genlab generate -b=markov:n", "genlab", "generate", "-b", "=", "markov", ":", "n")[0] \
        == ["novel"]
    replies, options = bash_tab(models, "genlab generate -b mar", "genlab", "generate", "-b", "mar")
    assert replies == ["markov:novel", "markov:"] and options == ["-o nospace"]
    replies, options = bash_tab(models, "genlab generate -b llama:models/", "genlab", "generate", "-b", "llama", ":",
                                "models/")
    assert replies == ["models/found.gguf"] and options == ["-o filenames"]
    # a colon with spaces around it is a word of its own, not part of a name
    assert bash_tab(models, "genlab generate -b markov : no", "genlab", "generate", "-b", "markov", ":", "no")[0] \
        == []


def test_completion_script_for_the_users_shell(cli: CLI):
    cli.env["SHELL"] = "/usr/bin/zsh"
    assert ok(cli("completion")).startswith("#compdef genlab")
    cli.env["SHELL"] = "/bin/fish"
    assert "complete --no-files --command genlab" in ok(cli("completion"))
    cli.env["SHELL"] = "/bin/tcsh"
    assert "tcsh" in one_line_error(cli("completion"))


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_registers(cli: CLI):
    """The script loads in zsh (after compinit, as README says) and registers its function for genlab."""
    r = shell(cli, "zsh", "-f", "-c", 'autoload -Uz compinit && compinit -u -D && '
              'eval "$(genlab completion zsh)" && print -r -- $_comps[genlab]')
    assert (r.stdout.strip(), r.stderr) == ("_genlab_completion", "")


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_script_completes(models: CLI):
    r = shell(models, "fish", "--no-config", "-c",
              "genlab completion fish | source; complete -C 'genlab generate -b markov:'")
    assert [line.split("\t")[0] for line in r.stdout.splitlines()] == ["markov:novel"] and r.stderr == ""


# --- at a real TAB ---------------------------------------------------------------------------

_STARTS = {
    "bash": (["bash", "--norc", "--noprofile", "-i"], 'set -o emacs; eval "$(genlab completion bash)"'),
    "zsh": (["zsh", "-f", "-i"], 'bindkey -e; autoload -Uz compinit; compinit -u -D; eval "$(genlab completion zsh)"'),
}


def at_a_tab(cli: CLI, name: str, *keys: tuple[str, str]) -> list[list[str]]:
    """For each (before, after) of `keys`: `before`, TAB and `after` typed into the real `name`
    shell on a terminal (a pty), with README's line run first; then the line is run as printf's
    arguments (Ctrl-A, `printf 'word %s\\n' `, Enter): the words the shell had, one per printed line.
    A space the TAB added shows as the start of a new word."""
    pexpect = pytest.importorskip("pexpect")
    argv, setup = _STARTS[name]
    env = {**cli.env, "PATH": f"{Path(GENLAB[0]).parent}:{cli.env.get('PATH', '')}", "TERM": "xterm",
           "HISTFILE": os.devnull}
    child = pexpect.spawn(argv[0], argv[1:], cwd=str(cli.cwd), env=env, encoding="utf-8", timeout=60,
                          dimensions=(40, 200))
    try:
        child.sendline(f"{setup}; echo READ''Y")
        child.expect_exact("READY\r\n")
        seen = []
        for before, after in keys:
            child.send(f"{before}\t{after}\x01printf 'word %s\\n' \r")
            child.sendline("echo DO''NE")
            child.expect_exact("DONE\r\n")
            lines = re.split(r"[\r\n]+", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before))  # no terminal codes
            seen.append([line[5:] for line in lines if line.startswith("word ")])
        return seen
    finally:
        child.close(force=True)


TYPED = [
    ("genlab generate -b markov:no", "END"),  # past the colon, and a space after a finished name
    ("genlab generate -b mar", "END"),  # a kind goes on: no space after markov:
    ("genlab generate -b=markov:n", "END"),  # --name=value keeps its --name=
    ("genlab chat --persona p/s", "END"),  # a folder with a space in its name: quoted, / and no space
    ("genlab models show my", ""),
]
AT_A_TAB = [
    ["genlab", "generate", "-b", "markov:novel", "END"],
    ["genlab", "generate", "-b", "markov:END"],
    ["genlab", "generate", "-b=markov:novel", "END"],
    ["genlab", "chat", "--persona", "p/sub dir/END"],
    ["genlab", "models", "show", "mytiny"],
]


@pytest.mark.parametrize("name", ["bash", pytest.param("zsh", marks=pytest.mark.skipif(
    shutil.which("zsh") is None, reason="zsh is not installed"))])
def test_at_a_real_tab(models: CLI, name: str):
    (models.cwd / "p" / "sub dir").mkdir(parents=True)
    assert at_a_tab(models, name, *TYPED) == AT_A_TAB
