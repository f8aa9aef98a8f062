"""Files genlab writes and the files it reads by hand-written name: a read-only folder, a full disk,
odd paths, config files and persona cards that are deep, mistyped or not valid text. Each ends in
one `genlab: error:` line naming the file (or works), and leaves nothing half-written behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from conftest import NOVEL, any_one_line_error, ok, one_line_error

BAD = os.fsdecode(b"bad\xff")  # a name with a byte that is not UTF-8, as the shell passes it
DEEP_TOML = "x = " + "[" * 5000 + "]" * 5000 + "\n"


def deep_card() -> str:
    return '{"spec": "chara_card_v2", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"


def card(**data) -> str:
    return json.dumps({"spec": "chara_card_v2", "data": {"name": "Cap", **data}})


@pytest.fixture
def chain(cli):
    """A trained chain in the working folder, for export-arpa."""
    shutil.copy(NOVEL, cli.cwd / "novel.txt")
    ok(cli("train-markov", "novel.txt", "-o", "novel.markov"))
    return cli.cwd / "novel.markov"


def writers(out: Path) -> dict[str, list[str]]:
    """The commands that write a file (or, for corpus split, two files in a folder) at `out`."""
    return {
        "train-markov": ["train-markov", "novel.txt", "-o", str(out / "m.markov")],
        "export-arpa": ["export-arpa", "novel.markov", "-o", str(out / "m.arpa")],
        "tiny-model": ["tiny-model", "build", "-o", str(out / "t.gguf")],
        "corpus split": ["corpus", "split", "novel.txt", "-o", str(out)],
    }


COMMANDS = list(writers(Path(".")))


def everything(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


# --- an output folder or disk that cannot take the file ------------------------------------------


class TestReadOnlyOutputFolder:
    @pytest.mark.parametrize("command", COMMANDS)
    def test_one_line_naming_the_file(self, cli, chain, read_only_dir, command):
        line = one_line_error(cli(*writers(read_only_dir)[command]))
        assert str(read_only_dir) in line and "read-only" in line.lower(), line
        assert everything(read_only_dir) == set()


class TestFullDisk:
    @pytest.mark.parametrize("command", COMMANDS)
    def test_one_line_and_nothing_left(self, cli, chain, full_disk, command):
        line = one_line_error(cli(*writers(full_disk)[command]))
        assert str(full_disk) in line and "no space left" in line.lower(), line
        assert everything(full_disk) == {"filler"}  # no empty file, no temporary

    def test_corpus_split_writes_both_parts_or_neither(self, cli, chain, full_disk):
        """Room for the training part but not for the held-out end: neither is left."""
        filler = full_disk / "filler"
        os.truncate(filler, filler.stat().st_size - 40 * 1024)  # room for 40 kB: one half
        text = "\n\n".join(f"Paragraph {i} " + "word " * 200 for i in range(60))  # ~60 kB
        (cli.cwd / "book.txt").write_text(text, encoding="utf-8")
        line = one_line_error(cli("corpus", "split", "book.txt", "--held-out", "0.5", "-o", full_disk))
        assert "book-" in line and "no space left" in line.lower(), line
        assert everything(full_disk) == {"filler"}


class TestOutputPathThatIsAFolder:
    @pytest.mark.parametrize("command", COMMANDS)
    def test_given_output_is_a_folder(self, cli, chain, command):
        out = cli.cwd / "out"
        args = writers(out)[command]
        target = out if command == "corpus split" else Path(args[-1])
        if command == "corpus split":
            out.parent.mkdir(exist_ok=True)
            out.write_text("a file where the folder should be\n")
        else:
            target.mkdir(parents=True)
        before = cli.files()
        line = any_one_line_error(cli(*args))
        assert "out" in line, line
        assert cli.files() == before

    def test_corpus_split_second_part_is_a_folder(self, cli, chain):
        """The held-out file's place is taken by a folder: the training part is not left alone."""
        (cli.cwd / "models" / "novel-held-out.txt").mkdir(parents=True)
        before = cli.files()
        line = one_line_error(cli("corpus", "split", "novel.txt"))
        assert "novel-held-out.txt" in line, line
        assert cli.files() == before


class TestOddPathNames:
    def test_chain_name_not_utf8_is_left_out_of_models_list(self, cli, chain):
        (cli.cwd / "models").mkdir()
        shutil.copy(chain, cli.cwd / "models" / f"{BAD}.markov")
        shutil.copy(chain, cli.cwd / "models" / "fine.markov")
        r = cli("models", "list")
        assert "markov:fine" in ok(r) and "bad" not in r.stdout
        assert "chain: skipped models/bad\\xff.markov (name is not UTF-8)" in r.stderr, r.stderr

    @pytest.mark.parametrize("command", COMMANDS)
    def test_over_long_name(self, cli, chain, command):
        args = writers(cli.cwd / ("x" * 300))[command]
        before = cli.files()
        line = one_line_error(cli(*args))
        assert "too long" in line.lower(), line
        assert cli.files() == before

    @pytest.mark.parametrize("command", COMMANDS)
    def test_output_name_not_utf8(self, cli, chain, command):
        args = writers(cli.cwd / BAD)[command]
        before = cli.files()
        line = one_line_error(cli(*args))
        assert "bad\\xff" in line and "not UTF-8" in line, line
        assert cli.files() == before

    @pytest.mark.parametrize("args", [["train-markov", f"{BAD}.txt"], ["corpus", "split", f"{BAD}.txt"],
                                      ["export-arpa", f"{BAD}.markov", "-o", "x.arpa"],
                                      ["models", "show", f"./{BAD}.gguf"],
                                      ["models", "add", "m", f"./{BAD}.gguf", "--local"],
                                      ["corpus", "fetch", "gutenberg:1342", "--dir", BAD, "--mirror", "http://127.0.0.1:9/"]],
                             ids=["train-markov", "corpus split", "export-arpa", "models show", "models add",
                                  "corpus fetch"])
    def test_input_name_not_utf8(self, cli, chain, args):
        shutil.copy(NOVEL, cli.cwd / f"{BAD}.txt")
        shutil.copy(chain, cli.cwd / f"{BAD}.markov")
        before = cli.files()
        line = one_line_error(cli(*args))
        assert "bad\\xff" in line and "not UTF-8" in line, line
        assert cli.files() == before


# --- genlab.toml: deep, mistyped, ~user of nobody --------------------------------------------------


NOBODY = "~no-such-user-of-genlab"


def alias_file(cli, text: str, scope: str = "local") -> Path:
    path = cli.cwd / "genlab.toml" if scope == "local" else Path(cli.env["GENLAB_CONFIG_DIR"]) / "genlab.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


class TestDeepConfig:
    @pytest.mark.parametrize("scope", ["local", "user"])
    @pytest.mark.parametrize("args", [["models", "list"], ["models", "show", "a"], ["models", "remove", "a"],
                                      ["models", "add", "a", "x.gguf", "--no-check"],
                                      ["generate", "--backend", "a", "--prompt", "hi"]])
    def test_one_line_naming_the_file(self, cli, scope, args):
        path = alias_file(cli, DEEP_TOML, scope)
        line = one_line_error(cli(*args, *(["--local"] if args[1] == "add" and scope == "local" else [])))
        assert str(path) in line and "nested" in line, line
        assert path.read_text(encoding="utf-8") == DEEP_TOML


class TestMistypedConfig:
    @pytest.mark.parametrize("setting,key", [("path = 5", "path"), ('path = "a.gguf"\nn_ctx = 100000000000000000000',
                                                                     "n_ctx"),
                                             ('path = "a.gguf"\nn_threads = "8"', "n_threads"),
                                             ('url = "http://127.0.0.1:9/v1"\ntimeout = 1e300', "timeout"),
                                             ('path = "a\\u0000b.gguf"', "NUL")])
    def test_show_names_the_file_alias_and_key(self, cli, setting, key):
        path = alias_file(cli, f"[models.a]\n{setting}\n")
        line = one_line_error(cli("models", "show", "a"))
        assert str(path) in line and "'a'" in line and key in line, line


class TestOneBrokenAlias:
    """One alias that cannot be read (~user of nobody, a number for a path) is noted by models
    list, which lists the others; models show of that alias is one error line."""

    TEXT = f'[models.gone]\npath = "{NOBODY}/x.gguf"\n[models.five]\npath = 5\n[models.fine]\npath = "fine.gguf"\n'

    def test_list_shows_the_others(self, cli):
        path = alias_file(cli, self.TEXT)
        r = cli("models", "list")
        out = ok(r)
        assert "fine" in out and "gone" not in out and "five" not in out, out
        notes = [line for line in r.stderr.splitlines() if line.strip()]
        assert len(notes) == 2 and all(str(path) in n for n in notes), r.stderr
        assert NOBODY in r.stderr and "'five'" in r.stderr
        names = [e["name"] for e in json.loads(ok(cli("models", "list", "--json")))]
        assert "fine" in names and "gone" not in names

    def test_show_is_one_line(self, cli):
        path = alias_file(cli, self.TEXT)
        line = one_line_error(cli("models", "show", "gone"))
        assert str(path) in line and "'gone'" in line and NOBODY in line, line

    def test_the_others_still_work(self, cli):
        alias_file(cli, self.TEXT)
        line = one_line_error(cli("models", "show", "fine"))
        assert "fine.gguf" in line and "does not exist" in line, line


def test_working_folder_removed_under_models_list(cli):
    gone = cli.cwd / "gone"
    gone.mkdir()
    r = subprocess.run(["sh", "-c", 'cd "$1" && rmdir "$1" && shift && exec "$@"', "sh", str(gone),
                        *cli.argv(["models", "list"])], env=cli.env, capture_output=True, text=True, timeout=120)
    assert "current folder no longer exists" in one_line_error(r)


# --- personas and character cards ------------------------------------------------------------------


def persona_file(cli, name: str, text: str, *, in_folder: bool = False) -> Path:
    folder = Path(cli.env["GENLAB_HOME"]) / "personas" if in_folder else cli.cwd
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


BROKEN_PERSONAS = {  # file name: (text, words the error line must hold besides the file)
    "deep.toml": (DEEP_TOML, ["nested"]),
    "deepcard.json": (deep_card(), ["nested"]),
    "listname.toml": ('name = ["a"]\nsystem = "s"\n', ["name", "text"]),
    "listcard.json": (json.dumps({"spec": "chara_card_v2", "data": {"name": ["Cap"]}}), ["name", "text"]),
    "deepsampling.toml": ("[sampling]\ntemperature = " + "[" * 80 + "]" * 80 + "\n", ["nested"]),
    "latin1.json": (None, ["not UTF-8"]),
}


class TestBrokenPersonas:
    @pytest.mark.parametrize("name", list(BROKEN_PERSONAS))
    def test_show_is_one_line_naming_the_file(self, cli, name):
        text, words = BROKEN_PERSONAS[name]
        path = persona_file(cli, name, text or "")
        if text is None:
            path.write_bytes(b'{"spec": "chara_card_v2", "data": {"name": "Caf\xe9"}}')  # Latin-1
        line = one_line_error(cli("personas", "show", f"./{name}"))
        assert name in line and all(w in line for w in words), line
        assert "TOML" not in line or name.endswith(".toml"), line

    def test_list_shows_the_others(self, cli):
        for name, (text, _) in BROKEN_PERSONAS.items():
            persona_file(cli, name, text or "x", in_folder=True)
        persona_file(cli, "fine.toml", 'description = "a fine one"\nsystem = "hi"\n', in_folder=True)
        out = ok(cli("personas", "list"))
        assert "a fine one" in out
        for name in BROKEN_PERSONAS:
            assert f"{name[:-5]}" in out and "cannot be loaded" in out
        assert len(out.splitlines()) == 2 + len(BROKEN_PERSONAS) + 1 + 2  # built-ins, those, fine, footer

    def test_file_name_not_utf8(self, cli):
        persona_file(cli, f"{BAD}.toml", 'description = "odd name"\nsystem = "hi"\n', in_folder=True)
        out = ok(cli("personas", "list"))
        assert "bad\\xff" in out and "cannot be loaded" in out, out
        line = one_line_error(cli("personas", "show", BAD))
        assert "bad\\xff" in line and "not UTF-8" in line, line

    @pytest.mark.parametrize("name", ["deepcard.json", "listname.toml"])
    def test_chat_refuses_before_starting(self, cli, chain, name):
        text, words = BROKEN_PERSONAS[name]
        persona_file(cli, name, text)
        line = one_line_error(cli("chat", "-b", f"markov:{chain}", "--persona", name, input="hello\n"))
        assert name in line and all(w in line for w in words), line
        assert not (Path(cli.env["GENLAB_HOME"]) / "chats").exists()


class TestLoneSurrogatesInCards:
    """A card's JSON escape "\\ud800" is no character: the loader gives U+FFFD in its place, so
    what shows, sends or saves the persona never meets it."""

    TEXT = card(name="Cap\ud800tain", first_mes="Ahoy \udfff", mes_example="<START>\n{{user}}: a\udc80\n{{char}}: b")

    def test_show_prints_valid_text(self, cli):
        persona_file(cli, "odd.json", self.TEXT)
        out = ok(cli("personas", "show", "./odd.json"))
        shown = tomllib.loads(out)
        assert shown["name"] == "Cap\ufffdtain" and shown["greeting"] == "Ahoy \ufffd", out
        assert shown["examples"] == [{"user": "a\ufffd", "assistant": "b"}]

    def test_list_lists_it(self, cli):
        persona_file(cli, "odd.json", self.TEXT, in_folder=True)
        assert "Character card: Cap\ufffdtain" in ok(cli("personas", "list"))


class TestConfigThatCannotBeWritten:
    @pytest.mark.parametrize("where", ["read_only_dir", "full_disk"])
    def test_add_leaves_nothing(self, cli, where, request):
        folder = request.getfixturevalue(where)
        cli.env["GENLAB_CONFIG_DIR"] = str(folder)
        line = one_line_error(cli("models", "add", "m", "x.gguf", "--no-check"))
        assert str(folder / "genlab.toml") in line, line
        assert everything(folder) <= {"filler"}

    def test_remove_keeps_the_file_whole(self, cli, full_disk):
        filler = full_disk / "filler"
        os.truncate(filler, filler.stat().st_size - 16 * 1024)
        text = '[models.a]\npath = "a.gguf"\n\n[models.b]\npath = "b.gguf"\n'
        (full_disk / "genlab.toml").write_text(text, encoding="utf-8")
        with open(filler, "ab", buffering=0) as fh:  # fill it up again
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError:
                pass
        cli.env["GENLAB_CONFIG_DIR"] = str(full_disk)
        line = one_line_error(cli("models", "remove", "a"))
        assert str(full_disk / "genlab.toml") in line and "no space left" in line.lower(), line
        assert (full_disk / "genlab.toml").read_text(encoding="utf-8") == text
        assert everything(full_disk) == {"filler", "genlab.toml"}
