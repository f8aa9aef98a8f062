"""The backend table through the real CLI: models other tools put on this machine are usable
by name with no set-up, `genlab models list` says where each came from, and a separate
package can add a kind of backend through the entry-point group.

The folder layouts are built as the tools lay them out (see tests/test_found.py), with real
GGUF files run by the real llama.cpp.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import isolated_env, ok, one_line_error, run_genlab
from test_found import REV1, HFCache, OllamaStore

pytest.importorskip("llama_cpp")

TOOL_ENV = ("OLLAMA_MODELS", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "GENLAB_HOME")


@pytest.fixture
def home(tmp_path) -> dict[str, object]:
    """A home folder, a working folder and an environment where no tool has put anything yet."""
    user, work = tmp_path / "home", tmp_path / "work"
    user.mkdir()
    work.mkdir()
    env = {k: v for k, v in isolated_env(tmp_path).items() if k not in TOOL_ENV}
    env["HOME"] = str(user)
    return {"home": user, "work": work, "env": env}


def genlab(home, *args, input: str | None = None) -> subprocess.CompletedProcess:
    return run_genlab(args, cwd=home["work"], env=home["env"], input=input)


def listed(home) -> dict[str, list[str]]:
    """`genlab models list` as {name: [size, source, location]}."""
    lines = ok(genlab(home, "models", "list")).splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "SOURCE", "LOCATION"]
    return {cols[0]: cols[1:] for cols in (re.split(r"\s{2,}", line, maxsplit=3) for line in lines[1:])}


def test_an_ollama_pull_is_a_backend_by_name(home, tiny_gguf):
    store = OllamaStore(home["home"] / ".ollama" / "models")
    manifest = store.model("registry.ollama.ai/library/llama3/latest", tiny_gguf.read_bytes(),
                           {"temperature": 0.7, "seed": 3, "num_predict": 12, "num_ctx": 256})
    blob = next((store.root / "blobs").glob("sha256-*"))  # the first blob written is the model
    assert blob.read_bytes()[:4] == b"GGUF"

    out = ok(genlab(home, "generate", "--backend", "llama3", "--prompt", "Hi"))
    direct = ok(genlab(home, "generate", "--backend", f"llama:{blob}", "--prompt", "Hi", "--temperature", "0.7",
                       "--seed", "3", "--max-tokens", "12"))
    assert out.startswith("Hi") and out == direct  # the manifest's parameters are the defaults
    assert ok(genlab(home, "generate", "--backend", "llama3:latest", "--prompt", "Hi")) == out
    flags = ok(genlab(home, "generate", "--backend", "llama3", "--prompt", "Hi", "--seed", "4"))
    assert flags == ok(genlab(home, "generate", "--backend", f"llama:{blob}", "--prompt", "Hi",
                              "--temperature", "0.7", "--seed", "4", "--max-tokens", "12"))  # flags win

    size, source, location = listed(home)["llama3"]
    assert (source, location) == ("ollama", str(blob))
    shown = ok(genlab(home, "models", "show", "llama3"))
    assert str(manifest) in shown and "n_ctx=256" in shown and "temperature=0.7" in shown


def test_a_hugging_face_cache_file_is_a_backend_by_name(home, tiny_gguf):
    cache = HFCache(home["home"] / ".cache" / "huggingface" / "hub")
    pointer = cache.add("someone/Tiny-GGUF", REV1, "tiny-q8_0.gguf", tiny_gguf.read_bytes())
    out = ok(genlab(home, "generate", "--backend", "tiny-q8_0", "--prompt", "Hi", "--seed", "1",
                    "--max-tokens", "8"))
    assert out == ok(genlab(home, "generate", "--backend", f"llama:{pointer}", "--prompt", "Hi", "--seed", "1",
                            "--max-tokens", "8"))
    assert listed(home)["tiny-q8_0"][1:] == ["huggingface", str(pointer)]
    # the long name works too, and an unknown one suggests the close one
    assert ok(genlab(home, "generate", "--backend", "someone/Tiny-GGUF/tiny-q8_0.gguf", "--prompt", "Hi",
                     "--seed", "1", "--max-tokens", "8")) == out
    assert "did you mean 'tiny-q8_0'" in one_line_error(genlab(home, "generate", "--backend", "tiny-q8", "-p", "Hi"))


def test_the_smollm2_package_is_a_backend_by_name(home, smollm2_path):
    out = ok(genlab(home, "generate", "--backend", "smollm2", "--prompt", "The capital of France is",
                    "--temperature", "0", "--max-tokens", "6"))
    assert out.startswith("The capital of France is") and "Paris" in out  # a real pretrained model
    size, source, location = listed(home)["smollm2"]
    assert (source, location) == ("package", str(smollm2_path))


def test_two_models_of_one_name_are_one_error_line(home, tiny_gguf):
    data = tiny_gguf.read_bytes()
    OllamaStore(home["home"] / ".ollama" / "models").model("registry.ollama.ai/library/tiny/latest", data)
    HFCache(home["home"] / ".cache" / "huggingface" / "hub").add("x/Tiny-GGUF", REV1, "tiny.gguf", data + b"\0")
    line = one_line_error(genlab(home, "generate", "--backend", "tiny", "--prompt", "Hi"))
    assert "ollama" in line and "huggingface" in line


def test_an_alias_wins_over_a_found_model(home, tiny_gguf):
    OllamaStore(home["home"] / ".ollama" / "models").model("registry.ollama.ai/library/mine/latest",
                                                          tiny_gguf.read_bytes(), {"seed": 1})
    ok(genlab(home, "models", "add", "mine", tiny_gguf, "--seed", "2", "--max-tokens", "5"))
    out = ok(genlab(home, "generate", "--backend", "mine", "--prompt", "Hi"))
    assert out == ok(genlab(home, "generate", "--backend", f"llama:{tiny_gguf}", "--prompt", "Hi", "--seed", "2",
                            "--max-tokens", "5"))
    rows = ok(genlab(home, "models", "list")).splitlines()
    assert [re.split(r"\s{2,}", r)[2] for r in rows if r.split()[0] == "mine"] == ["alias:user", "ollama"]


def test_a_gguf_or_markov_path_alone_is_a_backend(home, tiny_gguf):
    out = ok(genlab(home, "generate", "--backend", tiny_gguf, "--prompt", "Hi", "--seed", "1", "--max-tokens", "5"))
    assert out == ok(genlab(home, "generate", "--backend", f"llama:{tiny_gguf}", "--prompt", "Hi", "--seed", "1",
                            "--max-tokens", "5"))


def test_a_package_adds_a_kind_through_the_entry_point_group(home, tmp_path):
    site = tmp_path / "site"
    (site / "echo_kind-1.0.dist-info").mkdir(parents=True)
    (site / "echo_kind-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-kind\nVersion: 1.0\n")
    (site / "echo_kind-1.0.dist-info" / "entry_points.txt").write_text("[genlab.backends]\necho = echo_kind:KIND\n")
    (site / "echo_kind.py").write_text(textwrap.dedent('''
        import click

        from genlab.kinds import Kind, Target

        class Echo:
            name = "echo"
            context_length = None

            def __init__(self, word):
                self.word = word

            def stream(self, prompt, sampling):
                yield from [" " + self.word] * min(3, sampling.max_tokens)

        def _resolve(rest, name):
            return Target(name=name, kind="echo", location=rest, source="plugin",
                          load_with=lambda target, options: Echo(target.location), sampling={"max_tokens": 2})

        @click.command(name="moo")
        def moo():
            """Say moo once."""
            click.echo("moo")

        KIND = Kind("echo", "echo:WORD", "says WORD", _resolve, commands={"moo": "echo_kind:moo"})
    '''))
    home["env"]["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    assert ok(genlab(home, "generate", "--backend", "echo:moo", "--prompt", "cows")) == "cows moo moo\n"
    assert "echo:WORD" in one_line_error(genlab(home, "generate", "--backend", "nothing-here"))
    assert ok(genlab(home, "moo")) == "moo\n"  # the kind's own command, through the table
    assert re.search(r"^  moo +Say moo once\.$", ok(genlab(home, "--help")), re.M)


def test_every_built_in_kind_is_a_reserved_alias_name():
    from genlab.aliases import RESERVED
    from genlab.backends import BUILT_IN, kinds

    assert set(RESERVED) == set(BUILT_IN) == set(kinds())


def test_a_command_is_imported_only_when_it_runs(home):
    """`genlab --version` imports no command module and `genlab generate` only its own; the
    commands of the built-in kinds live in their packages and are found through the table."""
    code = textwrap.dedent('''
        import sys
        from genlab.cli import cli
        try:
            cli.main(sys.argv[1:])
        except SystemExit:
            pass
        print(" ".join(sys.modules))
    ''')
    from genlab.cli import COMMANDS, cli
    from genlab.cli.lazy import kind_commands

    command_modules = {name: path.partition(":")[0] for name, path in {**kind_commands(), **COMMANDS}.items()}

    def imported(*args) -> set[str]:
        r = subprocess.run([sys.executable, "-c", code, *args], cwd=home["work"], env=home["env"],
                           capture_output=True, text=True, timeout=120)
        return set(r.stdout.splitlines()[-1].split()) & set(command_modules.values())

    assert imported("--version") == set()
    assert imported("generate", "--help") == {command_modules["generate"]}
    assert len(imported("--help")) == len(set(command_modules.values()))

    for name, module in (("train-markov", "genlab.markov.commands"), ("export-arpa", "genlab.markov.commands"),
                         ("tiny-model", "genlab.llama.commands")):
        assert cli.commands[name].callback.__module__ == module
