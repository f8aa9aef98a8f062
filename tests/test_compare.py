"""`genlab compare` and `genlab plot` end to end: a Markov chain and a project-built GGUF."""

from __future__ import annotations

import csv
import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("matplotlib")

from conftest import GENLAB, NOVEL  # noqa: E402
from conftest import run_in as genlab  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_gguf) -> Path:
    """A folder with a chain trained on the novel's first 90%, a tiny GGUF, the held-out end
    and a two-prompt file."""
    d = tmp_path_factory.mktemp("compare")
    assert genlab("corpus", "split", NOVEL, "-o", "texts", cwd=d).returncode == 0
    r = genlab("train-markov", "texts/novel-train.txt", "-o", "models/chain.markov", cwd=d)
    assert r.returncode == 0, r.stderr
    shutil.copy(tiny_gguf, d / "models" / "tiny.gguf")
    (d / "prompts.txt").write_text("“Well,” said\nchat:What do you see from the window?\n", encoding="utf-8")
    return d


COMMON = ["-b", "markov:models/chain.markov", "-b", "llama:models/tiny.gguf", "--prompts", "prompts.txt",
          "--eval-text", "texts/novel-held-out.txt", "--samples", "2", "--orders", "1-2", "--max-tokens", "30",
          "--seed", "5"]


def samples(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "samples.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def run(work) -> Path:
    r = genlab("compare", *COMMON, "-o", "runs/a", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "bits/byte" in r.stdout
    assert re.search(r"bits/byte  \[\d\.\d{4}, \d\.\d{4}\]", r.stdout)  # with its 95% interval
    return work / "runs" / "a"


def test_every_backend_gets_the_same_prompts_settings_and_seeds(run):
    rows = samples(run)
    assert len(rows) == 2 * 2 * 2  # backends × prompts × samples
    for key in ("backend", "prompt", "settings", "seed", "text", "tokens", "seconds"):
        assert all(key in r for r in rows), key
    by_backend: dict[str, list] = {}
    for r in rows:
        by_backend.setdefault(r["backend"], []).append((r["prompt"], r["sample"], r["seed"], r["settings"]))
    chain, llama = by_backend["markov:models/chain.markov"], by_backend["llama:models/tiny.gguf"]
    assert sorted(chain) == sorted(llama)
    assert len({seed for _, _, seed, _ in chain}) == 4  # a different seed per prompt and sample
    assert all(r["text"].strip() and r["tokens"] > 0 for r in rows)


def test_metrics_for_each_backend_and_the_human_text(run):
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    names = [r["backend"] for r in metrics["style"]]
    assert names == ["markov:models/chain.markov", "llama:models/tiny.gguf", "human"]
    for r in metrics["style"]:
        assert 0 < r["distinct_1"] <= 1 and 0 <= r["self_bleu_4"] <= 1
    # the chain copies long runs of its training text; the random llama copies almost nothing
    chain, llama = metrics["style"][0], metrics["style"][1]
    assert chain["longest_copy_mean"] > llama["longest_copy_mean"]
    assert [r["backend"] for r in metrics["perplexity"]] == names[:2]
    assert metrics["perplexity"][0]["bits_per_byte"] < metrics["perplexity"][1]["bits_per_byte"]
    assert [r["order"] for r in metrics["orders"]] == [1, 2]
    with open(run / "metrics.csv", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [r["backend"] for r in table] == names
    assert float(table[0]["bits_per_byte"]) == pytest.approx(metrics["perplexity"][0]["bits_per_byte"], rel=1e-5)


def test_plots_are_real_pngs_and_the_report_embeds_them(run):
    import matplotlib.image

    pngs = sorted((run / "plots").glob("*.png"))
    assert {p.stem for p in pngs} >= {"bits_per_byte", "perplexity_vs_order", "zipf", "sentence_lengths",
                                      "distinct_n", "copy_vs_order"}
    report = (run / "report.md").read_text(encoding="utf-8")
    for p in pngs:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000
        image = matplotlib.image.imread(p)
        assert image.ndim == 3 and image.std() > 0.01  # not a blank canvas
        assert f"(plots/{p.name})" in report
        assert p.with_suffix(".svg").is_file()


def test_genlab_plot_redraws_from_the_saved_results(run, work):
    for p in (run / "plots").iterdir():
        p.unlink()
    (run / "report.md").unlink()
    before = (run / "samples.jsonl").read_bytes()
    r = genlab("plot", run, cwd=work)
    assert r.returncode == 0, r.stderr
    assert len(list((run / "plots").glob("*.png"))) >= 6
    assert (run / "report.md").is_file()
    assert (run / "samples.jsonl").read_bytes() == before  # nothing generated again


def test_a_resumed_run_only_makes_the_missing_samples(run, work):
    """Cut the last samples off (and tear the last line, as a kill would): running the same
    command again makes exactly those, with the same text, and leaves the rest alone."""
    path = run / "samples.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:5]) + lines[5][:20], encoding="utf-8")
    r = genlab("compare", *COMMON, "-o", "runs/a", cwd=work)
    assert r.returncode == 0, r.stderr
    again = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert again[:5] == lines[:5]

    def content(line: str) -> str:  # the same sample, apart from how long it took
        record = json.loads(line)
        record.pop("seconds")
        return json.dumps(record, sort_keys=True)

    assert sorted(map(content, again)) == sorted(map(content, lines))


def test_a_run_does_not_resume_with_keep_gutenberg_flipped(run, work):
    """Its scores were made on the text read one way: the other way is another comparison."""
    before = (run / "samples.jsonl").read_bytes()
    r = genlab("compare", *COMMON, "--keep-gutenberg", "-o", "runs/a", cwd=work)
    assert r.returncode != 0
    assert r.stderr.startswith("genlab: error: ") and "holds a different comparison" in r.stderr
    assert "Traceback" not in r.stderr
    assert (run / "samples.jsonl").read_bytes() == before


def test_ctrl_c_keeps_finished_samples_and_says_how_to_resume(work):
    proc = subprocess.Popen([*GENLAB, "compare", *COMMON[:-4], "--samples", "40", "--max-tokens", "60",
                             "-o", "runs/b"], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8")
    path = work / "runs" / "b" / "samples.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not path.is_file() or len(path.read_bytes().splitlines()) < 3):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "Resume with: genlab compare" in err
    kept = path.read_text(encoding="utf-8").splitlines()
    assert 3 <= len(kept) < 2 * 2 * 40
    assert all(json.loads(line)["text"] is not None for line in kept)


def test_a_folder_of_another_comparison_is_refused(run, work):
    r = genlab("compare", *COMMON[:-2], "--seed", "6", "-o", "runs/a", cwd=work)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "different comparison" in r.stderr


@pytest.mark.parametrize("args, words", [
    (["--sweep", "temperature"], "--sweep"),
    (["--sweep", "colour=1,2"], "--sweep"),
    (["--eval-text", "missing.txt"], "missing.txt"),
    (["--prompts", "missing.txt"], "missing.txt"),
])
def test_bad_input_gets_one_clear_line(work, args, words):
    r = genlab("compare", "-b", "markov:models/chain.markov", *args, "-o", "runs/bad", cwd=work)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode != 0 and len(lines) == 1 and lines[0].startswith("genlab: error:"), r.stderr
    assert words in lines[0]
