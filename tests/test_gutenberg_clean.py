"""Clean corpora by default: every command that reads a corpus or an eval text leaves Project
Gutenberg's header and licence out, by the rules `genlab corpus fetch` uses (genlab.boilerplate),
says so in one line with the byte counts, keeps the file whole with --keep-gutenberg, and the
model file records which it did.

The books here are written for the test: a header with a Title line and a START marker, a body
of original prose, an END marker and a licence that says "Project Gutenberg" many times. Where
../shared/corpora is beside the clone, a real raw book is used too.
"""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import CLI, NOVEL, SHARED_CORPORA, isolated_env, ok, one_line_error
from genlab.boilerplate import HEADER_MOST, Cut, Stripped, left_out, strip
from genlab.corpus import iter_corpus, read_corpus
from genlab.errors import GenlabError
from genlab.eval.prompts import BUILT_IN
from genlab.markov import store
from genlab.markov.generator import MarkovGenerator
from genlab.sampling import Sampling

REAL_BOOK = SHARED_CORPORA / "alices-adventures-in-wonderland.txt"
LIST_PROMPT = "A list of reasons never to go outside:\n\n1."

# --------------------------------------------------------------------------- the books


def prose(seed: int, paragraphs: int, people: list[str], places: list[str], doings: list[str],
          endings: list[str]) -> str:
    """Paragraphs of original sentences, put together at seeded random."""
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(4, 7)):
            sentences.append(f"{rng.choice(people)} {rng.choice(doings)} {rng.choice(places)}, "
                             f"{rng.choice(endings)}.")
        if rng.random() < 0.4:
            sentences.append(f"\u201c{rng.choice(endings).capitalize()},\u201d said {rng.choice(people)}.")
        out.append(" ".join(sentences))
    return "\n\n".join(out) + "\n"


STATION = prose(
    1, 60,
    ["Ada", "The keeper", "Old Tobin", "The ferryman", "Her brother", "The girl with the lantern"],
    ["beside the wind gauge", "under the copper roof", "along the shingle", "at the foot of the mast",
     "behind the rain barrels", "in the cold back room"],
    ["wrote the pressure down", "tapped the glass twice", "counted the gulls", "waited for the morning boat",
     "mended the broken vane", "read the clouds aloud"],
    ["because the barometer had fallen again", "and nobody answered the bell", "while the tide went out",
     "as if the storm owed her money", "though the kettle had gone cold", "until the lamps were lit"])

BAKERY = prose(
    2, 10,
    ["Mina", "The baker", "A tall customer", "The apprentice", "Uncle Pell", "The night porter"],
    ["by the flour sacks", "near the cooling racks", "across the tiled counter", "beyond the oven door",
     "inside the pantry", "on the crooked stool"],
    ["folded the dough", "sang to the yeast", "priced the seed loaves", "swept up the crumbs",
     "burned the first batch", "sold the last bun"],
    ["before the street woke up", "since the rye had risen early", "whenever the bell jingled",
     "after the carts rattled past", "so the rent would be paid", "unless the cat got there first"])

LICENCE = "\n\n".join([
    "Updated editions of this Project Gutenberg file will replace the previous one, and the Project "
    "Gutenberg trademark may not be used on copies of Project Gutenberg works without permission from the "
    "Project Gutenberg Foundation, which is how Project Gutenberg keeps Project Gutenberg free.",
    "Section 1. Terms of use of Project Gutenberg electronic works. By reading or using any part of this "
    "Project Gutenberg electronic work you agree to the terms of the Project Gutenberg licence, and a copy "
    "of a Project Gutenberg work must carry the full Project Gutenberg licence with it wherever it goes.",
    "Section 2. The mission of Project Gutenberg is the free distribution of electronic works in formats "
    "readable by the widest variety of computers, and Project Gutenberg volunteers give their time so that "
    "Project Gutenberg collections stay open; donations to Project Gutenberg keep Project Gutenberg going.",
] * 3) + "\n"


def book(title: str, body: str) -> tuple[str, str, str]:
    """(header, body, footer) of a Gutenberg-style file: the header runs to the end of the START
    marker line, the footer from the END marker line to the end (what the rules cut)."""
    header = (f"The Project Gutenberg eBook of {title}\n\nThis ebook is for the use of anyone anywhere, under "
              f"the terms of the Project Gutenberg License included with this ebook.\n\nTitle: {title}\n\n"
              f"Author: Nobody Known\n\nLanguage: English\n\n"
              f"*** START OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***")
    footer = f"*** END OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***\n\n{LICENCE}"
    return header, body, footer


def raw(parts: tuple[str, str, str]) -> str:
    header, body, footer = parts
    return f"{header}\n\n\n{body}\n\n\n{footer}"


def line_of(name: str, parts: tuple[str, str, str]) -> str:
    """The line a command prints for a file: counts taken from how the book was made."""
    header, _, footer = parts
    return (f"genlab: {name}: left out Project Gutenberg's header ({len(header.encode()):,} bytes) and licence "
            f"({len(footer.encode()):,} bytes); --keep-gutenberg keeps them")


STATION_BOOK = book("The Weather Station", STATION)
BAKERY_BOOK = book("Crumbs", BAKERY)


def notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "left out" in line]


def samples(path: Path, prompts: list[str], seeds: int = 12, max_tokens: int = 150) -> list[str]:
    """Many samples from a chain: every prompt, several seeds, hot and untruncated."""
    gen = MarkovGenerator.load(path)
    hot = dict(temperature=1.6, top_k=0, top_p=1.0, min_p=0.0, max_tokens=max_tokens)
    return ["".join(gen.stream(p, Sampling(seed=s, **hot))) for p in prompts for s in range(seeds)]


ALL_PROMPTS = [LIST_PROMPT, "", "Project", "The", *[p.text for p in BUILT_IN]]


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> CLI:
    """A working folder with the two books, a chain trained on the weather station book as it
    comes (clean) and one with --keep-gutenberg (kept), through the CLI."""
    cwd = tmp_path_factory.mktemp("gutenberg") / "work"
    cwd.mkdir()
    cli = CLI(cwd, isolated_env(cwd.parent))
    (cwd / "station.txt").write_text(raw(STATION_BOOK), encoding="utf-8")
    (cwd / "bakery.txt").write_text(raw(BAKERY_BOOK), encoding="utf-8")
    (cwd / "bakery-body.txt").write_text(BAKERY, encoding="utf-8")
    cli.clean = cli("train-markov", "station.txt", "-o", "clean.markov")
    cli.kept = cli("train-markov", "station.txt", "-o", "kept.markov", "--keep-gutenberg")
    return cli


# --------------------------------------------------------------------------- the rules


def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def test_the_streaming_cut_is_fetchs_strip_whatever_the_pieces():
    """One set of rules: a Cut fed the text in pieces of any size gives what `strip` (which
    `corpus fetch` uses) gives for the whole text, and counts what strip cut."""
    from genlab.gutenberg import strip as fetch_strip

    two_books = raw(STATION_BOOK) + "\n" + raw(BAKERY_BOOK)
    texts = [raw(STATION_BOOK), two_books, "Plain text,\n\nno markers.\n", STATION_BOOK[0] + "\n\nNo END.\n"]
    if REAL_BOOK.is_file():
        texts.append(read_corpus(REAL_BOOK))
    for text in texts:
        body, cut = fetch_strip(text)
        for size in (1, 7, 100, 4096, len(text)):
            c = Cut()
            out = list(c.body(_pieces(text, size)))
            assert "".join(out) == body and all(out)
            if c.books == 1:
                assert (c.header_bytes, c.footer_bytes) == (len(cut.header.encode()), len(cut.footer.encode()))
    # both books' text, a paragraph apart, and neither licence
    assert strip(two_books)[0] == f"{STATION}\n{BAKERY}"


def test_a_start_marker_further_in_than_the_header_can_be_is_text():
    filler = ("words " * 20 + "\n") * (HEADER_MOST // 121 + 1)
    text = filler + raw(STATION_BOOK)
    c = Cut()
    assert "".join(c.body(_pieces(text, 1000))) == text and c.books == 0
    assert strip(text) == (text, Stripped())


def test_the_one_line_for_each_case():
    assert left_out("a.txt", {"books": 1, "header_bytes": 1234, "footer_bytes": 18456}) == (
        "genlab: a.txt: left out Project Gutenberg's header (1,234 bytes) and licence (18,456 bytes); "
        "--keep-gutenberg keeps them")
    assert left_out("a.txt", {"books": 1, "header_bytes": 900, "footer_bytes": 0}) == (
        "genlab: a.txt: left out Project Gutenberg's header (900 bytes); --keep-gutenberg keeps it")
    assert "each of its 2 books (3,000 bytes)" in left_out("a.txt", {"books": 2, "header_bytes": 1000,
                                                                     "footer_bytes": 2000})
    assert left_out("a.txt", {"books": 0, "header_bytes": 0, "footer_bytes": 0}) is None
    assert left_out("a.txt", "kept") is None


def test_text_without_markers_is_read_byte_for_byte(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_bytes(NOVEL.read_bytes()[:300_000])
    c = Cut()
    assert "".join(iter_corpus(path, chunk_bytes=4096, cut=c)) == read_corpus(path)
    assert c.record() == {"books": 0, "header_bytes": 0, "footer_bytes": 0}


def test_a_book_with_nothing_between_header_and_licence_is_one_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text(raw(book("Nothing", "\n  \n")), encoding="utf-8")
    with pytest.raises(GenlabError, match="no text between Project Gutenberg's header and licence"):
        read_corpus(path, cut=Cut())
    cwd = tmp_path / "work"
    cwd.mkdir()
    line = one_line_error(CLI(cwd, isolated_env(tmp_path))("train-markov", path, "-o", "x.markov"))
    assert "empty.txt has no text between Project Gutenberg's header and licence" in line
    assert "--keep-gutenberg" in line and not (cwd / "x.markov").exists()


# --------------------------------------------------------------------------- train-markov


def test_train_markov_says_once_what_it_left_out_and_never_writes_the_licence(shop):
    ok(shop.clean)
    assert notes(shop.clean.stderr) == [line_of("station.txt", STATION_BOOK)]
    path = shop.cwd / "clean.markov"
    assert not [t for t in store.load(path).vocab if "gutenberg" in t.lower()]
    texts = samples(path, ALL_PROMPTS)
    assert len(texts) == 12 * len(ALL_PROMPTS)
    assert not [t for t in texts if "gutenberg" in t.lower() or "licen" in t.lower()]
    listed = ok(shop("generate", "-b", "markov:clean.markov", "-p", LIST_PROMPT, "--samples", "8", "--seed", "1",
                     "--temperature", "1.5", "--max-tokens", "150"))
    assert listed.count("A list of reasons never to go outside:") == 8
    assert "Gutenberg" not in listed


def test_keep_gutenberg_trains_on_the_whole_file_and_says_nothing(shop):
    ok(shop.kept)
    assert notes(shop.kept.stderr) == []
    text = ok(shop("generate", "-b", "markov:kept.markov", "-p", "Project", "--seed", "3", "--max-tokens", "5"))
    assert text.startswith("Project Gutenberg")
    # the licence itself: the kept chain has read it, the clean one has not
    (shop.cwd / "licence.txt").write_text(LICENCE, encoding="utf-8")
    rows = json.loads(ok(shop("perplexity", "-b", "markov:clean.markov", "-b", "markov:kept.markov",
                              "licence.txt", "--json")))
    clean, kept = (r["bits_per_byte"] for r in rows)
    assert kept < clean / 2, rows


def test_the_model_file_records_what_was_left_out(shop):
    header, _, footer = STATION_BOOK
    clean = store.load(shop.cwd / "clean.markov").corpora[0]
    assert clean["gutenberg"] == {"books": 1, "header_bytes": len(header.encode()),
                                  "footer_bytes": len(footer.encode())}
    assert store.load(shop.cwd / "kept.markov").corpora[0]["gutenberg"] == "kept"
    assert MarkovGenerator.load(shop.cwd / "clean.markov").info()["corpora"][0]["gutenberg"] == clean["gutenberg"]


def _with_record(source: Path, dest: Path, record: object) -> Path:
    """A copy of a model file whose first corpus records `record` (... : no record, as before genlab kept one)."""
    with zipfile.ZipFile(source) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    meta = json.loads(np.load(io.BytesIO(entries["meta.npy"])).tobytes())
    if record is ...:
        meta["corpora"][0].pop("gutenberg")
    else:
        meta["corpora"][0]["gutenberg"] = record
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), allow_pickle=False)
    entries["meta.npy"] = buf.getvalue()
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return dest


@pytest.mark.parametrize("record", ["x", {"books": -1, "header_bytes": 0, "footer_bytes": 0},
                                    {"books": 1, "header_bytes": "9"}], ids=["text", "negative", "partial"])
def test_a_damaged_record_is_one_line_and_an_old_file_without_one_loads(shop, record):
    _with_record(shop.cwd / "clean.markov", shop.cwd / "odd.markov", record)
    line = one_line_error(shop("generate", "-b", "markov:odd.markov", "--max-tokens", "5"))
    assert "odd.markov is corrupt" in line and "gutenberg record" in line
    old = _with_record(shop.cwd / "clean.markov", shop.cwd / "old.markov", ...)
    assert "gutenberg" not in store.load(old).corpora[0]


@pytest.mark.skipif(not REAL_BOOK.is_file(), reason="../shared/corpora is not here")
def test_a_real_raw_book_loses_exactly_what_corpus_fetch_would_cut(tmp_path):
    from genlab.gutenberg import strip as fetch_strip

    cwd = tmp_path / "work"
    cwd.mkdir()
    r = CLI(cwd, isolated_env(tmp_path))("train-markov", REAL_BOOK, "-o", "alice.markov")
    ok(r)
    _, cut = fetch_strip(REAL_BOOK.read_text(encoding="utf-8"))
    assert notes(r.stderr) == [f"genlab: {REAL_BOOK}: left out Project Gutenberg's header "
                               f"({len(cut.header.encode()):,} bytes) and licence ({len(cut.footer.encode()):,} "
                               "bytes); --keep-gutenberg keeps them"]
    texts = samples(cwd / "alice.markov", [LIST_PROMPT, "Project", *[p.text for p in BUILT_IN]], seeds=8)
    assert not [t for t in texts if "gutenberg" in t.lower()]


def test_text_without_markers_trains_the_same_chain_either_way(tmp_path):
    cwd = tmp_path / "work"
    cwd.mkdir()
    cli = CLI(cwd, isolated_env(tmp_path))
    (cwd / "plain.txt").write_bytes(NOVEL.read_bytes()[:60_000])
    a = cli("train-markov", "plain.txt", "-o", "a.markov")
    b = cli("train-markov", "plain.txt", "-o", "b.markov", "--keep-gutenberg")
    ok(a), ok(b)
    assert notes(a.stderr) == notes(b.stderr) == []
    ma, mb = store.load(cwd / "a.markov"), store.load(cwd / "b.markov")
    assert ma.vocab == mb.vocab and np.array_equal(ma.text_ids, mb.text_ids)
    assert all(np.array_equal(x, y) for x, y in zip(ma.counts.counts, mb.counts.counts))
    assert ma.corpora[0]["gutenberg"] == {"books": 0, "header_bytes": 0, "footer_bytes": 0}


# --------------------------------------------------------------------------- the other readers


def _bits(stdout: str) -> list[float]:
    return [r["bits_per_byte"] for r in json.loads(stdout)]


def test_perplexity_scores_the_book_without_its_boilerplate(shop):
    body = ok(shop("perplexity", "-b", "markov:clean.markov", "bakery-body.txt", "--json"))
    r = shop("perplexity", "-b", "markov:clean.markov", "bakery.txt", "--json")
    assert _bits(ok(r)) == _bits(body)
    assert notes(r.stderr) == [line_of("bakery.txt", BAKERY_BOOK)]
    whole = shop("perplexity", "-b", "markov:clean.markov", "bakery.txt", "--json", "--keep-gutenberg")
    assert _bits(ok(whole)) != _bits(body) and notes(whole.stderr) == []


def test_perplexity_train_reuses_a_saved_chain_only_when_it_read_the_corpus_the_same_way(shop):
    """`--train` reuses models/station.markov when its corpus is unchanged: a chain trained
    with --keep-gutenberg must not stand in for a clean one, nor the other way round."""
    ok(shop("train-markov", "station.txt", "--keep-gutenberg"))  # models/station.markov, order 3
    reference = _bits(ok(shop("perplexity", "-b", "markov:clean.markov", "-b", "markov:kept.markov",
                              "bakery-body.txt", "--json")))
    clean = shop("perplexity", "--train", "station.txt", "--orders", "2-3", "bakery-body.txt", "--json")
    assert _bits(ok(clean))[1] == reference[0]
    assert notes(clean.stderr) == [line_of("station.txt", STATION_BOOK)]  # once for the two chains
    kept = shop("perplexity", "--train", "station.txt", "--orders", "3", "bakery-body.txt", "--json",
                "--keep-gutenberg")
    assert _bits(ok(kept)) == [reference[1]] != [reference[0]]


def test_compare_reads_the_eval_text_and_the_corpus_clean(shop):
    """The issue's case: two books share a licence, so with it the human text 'copies' long runs
    from the corpus; without it, they share no long run."""
    (shop.cwd / "prompts.txt").write_text("The keeper\n", encoding="utf-8")
    runs = {}
    for name, extra in (("clean", []), ("kept", ["--keep-gutenberg"])):
        r = shop("compare", "-b", "markov:clean.markov", "--eval-text", "bakery.txt", "--corpus", "station.txt",
                 "--prompts", "prompts.txt", "--samples", "1", "--orders", "none", "--bootstrap", "0",
                 "--max-tokens", "20",
                 "-o", name, *extra)
        ok(r)
        runs[name] = (r, json.loads((shop.cwd / name / "metrics.json").read_text(encoding="utf-8")))
    r, metrics = runs["clean"]
    assert sorted(notes(r.stderr)) == [line_of("bakery.txt", BAKERY_BOOK), line_of("station.txt", STATION_BOOK)]
    assert notes(runs["kept"][0].stderr) == []
    human = {name: next(row for row in m["style"] if row["backend"] == "human") for name, (_, m) in runs.items()}
    assert human["kept"]["longest_copy_max"] >= 40  # a licence paragraph, word for word
    assert human["clean"]["longest_copy_max"] < 10


def test_corpus_split_writes_the_parts_without_the_boilerplate(shop):
    r = shop("corpus", "split", "station.txt", "-o", "clean-split")
    ok(r)
    assert notes(r.stderr) == [line_of("station.txt", STATION_BOOK)]
    parts = [(shop.cwd / "clean-split" / f"station-{p}.txt").read_text(encoding="utf-8") for p in ("train", "held-out")]
    assert "Gutenberg" not in "".join(parts)
    assert re.sub(r"\s+", " ", "".join(parts)).strip() == re.sub(r"\s+", " ", STATION).strip()
    r = shop("corpus", "split", "station.txt", "-o", "kept-split", "--keep-gutenberg")
    ok(r)
    assert notes(r.stderr) == []
    assert "Project Gutenberg" in (shop.cwd / "kept-split" / "station-held-out.txt").read_text(encoding="utf-8")


def test_train_llm_trains_on_the_book_alone_and_records_it(shop):
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    pytest.importorskip("llama_cpp")
    from genlab.llama.gguf_header import read_header

    r = shop("train-llm", "station.txt", "--size", "tiny", "--steps", "1", "--vocab-size", "300",
             "--held-out", "0", "-o", "station.gguf", timeout=900)
    ok(r)
    assert notes(r.stderr) == [line_of("station.txt", STATION_BOOK)]
    training = json.loads(read_header(shop.cwd / "station.gguf", tensors=False).metadata["genlab.training"])
    header, _, footer = STATION_BOOK
    assert training["gutenberg"] == [{"books": 1, "header_bytes": len(header.encode()),
                                      "footer_bytes": len(footer.encode())}]
