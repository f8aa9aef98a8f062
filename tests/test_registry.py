"""Model aliases (genlab.aliases, written through genlab.tomledit) and `genlab models`.

Config files live in temporary folders: the working directory is a fresh tmp folder (for
./genlab.toml) and GENLAB_CONFIG_DIR points the user config at another one, so the user's own
config is never read or written. The GGUF files are tiny models built by genlab itself. Nothing
here touches the network: hf: is only tested for its missing-package and offline errors.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CLI, isolated_env, ok, one_line_error
from genlab import aliases as reg
from genlab.errors import GenlabError
from genlab.folders import config_dir
from genlab.llama.hub import parse_hf
from genlab.sampling import Sampling
from genlab.tomledit import dumps

gguf = pytest.importorskip("gguf")


@pytest.fixture
def tiny(tiny_gguf) -> Path:
    return tiny_gguf


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """cwd = tmp/work (./genlab.toml), user config = tmp/user, HOME = tmp/home."""
    work, user, home = tmp_path / "work", tmp_path / "user", tmp_path / "home"
    for d in (work, home):
        d.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("GENLAB_CONFIG_DIR", str(user))
    monkeypatch.setenv("HOME", str(home))
    return {"work": work, "user": user, "home": home, "local_file": work / "genlab.toml",
            "user_file": user / "genlab.toml"}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(fn, *args, **kwargs) -> str:
    with pytest.raises(GenlabError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message and message
    return message


# --- locations -----------------------------------------------------------------------------------


def test_config_locations(dirs):
    assert reg.config_files() == [("local", dirs["local_file"]), ("user", dirs["user_file"])]
    assert config_dir() == dirs["user"]


def test_user_dir_without_override_is_platformdirs_or_xdg(dirs, monkeypatch):
    monkeypatch.delenv("GENLAB_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(dirs["home"] / "xdg"))
    got = config_dir()
    try:
        import platformdirs
    except ImportError:
        if sys.platform.startswith("linux"):
            assert got == dirs["home"] / "xdg" / "genlab"
    else:
        assert got == Path(platformdirs.user_config_dir("genlab"))


def test_working_in_the_user_config_dir_reads_the_file_once(dirs, monkeypatch, tiny):
    dirs["user"].mkdir()
    monkeypatch.chdir(dirs["user"])
    assert [scope for scope, _ in reg.config_files()] == ["local"]
    reg.add_alias("t", tiny)
    assert [a.name for a in reg.list_aliases(include_shadowed=True)] == ["t"]


# --- add, find, list, remove ---------------------------------------------------------------------


def test_add_find_list_remove(dirs, tiny):
    assert reg.find_alias("tiny") is None and reg.list_aliases() == []
    a = reg.add_alias("tiny", tiny, n_ctx=512, n_threads=2, n_gpu_layers=0, chat_format="chatml",
                      sampling={"temperature": 0.5, "stop": ["##"], "seed": 3})
    assert dirs["user_file"].is_file() and not dirs["local_file"].exists()
    found = reg.find_alias("tiny")
    assert found == a
    assert found.path == tiny and found.scope == "user" and found.source == dirs["user_file"]
    assert found.options() == {"n_ctx": 512, "n_threads": 2, "n_gpu_layers": 0, "chat_format": "chatml"}
    assert found.sampling == {"temperature": 0.5, "stop": ("##",), "seed": 3}
    assert tomllib.loads(dirs["user_file"].read_text())["models"]["tiny"] == {
        "path": str(tiny), "n_ctx": 512, "n_threads": 2, "n_gpu_layers": 0, "chat_format": "chatml",
        "sampling": {"temperature": 0.5, "stop": ["##"], "seed": 3}}
    reg.add_alias("other", tiny)
    assert [x.name for x in reg.list_aliases()] == ["other", "tiny"]
    assert reg.remove_alias("tiny") == dirs["user_file"]
    assert reg.find_alias("tiny") is None
    assert [x.name for x in reg.list_aliases()] == ["other"]
    assert "known aliases: other" in error_of(reg.remove_alias, "tiny")


def test_paths_user_absolute_local_relative_tilde_kept(dirs, tiny):
    (dirs["work"] / "models").mkdir()
    reg.add_alias("u", "models/m.gguf")
    assert reg.find_alias("u").raw_path == str(dirs["work"] / "models" / "m.gguf")
    reg.add_alias("l", "models/m.gguf", scope="local")
    loc = reg.find_alias("l")
    assert loc.raw_path == "models/m.gguf" and loc.path == dirs["work"] / "models" / "m.gguf"
    reg.add_alias("h", "~/m.gguf")
    home = reg.find_alias("h")
    assert home.raw_path == "~/m.gguf" and home.path == dirs["home"] / "m.gguf"


def test_relative_path_in_a_hand_written_file_is_relative_to_that_file(dirs):
    write(dirs["user_file"], '[models.x]\npath = "sub/x.gguf"\n')
    assert reg.find_alias("x").path == dirs["user"] / "sub" / "x.gguf"


def test_local_file_wins(dirs, tiny):
    reg.add_alias("m", "/models/user.gguf")
    reg.add_alias("m", "/models/local.gguf", scope="local")
    assert reg.find_alias("m").path == Path("/models/local.gguf")
    assert [(a.name, a.scope) for a in reg.list_aliases()] == [("m", "local")]
    assert [(a.name, a.scope) for a in reg.list_aliases(include_shadowed=True)] == [("m", "local"), ("m", "user")]
    assert reg.remove_alias("m") == dirs["local_file"]  # the one in effect
    assert reg.find_alias("m").scope == "user"
    reg.add_alias("m", "/models/local.gguf", scope="local")
    assert reg.remove_alias("m", scope="user") == dirs["user_file"]
    assert reg.find_alias("m").scope == "local"
    assert "no alias named 'm' in" in error_of(reg.remove_alias, "m", scope="user")


def test_existing_alias_needs_replace(dirs, tiny):
    reg.add_alias("m", tiny, n_ctx=512, sampling={"top_k": 5})
    assert "already exists" in error_of(reg.add_alias, "m", tiny)
    reg.add_alias("m", tiny, n_threads=3, replace=True)
    m = reg.find_alias("m")
    assert m.options() == {"n_threads": 3} and m.sampling == {}  # replaced whole


@pytest.mark.parametrize("name, words", [
    ("a:b", ["':'"]), ("llama", ["reserved"]), ("markov", ["reserved"]), ("HF", ["reserved"]),
    ("", ["empty"]), ("-x", ["not valid"]), ("a b", ["not valid"]), ("a/b", ["not valid"]),
    ("x" * 65, ["not valid"]), ("é", ["not valid"]),
])
def test_bad_names(dirs, tiny, name, words):
    message = error_of(reg.add_alias, name, tiny)
    assert all(w in message for w in words), message
    assert not dirs["user_file"].exists()


@pytest.mark.parametrize("name", ["llama3", "Llama-3.1_8B", "q4", "7b"])
def test_good_names(dirs, tiny, name):
    reg.add_alias(name, tiny)
    assert reg.find_alias(name).name == name


@pytest.mark.parametrize("settings, words", [
    ({"n_ctx": 4}, ["n_ctx", ">= 8"]),
    ({"n_ctx": True}, ["n_ctx"]),
    ({"n_threads": 0}, ["n_threads", ">= 1"]),
    ({"n_gpu_layers": -2}, ["n_gpu_layers", ">= -1"]),
    ({"chat_format": ""}, ["chat_format"]),
    ({"sampling": {"temperature": -1}}, ["temperature"]),
    ({"sampling": {"temp": 1}}, ["unknown sampling setting 'temp'"]),
])
def test_bad_settings_are_refused_before_writing(dirs, tiny, settings, words):
    message = error_of(reg.add_alias, "m", tiny, **settings)
    assert all(w in message for w in words), message
    assert not dirs["user_file"].exists()


# --- reading hand-written files ------------------------------------------------------------------


def test_malformed_toml_names_file_and_line(dirs):
    write(dirs["local_file"], '[models.x]\npath = "a.gguf"\nn_ctx = = 3\n')
    message = error_of(reg.find_alias, "x")
    assert str(dirs["local_file"]) in message and "line 3" in message and "not valid TOML" in message
    assert str(dirs["local_file"]) in error_of(reg.list_aliases)
    assert str(dirs["local_file"]) in error_of(reg.add_alias, "y", "b.gguf", scope="local")


def test_not_utf8(dirs):
    dirs["user"].mkdir()
    dirs["user_file"].write_bytes(b'[models.x]\npath = "\xff.gguf"\n')
    message = error_of(reg.find_alias, "x")
    assert "line 2" in message and "UTF-8" in message


def test_config_is_a_directory(dirs):
    dirs["local_file"].mkdir()
    assert "directory" in error_of(reg.find_alias, "x")


@pytest.mark.parametrize("text, words", [
    ('[models.x]\npath = "a.gguf"\nthreads = 4\n',
     ["unknown setting 'threads'", "known:", "n_threads", "did you mean 'n_threads'"]),
    ('[models.x]\npath = "a.gguf"\ncolour = "red"\n', ["unknown setting 'colour'", "n_ctx, n_threads"]),
    ('[models.x]\nn_ctx = 512\n', ["needs path"]),
    ('[models.x]\npath = 3\n', ["needs path"]),
    ('[models.x]\npath = "a.gguf"\nn_ctx = "big"\n', ["n_ctx must be a whole number", "'big'"]),
    ('[models.x]\npath = "a.gguf"\nn_ctx = 512.0\n', ["n_ctx must be a whole number"]),
    ('[models.x]\npath = "a.gguf"\nsampling = 3\n', ["sampling must be a table"]),
    ('[models.x]\npath = "a.gguf"\n[models.x.sampling]\ntop_p = 2\n', ["sampling", "top_p"]),
    ('[models.x]\npath = "a.gguf"\n[models.x.sampling]\nmax_tokens = "many"\n', ["max_tokens"]),
    ('models = 3\n', ["'models' must be a table"]),
    ('[models]\nx = "a.gguf"\n', ["alias 'x' must be a table"]),
    ('[models."x:y"]\npath = "a.gguf"\n', ["cannot contain ':'"]),
])
def test_bad_hand_written_alias(dirs, text, words):
    write(dirs["user_file"], text)
    name = "x:y" if "x:y" in text else "x"
    message = error_of(reg.find_alias, name)
    assert str(dirs["user_file"]) in message
    assert all(w in message for w in words), message


def test_other_broken_alias_does_not_block_a_good_one(dirs):
    write(dirs["user_file"], '[models.good]\npath = "a.gguf"\n\n[models.bad]\npath = "b.gguf"\noops = 1\n')
    assert reg.find_alias("good").name == "good"
    assert "oops" in error_of(reg.list_aliases)
    reg.remove_alias("bad")  # a broken alias can still be removed
    assert [a.name for a in reg.list_aliases()] == ["good"]


# --- editing files: comments and other settings are kept -----------------------------------------

HAND_WRITTEN = """\
# genlab settings for this project
[defaults]
backend = "llama3"  # used when --backend is not given

[models.a]
path = "a.gguf"   # the small one

# b is the big one
[models.b]
path = "b.gguf"
n_ctx = 2048
[models.b.sampling]
top_k = 3

[other]
values = [1, [2, 3], {x = "y"}]
"""


def test_edits_keep_comments_and_other_tables(dirs):
    write(dirs["local_file"], HAND_WRITTEN)
    before = tomllib.loads(HAND_WRITTEN)
    reg.add_alias("c", "c.gguf", scope="local", chat_format="chatml")
    text = dirs["local_file"].read_text()
    assert text.startswith(HAND_WRITTEN) and text.endswith('[models.c]\npath = "c.gguf"\nchat_format = "chatml"\n')
    reg.add_alias("b", "b2.gguf", scope="local", n_threads=2, replace=True)
    text = dirs["local_file"].read_text()
    assert "# b is the big one\n[models.b]\npath = \"b2.gguf\"\nn_threads = 2\n\n[other]" in text
    assert "top_k" not in text and "# the small one" in text and "# used when" in text
    reg.remove_alias("a")
    reg.remove_alias("c")
    text = dirs["local_file"].read_text()
    assert "[models.a]" not in text and "# the small one" not in text and "[models.c]" not in text
    assert "# b is the big one" in text and "# genlab settings" in text and text.endswith("\n")
    doc = tomllib.loads(text)
    assert doc["defaults"] == before["defaults"] and doc["other"] == before["other"]
    assert doc["models"] == {"b": {"path": "b2.gguf", "n_threads": 2}}


def test_an_inline_layout_is_rewritten_canonically(dirs):
    write(dirs["local_file"], '# note\n[models]\na = { path = "a.gguf", n_ctx = 512 }\nb.path = "b.gguf"\n')
    reg.add_alias("a", "z.gguf", scope="local", replace=True)
    doc = tomllib.loads(dirs["local_file"].read_text())
    assert doc == {"models": {"a": {"path": "z.gguf"}, "b": {"path": "b.gguf"}}}
    reg.remove_alias("b")
    assert tomllib.loads(dirs["local_file"].read_text()) == {"models": {"a": {"path": "z.gguf"}}}


def test_comment_lines_stay_where_they_are_and_a_replaced_header_keeps_its_comment(dirs):
    write(dirs["local_file"], '[models.a]\npath = "a.gguf"\n\n# about b\n[models.b]  # big\npath = "b.gguf"\n'
                              '\n[other]\nx = 1\n\n# about c\n[models.c]\npath = "c.gguf"\n')
    reg.remove_alias("a")
    reg.add_alias("b", "b2.gguf", scope="local", replace=True)
    reg.remove_alias("c")
    assert dirs["local_file"].read_text() == ('# about b\n[models.b]  # big\npath = "b2.gguf"\n\n[other]\nx = 1\n'
                                              '\n# about c\n')


def test_quoted_names_are_found_and_edited(dirs):
    write(dirs["user_file"], '[models."llama3.1"]\npath = "a.gguf"\n\n[ models . \'q4\' ]\npath = "q.gguf"\n')
    assert reg.find_alias("llama3.1").path == dirs["user"] / "a.gguf"
    reg.add_alias("llama3.1", "/b.gguf", replace=True)
    reg.remove_alias("q4")
    assert tomllib.loads(dirs["user_file"].read_text()) == {"models": {"llama3.1": {"path": "/b.gguf"}}}


def test_write_is_atomic_keeps_mode_and_follows_symlinks(dirs):
    real = write(dirs["home"] / "dotfiles" / "genlab.toml", "# mine\n")
    os.chmod(real, 0o600)
    dirs["user"].mkdir()
    dirs["user_file"].symlink_to(real)
    reg.add_alias("x", "/x.gguf")
    assert dirs["user_file"].is_symlink()
    assert real.read_text().startswith("# mine\n") and "[models.x]" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert sorted(p.name for p in real.parent.iterdir()) == ["genlab.toml"]  # no temporary file left
    assert sorted(p.name for p in dirs["user"].iterdir()) == ["genlab.toml"]


def test_a_failed_write_leaves_the_file_alone(dirs, monkeypatch):
    reg.add_alias("x", "/x.gguf")
    before = dirs["user_file"].read_bytes()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(reg.os, "replace", boom)
    assert "No space left on device" in error_of(reg.add_alias, "y", "/y.gguf")
    assert dirs["user_file"].read_bytes() == before
    assert sorted(p.name for p in dirs["user"].iterdir()) == ["genlab.toml"]


# --- the TOML writer ------------------------------------------------------------------------------

_keys = st.text(min_size=0, max_size=8).filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s))
_scalars = st.one_of(
    st.booleans(), st.integers(min_value=-2**63, max_value=2**63 - 1),
    st.floats(allow_nan=False), _keys,
)
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)), max_leaves=8)
_docs = st.recursive(st.dictionaries(_keys, _values, max_size=4),
                     lambda inner: st.dictionaries(_keys, st.one_of(_values, inner), max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_docs)
def test_dumps_round_trips(doc):
    assert tomllib.loads(dumps(doc)) == doc


def test_dumps_special_values():
    doc = {"s": 'quote " back \\ tab \t nl \n del \x7f nul \x00 é ✓', "inf": math.inf, "ninf": -math.inf,
           "big": 1e300, "small": 1e-300, "t": {"a b": {"": 1}}, "empty": {}}
    assert tomllib.loads(dumps(doc)) == doc
    assert "not valid Unicode" in error_of(dumps, {"s": "\udcff"})
    assert "cannot write" in error_of(dumps, {"s": object()})


# --- backend names (through the backend table) ----------------------------------------------------


def test_resolve_alias_with_overrides(dirs, tiny):
    from genlab.backends import resolve

    reg.add_alias("m", tiny, n_ctx=512, n_threads=2, chat_format="chatml", sampling={"temperature": 0.3})
    t = resolve("m")
    assert (t.kind, Path(t.location), t.name) == ("llama", tiny, "m")
    assert dict(t.options) == {"n_ctx": 512, "n_threads": 2, "chat_format": "chatml"}
    assert dict(t.sampling) == {"temperature": 0.3} and "genlab.toml" in t.source


def test_resolve_llama_path(dirs, tiny):
    from genlab.backends import resolve

    t = resolve(f"llama:{tiny}")
    assert (t.kind, Path(t.location), t.source, dict(t.options), dict(t.sampling)) == ("llama", tiny, "path", {}, {})
    assert Path(resolve("llama:~/x.gguf").location) == dirs["home"] / "x.gguf"
    assert "llama:PATH.gguf" in error_of(resolve, "llama:")


def test_resolve_errors(dirs, tiny):
    from genlab.backends import resolve

    message = error_of(resolve, "nope")
    assert "'nope'" in message and "llama:PATH.gguf" in message and "genlab models list" in message
    reg.add_alias("b", tiny)
    reg.add_alias("nopf", tiny, scope="local")
    assert "did you mean 'nopf'" in error_of(resolve, "nope")
    assert "markov:NAME_OR_PATH" in error_of(resolve, "markov")
    assert "llama:PATH.gguf" in error_of(resolve, "llama")
    reg.add_alias("gone", dirs["work"] / "gone.gguf")
    message = error_of(resolve, "gone")
    assert "does not exist" in message and "gone.gguf" in message and str(dirs["user_file"]) in message


def test_default_sampling_goes_under_command_line_flags(dirs, tiny):
    from genlab.backends import resolve
    from genlab.cli.options import SAMPLING_FIELDS, sampling_from

    reg.add_alias("m", tiny, sampling={"temperature": 0.3, "top_k": 7, "stop": ["##"]})
    assert resolve("m").default_sampling() == Sampling(temperature=0.3, top_k=7, stop=("##",))
    assert resolve(f"llama:{tiny}").default_sampling() == Sampling()
    flags = dict.fromkeys(SAMPLING_FIELDS)
    flags.update(temperature=0.9, stop=())  # what click gives for `--temperature 0.9`
    s = sampling_from(flags, base=resolve("m").default_sampling())
    assert (s.temperature, s.top_k, s.stop) == (0.9, 7, ("##",))


def test_hf_spec_errors():
    assert parse_hf("owner/repo/sub/file.gguf") == ("owner/repo", "sub/file.gguf")
    for bad in ("owner/file.gguf", "owner//file.gguf", "", "a/b/"):
        assert "hf:OWNER/REPO/FILE.gguf" in error_of(parse_hf, bad)


def test_hf_without_huggingface_hub(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as if not installed
    from genlab.backends import resolve

    message = error_of(resolve, "hf:owner/repo/file.gguf")
    assert message == "hf: models need huggingface-hub: pip install 'genlab[hf]'"


def test_hf_offline_is_one_clear_error(tmp_path):
    """Offline (HF_HUB_OFFLINE=1, an empty cache, an endpoint that refuses connections): one line."""
    pytest.importorskip("huggingface_hub")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT="http://127.0.0.1:9")
    code = ("from genlab.backends import resolve\n"
            "from genlab.errors import GenlabError\n"
            "try:\n    resolve('hf:owner/repo/model.gguf')\n"
            "except GenlabError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("cannot download hf:owner/repo/model.gguf: no connection"), r.stdout


def test_an_alias_loads_with_llama_cpp(dirs, tiny):
    """What the backend table does with an alias: the file loads with the alias's settings, and
    the alias's default sampling is used (a seeded alias gives the same text as the same seed
    given directly)."""
    pytest.importorskip("llama_cpp")
    from genlab.backends import resolve

    reg.add_alias("t", tiny, n_ctx=256, n_threads=1, sampling={"seed": 5, "max_tokens": 12, "temperature": 1.0})
    target = resolve("t")
    g = target.load()
    try:
        assert g.context_length == 256 and g.name == "t"
        s = target.default_sampling()
        a = "".join(g.stream("The", s))
        b = "".join(g.stream("The", Sampling(seed=5, max_tokens=12, temperature=1.0)))
        assert a == b and g.last_usage["completion_tokens"] <= 12
    finally:
        g.close()


# --- the command line -----------------------------------------------------------------------------

@pytest.fixture
def run(tmp_path, dirs) -> CLI:
    """The real `genlab` in tmp/work, reading the user config in tmp/user, with HOME = tmp/home."""
    env = isolated_env(tmp_path)
    env.update(GENLAB_CONFIG_DIR=str(dirs["user"]), HOME=str(dirs["home"]))
    return CLI(dirs["work"], env)


def test_cli_add_list_show_remove(run, dirs, tiny):
    assert "alias:" not in ok(run("models", "list"))
    r = run("models", "add", "tiny", tiny, "--n-ctx", "256", "--threads", "1", "--temperature", "0.5",
            "--stop", "##")
    out = ok(r)
    assert f"alias tiny -> {tiny}" in out and str(dirs["user_file"]) in out
    assert "llama" in out and "chat template" in out and "genlab generate --backend tiny" in out
    assert r.stderr == ""
    a = reg.find_alias("tiny")
    assert a.options() == {"n_ctx": 256, "n_threads": 1} and a.sampling == {"temperature": 0.5, "stop": ("##",)}

    ok(run("models", "add", "gone", "nowhere.gguf", "--no-check", "--local"))
    lines = ok(run("models", "list")).splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "SOURCE", "LOCATION"]
    assert lines[1].split() == ["gone", "missing", "alias:local", str(dirs["work"] / "nowhere.gguf")]
    assert lines[2].split()[0] == "tiny" and lines[2].split()[-2:] == ["alias:user", str(tiny)]

    out = ok(run("models", "show", "tiny"))
    fields = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in out.splitlines())
    assert fields["architecture"] == "llama"
    assert fields["parameters"].endswith(")") and "tensors" in fields["parameters"]
    assert fields["context length"] == "256 tokens (trained)"
    assert "F32" in fields["quantisation"]
    assert fields["chat template"].startswith("yes")
    assert f"{tiny.stat().st_size:,} bytes" in fields["file size"]
    assert fields["settings"] == "n_ctx=256 n_threads=1"
    assert fields["sampling"] == 'temperature=0.5 stop="##"'

    out = ok(run("models", "show", tiny))  # a path: metadata only
    assert "alias " not in out and "architecture" in out and str(tiny) in out
    data = json.loads(ok(run("models", "show", "tiny", "--json")))
    assert data["alias"]["name"] == "tiny" and data["architecture"] == "llama"
    assert data["context_length"] == 256 and data["chat_template"] is True and data["size_bytes"] == tiny.stat().st_size
    listed = json.loads(ok(run("models", "list", "--json")))
    aliases = [x for x in listed if x["source"].startswith("alias:")]
    assert [(x["name"], x["exists"]) for x in aliases] == [("gone", False), ("tiny", True)]
    assert aliases[1]["n_ctx"] == 256 and aliases[1]["sampling"] == {"temperature": 0.5, "stop": ["##"]}

    assert f"removed alias gone from {dirs['local_file']}" in ok(run("models", "remove", "gone"))
    assert f"removed alias tiny from {dirs['user_file']}" in ok(run("models", "remove", "tiny"))
    assert "alias:" not in ok(run("models", "list"))


def test_cli_add_refuses_bad_files(run, dirs, tiny):
    (dirs["work"] / "notes.gguf").write_text("just text\n")
    assert "not a GGUF model file" in one_line_error(run("models", "add", "x", "notes.gguf"))
    assert "model file not found" in one_line_error(run("models", "add", "x", "missing.gguf"))
    truncated = dirs["work"] / "half.gguf"
    truncated.write_bytes(tiny.read_bytes()[: tiny.stat().st_size // 2])
    assert "truncated" in one_line_error(run("models", "add", "x", truncated))
    assert "reserved" in one_line_error(run("models", "add", "llama", tiny))
    assert "':'" in one_line_error(run("models", "add", "a:b", tiny))
    assert not dirs["user_file"].exists()
    r = run("models", "add", "x", "missing.gguf", "--no-check")
    assert r.returncode == 0 and "does not exist yet" in r.stderr
    assert "already exists" in one_line_error(run("models", "add", "x", tiny))
    ok(run("models", "add", "x", f"llama:{tiny}", "--replace"))
    assert reg.find_alias("x").path == tiny


def test_cli_add_checks_chat_format(run, tiny):
    pytest.importorskip("llama_cpp")
    line = one_line_error(run("models", "add", "x", tiny, "--chat-format", "nope"))
    assert "unknown chat format 'nope'" in line and "chatml" in line
    ok(run("models", "add", "x", tiny, "--chat-format", "chatml"))


def test_cli_warnings(run, dirs, tiny):
    r = run("models", "add", "big", tiny, "--n-ctx", "1024")
    assert r.returncode == 0 and "genlab: warning: --n-ctx 1024 is more than the 256 tokens" in r.stderr
    ok(run("models", "add", "both", tiny, "--local"))
    r = run("models", "add", "both", tiny)
    assert r.returncode == 0 and "./genlab.toml also defines 'both'" in r.stderr
    out = ok(run("models", "remove", "both"))
    assert str(dirs["local_file"]) in out and f"both still names {tiny}" in out


def test_cli_errors_are_one_line(run, dirs, tiny):
    assert "no alias named 'x'" in one_line_error(run("models", "remove", "x"))
    assert "no alias, model or file named 'x'" in one_line_error(run("models", "show", "x"))
    assert "model file not found" in one_line_error(run("models", "show", "missing.gguf"))
    assert "not a GGUF model" in one_line_error(run("models", "show", "markov:novel"))
    assert "hf:OWNER/REPO/FILE.gguf" in one_line_error(run("models", "show", "hf:a/b"))
    write(dirs["local_file"], "[models.x\n")
    line = one_line_error(run("models", "list"))
    assert str(dirs["local_file"]) in line and "line 1" in line
    dirs["local_file"].unlink()
    ok(run("models", "add", "gone", dirs["work"] / "gone.gguf", "--no-check"))
    assert "does not exist" in one_line_error(run("models", "show", "gone"))


def test_cli_help_has_examples(run):
    for args in (["models"], ["models", "add"], ["models", "list"], ["models", "remove"], ["models", "show"]):
        out = ok(run(*args, "--help"))
        assert "Examples:" in out and "genlab models" in out, args


def test_generate_with_an_alias_end_to_end(run, dirs, tiny):
    pytest.importorskip("llama_cpp")
    genlab = run
    ok(genlab("models", "add", "t", tiny, "--threads", "1", "--seed", "4", "--max-tokens", "15",
              "--temperature", "1.0"))
    direct = ok(genlab("generate", "--backend", f"llama:{tiny}", "--prompt", "The", "--seed", "4",
                       "--max-tokens", "15", "--temperature", "1.0"))
    assert ok(genlab("generate", "--backend", "t", "--prompt", "The")) == direct  # the alias's sampling
    other = ok(genlab("generate", "--backend", f"llama:{tiny}", "--prompt", "The", "--seed", "5",
                      "--max-tokens", "15", "--temperature", "1.0"))
    assert ok(genlab("generate", "--backend", "t", "--prompt", "The", "--seed", "5")) == other  # flags win
    ok(genlab("generate", "--backend", "t", "--prompt", "The", "--n-ctx", "512", "--threads", "2", "--gpu-layers", "0"))
    line = one_line_error(genlab("generate", "--backend", "tt"))
    assert "'tt'" in line and "did you mean 't'" in line
    assert "markov:NAME_OR_PATH" in one_line_error(genlab("generate", "--backend", "markov"))
    assert re.search(r"^  models  ", ok(genlab("--help")), re.M)
