"""Files genlab writes and the files it reads by hand-written name: a read-only folder, a full disk,
odd paths, config files and persona cards that are deep, mistyped or not valid text. Each ends in
one `genlab: error:` line naming the file (or works), and leaves nothing half-written behind."""

from __future__ import annotations

import json
import os
import shutil
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
                                      ["models", "show", f"./{BAD}.gguf"]])
    def test_input_name_not_utf8(self, cli, chain, args):
        shutil.copy(NOVEL, cli.cwd / f"{BAD}.txt")
        shutil.copy(chain, cli.cwd / f"{BAD}.markov")
        before = cli.files()
        line = one_line_error(cli(*args))
        assert "bad\\xff" in line and "not UTF-8" in line, line
        assert cli.files() == before
