"""`genlab chat` (and compare's chat prompts) on the real SmolLM2-135M-Instruct: what a user
hits with a real model. llama.cpp runs; nothing is mocked. Piped output is split at NUL, as the
help tells scripts to do."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from conftest import one_line_error, run_genlab  # noqa: E402
from genlab.chat.terminal import ChatTerminal, printable  # noqa: E402
from genlab.generator import Capabilities  # noqa: E402


@pytest.fixture
def env(genlab_env: dict[str, str]) -> dict[str, str]:
    """The isolated environment, as a colour terminal."""
    genlab_env.update(TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1")
    genlab_env.pop("NO_COLOR", None)
    return genlab_env


@pytest.fixture(scope="session")
def template_less(smollm2_path, tmp_path_factory) -> Path:
    """SmolLM2 with its chat template removed: what a base model looks like to chat."""
    out = tmp_path_factory.mktemp("no-template") / "smollm2-no-template.gguf"
    tool = Path(sys.executable).with_name("gguf-new-metadata")
    if not tool.exists():
        pytest.skip("gguf-new-metadata (installed with the gguf package) is missing")
    subprocess.run([str(tool), "--force", "--remove-metadata", "tokenizer.chat_template", str(smollm2_path),
                    str(out)], check=True, capture_output=True)
    return out


def genlab(args: list, env: dict[str, str], cwd: Path, stdin: str = "", timeout: float = 300):
    return run_genlab(args, cwd=cwd, env=env, input=stdin, timeout=timeout)


def transcript(env: dict[str, str]) -> list[dict]:
    files = sorted((Path(env["GENLAB_HOME"]) / "chats").glob("*.jsonl"))
    assert len(files) == 1, files
    return [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]


def answers(stdout: str) -> list[str]:
    """Piped chat output split as a script would: one answer per message, each ended by NUL."""
    assert stdout.endswith("\0"), stdout[-200:]
    return stdout.split("\0")[:-1]


def shown(reply: str) -> str:
    """A reply as the screen shows it: control characters replaced, its last newlines held back."""
    return printable(reply).rstrip("\n") + "\n"


# --- piped output --------------------------------------------------------------------------------


def test_piped_multiline_replies_are_separated_exactly(smollm2_path, env, tmp_path):
    messages = ["Give me three tips for a long walk, as a numbered list.", "/set max_tokens 6", "Thanks!"]
    r = genlab(["chat", "-b", f"llama:{smollm2_path}", "--seed", "3", "--temperature", "0", "--max-tokens", "48"],
               env, tmp_path, "\n".join(messages) + "\n")
    assert r.returncode == 0, r.stderr[-2000:]
    got = answers(r.stdout)
    assert len(got) == len(messages)  # one answer per message; /set's is empty
    assert got[1] == ""
    replies = [e["content"] for e in transcript(env) if e["op"] == "message" and e["role"] == "assistant"]
    assert [got[0], got[2]] == [shown(t) for t in replies]  # each reply exactly, blank lines and all
    assert "\n\n" in got[0].strip()  # the list really was several paragraphs


@pytest.mark.parametrize("n_ctx", [300, 512])
def test_60_message_piped_chat_in_a_small_context_ends_cleanly(smollm2_path, env, tmp_path, n_ctx):
    script = "".join(f"message {i}: and then?\n" for i in range(60))
    r = genlab(["chat", "-b", f"llama:{smollm2_path}", "--n-ctx", n_ctx, "--seed", "1", "--max-tokens", "4",
                "--threads", "1"], env, tmp_path, script)  # one thread: no spinning when the machine is busy
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "error" not in r.stderr, r.stderr[-2000:]
    moves = r.stderr.count("dropped the oldest")  # the window moved: the chat outgrew the context
    assert 0 < moves <= 15  # each move frees half the room (moving every turn would reread the whole prompt)
    log = transcript(env)
    users = [e for e in log if e["op"] == "message" and e["role"] == "user"]
    replies = [e["content"] for e in log if e["op"] == "message" and e["role"] == "assistant"]
    assert len(users) == 60
    got = answers(r.stdout)
    assert len(got) == 60
    assert [a for a in got if a] == [shown(t) for t in replies]


# --- Ctrl-C before the first token ----------------------------------------------------------------


def test_reply_stopped_before_its_first_token_leaves_no_turn(smollm2_path, tmp_path):
    from genlab.chat.persona import load_persona
    from genlab.chat.session import ChatSession, Transcript
    from genlab.llama.generator import LlamaGenerator

    with LlamaGenerator(smollm2_path, n_ctx=512) as model:
        persona = load_persona("assistant")
        log = Transcript(tmp_path / "chat.jsonl")
        session = ChatSession(model, persona, sampling=persona.sampling().merged(max_tokens=8, seed=1),
                              transcript=log)
        reply = session.send("Name a colour.")
        reply.close()  # what Ctrl-C does while the model reads the prompt
        assert reply.stopped and reply.text == ""
        assert session.history == [{"role": "user", "content": "Name a colour."}]
        assert session.messages()[-1] == {"role": "user", "content": "Name a colour."}  # no empty turn to imitate

        retried = "".join(session.retry())  # /retry answers the message that is still there
        assert retried and session.history[-1] == {"role": "assistant", "content": retried}
        session.send("And a fruit?").close()
        then = "".join(session.send("Just one word, please."))  # or the next message goes on from it
        assert [m["role"] for m in session.history] == ["user", "assistant", "user", "user", "assistant"]
        assert session.history[-1]["content"] == then
        log.close()

        assert ChatSession.resume(model, log.path).history == session.history  # --resume agrees

        # a transcript from before this fix holds an empty reply: resume leaves it out too
        old = tmp_path / "old.jsonl"
        start = json.loads(log.path.read_text(encoding="utf-8").splitlines()[0])
        lines = [start, {"op": "message", "role": "user", "content": "hi"},
                 {"op": "message", "role": "assistant", "content": ""},
                 {"op": "message", "role": "user", "content": "hello?"}]
        old.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
        reopened = ChatSession.resume(model, old)
        assert [m["content"] for m in reopened.history] == ["hi", "hello?"]

        out, err = io.StringIO(), io.StringIO()
        ChatTerminal(reopened, out, err).run_piped([])
        assert out.getvalue() == ""  # the user's unanswered message is not shown as a reply
        assert "the last one, yours, has no reply yet" in err.getvalue()


def test_ctrl_c_before_the_first_token_in_the_terminal(smollm2_path, env, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    from test_chat import READY, clean

    system = "You are a patient guide to the sea. " + " ".join(f"Fact {i}: the tide turns twice a day."
                                                               for i in range(70))  # ~800 tokens to read
    child = pexpect.spawn(sys.executable, ["-m", "genlab", "chat", "-b", f"llama:{smollm2_path}", "--n-ctx", "2048",
                                           "--max-tokens", "6", "--seed", "2", "--system", system],
                          env=env, cwd=str(tmp_path), encoding="utf-8", dimensions=(50, 250), timeout=120)
    child.expect_exact(READY)
    child.send("Tell me about the tide.\r")
    child.expect_exact("assistant:\x1b[0m ")  # the model is reading the prompt
    child.sendintr()
    child.expect_exact(READY)
    stopped = clean(child.before)
    assert "stopped before the reply began" in stopped or "(interrupted)" in stopped, stopped
    child.send("/save saved.json\r")
    child.expect_exact(READY)
    assert json.loads((tmp_path / "saved.json").read_text(encoding="utf-8"))["messages"] == [
        {"role": "user", "content": "Tell me about the tide."}]  # the message stays; no empty reply
    child.send("/system Be brief.\r")  # a short prompt from here on: the test stays quick
    child.expect_exact(READY)
    child.send("Hello?\r")
    child.expect_exact(READY)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    messages = [{"role": e["role"], "content": e["content"]} for e in transcript(env) if e["op"] == "message"]
    assert [m["role"] for m in messages] == ["user", "user", "assistant"] and messages[2]["content"]

    r = genlab(["chat", "-b", f"llama:{smollm2_path}", "--resume"], env, tmp_path, "/show\n")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "history     3 messages" in r.stdout  # --resume rebuilds the same history


# --- a model without a chat template ----------------------------------------------------------------


def test_chat_with_a_template_less_model_fails_at_once_naming_chat_format(template_less, env, tmp_path):
    r = genlab(["chat", "-b", f"llama:{template_less}"], env, tmp_path, "hello\n")
    line = one_line_error(r)
    assert "has no chat template" in line and "--chat-format" in line and "chat_format=" not in line
    assert r.stdout == ""
    assert not (Path(env["GENLAB_HOME"]) / "chats").exists()  # nothing started

    ok = genlab(["chat", "-b", f"llama:{template_less}", "--chat-format", "chatml", "--max-tokens", "6",
                 "--seed", "1"], env, tmp_path, "hello\n")  # what the error advises works
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert len(answers(ok.stdout)) == 1 and ok.stdout.strip("\0\n")


def test_compare_with_a_template_less_model_fails_before_any_sample(template_less, env, tmp_path):
    r = genlab(["compare", "-b", f"llama:{template_less}", "-o", tmp_path / "run", "--orders", "none"], env, tmp_path)
    line = one_line_error(r)
    assert "--chat-format" in line and "--prompts" in line
    assert not (tmp_path / "run").exists()


class _NoChatTemplate:
    """Declares what a llama model without a chat template declares (lead's LlamaGenerator change)."""

    capabilities = Capabilities(chat=False)


def test_session_and_compare_refuse_a_generator_that_cannot_chat(smollm2_path, tmp_path):
    from genlab.chat.persona import load_persona
    from genlab.chat.session import ChatSession
    from genlab.errors import GenlabError
    from genlab.eval.compare import CompareSettings, run_compare
    from genlab.eval.prompts import BUILT_IN, Prompt
    from genlab.llama.generator import LlamaGenerator

    class TemplateLess(_NoChatTemplate, LlamaGenerator):
        pass

    with TemplateLess(smollm2_path, n_ctx=256) as model:
        with pytest.raises(GenlabError, match="--chat-format"):
            ChatSession(model, load_persona("assistant"))
        loads = []

        def load(name: str):
            loads.append(name)
            return TemplateLess(smollm2_path, n_ctx=256)

        with pytest.raises(GenlabError, match="--chat-format.*--prompts"):
            run_compare(CompareSettings(backends=("smol",), prompts=BUILT_IN), tmp_path / "run", load=load)
        assert not (tmp_path / "run").exists() and loads == ["smol"]  # refused before a single sample
        story = (Prompt("harbour", "story", "The harbour was empty"),)
        from genlab.eval.compare import check_chat

        assert check_chat(CompareSettings(backends=("smol",), prompts=story), load) is load  # no chat: no check
        assert loads == ["smol"]


def test_compare_with_chat_prompts_loads_each_llama_model_once_and_one_at_a_time(template_less, smollm2_path,
                                                                                   tmp_path):
    """The chat check reads each GGUF header instead of loading the model, so two big models are
    never in memory together; a template-less one is still refused before any model loads."""
    from genlab.backends import resolve
    from genlab.errors import GenlabError
    from genlab.eval.compare import CompareSettings, run_compare
    from genlab.eval.prompts import Prompt

    events: list[str] = []

    def load(name: str):
        events.append(f"load {name}")
        model = resolve(name).load(n_ctx=256)
        close = model.close

        def closing() -> None:
            events.append(f"close {name}")
            close()

        model.close = closing
        return model

    def known(name: str):
        return resolve(name).can_chat()

    chat = (Prompt("hello", "chat", "Say hello."),)
    settings = CompareSettings(backends=(f"llama:{smollm2_path}", f"llama:{template_less}"), prompts=chat,
                               samples=1)
    with pytest.raises(GenlabError, match="--chat-format"):
        run_compare(settings, tmp_path / "refused", load=load, chat_known=known)
    assert events == [] and not (tmp_path / "refused").exists()  # refused from the header alone

    copy = tmp_path / "second.gguf"
    copy.write_bytes(smollm2_path.read_bytes())
    settings = CompareSettings(backends=(f"llama:{smollm2_path}", f"llama:{copy}"), prompts=chat, samples=1,
                               sampling=settings.sampling.merged(max_tokens=4))
    run_compare(settings, tmp_path / "run", load=load, chat_known=known, progress=False)
    first, second = settings.backends
    assert events == [f"load {first}", f"close {first}", f"load {second}", f"close {second}"]
