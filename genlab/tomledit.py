"""TOML files a user writes by hand (genlab.toml, personas): read them, and edit one table
in place without losing the rest.

Reading goes through tomllib, so an error names the file and line. Writing goes through
tomlkit, which keeps what a person wrote around the table being changed: comments, blank lines,
the order of sections. A table that is replaced keeps its place, the comment lines above its
header and the blank lines after it; a new table goes at the end of the file; a removed table
takes its own lines with it, while the comment lines just above the next header stay there.
If an edit cannot be made that way (an alias written as an inline table, say), the whole
document is written back in the plain layout of `dumps`: values intact, comments lost.
"""

from __future__ import annotations

import copy
import datetime
import os
import tomllib
from pathlib import Path
from typing import Any, Iterator, Mapping

import tomlkit
from tomlkit.items import AoT, Comment, Item, Table, Whitespace

from genlab.datafiles import load_toml
from genlab.errors import GenlabError, cannot

# --- reading -------------------------------------------------------------------------------------


def read_text(path: Path) -> str | None:
    """The file's text, or None when it does not exist; a folder, a file that cannot be read
    and one that is not UTF-8 are one error naming it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise GenlabError(f"{path} is a directory, not a file genlab can read") from None
    except OSError as exc:
        raise cannot("read", path, exc) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise GenlabError(f"{path}: line {line}: not UTF-8 text (save it as UTF-8)") from None


def parse(text: str, path: Path | str) -> dict[str, Any]:
    """The document; invalid TOML, and nesting too deep to walk, are one error naming `path`."""
    return load_toml(text, source=str(path))


def load(path: Path) -> tuple[str | None, dict[str, Any]]:
    """(text or None, parsed document) of one file; a missing file is empty."""
    text = read_text(path)
    return text, ({} if text is None else parse(text, path))


# --- writing a whole document --------------------------------------------------------------------


def dumps(doc: Mapping[str, Any]) -> str:
    """TOML text for `doc`: tables as [sections] (plain values first), other values (strings,
    numbers, booleans, dates, arrays, tables inside arrays) inline. tomllib.loads(dumps(doc)) == doc."""
    return _fill(tomlkit.document(), doc).as_string()


def _fill(table: Any, values: Mapping[str, Any]) -> Any:
    for key, value in values.items():
        if not isinstance(value, Mapping):
            table.add(_key(key), _item(value))
    for key, value in values.items():
        if isinstance(value, Mapping):
            table.add(_key(key), _fill(tomlkit.table(), value))
    return table


def _item(value: Any) -> Item:
    """An inline TOML value."""
    if isinstance(value, str):
        return tomlkit.string(_text(value))
    if isinstance(value, os.PathLike):
        return tomlkit.string(_text(os.fspath(value)))
    if isinstance(value, (bool, int, float, datetime.datetime, datetime.date, datetime.time)):
        return tomlkit.item(value)
    if isinstance(value, (list, tuple)):
        array = tomlkit.array()
        array.extend(_item(x) for x in value)
        return array
    if isinstance(value, Mapping):
        table = tomlkit.inline_table()
        for key, x in value.items():
            table.append(_key(key), _item(x))
        return table
    raise GenlabError(f"cannot write {value!r} ({type(value).__name__}) to a TOML file")


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise GenlabError(f"TOML keys must be text, got {key!r}")
    return _text(key)


def _text(s: str) -> str:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in s):
        raise GenlabError(f"cannot write {s!r} to a TOML file: it is not valid Unicode text")
    return s


# --- editing one table ---------------------------------------------------------------------------


def set_table(path: Path, section: str, name: str, table: Mapping[str, Any] | None) -> None:
    """Make [section.name] of the file at `path` equal to `table` (None: remove it), keeping the
    rest of the file as written; the file is replaced atomically."""
    from genlab.atomic import write_text

    text, doc = load(path)
    want = copy.deepcopy(doc)
    tables = want.setdefault(section, {})
    if table is None:
        tables.pop(name, None)
    else:
        tables[name] = copy.deepcopy(dict(table))
    if not tables:
        del want[section]
    edited = _edited(text, section, name, table) if text else None
    if edited is None or _without_empty(_parsed(edited), section) != want:
        edited = dumps(want)
    write_text(path, edited)


def _parsed(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _without_empty(doc: dict[str, Any] | None, section: str) -> dict[str, Any] | None:
    if doc is not None and doc.get(section) == {}:
        del doc[section]
    return doc


def _edited(text: str, section: str, name: str, table: Mapping[str, Any] | None) -> str | None:
    """`text` with the one table changed, or None when tomlkit cannot read it."""
    try:
        doc = tomlkit.parse(text)
        parent = doc.get(section)
        old = parent.get(name) if isinstance(parent, Mapping) else None
        if table is None:
            if old is None:
                return text
            if isinstance(old, Table):
                _keep_next_headers_comments(doc, old)
            del parent[name]
            if isinstance(parent, Table) and parent.is_super_table() and not parent:
                del doc[section]  # no [section] header of its own to keep
            return doc.as_string().rstrip("\r\n") + "\n" if doc.as_string().strip() else ""
        if old is None:
            return _appended(text, section, name, table)
        new = _fill(tomlkit.table(), table)
        if isinstance(old, Table):
            new.trivia.indent = old.trivia.indent
            last = _last_table(new)
            for item in _tail(old):
                last.add(item)
        parent[name] = new
        return doc.as_string()
    except (tomlkit.exceptions.TOMLKitError, KeyError, TypeError, ValueError):
        return None


def _appended(text: str, section: str, name: str, table: Mapping[str, Any]) -> str:
    block = dumps({section: {name: table}})
    if not text.strip():
        return block
    if not text.endswith("\n"):
        text += "\n"
    return text + ("" if text.endswith(("\n\n", "\n\r\n")) else "\n") + block


def _last_table(table: Table) -> Table:
    """The table whose lines end `table`'s part of the file (its last subtable, if any)."""
    while table.value.body and isinstance(table.value.body[-1][1], Table):
        table = table.value.body[-1][1]
    return table


def _tail(table: Table) -> list[Item]:
    """The blank and comment lines after the last value of `table`'s part of the file."""
    body = _last_table(table).value.body
    n = len(body)
    while n and body[n - 1][0] is None and isinstance(body[n - 1][1], (Whitespace, Comment)):
        n -= 1
    return [item for _, item in body[n:]]


def _keep_next_headers_comments(doc: Any, old: Table) -> None:
    """tomlkit files the comment lines just above a header under the table before it: before
    `old` goes, hand those lines to the header that follows it."""
    tail = _tail(old)
    comments: list[Comment] = []
    for item in reversed(tail):
        if not isinstance(item, Comment):
            break
        comments.insert(0, item)
    if not comments:
        return
    tables = list(_tables(doc.body))
    inside = {id(t) for t in _tables([(None, old)])}
    after = [t for t in tables[max(i for i, t in enumerate(tables) if id(t) in inside) + 1:]
             if not t.is_super_table()] if any(id(t) in inside for t in tables) else []
    if after:
        after[0].trivia.indent = "".join(c.as_string() for c in comments) + after[0].trivia.indent


def _tables(body: Any) -> Iterator[Table]:
    """Every table under `body`, in the order the file shows them."""
    for _, item in body:
        if isinstance(item, Table):
            yield item
            yield from _tables(item.value.body)
        elif isinstance(item, AoT):
            for element in item.body:
                yield element
                yield from _tables(element.value.body)
