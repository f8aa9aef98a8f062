"""Ollama Modelfiles as personas: `genlab chat --persona ./Modelfile` and
`genlab personas show NAME --format modelfile`. The Modelfiles here are written for these tests
in the shapes Ollama's documentation shows (docs/modelfile.md); the acceptance runs the real
SmolLM2-135M-Instruct and looks at the exact tokens it was given."""

from __future__ import annotations

import json
import os
import threading
import tomllib
from pathlib import Path

import pytest

from conftest import ok, one_line_error
from genlab.chat.modelfile import parse_modelfile, persona_modelfile, read_modelfile
from genlab.chat.persona import CHAT_DEFAULTS, Persona, load_persona, load_persona_file


def read(text: str) -> tuple[Persona, list[str]]:
    data, notes = read_modelfile(text, "Modelfile")
    return Persona.from_dict(data, "Modelfile", "test"), notes


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def notes_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


# --- Ollama's syntax, in the documentation's shapes --------------------------------------------------

BASIC = """\
FROM qwen2.5
# makes it livelier [a comment: the whole line]
PARAMETER temperature 1.3
# how many tokens the model keeps in view
PARAMETER num_ctx 8192

# the assistant's character
SYSTEM You are Luigi, a cheerful plumber, helping with chores. # not a comment here
"""

SHOWN_BY_OLLAMA = '''\
# Modelfile printed by "ollama show"
# to build on it, use this FROM line instead:
# FROM gemma2:latest
FROM /home/someone/.ollama/models/blobs/sha256-0123456789abcdef
TEMPLATE """{{ if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ .Response }}<|im_end|>"""
PARAMETER stop "<|im_start|>"
PARAMETER stop "<|im_end|>"
PARAMETER stop "<|reserved_token"
'''

CONVERSATION = """\
FROM mistral
MESSAGE user Is Lisbon in Portugal?
MESSAGE assistant yes
MESSAGE user Is Porto in Spain?
MESSAGE assistant no
MESSAGE user Is Madrid in Spain?
MESSAGE assistant yes
"""

EVERYTHING = '''\
from ./weights/tiny.gguf
adapter ./lora.gguf
license """
Some long licence text.
"Quoted", with blank lines:

the end.
"""
requires 0.14.0
message system """
You answer in rhyme.
"""
Parameter Top_K 20
PARAMETER\trepeat_penalty\t1.15
PARAMETER seed 42
PARAMETER min_p 0.1
PARAMETER top_p 0.8
PARAMETER repeat_last_n 32
PARAMETER num_predict 64
PARAMETER stop ### User:
PARAMETER stop "  padded  "
   # an indented comment
system "a system prompt
over two lines"
'''


def test_the_documented_basic_modelfile():
    persona, notes = read(BASIC)
    assert persona.system == "You are Luigi, a cheerful plumber, helping with chores. # not a comment here"
    assert persona.overrides == {"temperature": 1.3}
    assert persona.examples == () and persona.greeting == ""
    assert persona.description == "Ollama Modelfile (FROM qwen2.5)"
    assert notes == ["Modelfile: ignored PARAMETER num_ctx (genlab has no such sampling setting; "
                     "for num_ctx use -c/--ctx-size)"]


def test_a_modelfile_as_ollama_show_prints_it():
    persona, notes = read(SHOWN_BY_OLLAMA)
    assert persona.overrides == {"stop": ("<|im_start|>", "<|im_end|>", "<|reserved_token")}  # every stop, in order
    assert persona.system == ""
    assert notes == ["Modelfile: ignored TEMPLATE (genlab formats the chat with the model's own chat template)"]


def test_message_turns_become_few_shot_pairs_in_order():
    persona, notes = read(CONVERSATION)
    assert persona.examples == (("Is Lisbon in Portugal?", "yes"), ("Is Porto in Spain?", "no"),
                                ("Is Madrid in Spain?", "yes"))
    assert persona.greeting == "" and notes == []


def test_every_instruction_any_case_quotes_tabs_and_comments():
    persona, notes = read(EVERYTHING)
    # the last SYSTEM is the system prompt; a MESSAGE system comes after it, as Ollama sends them
    assert persona.system == "a system prompt\nover two lines\n\n\nYou answer in rhyme.\n"
    assert persona.overrides == {"top_k": 20, "repeat_penalty": 1.15, "seed": 42, "min_p": 0.1, "top_p": 0.8,
                                 "repeat_last_n": 32, "max_tokens": 64, "stop": ("### User:", "  padded  ")}
    assert persona.sampling() == CHAT_DEFAULTS.merged(**persona.overrides)
    assert notes == [
        "Modelfile: ignored ADAPTER (genlab chats with the model --backend names, without adapters)",
        "Modelfile: FROM names ./weights/tiny.gguf; genlab chats with the model --backend names "
        "(--backend llama:weights/tiny.gguf for that one)"]


@pytest.mark.parametrize("value,text", [
    ('""', ""), ('""""""', ""), ('"\'"', "'"),
    ('"""say "hi" """', 'say "hi" '),
    ('"""he said "no""""', 'he said "no"'),  # a quote just before the closing ones is text
    ('"""a\n\n  b  \n"""', "a\n\n  b  \n"),  # between the quotes, exactly
    ('"one\ntwo"', "one\ntwo"),  # plain quotes run over lines too
    ('"""x""" and more\nstill """', 'x""" and more\nstill '),  # closed only at a line's end
    ("  spaced out   ", "spaced out"),
])
def test_values_as_ollama_reads_them(value, text):
    [ins] = parse_modelfile(f"SYSTEM {value}\n", "Modelfile")
    assert ins.value == text


def test_windows_files_read_the_same(tmp_path):
    text = ('FROM llama3.2\nPARAMETER temperature 0.5\nSYSTEM """Two\nlines."""\nMESSAGE user hi 👋\n'
            "MESSAGE assistant hello\n")
    expected, _ = read(text)
    assert expected.system == "Two\nlines." and expected.examples == (("hi 👋", "hello"),)
    for data in (text.replace("\n", "\r\n").encode("utf-8-sig"),  # CRLF and a BOM
                 b"\xff\xfe" + text.encode("utf-16-le"), b"\xfe\xff" + text.encode("utf-16-be")):  # PowerShell's >
        persona = load_persona_file(write(tmp_path, "win.Modelfile", data), notes=[])
        assert (persona.system, persona.examples, persona.overrides) == (
            expected.system, expected.examples, expected.overrides)


# --- which files are Modelfiles ----------------------------------------------------------------------

ATLAS = '''\
FROM smollm2:135m
SYSTEM """You are Atlas, a geography tutor. Answer with the capital city only."""
PARAMETER temperature 0
PARAMETER num_predict 12
MESSAGE user What is the capital of France?
MESSAGE assistant Paris.
'''
ATLAS_TOML = '''\
system = "You are Atlas, a geography tutor. Answer with the capital city only."
[[examples]]
user = "What is the capital of France?"
assistant = "Paris."
'''


def shown_toml(cli, *args) -> dict:
    r = cli("personas", "show", *args)
    return tomllib.loads(ok(r))


@pytest.mark.parametrize("name", ["Modelfile", "atlas.Modelfile", "atlas.modelfile", "atlas.txt", "atlas"])
def test_a_modelfile_is_known_by_its_name_or_its_first_instruction(cli, name):
    write(cli.cwd, name, ATLAS)
    data = shown_toml(cli, f"./{name}")
    assert data["system"].startswith("You are Atlas") and data["sampling"] == {"temperature": 0.0, "max_tokens": 12}
    assert data["examples"] == [{"user": "What is the capital of France?", "assistant": "Paris."}]


def test_a_toml_persona_of_any_name_stays_toml(cli):
    write(cli.cwd, "atlas.txt", ATLAS_TOML)  # `system = ...`: a TOML key, not the SYSTEM instruction
    assert shown_toml(cli, "./atlas.txt")["system"].startswith("You are Atlas")
    write(cli.cwd, "odd.toml", ATLAS)  # a .toml file is TOML, whatever it holds
    assert "odd.toml" in one_line_error(cli("personas", "show", "./odd.toml"))


def test_personas_folder_lists_and_finds_modelfiles(cli):
    folder = Path(cli.env["GENLAB_HOME"]) / "personas"
    folder.mkdir(parents=True)
    write(folder, "atlas.Modelfile", ATLAS)
    rows = {line.split()[0]: line for line in ok(cli("personas", "list")).splitlines() if "  " in line}
    assert "user" in rows["atlas"] and "Ollama Modelfile (FROM smollm2:135m)" in rows["atlas"]
    assert shown_toml(cli, "atlas")["sampling"]["max_tokens"] == 12  # by name, as a TOML persona is found


# --- notes and errors -------------------------------------------------------------------------------


def test_unknown_parameters_are_named_in_one_note_and_template_in_another(cli):
    write(cli.cwd, "Modelfile", "FROM llama3.2\nPARAMETER num_ctx 4096\nPARAMETER mirostat 2\n"
                                "PARAMETER temperature 0.4\nPARAMETER num_gpu 20\nPARAMETER mirostat_eta 0.2\n"
                                'TEMPLATE """{{ .Prompt }}"""\nSYSTEM Be brief.\n')
    r = cli("personas", "show", "./Modelfile")
    assert tomllib.loads(ok(r))["sampling"] == {"temperature": 0.4}
    assert notes_of(r.stderr) == [
        "genlab: note: Modelfile: ignored PARAMETER num_ctx, mirostat, num_gpu, mirostat_eta (genlab has no such "
        "sampling setting; for num_ctx use -c/--ctx-size; for num_gpu use -ngl/--n-gpu-layers)",
        "genlab: note: Modelfile: ignored TEMPLATE (genlab formats the chat with the model's own chat template)"]


@pytest.mark.parametrize("text,line,words", [
    ('FROM x\nSYSTEM """You are\nnever closed.\n', 2, ['""" opened here is never closed']),
    ('SYSTEM """almost closed""\n', 1, ['""" opened here is never closed']),
    ('FROM x\n\nSYSTEM "no end\n', 3, ['" opened here is never closed']),
    ("FROM x\nMESSAGE bot hello\n", 2, ["MESSAGE role must be system, user or assistant", "'bot'"]),
    ("# t\nPARAMETER temperature abc\n", 2, ["PARAMETER temperature", "must be a number", "'abc'"]),
    ("PARAMETER top_p 2\n", 1, ["top_p must be in (0, 1]"]),
    ("PARAMETER num_predict 1.5\n", 1, ["PARAMETER num_predict", "whole number"]),
    ("PARAMETER repeat_last_n -1\n", 1, ["whole context"]),
    ("PARAMETER stop \"\"\n", 1, ["stop strings must be non-empty"]),
    ("PARAMETER temp=0.7\n", 1, ["'temp=0.7' is not a parameter name"]),
    ("FROM x\nSYSTEM\n", 2, ["SYSTEM has no value"]),
    ("FROM x\nMESSAGE user\n", 2, ["MESSAGE user has no value"]),
    ("FORM llama3\n", 1, ["unknown instruction 'FORM'"]),
    ("MESSAGE user one\nMESSAGE user two\nMESSAGE assistant a\n", 1, ["MESSAGE user has no MESSAGE assistant"]),
    ("MESSAGE user q\nMESSAGE assistant a\nMESSAGE user q2\n", 3, ["MESSAGE user has no MESSAGE assistant"]),
    ("MESSAGE assistant hi\nMESSAGE user q\nMESSAGE assistant a\n", 1, ["answers no MESSAGE user"]),
])
def test_errors_name_the_file_and_line(cli, text, line, words):
    write(cli.cwd, "bad.Modelfile", text)
    error = one_line_error(cli("personas", "show", "./bad.Modelfile"))
    assert f"bad.Modelfile: line {line}: " in error and all(w in error for w in words), error


def test_chat_refuses_a_bad_modelfile_before_loading_a_model(cli):
    write(cli.cwd, "Modelfile", "FROM x\n# sampling\nPARAMETER temperature hot\n")
    error = one_line_error(cli("chat", "-b", "markov:no-such-chain", "--persona", "Modelfile", input="hi\n"))
    assert error == "genlab: error: Modelfile: line 3: PARAMETER temperature: temperature must be a number, got 'hot'"
    assert not (Path(cli.env["GENLAB_HOME"]) / "chats").exists()  # no chat started


def test_a_model_given_as_a_persona_is_refused_in_one_line(cli, smollm2_path, tiny_gguf):
    for model in (tiny_gguf, smollm2_path):  # over 2 MiB, SmolLM2 is still said to be binary
        (cli.cwd / "model.Modelfile").unlink(missing_ok=True)
        (cli.cwd / "model.Modelfile").symlink_to(model)
        assert "model.Modelfile looks like a binary file (a model?), not a persona" in one_line_error(
            cli("personas", "show", "./model.Modelfile"))
    write(cli.cwd, "latin1.Modelfile", "FROM x\nSYSTEM Café\n".encode("latin-1"))
    assert "latin1.Modelfile: line 2: not UTF-8 text" in one_line_error(cli("personas", "show", "./latin1.Modelfile"))


def test_an_endless_modelfile_is_read_no_further_than_2_mib(cli):
    fifo = cli.cwd / "endless.Modelfile"
    os.mkfifo(fifo)
    written = []

    def feed() -> None:  # comments for ever, until genlab stops reading
        try:
            with open(fifo, "w", encoding="utf-8") as out:
                while True:
                    written.append(out.write("# a comment line, again and again\n" * 1000))
        except BrokenPipeError:
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    error = one_line_error(cli("personas", "show", "./endless.Modelfile", timeout=120))
    feeder.join(timeout=60)
    assert error == "genlab: error: endless.Modelfile is over 2 MiB: too big to be a persona"
    assert not feeder.is_alive() and 2 * 2**20 < sum(written) < 4 * 2**20  # it stopped reading soon after 2 MiB


# --- writing, and reading back ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pogi", "assistant"])
def test_builtin_shown_as_modelfile_reads_back_the_same(cli, name):
    text = ok(cli("personas", "show", name, "--format", "modelfile"))
    write(cli.cwd, f"{name}.Modelfile", text)
    back = ok(cli("personas", "show", f"./{name}.Modelfile"))
    builtin, again = tomllib.loads(ok(cli("personas", "show", name))), tomllib.loads(back)
    for key in ("system", "examples", "sampling", "greeting"):
        assert again.get(key) == builtin.get(key), key
    assert again["name"] == name
    assert back.split("\n")[1] == ok(cli("personas", "show", name)).split("\n")[1]  # the same settings in a chat
    if name == "pogi":  # the greeting is the last MESSAGE assistant, answering no user
        assert text.rstrip("\n").split("\n")[-1] == f"MESSAGE assistant {builtin['greeting']}"


def test_awkward_texts_round_trip_exactly(tmp_path):
    persona = Persona(
        name="odd", system='  "Quoted" at both ends, and spaced  \n\nwith a blank line and a """ inside.\n',
        examples=(('"', 'a reply that ends in a quote"'), ("line one\nline two", "  padded  "),
                  ("", "an empty question")),
        overrides={"temperature": 0.25, "seed": 7, "max_tokens": 30, "stop": ("\n\n", '"', "User:")},
        greeting='""two quotes first')
    path = write(tmp_path, "odd.Modelfile", persona_modelfile(persona.to_dict()))
    back = load_persona_file(path, notes=[])
    assert (back.system, back.examples, back.greeting) == (persona.system, persona.examples, persona.greeting)
    assert back.overrides == persona.overrides and back.sampling() == persona.sampling()


def test_a_text_no_modelfile_can_hold_is_one_error(cli):
    write(cli.cwd, "edge.toml", 'system = "ends a line in quotes: \\"\\"\\"\\nthen more"\n')
    shown = ok(cli("personas", "show", "./edge.toml"))
    assert shown  # a fine TOML persona
    error = one_line_error(cli("personas", "show", "./edge.toml", "--format", "modelfile"))
    assert "the system prompt cannot be written in a Modelfile" in error


# --- acceptance: a Modelfile persona drives a chat on the real SmolLM2 ------------------------------


def test_every_part_of_the_modelfile_reaches_the_model(smollm2_path, tmp_path):
    pytest.importorskip("llama_cpp")
    from genlab.chat.session import ChatSession
    from genlab.llama.generator import LlamaGenerator

    persona = load_persona(str(write(tmp_path, "atlas.Modelfile", ATLAS)), notes=[])
    with LlamaGenerator(smollm2_path, n_ctx=512, n_threads=1) as model:
        session = ChatSession(model, persona)
        assert session.sampling == CHAT_DEFAULTS.merged(temperature=0.0, max_tokens=12)  # the two PARAMETERs
        sent = session.messages() + [{"role": "user", "content": "What is the capital of Italy?"}]
        expected = model.chat_prompt_tokens(sent)
        reply = "".join(session.send("What is the capital of Italy?"))
        seen = list(model.llm.input_ids[: len(expected)])
        assert seen == expected  # the tokens the model evaluated: exactly this prompt
        assert 0 < model.last_usage["completion_tokens"] <= 12 and reply
        prompt = model.detokenize(seen, special=True)
        parts = ["You are Atlas, a geography tutor. Answer with the capital city only.",
                 "What is the capital of France?", "Paris.", "What is the capital of Italy?"]
        at = [prompt.find(p) for p in parts]
        assert -1 not in at and at == sorted(at), prompt  # system, the MESSAGE pair, then the user's message


def test_modelfile_chat_on_the_real_model_matches_the_same_persona_with_flags(cli, smollm2_path):
    write(cli.cwd, "atlas.Modelfile", ATLAS)
    write(cli.cwd, "atlas.toml", ATLAS_TOML)
    question = "What is the capital of Italy?\n"
    by_modelfile = cli("chat", "-b", f"llama:{smollm2_path}", "--persona", "atlas.Modelfile", "-t", "1",
                       input=question)
    transcript = next((Path(cli.env["GENLAB_HOME"]) / "chats").glob("*.jsonl"))
    start = json.loads(transcript.read_text(encoding="utf-8").split("\n")[0])
    by_flags = cli("chat", "-b", f"llama:{smollm2_path}", "--persona", "atlas.toml", "--temp", "0", "-n", "12",
                   "-t", "1", input=question)
    reply = ok(by_modelfile)
    assert reply.endswith("\0") and reply.strip("\0\n")
    assert reply == ok(by_flags)  # temperature 0 and 12 tokens, as the flags give them
    assert notes_of(by_modelfile.stderr) == []  # FROM a model name: nothing to say
    assert start["sampling"]["temperature"] == 0.0 and start["sampling"]["max_tokens"] == 12
    assert start["system"] == "You are Atlas, a geography tutor. Answer with the capital city only."
