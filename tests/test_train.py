"""`genlab train-llm`: a llama trained with PyTorch, run by the real llama.cpp.

The session fixture trains the tiny size on corpora/novel.txt for a fixed number of steps
(about 30 seconds on an idle machine) through the command line, as a user would; the other
tests load what it wrote. Steps, not minutes: what a test checks must not depend on how busy
the machine is.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
llama_cpp = pytest.importorskip("llama_cpp")

from conftest import GENLAB, NOVEL  # noqa: E402
from conftest import run_in as genlab  # noqa: E402
from conftest import any_one_line_error as one_line_error  # noqa: E402
from genlab.llama.generator import LlamaGenerator  # noqa: E402
from genlab.sampling import Sampling  # noqa: E402
from genlab.train.checkpoint import checkpoint_path, load_checkpoint  # noqa: E402
from genlab.train.model import Llama, LlamaConfig  # noqa: E402

TRAIN_STEPS = 120  # 150 steps reach 2.31 bits per byte on the held-out text


def torch_model(gguf: Path) -> Llama:
    """The PyTorch model from the checkpoint saved beside `gguf`."""
    ckpt = load_checkpoint(checkpoint_path(gguf))
    model = Llama(LlamaConfig(**ckpt.config))
    model.load_state_dict(ckpt.model)
    return model.eval()


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict[str, object]:
    """TRAIN_STEPS steps of the tiny size on corpora/novel.txt, through the CLI."""
    work = tmp_path_factory.mktemp("train")
    r = genlab("train-llm", NOVEL, "--size", "tiny", "--steps", str(TRAIN_STEPS), "-o", "models/novel.gguf",
               cwd=work, timeout=1200)  # a generous limit: the test checks what was learnt, not how fast
    assert r.returncode == 0, r.stderr
    return {"path": work / "models" / "novel.gguf", "stdout": r.stdout, "stderr": r.stderr, "work": work}


def test_a_short_run_writes_a_gguf_that_llama_cpp_loads_and_generates_from(trained):
    path = trained["path"]
    assert path.is_file() and checkpoint_path(path).is_file()
    with LlamaGenerator(path) as gen:
        text = "".join(gen.stream("“Well,” said", Sampling(seed=1, max_tokens=60)))
    assert len(text.split()) >= 5, text
    # it printed how to use it, and the held-out score in bits per byte
    assert f"genlab generate --backend llama:{Path('models/novel.gguf')}" in trained["stdout"]
    assert "bits per byte" in trained["stdout"]


def test_a_short_run_learns_the_language(trained):
    """Held-out bits per byte (llama.cpp, genlab's scorer) far below the untrained model's,
    which pays about log2(2048) bits per token (over 3 bits per byte)."""
    line = next(x for x in trained["stdout"].splitlines() if "bits per byte" in x)
    bpb = float(line.split("held-out text:")[1].split()[0])
    assert bpb < 2.6, line
    # and the number printed is what `genlab perplexity` gives on the same held-out text
    held = held_out_text()
    with LlamaGenerator(trained["path"]) as gen:
        assert gen.score(held).bits_per_byte == pytest.approx(bpb, abs=1e-4)


def held_out_text() -> str:
    from genlab.eval.texts import corpus_text, split_held_out

    return split_held_out(corpus_text([NOVEL]), 0.1)[1]


@pytest.fixture(scope="session")
def untied(tmp_path_factory) -> Path:
    """A few steps of a model with its own output matrix."""
    work = tmp_path_factory.mktemp("untied")
    r = genlab("train-llm", NOVEL, "--size", "tiny", "--steps", "40", "--untied", "-o", "untied.gguf", cwd=work)
    assert r.returncode == 0, r.stderr
    return work / "untied.gguf"


@pytest.mark.parametrize("which", ["tied", "untied"])
def test_llama_cpp_computes_the_same_logits_as_pytorch(trained, untied, which):
    """Faithful export: next-token logits of the GGUF under llama.cpp (f32 KV cache) equal the
    PyTorch model's to 1e-3 on a full context of held-out text."""
    path = trained["path"] if which == "tied" else untied
    model = torch_model(path)
    assert (model.output is None) == (which == "tied")
    with LlamaGenerator(path, f32_cache=True) as gen:
        ids = [gen.llm.token_bos()] + gen.tokenize(held_out_text())[: model.cfg.context - 1]
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=model.cfg.context, logits_all=True,
                          type_k=0, type_v=0, verbose=False)
    try:
        llm.eval(ids)
        ours = np.array(llm.scores[: len(ids)], dtype=np.float64)
    finally:
        llm.close()
    with torch.no_grad():
        theirs = model(torch.tensor([ids]))[0].double().numpy()
    assert ours.shape == theirs.shape == (model.cfg.context, model.cfg.vocab_size)
    assert np.abs(theirs).max() > 1.0  # real, spread-out logits, not all near zero
    assert np.abs(ours - theirs).max() <= 1e-3


def test_greedy_generation_is_identical_for_32_tokens(trained):
    path = trained["path"]
    model = torch_model(path)
    with LlamaGenerator(path, f32_cache=True) as gen:
        prompt = gen.tokenize("“Well,” said", add_bos=True)
        ids = list(prompt)
        with torch.no_grad():
            for _ in range(32):
                ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
        expected = gen.detokenize(ids[len(prompt):])
        got = "".join(gen.stream("“Well,” said", Sampling(temperature=0, max_tokens=32)))
        assert gen.last_usage["completion_tokens"] == 32
    assert got == expected and len(got) > 20


def test_text_round_trips_through_the_learned_vocabulary(trained):
    text = "“Café—naïve,” she said… 🎉 ok\n\nNew paragraph: 42%, 東京."
    with LlamaGenerator(trained["path"]) as gen:
        tokens = gen.tokenize(text, add_bos=True)
        assert gen.detokenize(tokens) == text
        prose = "“It is a truth,” said Mr. Bennet, “that every gentleman must have a wife.”"
        assert len(gen.tokenize(prose)) < len(prose) / 2  # learned pieces, not single bytes


def weights(gguf: Path) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in load_checkpoint(checkpoint_path(gguf)).model.items()}


def test_resume_continues_exactly_where_the_checkpoint_left_off(tmp_path):
    """10 steps, then --resume to 20, gives the same weights as 20 steps in one go: the
    checkpoint carries the optimizer moments, the schedule's position and the random state."""
    common = ["--size", "tiny", "--seed", "3"]
    r = genlab("train-llm", NOVEL, *common, "--steps", "10", "-o", "a.gguf", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = genlab("train-llm", NOVEL, *common, "--steps", "20", "-o", "a.gguf", "--resume", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "resuming" in r.stderr and "at step 10" in r.stderr
    assert "trained 20 steps" in r.stdout
    r = genlab("train-llm", NOVEL, *common, "--steps", "20", "-o", "b.gguf", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    resumed, straight = weights(tmp_path / "a.gguf"), weights(tmp_path / "b.gguf")
    assert resumed.keys() == straight.keys()
    for name in straight:
        np.testing.assert_array_equal(resumed[name], straight[name], err_msg=name)
    fresh = Llama(LlamaConfig(**load_checkpoint(checkpoint_path(tmp_path / "b.gguf")).config)).state_dict()
    assert not np.array_equal(fresh["embed.weight"].numpy(), straight["embed.weight"])


def test_ctrl_c_saves_a_checkpoint_and_a_usable_model_then_resume_goes_on(tmp_path):
    proc = subprocess.Popen([*GENLAB, "train-llm", NOVEL, "--size", "tiny", "--steps", "100000", "-o", "m.gguf"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8")
    deadline = time.monotonic() + 60
    # wait until training has started and made some steps
    ckpt = checkpoint_path(tmp_path / "m.gguf")
    line = ""
    while "model:" not in line and time.monotonic() < deadline:
        line = proc.stderr.readline()
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted at step" in err and "--resume" in err
    step = int(err.split("interrupted at step ")[1].split(":")[0].replace(",", ""))
    assert step > 0 and ckpt.is_file()
    with LlamaGenerator(tmp_path / "m.gguf") as gen:  # the GGUF of the interrupted run works
        assert "".join(gen.stream("The", Sampling(seed=0, max_tokens=10)))
    r = genlab("train-llm", NOVEL, "--size", "tiny", "--steps", str(step + 5), "-o", "m.gguf", "--resume",
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"at step {step:,}" in r.stderr
    assert load_checkpoint(ckpt).state["step"] == step + 5


@pytest.mark.parametrize("args, words", [
    (["missing.txt"], "missing.txt"),
    ([NOVEL, "--resume"], "no checkpoint"),
    ([NOVEL, "-o", "model.bin"], ".gguf"),
    ([NOVEL, "--context", "300"], "multiple of 256"),
    ([NOVEL, "--size", "huge"], "huge"),
])
def test_bad_input_gets_one_clear_line(tmp_path, args, words):
    line = one_line_error(genlab("train-llm", *args, "--steps", "1", cwd=tmp_path))
    assert words in line
    assert not list(tmp_path.glob("**/*.gguf"))


def test_resume_refuses_a_checkpoint_trained_on_other_text(tmp_path):
    other = tmp_path / "other.txt"
    other.write_text(NOVEL.read_text(encoding="utf-8")[:60_000] + "\n\nA different ending.\n", encoding="utf-8")
    r = genlab("train-llm", other, "--size", "tiny", "--steps", "2", "-o", "m.gguf", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    line = one_line_error(genlab("train-llm", NOVEL, "--steps", "4", "-o", "m.gguf", "--resume", cwd=tmp_path))
    assert "other text" in line


def test_checkpoints_are_safetensors_not_pickle(trained):
    from safetensors import safe_open

    path = checkpoint_path(trained["path"])
    head = path.read_bytes()[:16]
    assert head[8:9] == b"{"  # an 8-byte length then a JSON header: safetensors, no pickle opcodes
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata()["format"] == "genlab-train-checkpoint-1"
