"""Chats and transcripts under hostile conditions, through the real `genlab chat` (piped):
two chats on one transcript, a crash mid-write, a full disk, a read-only folder, text that is
not Unicode, a backend that fails, a key in the backend's name, files too deep or too big.

The backend is a Markov chain trained here on corpora/novel.txt, or a local HTTP server
(a thread) that plays an OpenAI-compatible server going wrong."""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import NOVEL, one_line_error, run_measured


@pytest.fixture(scope="module")
def novel(tmp_path_factory) -> str:
    from genlab.markov.model import train
    from genlab.markov.store import save

    path = save(train([(NOVEL, 1.0)], order=2), tmp_path_factory.mktemp("robust-chat") / "novel.markov")
    return f"markov:{path}"


def chats(env: dict[str, str]) -> list[Path]:
    folder = Path(env["GENLAB_HOME"]) / "chats"
    return sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []


def records(path: Path) -> list[dict]:
    """Every line of a transcript as JSON: fails on a line that is not whole."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), data[-200:]
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]  # strict UTF-8


def history(cli, backend: str) -> int:
    """How many messages `chat --resume` finds in the last chat (the user's own check)."""
    r = cli("chat", "-b", backend, "--resume", input="/show\n", timeout=120)
    assert r.returncode == 0, r.stderr
    return int(re.search(r"^history +(\d+) messages", r.stdout, re.M).group(1))


def errors(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if "error" in line]
    assert all(line.startswith("genlab: error: ") for line in lines), stderr
    return lines


# --- one writer per transcript ----------------------------------------------------------------------


class TestTwoChatsOnOneTranscript:
    def test_a_second_resume_goes_on_in_a_new_transcript(self, cli, novel):
        first = subprocess.Popen(cli.argv(["chat", "-b", novel, "--max-tokens", "4"]), cwd=cli.cwd, env=cli.env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first.stdin.write(b"one from the first\n")
            first.stdin.flush()
            while first.stdout.read(1) not in (b"\0", b""):  # the first chat has answered and is still open
                pass
            second = cli("chat", "-b", novel, "--resume", "--max-tokens", "4", input="two from the second\n",
                         timeout=120)
            out, err = first.communicate(b"three from the first\n", timeout=120)
        finally:
            first.kill()
        assert second.returncode == 0 and first.returncode == 0, (second.stderr, err)
        assert "is open in another genlab chat: this chat goes on in a new transcript" in second.stderr
        assert len(chats(cli.env)) == 2
        users = {p.name: [r["content"] for r in records(p) if r.get("role") == "user"] for p in chats(cli.env)}
        theirs, mine = sorted(users.values(), key=len, reverse=True)
        assert theirs == ["one from the first", "three from the first"]  # nothing of the other chat
        new = next(p for p in chats(cli.env) if users[p.name] == mine)
        start = records(new)[0]
        assert start["op"] == "resume" and [m["content"] for m in start["messages"]][0] == "one from the first"
        assert mine == ["two from the second"]


# --- a transcript cut short by a crash ----------------------------------------------------------------


class TestTornTranscript:
    def test_a_torn_last_line_is_skipped_with_a_note_and_cut_off(self, cli, novel):
        assert cli("chat", "-b", novel, "--max-tokens", "4", input="hello\nand you\n").returncode == 0
        path = chats(cli.env)[0]
        with path.open("ab") as fh:
            fh.write(b'{"op": "message", "role": "user", "content": "half a lin')
        r = cli("chat", "-b", novel, "--resume", "--max-tokens", "4", input="/show\nmore\n")
        assert r.returncode == 0, r.stderr
        assert re.search(r"line 6, the last, was cut short .* left out", r.stderr), r.stderr
        assert re.search(r"^history +4 messages", r.stdout, re.M)
        log = records(path)  # whole lines only: the torn one is gone, the new ones follow
        assert "half a lin" not in json.dumps(log) and log[-1]["role"] == "assistant"
        assert history(cli, novel) == 6

    def test_load_of_a_torn_transcript_skips_the_line_too(self, cli, novel, tmp_path):
        assert cli("chat", "-b", novel, "--max-tokens", "4", input="hello\n").returncode == 0
        torn = tmp_path / "torn.jsonl"
        torn.write_bytes(chats(cli.env)[0].read_bytes() + b'{"op": "mess')
        r = cli("chat", "-b", novel, input=f"/load {torn}\n/show\n")
        assert r.returncode == 0, r.stderr
        assert "line 4, the last, was cut short" in r.stderr
        assert re.search(r"^history +2 messages", r.stdout, re.M)

    @pytest.mark.parametrize("damage", ["not json at all", "[" * 100_000 + "]" * 100_000])
    def test_a_damaged_line_in_the_middle_is_one_error_naming_file_and_line(self, cli, novel, damage):
        assert cli("chat", "-b", novel, "--max-tokens", "4", input="hello\nagain\n").returncode == 0
        path = chats(cli.env)[0]
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(lines[:2] + [damage + "\n"] + lines[2:]), encoding="utf-8")
        line = one_line_error(cli("chat", "-b", novel, "--resume", input="hello\n"))
        assert f"{path}, line 3" in line

    def test_deeply_nested_json_given_to_load_is_one_error_and_the_chat_goes_on(self, cli, novel, tmp_path):
        deep = tmp_path / "deep.json"
        deep.write_text('{"format": "genlab-chat", "messages": ' + "[" * 100_000 + "]" * 100_000 + "}")
        r = cli("chat", "-b", novel, "--max-tokens", "4", input=f"/load {deep}\nhello\n")
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert errors(r.stderr) == [f"genlab: error: cannot read {deep}: it is nested too deeply"]
        assert r.stdout.count("\0") == 2 and r.stdout.split("\0")[1].strip()  # the chat answered after it

    def test_a_huge_file_given_to_load_is_refused_before_it_is_read(self, cli, novel, tmp_path):
        huge = tmp_path / "huge.json"
        with huge.open("wb") as fh:
            fh.truncate(2**30)  # sparse: a gigabyte on no disk space
        r, peak_mb = run_measured(cli, "chat", "-b", novel, input=f"/load {huge}\n".encode())
        assert errors(r.stderr) == [f"genlab: error: {huge} is over 32 MiB: too big to be a chat"]
        assert peak_mb < 500


# --- no room for the transcript -----------------------------------------------------------------------


class TestTranscriptCannotBeWritten:
    def test_full_disk_warns_once_goes_on_and_leaves_no_file(self, cli, novel, full_disk):
        cli.env["GENLAB_HOME"] = str(full_disk / "home")
        r = cli("chat", "-b", novel, "--max-tokens", "4", input=f"hello\nagain\n/save {full_disk}/kept.json\n")
        assert r.stdout.count("\0") == 3 and all(r.stdout.split("\0")[:2])  # both messages answered
        warnings = [line for line in r.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1 and "No space left on device" in warnings[0], r.stderr
        assert warnings[0].startswith("genlab: warning: cannot write the chat transcript ")
        assert "goes on without a transcript" in warnings[0]
        assert errors(r.stderr) == [f"genlab: error: cannot write {full_disk}/kept.json: No space left on device"]
        assert r.returncode == 1  # the /save failed
        assert sorted(p.name for p in full_disk.rglob("*") if p.is_file()) == ["filler"]

    def test_disk_filling_mid_chat_leaves_whole_lines(self, cli, novel, full_disk):
        filler = full_disk / "filler"
        os.truncate(filler, filler.stat().st_size - 8192)  # room for the start and a few messages
        cli.env["GENLAB_HOME"] = str(full_disk / "home")
        script = "".join(f"message {i} " + "and the sea " * 60 + "\n" for i in range(12))
        r = cli("chat", "-b", novel, "--max-tokens", "4", input=script)
        assert r.returncode == 0 and r.stdout.count("\0") == 12, r.stderr
        assert "No space left on device" in r.stderr
        log = records(chats(cli.env)[0])
        assert 1 < len(log) < 25 and log[0]["op"] == "start"

    def test_read_only_folder_warns_once_and_goes_on(self, cli, novel, read_only_dir):
        cli.env["GENLAB_HOME"] = str(read_only_dir / "home")
        r = cli("chat", "-b", novel, "--max-tokens", "4", input="hello\n/show\n")
        assert r.returncode == 0, r.stderr
        assert re.search(r"^transcript +none \(cannot write the chat transcript", r.stdout, re.M)
        warnings = [line for line in r.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1 and re.search(r"Read-only file system|Permission denied", warnings[0])
        assert not any(read_only_dir.iterdir())


# --- text that is not Unicode ---------------------------------------------------------------------------


class TestLoneSurrogates:
    def test_card_with_lone_surrogates_chats_and_writes_utf8(self, cli, novel, tmp_path):
        card = tmp_path / "card.json"
        card.write_text('{"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Cap\\ud800tain", '
                        '"description": "d", "personality": "", "scenario": "", "first_mes": "Ahoy \\udc80 there", '
                        '"mes_example": "", "system_prompt": ""}}', encoding="ascii")
        r = cli("chat", "-b", novel, "--persona", card, "--max-tokens", "4", input="hello\n")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("Ahoy \ufffd there\n\0")
        start = records(chats(cli.env)[0])[0]
        assert start["persona"]["name"] == "Cap\ufffdtain"

    def test_input_that_is_not_utf8_is_a_message_with_replacement_characters(self, cli, novel):
        r = cli("chat", "-b", novel, "--max-tokens", "4", input=b"caf\xe9 \xff\xfe\nthe sea\n")
        assert r.returncode == 0 and r.stdout.count("\0") == 2, r.stderr
        users = [e["content"] for e in records(chats(cli.env)[0]) if e.get("role") == "user"]
        assert users == ["caf\ufffd \ufffd\ufffd", "the sea"]


# --- a backend that fails -------------------------------------------------------------------------------


class _Server(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible chat route: every odd request answered, every even one cut off
    after its first words."""

    chats = 0

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_error(404)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self.path.endswith("/chat/completions"):
            self.send_error(404)
            return
        type(self).chats += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

        def event(delta: dict, finish=None) -> None:
            chunk = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        event({"content": "Half an answer"})
        if self.chats % 2:
            event({}, "stop")
            self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


@pytest.fixture
def flaky_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("Flaky", (_Server,), {"chats": 0}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"openai:http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestFailingBackend:
    def test_every_message_failing_exits_1_with_one_error_line_each(self, cli, novel):
        backend = f"openai:http://127.0.0.1:{closed_port()}/v1"
        r = cli("chat", "-b", backend, input="hello\nare you there\n/retry\n", timeout=120)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        lines = errors(r.stderr)
        assert len(lines) == 3 and "cannot connect" in lines[0], r.stderr
        assert r.stdout == "\0" * 3
        assert history(cli, novel) == 0  # nothing of the failed messages stays in the chat

    def test_a_reply_cut_off_mid_stream_leaves_no_half_turn(self, cli, novel, flaky_server):
        r = cli("chat", "-b", flaky_server, input="first\nsecond\nthird\n", timeout=120)
        assert r.returncode == 1, r.stderr
        lines = errors(r.stderr)
        assert len(lines) == 1 and "cut off" in lines[0], r.stderr
        log = records(chats(cli.env)[0])
        assert history(cli, novel) == 4  # first and third with their replies; second gone with its half reply
        assert [e["op"] for e in log[1:]] == ["message", "message", "message", "drop", "message", "message"]


# --- secrets ----------------------------------------------------------------------------------------------


def keys_are_remembered() -> bool:
    """Whether reading a server's key registers it with genlab.secrets (the server backend's part)."""
    from genlab.secrets import redact
    from genlab.server.generator import ServerGenerator

    probe = "sk-probe-robustchat-42"
    ServerGenerator("http://127.0.0.1:9/v1", api_key=probe)
    return probe not in redact(probe)


def test_transcript_header_holds_no_api_key(cli):
    if not keys_are_remembered():
        pytest.skip("the server backend does not register its key with genlab.secrets yet")
    key = "sk-test-robustchat-0123456789"
    cli.env["GENLAB_API_KEY"] = key
    r = cli("chat", "-b", f"openai:http://127.0.0.1:{closed_port()}/v1#{key}", input="hello\n/show\n",
            timeout=120)
    assert r.returncode == 1
    files = chats(cli.env)
    assert files and key not in files[0].read_text(encoding="utf-8")
    assert key not in r.stdout and key not in r.stderr
