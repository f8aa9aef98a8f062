"""`genlab generate --json`: one JSON object a finished sample (JSON Lines), nothing else on
stdout, for every kind of backend: a chain, a GGUF (tiny and the real SmolLM2), an alias, a
model found in the Hugging Face cache, an hf: name, a real llama.cpp server and Ollama (the
stub). Each record's text is what plain `genlab generate` prints for the same seed, and its
tokens and finish reason are what the backend counted (the library's Usage).

Every output is read with json.loads, and with jq too where jq is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CLI, NOVEL, isolated_env, ok, one_line_error, run_genlab
from genlab.generator import new_usage, reported_counts
from genlab.sampling import Sampling

JQ = shutil.which("jq")
PROMPT = "“Well,” said"
KEYS = ["backend", "target", "prompt", "settings", "seed", "text", "tokens", "prompt_tokens", "finish_reason",
        "seconds"]


@pytest.fixture(scope="session")
def novel_chain(tmp_path_factory) -> Path:
    """A chain of corpora/novel.txt, trained once by the CLI."""
    base = tmp_path_factory.mktemp("chain")
    ok(run_genlab(["train-markov", NOVEL], cwd=base, env=isolated_env(base)))
    return base / "models" / "novel.markov"


@pytest.fixture
def chain_cli(cli: CLI, novel_chain: Path) -> CLI:
    """`genlab` in a folder whose models/ holds the novel's chain (markov:novel)."""
    (cli.cwd / "models").mkdir()
    (cli.cwd / "models" / "novel.markov").symlink_to(novel_chain)
    return cli


def records(stdout: str, n: int) -> list[dict]:
    """The n records of --json output: whole lines, each one JSON object with every key, the
    same read by json.loads and by jq."""
    assert stdout.endswith("\n") and "Traceback" not in stdout
    lines = stdout[:-1].split("\n")
    assert len(lines) == n, stdout
    out = [json.loads(line) for line in lines]
    for r in out:
        assert list(r) == KEYS
        assert isinstance(r["seconds"], float) and r["seconds"] >= 0
        assert r["settings"]["seed"] == r["seed"]
    if JQ:
        jq = subprocess.run([JQ, "-c", "."], input=stdout.encode("utf-8"), capture_output=True, check=True)
        assert [json.loads(line) for line in jq.stdout.decode("utf-8")[:-1].split("\n")] == out
    return out


def plain(records_: list[dict]) -> str:
    """What plain `genlab generate` prints for these samples: each prompt and text, a blank line between."""
    return "\n".join(r["prompt"] + r["text"] + "\n" for r in records_)


# --- a chain ---------------------------------------------------------------------------------------


def test_a_chain_gives_one_line_a_sample_with_the_text_plain_generate_prints(chain_cli: CLI, novel_chain: Path):
    from genlab.markov.generator import MarkovGenerator

    args = ["generate", "-b", "markov:novel", "-p", PROMPT, "--seed", "5", "-n", "30", "--samples", "3"]
    got = records(ok(chain_cli(*args, "--json")), 3)
    assert ok(chain_cli(*args)) == plain(got)  # the same text, byte for byte
    chain = MarkovGenerator.load(novel_chain)
    for i, r in enumerate(got):
        assert r["backend"] == "markov:novel"
        assert r["target"] == {"kind": "markov", "location": "models/novel.markov", "source": "path"}
        assert r["prompt"] == PROMPT and r["seed"] == 5 + i
        assert r["settings"] == Sampling(seed=5 + i, max_tokens=30).to_dict()
        # a chain has no end of its own: it walks its 30 units, counted as the library counts them
        assert (r["tokens"], r["finish_reason"]) == (30, "length")
        assert r["prompt_tokens"] == chain.count_tokens(PROMPT) > 0
        assert r["text"] == "".join(chain.stream(PROMPT, Sampling(seed=5 + i, max_tokens=30)))
        assert chain.last_usage == {"completion_tokens": 30, "prompt_tokens": r["prompt_tokens"],
                                    "finish_reason": "length"}
    assert len({r["text"] for r in got}) == 3

    word = got[0]["text"].split()[3]
    stopped = records(ok(chain_cli(*args[:-2], "--stop", word, "--json")), 1)[0]
    assert stopped["text"] == got[0]["text"][: got[0]["text"].find(word)]
    assert stopped["finish_reason"] == "stop" and stopped["tokens"] < 30
    assert stopped["settings"]["stop"] == [word]


def test_a_chains_chat_and_stream_fill_the_same_usage(novel_chain: Path):
    from genlab.markov.generator import MarkovGenerator

    chain = MarkovGenerator.load(novel_chain)
    assert chain.last_usage is None  # nothing generated yet
    reply = "".join(chain.chat([{"role": "user", "content": "Tell me about the garden"}],
                               Sampling(seed=1, max_tokens=9)))
    assert reply and chain.last_usage == {"completion_tokens": 9, "prompt_tokens": None, "finish_reason": "length"}
    it = chain.stream("", Sampling(seed=2, max_tokens=50))
    next(it), next(it)
    it.close()  # closed early: what was walked so far, and no reason to end
    assert chain.last_usage["finish_reason"] is None and 2 <= chain.last_usage["completion_tokens"] < 50


def test_no_seed_gets_a_seed_drawn_for_each_sample_that_makes_it_again(chain_cli: CLI):
    args = ["generate", "-b", "markov:novel", "-n", "25"]
    got = records(ok(chain_cli(*args, "--samples", "2", "--json")), 2)
    seeds = [r["seed"] for r in got]
    assert all(isinstance(s, int) and 0 <= s < 2**32 for s in seeds) and seeds[0] != seeds[1]
    for r in got:
        assert ok(chain_cli(*args, "--seed", r["seed"])) == r["text"] + "\n"


def test_quotes_newlines_and_emoji_in_the_prompt_round_trip(chain_cli: CLI):
    prompt = 'She said "no" \\ it\'s\tfine\n\n“Quite,” 🙂 said he\u2028 — '
    (chain_cli.cwd / "prompt.txt").write_text(prompt, encoding="utf-8")
    args = ["generate", "-b", "markov:novel", "-f", "prompt.txt", "--seed", "4", "-n", "20"]
    out = ok(chain_cli(*args, "--json"))
    (r,) = records(out, 1)
    assert r["prompt"] == prompt and prompt + r["text"] + "\n" == ok(chain_cli(*args))
    assert len(out.splitlines()) == 1  # U+2028 is escaped: even str.splitlines() sees one line
    typed = records(ok(chain_cli("generate", "-b", "markov:novel", "-p", r"say \"hi\"\n🙂", "--seed", "4", "-n", "5",
                                 "--json")), 1)[0]
    assert typed["prompt"] == 'say "hi"\n🙂'  # escapes processed, as plain generate does
    if JQ:
        raw = subprocess.run([JQ, "-j", ".prompt, .text"], input=out.encode("utf-8"), capture_output=True, check=True)
        assert raw.stdout.decode("utf-8") == prompt + r["text"]


@pytest.mark.skipif(JQ is None, reason="jq is not installed")
def test_jq_reads_the_lines_as_they_come(chain_cli: CLI):
    script = "genlab generate -b markov:novel --samples 3 --seed 9 -n 12 --json | jq -r '[.seed, .tokens] | @tsv'"
    bin_dir = Path(sys.executable).parent
    env = {**chain_cli.env, "PATH": f"{bin_dir}{os.pathsep}{chain_cli.env.get('PATH', '')}"}
    r = subprocess.run(["sh", "-c", script], cwd=chain_cli.cwd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout == "9\t12\n10\t12\n11\t12\n"


def test_a_bad_backend_or_seed_is_one_error_line_and_nothing_on_stdout(chain_cli: CLI):
    assert "no backend or model named 'nope'" in one_line_error(chain_cli("generate", "-b", "nope", "--json"))
    line = one_line_error(chain_cli("generate", "-b", "markov:novel", "--json", "--samples", "3",
                                    "--seed", str(2**32 - 2)))
    assert "give a seed of at most 4294967293" in line  # said before any sample is made
    assert one_line_error(chain_cli("generate", "-b", "markov:novel", "--samples", "2", "--seed", str(2**32 - 1)))


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_ctrl_c_leaves_the_finished_samples_and_nothing_of_the_unfinished_one(chain_cli: CLI):
    """A real SIGINT once the first record is out, while the second sample (50,000 units: a
    second or more) is being made: the first line stays whole, the second is never printed."""
    args = ["generate", "-b", "markov:novel", "--samples", "3", "--seed", "1", "-n", "50000", "--json"]
    proc = subprocess.Popen(chain_cli.argv(args), cwd=chain_cli.cwd, env=chain_cli.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    first = proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=60)
    err = err.decode("utf-8", "replace")
    assert proc.returncode == 130, err
    assert [line for line in err.splitlines() if line.strip()] == ["genlab: interrupted"]
    assert rest == b""
    (r,) = records(first.decode("utf-8"), 1)
    assert (r["seed"], r["tokens"], r["finish_reason"]) == (1, 50000, "length")


def test_a_servers_counts_are_taken_only_as_whole_numbers():
    usage = new_usage()
    reported_counts(usage, {"completion_tokens": "7", "prompt_tokens": True, "total_tokens": 3})
    assert usage == new_usage()
    reported_counts(usage, {"completion_tokens": 7, "prompt_tokens": 0})
    assert usage == {"completion_tokens": 7, "prompt_tokens": 0, "finish_reason": None}
    reported_counts(usage, {"completion_tokens": -1, "prompt_tokens": None})
    assert usage["completion_tokens"] == 7 and usage["prompt_tokens"] == 0


# --- GGUF models -------------------------------------------------------------------------------------


def test_a_gguf_record_is_what_llama_cpp_made_and_counted(cli: CLI, tiny_gguf: Path):
    pytest.importorskip("llama_cpp")
    from genlab.llama.generator import LlamaGenerator

    args = ["generate", "-b", f"llama:{tiny_gguf}", "-p", "Once upon a time", "--seed", "1", "-n", "16",
            "--temp", "1.0", "--samples", "2"]
    got = records(ok(cli(*args, "--json")), 2)
    assert ok(cli(*args)) == plain(got)
    with LlamaGenerator(tiny_gguf) as model:
        for i, r in enumerate(got):
            assert r["backend"] == f"llama:{tiny_gguf}" and r["target"]["kind"] == "llama"
            s = Sampling(seed=1 + i, max_tokens=16, temperature=1.0)
            assert r["settings"] == s.to_dict()
            assert r["text"] == "".join(model.stream("Once upon a time", s))
            usage = model.last_usage
            assert (r["tokens"], r["prompt_tokens"], r["finish_reason"]) == (
                usage["completion_tokens"], usage["prompt_tokens"], usage["finish_reason"])
            assert r["prompt_tokens"] == len(model.tokenize("Once upon a time", add_bos=True))
            assert r["finish_reason"] == "stop" or r["tokens"] == 16
    text = got[0]["text"]
    stop = text[len(text) // 2:len(text) // 2 + 2]
    (cut,) = records(ok(cli(*args[:-2], "--stop", stop, "--json")), 1)
    assert cut["text"] == text[: text.find(stop)] and cut["finish_reason"] == "stop"


def test_smollm2_greedy_record(cli: CLI, smollm2_path: Path):
    pytest.importorskip("llama_cpp")
    args = ["generate", "-b", f"llama:{smollm2_path}", "-p", "The capital of France is", "--temp", "0", "-n", "6"]
    (r,) = records(ok(cli(*args, "--json")), 1)
    assert ok(cli(*args)) == plain([r])
    assert "Paris" in r["text"] and r["settings"]["temperature"] == 0
    assert r["tokens"] == 6 and r["finish_reason"] == "length" and r["prompt_tokens"] >= 5
    assert r["backend"] == f"llama:{smollm2_path}"
    assert r["target"] == {"kind": "llama", "location": str(smollm2_path), "source": "path"}


def test_an_alias_a_found_model_and_an_hf_name(tmp_path: Path, tiny_gguf: Path):
    """An alias brings its own seed and length; a GGUF in the Hugging Face cache is found by its
    name and read by hf: (offline) from the same cache."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("huggingface_hub")
    from test_found import REV1, HFCache

    user, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in isolated_env(tmp_path).items()
           if k not in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "OLLAMA_MODELS")}
    env.update(HOME=str(user), HF_HUB_OFFLINE="1")
    genlab = CLI(work, env)
    pointer = HFCache(user / ".cache" / "huggingface" / "hub").add("someone/Tiny-GGUF", REV1, "tiny-q8_0.gguf",
                                                                    tiny_gguf.read_bytes())

    ok(genlab("models", "add", "mine", tiny_gguf, "--seed", "2", "--max-tokens", "5"))
    got = records(ok(genlab("generate", "-b", "mine", "-p", "Hi", "--samples", "2", "--json")), 2)
    assert ok(genlab("generate", "-b", "mine", "-p", "Hi", "--samples", "2")) == plain(got)
    for i, r in enumerate(got):
        assert r["backend"] == "mine" and r["target"]["kind"] == "llama"
        assert r["target"]["location"] == str(tiny_gguf) and r["target"]["source"].startswith("alias in ")
        assert r["seed"] == 2 + i and r["settings"]["max_tokens"] == 5 and 0 < r["tokens"] <= 5

    same = ["-p", "Hi", "--seed", "1", "-n", "8", "--json"]
    direct = records(ok(genlab("generate", "-b", f"llama:{pointer}", *same)), 1)[0]
    for name, source in (("tiny-q8_0", "huggingface"), ("hf:someone/Tiny-GGUF/tiny-q8_0.gguf", "Hugging Face Hub")):
        (r,) = records(ok(genlab("generate", "-b", name, *same)), 1)
        assert r["backend"] == name and r["target"]["kind"] == "llama"
        assert r["target"]["location"] == str(pointer) and r["target"]["source"].startswith(source)
        assert {k: r[k] for k in KEYS[2:-1]} == {k: direct[k] for k in KEYS[2:-1]}  # all but the time


# --- servers -----------------------------------------------------------------------------------------


def test_a_llama_cpp_server(tmp_path: Path, tiny_gguf: Path):
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    from test_server import LlamaServer

    server = LlamaServer(tiny_gguf, tmp_path / "server.log")
    try:
        genlab = CLI(tmp_path, isolated_env(tmp_path))
        args = ["generate", "-b", f"openai:{server.url}", "-p", "Once upon a time", "--seed", "3", "-n", "12",
                "--samples", "2"]
        got = records(ok(genlab(*args, "--json")), 2)
        assert ok(genlab(*args)) == plain(got)
    finally:
        server.stop()
    for i, r in enumerate(got):
        assert r["backend"] == f"openai:{server.url}"
        assert r["target"] == {"kind": "openai", "location": server.url, "source": "address"}
        assert r["seed"] == 3 + i and r["text"]
        assert 0 < r["tokens"] <= 12  # the pieces streamed (this server sends no counts of its own)
        assert r["finish_reason"] in ("stop", "length")  # the server's own reason


def test_ollama(tmp_path: Path, tiny_gguf: Path):
    pytest.importorskip("llama_cpp")
    from ollama_stub_server import OllamaStub, StubModel

    from genlab.llama.generator import LlamaGenerator

    with OllamaStub({"tiny": StubModel(tiny_gguf, {"temperature": 0.3, "seed": 42})}) as stub:
        env = isolated_env(tmp_path)
        env.update(OLLAMA_HOST=stub.url, HOME=str(tmp_path))
        genlab = CLI(tmp_path, env)
        args = ["generate", "-b", "ollama:tiny", "-p", "The old man said", "--seed", "3", "-n", "12"]
        (r,) = records(ok(genlab(*args, "--json")), 1)
        assert ok(genlab(*args)) == plain([r])
    with LlamaGenerator(tiny_gguf, n_ctx=256) as local:  # what the stub runs, with the settings sent
        s = Sampling(seed=3, max_tokens=12)
        assert r["text"] == "".join(local.stream("The old man said", s))
        usage = local.last_usage
    assert r["backend"] == "ollama:tiny"
    assert r["target"] == {"kind": "ollama", "location": "tiny", "source": "Ollama server"}
    assert r["settings"] == s.to_dict()
    assert (r["tokens"], r["prompt_tokens"], r["finish_reason"]) == (
        usage["completion_tokens"], usage["prompt_tokens"], usage["finish_reason"])  # Ollama's own counts
