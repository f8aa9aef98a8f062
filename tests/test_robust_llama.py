"""Hostile contexts, chat templates and GGUF files through the real `genlab`: each ends in one
error line (or works), in little memory and time. The files are built here; nothing is mocked."""

from __future__ import annotations

import random
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import any_one_line_error, ok, one_line_error, run_measured

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

from genlab.llama.tiny import build_tiny_model  # noqa: E402

BOMB_MB = 500  # the most memory any of these may take


@pytest.fixture(params=["tiny", "smollm2"])
def model(request):
    return request.getfixturevalue("tiny_gguf" if request.param == "tiny" else "smollm2_path")


class TestContextSize:
    """n_ctx is bounded by the trained context and by memory, before llama.cpp allocates it."""

    def test_huge_context_is_one_line(self, cli, model):
        """2,000,000,000 tokens: within llama.cpp's int (--n-ctx refuses more), in no machine's memory."""
        r, peak = run_measured(cli, "generate", "--backend", f"llama:{model}", "--n-ctx", "2000000000",
                               "--prompt", "hi", "--max-tokens", "2")
        line = one_line_error(r)
        assert "trained on a context of" in line and "needs about" in line and "iB of memory" in line
        assert peak < BOMB_MB

    @pytest.mark.parametrize("command", [["chat"], ["perplexity", "text.txt"],
                                         ["compare", "--orders", "none", "--samples", "1", "-o", "run"]])
    def test_every_command_bounds_it(self, cli, tiny_gguf, command):
        (cli.cwd / "text.txt").write_text("Some text to score.\n")
        r, peak = run_measured(cli, *command, "--backend", f"llama:{tiny_gguf}", "--n-ctx", "2000000000",
                               input=b"hello\n")
        assert "trained on a context of 256 tokens" in one_line_error(r)
        assert peak < BOMB_MB

    @pytest.mark.parametrize("value", ["-5", "0", "7", "abc", "1e3", "2.5", "100000000000",
                                       "99999999999999999999999999"])
    def test_bad_values_are_one_line(self, cli, tiny_gguf, value):
        r, peak = run_measured(cli, "generate", "--backend", f"llama:{tiny_gguf}", f"--n-ctx={value}",
                               "--prompt", "hi", "--max-tokens", "2")
        any_one_line_error(r)
        assert peak < BOMB_MB

    def test_above_the_trained_context_when_it_fits(self, cli, tiny_gguf):
        """Trained on 256 tokens, asked for 1024: a KV cache of 512 KiB fits, so it is the user's call."""
        assert ok(cli("generate", "--backend", f"llama:{tiny_gguf}", "--n-ctx", "1024", "--prompt", "hi",
                      "--max-tokens", "2", "--seed", "1"))

    def test_default_is_the_trained_context_at_most_4096(self, tmp_path, tiny_gguf):
        from genlab.llama.generator import LlamaGenerator

        with LlamaGenerator(tiny_gguf) as g:
            assert g.context_length == 256
        claims = build_tiny_model(tmp_path / "claims.gguf", context=2**32 - 1)  # the most a header can say
        with LlamaGenerator(claims) as g:
            assert g.context_length == 4096

    def test_a_trained_context_too_large_for_memory_is_refused(self, cli, tmp_path):
        claims = build_tiny_model(tmp_path / "claims.gguf", context=2**32 - 1)
        r, peak = run_measured(cli, "generate", "--backend", f"llama:{claims}", "--n-ctx", str(2**31 - 256),
                               "--prompt", "hi")
        assert "needs about 1.0 TiB" in one_line_error(r)
        assert peak < BOMB_MB

    def test_an_alias_cannot_ask_for_more_threads_than_ggml_has(self, cli, tiny_gguf):
        """genlab.toml takes any C int; 100,000 threads was a segfault in llama.cpp."""
        (cli.cwd / "genlab.toml").write_text(f'[models.many]\npath = "{tiny_gguf}"\nn_threads = 100000\n')
        r, peak = run_measured(cli, "generate", "--backend", "many", "--prompt", "hi", "--max-tokens", "2")
        assert "n_threads" in one_line_error(r) and peak < BOMB_MB



class TestInterruptedLoad:
    """Ctrl-C while llama.cpp loads used to be raised inside its Python log callback, where ctypes
    drops exceptions: the command ran on and exited 0."""

    def test_ctrl_c_during_the_load_exits_130(self, cli, tiny_gguf):
        proc = subprocess.Popen(cli.argv(["generate", "--backend", f"llama:{tiny_gguf}", "--n-ctx", "500000",
                                          "--prompt", "hi", "--max-tokens", "3"]),
                                cwd=cli.cwd, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        maps = Path(f"/proc/{proc.pid}/maps")
        while proc.poll() is None and tiny_gguf.name not in maps.read_text(errors="replace"):
            time.sleep(0.002)  # until llama.cpp has mapped the model: the load is under way
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert err.decode().split() == ["genlab:", "interrupted"] and out == b""


def _tiny_with_template(tmp_path, template: str, name: str = "bomb.gguf"):
    return build_tiny_model(tmp_path / name, context=256, chat_template=template)


NAMESPACE_DOUBLING = "{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
TEMPLATE_BOMBS = {  # name: (template, what the one line says: the guard that stopped it)
    "multiply": ("{{ 'a' * 10**9 }}", "makes a value of 1,000,000,000 items"),
    "range": ("{% for i in range(10**9) %}{{ i }}{% endfor %}", "asked for too much"),
    "recursion": ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recurses or nests too deeply"),
    "silent-loops": ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                     "took more than 5 s"),
    "power": ("{{ 3 ** 1000000000 > 1 }}", "makes a number of about"),
    "doubling": (NAMESPACE_DOUBLING, "needed more than 128 MiB"),  # `~` has no hook: the memory ceiling
    "one-big-call": ("{{ 'a'|center(10**9) }}", "needed more than 128 MiB"),
    "mistake": ("{{ 'a' + 1 }}", "failed while rendering (TypeError"),
}


class TestChatTemplateLimits:
    """A GGUF's chat template renders within time, memory and size limits, in its sandbox."""

    @pytest.mark.parametrize("template, says", TEMPLATE_BOMBS.values(), ids=TEMPLATE_BOMBS.keys())
    def test_rendering_is_one_line(self, cli, tmp_path, template, says):
        (cli.cwd / "prompts.txt").write_text("chat: hello\n")
        bomb = _tiny_with_template(tmp_path, "{{ bos_token }}" + template)
        r, peak = run_measured(cli, "compare", "--backend", f"llama:{bomb}", "--prompts", "prompts.txt",
                               "--orders", "none", "--samples", "1", "--max-tokens", "4", "-o", "run")
        line = one_line_error(r)
        assert "the chat template of bomb.gguf" in line and says in line
        assert peak < BOMB_MB

    @pytest.mark.parametrize("template, says", [
        ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "recurses or nests too deeply while compiling"),
        ("{% for a in [1] %}" * 30 + "{% endfor %}" * 30, "cannot be compiled (SyntaxError"),
        ("{{ x }}" * 150000, "while compiling: it was stopped"),  # a megabyte of code: time or memory
    ], ids=["nesting", "nested-blocks", "huge"])
    def test_compiling_is_one_line(self, cli, tmp_path, template, says):
        """Templates compile as the model loads (llama-cpp-python compiled them with no limit)."""
        bomb = _tiny_with_template(tmp_path, template)
        r, peak = run_measured(cli, "generate", "--backend", f"llama:{bomb}", "--prompt", "hi")
        line = one_line_error(r)
        assert "the chat template of bomb.gguf" in line and says in line
        assert peak < BOMB_MB

    def test_real_model_stays_small(self, cli, tmp_path, smollm2_path):
        tool = Path(sys.executable).with_name("gguf-new-metadata")
        if not tool.exists():
            pytest.skip("gguf-new-metadata (installed with the gguf package) is missing")
        bomb = tmp_path / "smol-bomb.gguf"
        subprocess.run([str(tool), "--force", "--chat-template", NAMESPACE_DOUBLING, str(smollm2_path), str(bomb)],
                       check=True, capture_output=True)
        r, peak = run_measured(cli, "chat", "--backend", f"llama:{bomb}", input=b"hello\n")
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "the chat template of smol-bomb.gguf needed more than" in lines[0], r.stderr
        assert "Traceback" not in r.stderr and peak < BOMB_MB

    def test_a_real_template_renders_as_before(self, tiny_gguf):
        from genlab.llama.generator import LlamaGenerator

        with LlamaGenerator(tiny_gguf) as g:
            messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
            assert g.format_chat(messages) == (
                "<s><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")

    def test_the_deadline_holds_in_any_thread(self):
        """Outside the main thread there is no SIGALRM: a trace function keeps the time instead."""
        from genlab.errors import GenlabError
        from genlab.llama.templates import BoundedChatFormatter

        spin = BoundedChatFormatter(TEMPLATE_BOMBS["silent-loops"][0], "", "", label="the spinning template")
        caught: list[BaseException] = []

        def render():
            try:
                spin(messages=[{"role": "user", "content": "hi"}])
            except BaseException as exc:  # noqa: BLE001 - whatever it is, the test reads it
                caught.append(exc)

        worker = threading.Thread(target=render, daemon=True)
        worker.start()
        worker.join(timeout=120)
        assert len(caught) == 1 and isinstance(caught[0], GenlabError), caught
        assert "the spinning template took more than" in str(caught[0])


# --- GGUF files: sizes the header claims, what llama.cpp aborts on, damage at random ------------


def _patch(data: bytes, at: int, fmt: str, value) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, at, value)
    return bytes(out)


def _value_at(data: bytes, key: str) -> int:
    """Where the value of a key-value starts (after its key and its u32 type)."""
    return data.index(struct.pack("<Q", len(key)) + key.encode()) + 8 + len(key) + 4


def _with_string(data: bytes, key: str, value: str) -> bytes:
    """`key` set to `value`, general.description shortened or padded so the tensor data stays aligned."""
    at = _value_at(data, key)
    old = struct.unpack_from("<Q", data, at)[0]
    data = data[:at] + struct.pack("<Q", len(value)) + value.encode() + data[at + 8 + old:]
    at = _value_at(data, "general.description")
    n = struct.unpack_from("<Q", data, at)[0]
    fill = n - (len(value) - old)
    return data[:at] + struct.pack("<Q", fill) + (data[at + 8: at + 8 + n] + b" " * 64)[:fill] + data[at + 8 + n:]


def _tensor_field(data: bytes, name: str, field: str) -> int:
    """Where the first dimension ("dims") or the data offset ("offset") of a tensor's info is."""
    at = data.index(struct.pack("<Q", len(name)) + name.encode(), 1000) + 8 + len(name)
    n_dims = struct.unpack_from("<I", data, at)[0]
    return at + 4 if field == "dims" else at + 4 + 8 * n_dims + 4


HOSTILE_HEADERS = {  # name: how to make it from the tiny model's bytes
    "string-length-2**60": lambda d: _patch(d, _value_at(d, "general.name"), "<Q", 2**60),
    "array-length-2**60": lambda d: _patch(d, _value_at(d, "tokenizer.ggml.tokens") + 4, "<Q", 2**60),
    "tensor-count-2**40": lambda d: _patch(d, 8, "<Q", 2**40),
    "key-value-count-2**40": lambda d: _patch(d, 16, "<Q", 2**40),
    "truncated-header": lambda d: d[:5000],
    "truncated-data": lambda d: d[:-100],
    "offset-past-the-end": lambda d: _patch(d, _tensor_field(d, "output.weight", "offset"), "<Q", 2**40),
    "dimension-2**62": lambda d: _patch(d, _tensor_field(d, "output.weight", "dims"), "<Q", 2**62),
}
LLAMA_CPP_ABORTS = {  # each ended the process with SIGABRT inside llama.cpp
    "token-twice": lambda d: d.replace(struct.pack("<Q", 6) + "▁the".encode(), struct.pack("<Q", 6) + "▁th\0".encode()),
    "no-layers": lambda d: _patch(d, _value_at(d, "llama.block_count"), "<I", 0),
    "negative-epsilon": lambda d: _patch(d, _value_at(d, "llama.attention.layer_norm_rms_epsilon"), "<f", -1.0),
    "nan-epsilon": lambda d: _patch(d, _value_at(d, "llama.attention.layer_norm_rms_epsilon"), "<f", float("nan")),
    "no-vocabulary": lambda d: _with_string(d, "tokenizer.ggml.model", "none"),
    "wordpiece-with-bytes": lambda d: _with_string(d, "tokenizer.ggml.model", "bert"),
}


class TestGGUFFiles:
    """Every damaged or hostile file is one line before llama.cpp reads it; nothing big is allocated."""

    @pytest.mark.parametrize("make", [*HOSTILE_HEADERS.values(), *LLAMA_CPP_ABORTS.values()],
                             ids=[*HOSTILE_HEADERS, *LLAMA_CPP_ABORTS])
    def test_one_line_before_llama_cpp(self, cli, tiny_gguf, make):
        bad = cli.cwd / "bad.gguf"
        bad.write_bytes(make(tiny_gguf.read_bytes()))
        assert bad.read_bytes() != tiny_gguf.read_bytes()
        r, peak = run_measured(cli, "generate", "--backend", "llama:bad.gguf", "--prompt", "hi", "--max-tokens", "2")
        assert "bad.gguf" in one_line_error(r)
        assert peak < BOMB_MB

    @pytest.mark.parametrize("context", [2**29, 2**31])
    def test_a_claimed_context_costs_nothing(self, cli, tmp_path, context):
        """llama-cpp-python sized every tokenize buffer by the trained context: 2 GB a call for 2**29,
        a ValueError traceback for 2**31 (llama.cpp reads it as a negative int32)."""
        claims = build_tiny_model(tmp_path / "claims.gguf", context=context)
        r, peak = run_measured(cli, "generate", "--backend", f"llama:{claims}", "--prompt", "hi", "--max-tokens", "2")
        assert ok(r) and peak < BOMB_MB

    def test_the_header_check_meets_damage_with_genlab_errors_only(self, tiny_gguf, tmp_path):
        """Seeded truncations and byte flips of a real file: the header reader and the llama.cpp
        checks accept it or raise GenlabError, nothing else, and fast."""
        from genlab.errors import GenlabError
        from genlab.llama import aborts
        from genlab.llama.gguf_header import inspect_gguf, read_header

        data = tiny_gguf.read_bytes()
        header_end = read_header(tiny_gguf).data_offset
        rng = random.Random(17)
        outcomes = {"ok": 0, "refused": 0}
        for i in range(400):
            if i % 4 == 0:
                damaged = data[: rng.randrange(len(data))]
            else:
                damaged = bytearray(data)
                for _ in range(rng.randint(1, 6)):
                    damaged[rng.randrange(header_end)] = rng.choice([0, 0xFF, rng.randrange(256)])
            path = tmp_path / f"damaged-{i}.gguf"
            path.write_bytes(bytes(damaged))
            try:
                aborts.check(inspect_gguf(path))
                outcomes["ok"] += 1
            except GenlabError:
                outcomes["refused"] += 1
            path.unlink()
        assert outcomes["refused"] > 100 and outcomes["ok"] > 10, outcomes

    def test_damaged_files_through_the_command_line(self, cli, tiny_gguf):
        """A few seeded damaged copies run for real (llama.cpp can crash: each in its own process):
        each generates or ends in one error line."""
        from genlab.llama.gguf_header import read_header

        data = tiny_gguf.read_bytes()
        header_end = read_header(tiny_gguf).data_offset
        rng = random.Random(5)
        for i in range(8):
            damaged = bytearray(data)
            for _ in range(3):
                damaged[rng.randrange(header_end)] = rng.choice([0, rng.randrange(256)])
            (cli.cwd / "damaged.gguf").write_bytes(bytes(damaged))
            r = cli("generate", "--backend", "llama:damaged.gguf", "--prompt", "hi", "--max-tokens", "2",
                    "--seed", "1", timeout=120)
            assert r.returncode in (0, 1), (i, r.returncode, r.stderr[-500:])
            if r.returncode:
                one_line_error(r)
            else:
                ok(r)
