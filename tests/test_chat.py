"""`genlab chat` end to end: the real command in a pseudo-terminal (pexpect), or with piped
stdin, against a tiny GGUF model genlab builds and a Markov chain trained on corpora/novel.txt.
No mocks: llama.cpp runs, prompt_toolkit reads the keys a user would type."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")
pytest.importorskip("llama_cpp")

from conftest import GENLAB, NOVEL, run_genlab  # noqa: E402
from genlab.chat.terminal import printable  # noqa: E402
from genlab.llama.tiny import build_tiny_model  # noqa: E402

READY = "\x1b[?2004h"  # prompt_toolkit turns bracketed paste on each time it shows the prompt
ESC_ENTER = "\x1b\r"
PASTE = "\x1b[200~{}\x1b[201~"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[=>]|[\r\x08]")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    # small and shallow: 500 turns must run in seconds; n_ctx 256 makes long chats overflow
    return build_tiny_model(tmp_path_factory.mktemp("chat-gguf") / "tiny.gguf", seed=3, layers=1, dim=32,
                            context=256)


@pytest.fixture(scope="session")
def novel(tmp_path_factory) -> Path:
    from genlab.markov.model import train
    from genlab.markov.store import save

    return save(train([(NOVEL, 1.0)], order=3), tmp_path_factory.mktemp("chat-markov") / "novel.markov")


@pytest.fixture
def env(genlab_env: dict[str, str]) -> dict[str, str]:
    """The isolated environment, as a colour terminal."""
    genlab_env.update(TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1")  # nobody answers cursor queries in a pty
    genlab_env.pop("NO_COLOR", None)
    return genlab_env


def clean(text: str) -> str:
    return _ANSI.sub("", text)


class Chat:
    """`genlab chat ARGS` in a pseudo-terminal, typed into like a user would."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, persona_name: str = "assistant"):
        self.name = persona_name
        self.child = pexpect.spawn(GENLAB[0], [*GENLAB[1:], "chat", *map(str, args)], env=env,
                                   cwd=str(cwd), encoding="utf-8", dimensions=(50, 250), timeout=60)
        self.opening = self.wait()

    def wait(self) -> str:
        self.child.expect_exact(READY)
        return clean(self.child.before)

    def say(self, keys: str) -> str:
        """Type `keys` and Enter; what the screen showed until the next prompt."""
        self.child.send(keys + "\r")
        return self.wait()

    def reply(self, keys: str) -> str:
        out = self.say(keys)
        assert f"{self.name}:" in out, out
        text = out.split(f"{self.name}: ", 1)[1]
        return (text[1:] if text.startswith("…") else text).rstrip("\n")  # "…": more of the last reply

    def show(self) -> dict[str, str]:
        out = self.say("/show")
        return dict(re.findall(r"^(\w+) +(.*)$", out, re.M))

    def saved(self, path: Path) -> dict:
        out = self.say(f"/save {path}")
        assert "saved to" in out, out
        return json.loads(path.read_text(encoding="utf-8"))

    def quit(self) -> int:
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus


def history_count(show: dict[str, str]) -> int:
    return int(show["history"].split()[0])


def piped(args: list, env: dict[str, str], cwd: Path, text: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_genlab(["chat", *args], cwd=cwd, env=env, input=text, timeout=timeout)


def transcript(env: dict[str, str]) -> list[dict]:
    files = sorted((Path(env["GENLAB_HOME"]) / "chats").glob("*.jsonl"))
    assert len(files) == 1, files
    return [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]


# --- input --------------------------------------------------------------------------------------


def test_multiline_input_and_paste_stay_one_message(tiny, env, tmp_path):
    chat = Chat(["-b", f"llama:{tiny}", "--max-tokens", "8"], env, tmp_path)
    chat.reply(f"first line{ESC_ENTER}second line")
    chat.reply(PASTE.format("pasted one\npasted two\npasted three"))
    messages = chat.saved(tmp_path / "s.json")["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2
    assert messages[0]["content"] == "first line\nsecond line"
    assert messages[2]["content"] == "pasted one\npasted two\npasted three"
    assert chat.quit() == 0


def test_input_history_is_kept_across_sessions(tiny, env, tmp_path):
    chat = Chat(["-b", f"llama:{tiny}", "--max-tokens", "4"], env, tmp_path)
    chat.reply("remember this line")
    assert chat.quit() == 0
    again = Chat(["-b", f"llama:{tiny}", "--max-tokens", "4"], env, tmp_path)
    again.reply("\x1b[A")  # Up, then Enter: the message typed in the previous session
    users = [m["content"] for m in again.saved(tmp_path / "s.json")["messages"] if m["role"] == "user"]
    assert users == ["remember this line"]
    assert again.quit() == 0


def test_ctrl_c_stops_a_reply_keeps_it_and_the_chat_goes_on(novel, env, tmp_path):
    # a Markov chain never runs out of words: a million-token reply is still streaming when Ctrl-C comes
    chat = Chat(["-b", f"markov:{novel}", "--max-tokens", "1000000"], env, tmp_path)
    chat.child.send("tell me about the lighthouse\r")
    chat.child.expect_exact("assistant:\x1b[0m ")
    chat.child.expect(r"\w+\W+\w+\W+\w+\W+\w+")  # words are arriving
    shown = clean(chat.child.after)
    chat.child.sendintr()
    stopped = chat.wait()
    assert "stopped; the reply so far is kept" in stopped
    assert chat.child.isalive()
    chat.say("/set max_tokens 15")
    after = chat.reply("and the harbour?")
    assert after.strip()
    messages = chat.saved(tmp_path / "s.json")["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2
    partial = messages[1]["content"]
    assert 4 <= len(partial.split()) < 1_000_000
    assert partial.startswith(shown.strip())  # what the screen showed is what was kept
    assert chat.quit() == 0


def test_ctrl_c_at_an_empty_prompt_asks_once_before_leaving(tiny, env, tmp_path):
    chat = Chat(["-b", f"llama:{tiny}", "--max-tokens", "4"], env, tmp_path)
    chat.child.sendintr()
    assert "press Ctrl-C again to leave" in chat.wait()
    chat.reply("still here")  # anything typed in between: the next Ctrl-C asks again
    chat.child.sendintr()
    assert "press Ctrl-C again to leave" in chat.wait()
    chat.child.sendintr()
    chat.child.expect(pexpect.EOF)
    chat.child.close()
    assert chat.child.exitstatus == 0


# --- commands -----------------------------------------------------------------------------------


def test_set_applies_to_the_next_reply_and_bad_values_are_one_line(tiny, env, tmp_path):
    chat = Chat(["-b", f"llama:{tiny}", "--max-tokens", "24"], env, tmp_path)
    chat.reply("hello there")
    lively = {chat.reply("/retry") for _ in range(3)}  # temperature 1.2, no seed: replies differ
    assert len(lively) > 1
    assert "temperature = 0.0" in chat.say("/set temperature 0")
    greedy = [chat.reply("/retry") for _ in range(3)]
    assert greedy[0] and greedy[0] == greedy[1] == greedy[2]
    for bad, expected in [("/set temperature hot", "temperature must be a number"),
                          ("/set top_p 2", "top_p must be in (0, 1]"),
                          ("/set colour red", "unknown setting 'colour'"),
                          ("/frobnicate", "unknown command /frobnicate"),
                          (f"/load {tmp_path / 'missing.json'}", "no such file")]:
        out = chat.say(bad)
        errors = [line for line in out.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and expected in errors[0], out
    assert "temperature=0.0" in chat.show()["settings"]  # the bad values changed nothing
    assert chat.quit() == 0


def test_retry_replaces_and_undo_drops_the_last_exchange(tiny, env, tmp_path):
    chat = Chat(["-b", f"llama:{tiny}", "--max-tokens", "12", "--seed", "5"], env, tmp_path)
    first = chat.reply("one")
    chat.reply("two")
    assert history_count(chat.show()) == 4
    retried = chat.reply("/retry")
    assert history_count(chat.show()) == 4  # replaced, not added
    messages = chat.saved(tmp_path / "a.json")["messages"]
    assert messages[0]["content"] == "one" and messages[1]["content"] == first
    assert messages[3]["content"] == retried
    assert "removed the last exchange" in chat.say("/undo")
    assert history_count(chat.show()) == 2
    assert [m["content"] for m in chat.saved(tmp_path / "b.json")["messages"]] == ["one", first]
    chat.say("/undo")
    assert "nothing to undo" in chat.say("/undo")
    assert chat.quit() == 0


def test_empty_message_and_continue_extend_the_last_reply(tiny, env, tmp_path):
    chat = Chat(["-b", f"llama:{tiny}", "--max-tokens", "10", "--seed", "11", "--temperature", "0.8"], env, tmp_path)
    first = chat.reply("tell me a story")
    more = chat.reply("")
    most = chat.reply("/continue")
    messages = chat.saved(tmp_path / "s.json")["messages"]
    assert len(messages) == 2  # still one reply, grown twice
    shown = (first + more + most).replace("\n", "")  # (the screen holds back a reply's last newlines)
    assert printable(messages[1]["content"]).replace("\n", "") == shown
    assert len(more + most) > 0
    assert chat.quit() == 0


def test_save_then_load_in_a_fresh_session_restores_persona_settings_history(tiny, env, tmp_path):
    chat = Chat(["-b", f"llama:{tiny}", "--persona", "pogi", "--max-tokens", "6"], env, tmp_path, "pogi")
    assert "hiii hooman" in chat.opening  # the persona's greeting
    chat.say("/set top_k 7")
    chat.say("/system You are a lighthouse.")
    chat.reply("ahoy")
    before = chat.show()
    chat.saved(tmp_path / "chat.json")
    assert chat.quit() == 0

    fresh = Chat(["-b", f"llama:{tiny}", "--max-tokens", "6"], env, tmp_path, "assistant")
    assert fresh.show()["persona"].startswith("assistant")
    assert "loaded" in fresh.say(f"/load {tmp_path / 'chat.json'}")
    after = fresh.show()
    for key in ("persona", "system", "examples", "settings", "history"):
        assert after[key] == before[key], key
    assert "top_k=7" in after["settings"] and after["system"] == "You are a lighthouse."
    fresh.name = "pogi"
    assert fresh.reply("and now?")  # the loaded chat goes on, as pogi
    assert fresh.quit() == 0


def test_edit_composes_the_message_in_the_editor(tiny, env, tmp_path):
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nprintf 'written in\\nthe editor\\n' > \"$1\"\n")
    editor.chmod(0o755)
    env["EDITOR"] = env["VISUAL"] = str(editor)
    chat = Chat(["-b", f"llama:{tiny}", "--max-tokens", "4"], env, tmp_path)
    chat.reply("/edit")
    assert chat.saved(tmp_path / "s.json")["messages"][0]["content"] == "written in\nthe editor"
    assert chat.quit() == 0


# --- long chats, transcripts, piped input -------------------------------------------------------


def test_500_turn_chat_in_a_256_token_context_ends_without_error(tiny, env, tmp_path):
    script = "".join(f"message {i}: what do you think about the sea and the weather today?\n" for i in range(500))
    r = piped(["-b", f"llama:{tiny}", "--persona", "pogi", "--max-tokens", "6", "--seed", "1", "--threads", "1"],
              env, tmp_path, script, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "error" not in r.stderr
    assert "dropped the oldest" in r.stderr  # the dim note, once per trim
    log = transcript(env)
    users = [e for e in log if e["op"] == "message" and e["role"] == "user"]
    replies = [e for e in log if e["op"] == "message" and e["role"] == "assistant"]
    assert len(users) == len(replies) == 500
    assert log[0]["messages"][0]["content"].startswith("hiii hooman")  # pogi's greeting opened it


def test_transcript_is_written_per_message_and_resume_reopens_it(tiny, env, tmp_path):
    r = piped(["-b", f"llama:{tiny}", "--max-tokens", "5", "--seed", "2"], env, tmp_path,
              "first\n/set top_k 3\nsecond\n")
    assert r.returncode == 0, r.stderr
    log = transcript(env)
    assert [e["op"] for e in log] == ["start", "message", "message", "settings", "message", "message"]
    r2 = piped(["-b", f"llama:{tiny}", "--resume", "--max-tokens", "5"], env, tmp_path, "third\n/show\n")
    assert r2.returncode == 0, r2.stderr
    assert re.search(r"^history +6 messages", r2.stdout, re.M)
    assert re.search(r"top_k=3\b", r2.stdout)
    assert len(transcript(env)) > len(log)  # the same file goes on


def test_set_stop_understands_the_escapes_of_the_stop_flag(novel, env, tmp_path):
    r = piped(["-b", f"markov:{novel}", "--stop", "\\x41\\t"], env, tmp_path,
              "/show\n/set stop \\n\\nUser:\\r\\\\\\x42\n/show\n/set stop \\xff\n/set stop none\n/show\n")
    assert r.returncode == 1, r.stderr  # the bad /set: a piped chat with an error line exits 1
    stops = re.findall(r"stop=(\[.*?\])", r.stdout)
    assert stops == [repr(["A\t"]), repr(["\n\nUser:\r\\B"]), "[]"]  # as --stop: one implementation
    assert "genlab: error: /set stop: its \\x escapes do not make UTF-8 text" in r.stderr


def test_piped_blocks_are_messages(tiny, env, tmp_path):
    r = piped(["-b", f"llama:{tiny}", "--blocks", "--max-tokens", "4"], env, tmp_path,
              "a first message\non two lines\n\n\nthe second\n\n/show\n\n/reset\n\n/show\n\n/help\n")
    assert r.returncode == 0, r.stderr
    users = [e["content"] for e in transcript(env) if e["op"] == "message" and e["role"] == "user"]
    assert users == ["a first message\non two lines", "the second"]
    assert re.findall(r"^history +(\d+) messages", r.stdout, re.M) == ["4", "0"]  # /reset cleared it
    assert "/set KEY VALUE" in r.stdout and "temperature, top_k" in r.stdout


def test_markov_chat_answers_from_the_message_with_the_personas_sampling(novel, env, tmp_path):
    persona = tmp_path / "terse.toml"
    persona.write_text('system = "Be terse."\n[[examples]]\nuser = "hi"\nassistant = "hello"\n'
                       '[sampling]\nmax_tokens = 25\n', encoding="utf-8")
    questions = ["what about the lighthouse?", "and the harbour", "xyzzy plugh", "tell me about Nell"]
    r = piped(["-b", f"markov:{novel}", "--persona", persona, "--seed", "4"], env, tmp_path,
              "\n".join(questions) + "\n/set temperature 0\nthe lighthouse keeper\n/retry\n")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("does not use the persona's system prompt or few-shot turns") == 1
    replies = [e["content"] for e in transcript(env) if e["op"] == "message" and e["role"] == "assistant"]
    assert len(replies) == 6
    from genlab.markov.tokenize import tokenize

    for question, reply in zip(questions, replies):
        first = re.findall(r"\w+", reply)[0].lower()
        assert first in re.findall(r"\w+", question.lower()) or question == "xyzzy plugh", (question, reply)
        assert len(tokenize(reply)) <= 25 + 2  # the persona's max_tokens (+ closing quotes)
        assert reply.count("“") == reply.count("”"), reply
    assert replies[4] == replies[5]  # temperature 0: /retry gives the same reply


# --- personas and character cards -----------------------------------------------------------------

CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Captain Mora",
        "description": "{{char}} is an old sea captain who talks to {{user}} about storms.",
        "personality": "gruff, kind",
        "scenario": "A harbour tavern at night.",
        "first_mes": "Sit down, {{user}}. The storm won't wait.",
        "mes_example": "<START>\n{{user}}: Any news?\n{{char}}: Wind from the west, lad.\n<START>\n"
                       "<USER>: Scared?\n<BOT>: Never.\nOnly of the tax man.",
        "system_prompt": "",
    },
}


def test_character_card_becomes_a_persona(tiny, env, tmp_path):
    card = tmp_path / "mora.json"
    card.write_text(json.dumps(CARD), encoding="utf-8")
    shown = run_genlab(["personas", "show", card], cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    import tomllib

    data = tomllib.loads(shown.stdout)
    assert data["name"] == "Captain Mora"
    assert "Captain Mora is an old sea captain who talks to User about storms." in data["system"]
    assert "personality: gruff, kind" in data["system"] and "Scenario: A harbour tavern" in data["system"]
    assert data["greeting"] == "Sit down, User. The storm won't wait."
    assert data["examples"] == [{"user": "Any news?", "assistant": "Wind from the west, lad."},
                                {"user": "Scared?", "assistant": "Never.\nOnly of the tax man."}]
    r = piped(["-b", f"llama:{tiny}", "--persona", card, "--max-tokens", "4"], env, tmp_path, "hello\n/show\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Sit down, User.")
    assert re.search(r"^examples +2 few-shot turns", r.stdout, re.M)


@pytest.mark.parametrize("persona,content,expected", [
    ("nobody", None, "no persona named 'nobody'"),
    ("bad.json", "{not json", "not valid JSON"),
    ("v1.json", json.dumps({"name": "x", "first_mes": "hi"}), "not a Character Card V2"),
    ("bad.toml", "[sampling]\ntemperature = -2\n", "temperature must be a number >= 0"),
    ("odd.toml", "colour = 'red'\n", "unknown persona key 'colour'"),
])
def test_persona_errors_are_one_line(tiny, env, tmp_path, persona, content, expected):
    if content is not None:
        (tmp_path / persona).write_text(content, encoding="utf-8")
        persona = str(tmp_path / persona)
    r = piped(["-b", f"llama:{tiny}", "--persona", persona], env, tmp_path, "hello\n")
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error:") and expected in lines[0], r.stderr
    assert not (Path(env["GENLAB_HOME"]) / "chats").exists()  # nothing started


def test_personas_list_shows_builtins_and_the_users_own(env, tmp_path):
    folder = Path(env["GENLAB_HOME"]) / "personas"
    folder.mkdir(parents=True)
    (folder / "skipper.toml").write_text('description = "Talks like a skipper."\nsystem = "Arr."\n',
                                         encoding="utf-8")
    (folder / "mora.json").write_text(json.dumps(CARD), encoding="utf-8")
    r = run_genlab(["personas", "list"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    names = {line.split()[0]: line for line in r.stdout.splitlines() if line.strip() and "  " in line}
    assert {"assistant", "pogi", "skipper", "mora"} <= set(names)
    assert "built-in" in names["pogi"] and "Talks like a skipper." in names["skipper"]
    pogi = run_genlab(["personas", "show", "pogi"], cwd=tmp_path, env=env)
    assert 'user = "hey", assistant = "hey 🤩😁 wut u doin? 🤔"' in pogi.stdout
    assert "temperature=1.2 top_k=40 top_p=0.95" in pogi.stdout and "repeat_penalty=1.1" in pogi.stdout


# --- the session as a library ---------------------------------------------------------------------


def test_window_keeps_system_and_examples_and_grows_back_after_undo(tiny):
    from genlab.chat.persona import load_persona
    from genlab.chat.session import ChatSession
    from genlab.llama.generator import LlamaGenerator

    with LlamaGenerator(tiny, n_threads=1) as model:
        pogi = load_persona("pogi")
        session = ChatSession(model, pogi, sampling=pogi.sampling().merged(max_tokens=4, seed=1))
        dropped = 0
        for i in range(12):
            reply = session.send(f"message {i} about the sea, the harbour and the boats")
            "".join(reply)
            dropped += reply.dropped
        assert dropped > 0 and session.window > 0
        messages = session.messages()
        assert messages[0] == {"role": "system", "content": pogi.system}
        assert messages[1:3] == [{"role": "user", "content": "hey"},
                                 {"role": "assistant", "content": pogi.examples[0][1]}]
        assert messages[-2]["content"] == "message 11 about the sea, the harbour and the boats"
        assert model.last_usage["prompt_tokens"] + 4 <= model.context_length  # room for the reply
        assert len(session.history) == 1 + 24  # the greeting and every exchange are still there
        window = session.window
        for _ in range(3):
            session.undo()
        "".join(session.send("again"))
        assert session.window < window  # older messages came back into view
        assert model.last_usage["prompt_tokens"] + 4 <= model.context_length


# --- what --help promises -------------------------------------------------------------------------

# Defaults stated in words, not values a run could show: (command, option).
DESCRIBED = {("generate", "prompt"), ("compare", "prompts"), ("compare", "corpus"), ("compare", "output")}
LLAMA_OPTIONS = {"n_ctx", "n_threads", "n_gpu_layers", "chat_format", "verbose"}  # the llama loader's own help


def shown_defaults(command: str) -> dict[str, str]:
    """{option: the default its --help row shows}, checking each row is in the printed help."""
    import click
    from click.testing import CliRunner

    from genlab.cli import cli

    result = CliRunner().invoke(cli, [command, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    printed = "".join(result.output.split())  # rows wrap (at spaces and hyphens): compare without them
    cmd = cli.commands[command]
    ctx = click.Context(cmd, info_name=command)
    out = {}
    for param in cmd.params:
        record = param.get_help_record(ctx)
        if record is None:
            continue
        assert "".join(" ".join(record).split()) in printed, record
        found = re.findall(r"\[default: ([^\]]*?)(?:;[^\]]*)?\]", record[1])
        if found:
            out[param.name] = found[-1]
    return out


def test_help_shows_the_defaults_each_command_uses(tiny, env, tmp_path):
    import click

    from genlab.backends import resolve
    from genlab.chat.persona import CHAT_DEFAULTS, DEFAULT_PERSONA
    from genlab.cli import cli
    from genlab.cli.options import SAMPLING_FIELDS
    from genlab.eval.compare import CompareSettings
    from genlab.eval.orders import parse_orders
    from genlab.eval.perplexity import prepare_text

    library = CompareSettings(backends=())
    sampling = {"generate": resolve(f"llama:{tiny}").default_sampling(),  # what generate merges its flags over
                "chat": CHAT_DEFAULTS,
                "compare": library.sampling.merged(seed=library.seed)}
    shown = {c: shown_defaults(c) for c in ("generate", "chat", "compare", "perplexity")}
    for command, rows in shown.items():
        params = {p.name: p for p in cli.commands[command].params}
        for name in set(params) & set(SAMPLING_FIELDS) if command in sampling else ():
            truth = getattr(sampling[command], name)
            if truth in (None, ()):
                assert name not in rows, (command, name)
            else:
                assert type(truth)(rows[name]) == truth, (command, name, rows.get(name), truth)
        for name, value in rows.items():
            if (name in SAMPLING_FIELDS and command in sampling) or name in LLAMA_OPTIONS \
                    or (command, name) in DESCRIBED:
                continue  # (perplexity samples nothing: its --seed is the bootstrap's, checked below)
            default = params[name].default
            if default is getattr(click.core, "UNSET", None):  # click >= 8.3: "no default"
                default = None
            if isinstance(default, bool):  # a --flag/--no-flag pair shows the name of its default side
                assert value == name if default else value == f"no-{name}", (command, name, value)
            elif default is not None:
                assert value == str(default), (command, name, value, default)
            elif (command, name) == ("chat", "persona"):
                assert value == DEFAULT_PERSONA
            else:
                # None shown as what it means: the text's own encoding is UTF-8, orders from --train
                assert (command, name) in {("perplexity", "orders"), ("perplexity", "encoding"),
                                           ("compare", "encoding")}, (command, name)
    assert "temperature" not in shown["perplexity"]  # it samples nothing

    # what chat really uses, from the chat itself
    r = piped(["-b", f"llama:{tiny}"], env, tmp_path, "/show\n")
    assert r.returncode == 0, r.stderr
    show = dict(re.findall(r"^\x00?(\w+) +(.*)$", r.stdout, re.M))
    assert show["persona"].startswith(shown["chat"]["persona"] + " ")
    used = dict(re.findall(r"(\w+)=(\S+)", show["settings"]))
    for name in ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "repeat_last_n", "max_tokens"):
        assert float(used[name]) == float(shown["chat"][name]), name

    # what perplexity really uses: the orders, the unit and the encoding its help states
    text = "The café by the harbour was empty, and the boats were in.\n\nNobody came that night.\n"
    (tmp_path / "corpus.txt").write_text(text * 20, encoding="utf-8")
    (tmp_path / "held.txt").write_text(text, encoding="utf-8")
    r = run_genlab(["perplexity", "--train", "corpus.txt", "held.txt", "--json"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["backend"] for row in rows] == [f"markov:corpus order {n}"  # word chains: no " char"
                                                 for n in parse_orders(shown["perplexity"]["orders"])]
    assert shown["perplexity"]["encoding"] == "UTF-8"
    assert rows[0]["bytes"] == len(prepare_text(text).encode("utf-8"))  # read as UTF-8 (é is 2 bytes)
    assert shown["perplexity"]["unit"] == "word"
