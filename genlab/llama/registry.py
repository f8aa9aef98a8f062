"""Model aliases: short names for GGUF files and their settings, kept in TOML config files.

Two files are read, the first one that defines a name wins:

* ``./genlab.toml`` in the working directory ("local": settings for one project);
* ``genlab.toml`` in the user config directory ("user"): ``platformdirs.user_config_dir("genlab")``
  (``~/.config/genlab`` on Linux), or ``$GENLAB_CONFIG_DIR`` when that is set.

An alias is a table under ``[models]``::

    [models.llama3]
    path = "~/models/Meta-Llama-3-8B-Instruct.Q5_K_M.gguf"
    n_ctx = 8192
    n_threads = 8
    n_gpu_layers = 0
    chat_format = "llama-3"

    [models.llama3.sampling]     # defaults under the command line's sampling flags
    temperature = 0.7
    stop = ["<|eot_id|>"]

``path`` is the only required key. ``~`` is expanded, and a relative path is relative to the
folder of the file that defines it. Every other key is optional; unknown keys are an error.

An alias with ``url`` instead of ``path`` names a model on an OpenAI-compatible server
(genlab.server.ServerGenerator); the API key is read from the environment variable that
``api_key_env`` names, so the file never holds a secret::

    [models.big]
    url = "http://gpu-box:8000/v1"
    model = "meta-llama/Llama-3.1-70B-Instruct"   # optional: the request's "model" field
    api_key_env = "VLLM_KEY"                      # optional
    timeout = 120                                 # optional, seconds (default 60)
    extra_sampling = false                        # optional: only OpenAI's standard sampling fields

genlab.backends turns an alias name into the model it names (`find_alias` here); `hf_download`
fetches ``hf:OWNER/REPO/FILE.gguf`` once into the Hugging Face cache (it needs the optional
``huggingface-hub`` package).

`add_alias` and `remove_alias` rewrite one file atomically (temporary file + rename). They edit
only the alias's own sections, so comments and other settings in the file are kept; if the file
is laid out in a way that cannot be edited section by section (an alias written as an inline
table, say), the whole file is written back in a canonical layout, values intact, comments lost.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from genlab.errors import GenlabError
from genlab.sampling import Sampling, parse_value

CONFIG_NAME = "genlab.toml"
SCOPES = ("local", "user")
# the built-in backend kinds (genlab.backends.BUILT_IN): `--backend markov` must stay an error
RESERVED = ("markov", "llama", "hf", "openai", "ollama")
LLAMA_SETTINGS = ("n_ctx", "n_threads", "n_gpu_layers", "chat_format")
SERVER_KEYS = ("url", "model", "api_key_env", "timeout", "extra_sampling")  # an alias of a server model
ALIAS_KEYS = ("path", *LLAMA_SETTINGS, "sampling", *SERVER_KEYS)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


# --- where the files are -------------------------------------------------------------------------


def user_config_dir() -> Path:
    """The user's config folder: see genlab.folders."""
    from genlab.folders import config_dir

    return config_dir()


def config_path(scope: str) -> Path:
    """The file of a scope: "local" (./genlab.toml) or "user"."""
    if scope == "local":
        return Path.cwd() / CONFIG_NAME
    if scope == "user":
        return user_config_dir() / CONFIG_NAME
    raise GenlabError(f"unknown config scope {scope!r}: use 'local' or 'user'")


def config_files() -> list[tuple[str, Path]]:
    """(scope, file) in lookup order; the user file is left out when it is the local one."""
    local, user = config_path("local"), config_path("user")
    files = [("local", local)]
    if not _same_file(local, user):
        files.append(("user", user))
    return files


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# --- reading -------------------------------------------------------------------------------------


def _read_text(path: Path) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise GenlabError(f"{path} is a directory, not a genlab config file") from None
    except OSError as exc:
        raise GenlabError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise GenlabError(f"{path}: line {line}: not UTF-8 text (TOML files must be UTF-8)") from None


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        detail = " ".join(str(exc).split())
        raise GenlabError(f"{path}: not valid TOML: {detail}") from None


def _load(path: Path) -> tuple[str | None, dict[str, Any]]:
    """(text or None, parsed document) of one config file; a missing file is empty."""
    text = _read_text(path)
    return text, ({} if text is None else _parse(text, path))


def _models_table(doc: Mapping[str, Any], path: Path) -> dict[str, Any]:
    models = doc.get("models", {})
    if not isinstance(models, dict):
        raise GenlabError(f"{path}: 'models' must be a table of aliases ([models.NAME] sections)")
    return models


@dataclass(frozen=True)
class Alias:
    """One `[models.NAME]` entry, checked.

    path: the GGUF file, ~ expanded and made absolute. n_ctx, n_threads, n_gpu_layers,
    chat_format: llama settings, None when not set. sampling: default sampling settings (only
    the keys that were given, already converted; see `default_sampling`). source: the file that
    defines the alias; scope: "local" or "user"; raw_path: `path` exactly as written there.
    """

    name: str
    path: Path
    n_ctx: int | None = None
    n_threads: int | None = None
    n_gpu_layers: int | None = None
    chat_format: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    scope: str | None = None
    raw_path: str = ""
    url: str | None = None  # set for a server alias (then `path` is a ServerURL, never a file)
    model: str | None = None
    api_key_env: str | None = None
    timeout: float | None = None
    extra_sampling: bool | None = None

    @property
    def is_server(self) -> bool:
        return self.url is not None

    def server_options(self) -> dict[str, Any]:
        """Keyword arguments of genlab.server.ServerGenerator for a server alias."""
        out: dict[str, Any] = {"url": self.url, "model": self.model, "name": self.name}
        out.update({k: getattr(self, k) for k in ("api_key_env", "timeout", "extra_sampling")
                    if getattr(self, k) is not None})
        return out

    def options(self) -> dict[str, Any]:
        """The llama settings that are set, as keyword arguments of LlamaGenerator."""
        return {k: getattr(self, k) for k in LLAMA_SETTINGS if getattr(self, k) is not None}

    def default_sampling(self, base: Sampling | None = None) -> Sampling:
        """`base` (default: Sampling()) with this alias's sampling settings on top."""
        return (base or Sampling()).merged(**self.sampling)

    def table(self) -> dict[str, Any]:
        """The TOML table that defines this alias."""
        if self.is_server:
            out = {k: getattr(self, k) for k in SERVER_KEYS if getattr(self, k) is not None}
        else:
            out = {"path": self.raw_path or str(self.path)}
        out.update(self.options())
        if self.sampling:
            out["sampling"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.sampling.items()}
        return out


def check_name(name: str) -> str:
    """An alias name must be short, plain and impossible to mistake for another backend name."""
    if not isinstance(name, str) or not name:
        raise GenlabError("an alias name cannot be empty")
    if ":" in name:
        raise GenlabError(f"alias name {name!r} cannot contain ':' (names with ':' are backend kinds, "
                          "like llama:PATH.gguf)")
    if name.lower() in RESERVED:
        raise GenlabError(f"alias name {name!r} is reserved: it is a backend kind ({', '.join(RESERVED)})")
    if not _NAME.match(name):
        raise GenlabError(f"alias name {name!r} is not valid: use up to 64 letters, digits, '-', '_' or '.', "
                          "starting with a letter or digit")
    return name


def _check_int(where: str, key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise GenlabError(f"{where}{key} must be a whole number >= {low}, got {value!r}")
    return value


_MINIMUM = {"n_ctx": 8, "n_threads": 1, "n_gpu_layers": -1}


def _check_settings(where: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Checked llama settings (None values dropped); `where` starts every error message."""
    where = f"{where}: " if where else ""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if value is None:
            continue
        if key in _MINIMUM:
            out[key] = _check_int(where, key, value, _MINIMUM[key])
        elif key == "chat_format":
            if not isinstance(value, str) or not value.strip():
                raise GenlabError(f"{where}chat_format must be the name of a chat format, got {value!r}")
            out[key] = value.strip()
        else:
            raise GenlabError(f"{where}unknown llama setting {key!r} (known: {', '.join(LLAMA_SETTINGS)})")
    return out


def _check_sampling(where: str, values: Any) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise GenlabError(f"{where}: sampling must be a table of sampling settings, got {values!r}")
    try:
        Sampling.from_dict(values)  # unknown keys, types and ranges
        return {k: parse_value(k, v) for k, v in values.items()}
    except GenlabError as exc:
        raise GenlabError(f"{where}: sampling: {exc}") from None


def _alias_from_table(name: str, table: Any, source: Path, scope: str | None) -> Alias:
    where = f"{source}: alias {name!r}"
    try:
        check_name(name)
    except GenlabError as exc:
        raise GenlabError(f"{source}: {exc}") from None
    if not isinstance(table, dict):
        raise GenlabError(f"{where} must be a table with at least a path ([models.{name}] then path = \"...\")")
    unknown = [k for k in table if k not in ALIAS_KEYS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], ALIAS_KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise GenlabError(f"{where}: unknown setting {unknown[0]!r} (known: {', '.join(ALIAS_KEYS)}){hint}")
    if "url" in table:
        return _server_alias(name, table, source, scope, where)
    raw = table.get("path")
    if not isinstance(raw, str) or not raw.strip():
        raise GenlabError(f"{where} needs path = \"FILE.gguf\" (or url = \"http://HOST:PORT/v1\" for a server)")
    server = [k for k in SERVER_KEYS if k in table]
    if server:
        raise GenlabError(f"{where}: {server[0]!r} is a server setting: a server alias has url = \"...\" "
                          "instead of path")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = source.parent / path
    settings = _check_settings(where, {k: table.get(k) for k in LLAMA_SETTINGS})
    sampling = _check_sampling(where, table.get("sampling", {}))
    return Alias(name=name, path=Path(os.path.normpath(path)), sampling=sampling, source=source, scope=scope,
                 raw_path=raw, **settings)


class ServerURL(str):
    """Where a server alias's `path` would be: the URL, which is never a local file (so code that
    lists aliases shows the URL and finds no file behind it)."""

    def is_file(self) -> bool:
        return False

    def exists(self) -> bool:
        return False


def _server_alias(name: str, table: dict[str, Any], source: Path, scope: str | None, where: str) -> Alias:
    from genlab.server.client import Endpoint

    bad = [k for k in ("path", *LLAMA_SETTINGS) if k in table]
    if bad:
        raise GenlabError(f"{where}: a server alias (url) cannot have {bad[0]!r}: that is a llama.cpp file setting")
    url = table["url"]
    if not isinstance(url, str) or not url.strip():
        raise GenlabError(f"{where}: url must be the server's address, such as \"http://127.0.0.1:8080/v1\"")
    try:
        Endpoint.parse(url)
    except GenlabError as exc:
        raise GenlabError(f"{where}: {exc}") from None
    model, env = table.get("model"), table.get("api_key_env")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise GenlabError(f"{where}: model must be the server's model name, got {model!r}")
    if env is not None and (not isinstance(env, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env)):
        raise GenlabError(f"{where}: api_key_env must name an environment variable (like VLLM_KEY), got {env!r}")
    timeout = table.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 < timeout < math.inf):
        raise GenlabError(f"{where}: timeout must be a number of seconds > 0, got {timeout!r}")
    extra = table.get("extra_sampling")
    if extra is not None and not isinstance(extra, bool):
        raise GenlabError(f"{where}: extra_sampling must be true or false, got {extra!r}")
    sampling = _check_sampling(where, table.get("sampling", {}))
    return Alias(name=name, path=ServerURL(url.strip()), sampling=sampling, source=source,  # type: ignore[arg-type]
                 scope=scope, raw_path="", url=url.strip(), model=model.strip() if model else None,
                 api_key_env=env, timeout=timeout, extra_sampling=extra)


def _defined(scopes: tuple[str, ...] | None = None) -> Iterator[tuple[str, Path, dict[str, Any]]]:
    """(scope, file, models table) of every config file, in lookup order."""
    for scope, path in config_files():
        if scopes is None or scope in scopes:
            _, doc = _load(path)
            yield scope, path, _models_table(doc, path)


def find_alias(name: str) -> Alias | None:
    """The alias called `name` (./genlab.toml first, then the user file), or None."""
    for scope, path, models in _defined():
        if name in models:
            return _alias_from_table(name, models[name], path, scope)
    return None


def list_aliases(include_shadowed: bool = False) -> list[Alias]:
    """Every alias in effect, sorted by name; with include_shadowed, also user aliases that a
    local one of the same name hides (listed after it)."""
    seen: set[str] = set()
    out: list[Alias] = []
    for scope, path, models in _defined():
        for name, table in models.items():
            if name in seen and not include_shadowed:
                continue
            seen.add(name)
            out.append(_alias_from_table(name, table, path, scope))
    order = {s: i for i, s in enumerate(SCOPES)}
    return sorted(out, key=lambda a: (a.name, order.get(a.scope or "", 9)))


def alias_names() -> list[str]:
    """Names of every alias, without checking their settings (for messages)."""
    names: set[str] = set()
    for _, _, models in _defined():
        names.update(models)
    return sorted(names)


def _known_hint() -> str:
    try:
        names = alias_names()
    except GenlabError:
        return ""
    if not names:
        return "no aliases yet: add one with 'genlab models add NAME PATH.gguf'"
    return "known aliases: " + ", ".join(names)


# --- writing -------------------------------------------------------------------------------------


def add_alias(
    name: str,
    path: str | os.PathLike[str],
    *,
    n_ctx: int | None = None,
    n_threads: int | None = None,
    n_gpu_layers: int | None = None,
    chat_format: str | None = None,
    sampling: Mapping[str, Any] | None = None,
    scope: str = "user",
    replace: bool = False,
) -> Alias:
    """Define alias `name` for the GGUF file `path` in the user or local config file.

    The file is not opened here (`genlab models add` checks it). A relative `path` is stored
    as an absolute one in the user file and as given in the local file (it is relative to the
    working directory, which is where ./genlab.toml lives); a path starting with ~ is kept as
    written. `sampling`: default sampling settings (temperature, top_p, ...). An existing alias
    of the same name in that file is an error unless `replace` (it is then replaced whole).
    """
    check_name(name)
    target = config_path(scope)
    raw = os.fspath(path)
    if not isinstance(raw, str) or not raw.strip():
        raise GenlabError("an alias needs the path of a GGUF file")
    if not raw.startswith("~") and not os.path.isabs(raw) and scope == "user":
        raw = os.path.abspath(raw)
    table: dict[str, Any] = {"path": raw}
    table.update(_check_settings(f"alias {name!r}", dict(n_ctx=n_ctx, n_threads=n_threads,
                                                         n_gpu_layers=n_gpu_layers, chat_format=chat_format)))
    return _save_alias(name, table, sampling, target, scope, replace)


def add_server_alias(
    name: str,
    url: str,
    *,
    model: str | None = None,
    api_key_env: str | None = None,
    timeout: float | None = None,
    sampling: Mapping[str, Any] | None = None,
    scope: str = "user",
    replace: bool = False,
) -> Alias:
    """Define alias `name` for a model on an OpenAI-compatible server (see the module docstring).

    The key itself is never stored: `api_key_env` names the environment variable that holds
    it. The server is not contacted here (`genlab models add` checks it).
    """
    check_name(name)
    target = config_path(scope)
    table: dict[str, Any] = {"url": url}
    table.update({k: v for k, v in (("model", model), ("api_key_env", api_key_env), ("timeout", timeout))
                  if v is not None})
    return _save_alias(name, table, sampling, target, scope, replace)


def _save_alias(name: str, table: dict[str, Any], sampling: Mapping[str, Any] | None, target: Path,
                scope: str, replace: bool) -> Alias:
    """Check alias `name`'s table as reading it back will, then write it into `target`."""
    if sampling:
        checked = _check_sampling(f"alias {name!r}", {k: v for k, v in sampling.items() if v is not None})
        if checked:
            table["sampling"] = {k: list(v) if isinstance(v, tuple) else v for k, v in checked.items()}
    alias = _alias_from_table(name, table, target, scope)  # exactly what reading it back will give

    text, doc = _load(target)
    models = _models_table(doc, target)
    if name in models and not replace:
        raise GenlabError(f"alias {name!r} already exists in {target}; remove it first or replace it "
                          "(genlab models add --replace)")
    new = copy.deepcopy(doc)
    new.setdefault("models", {})[name] = table
    _write_config(target, text, new, name, table)
    return alias


def remove_alias(name: str, scope: str | None = None) -> Path:
    """Delete alias `name` from the file that defines it (the local one first), or from the file
    of `scope`; returns that file."""
    scopes = SCOPES if scope is None else (scope,)
    for sc in scopes:
        target = config_path(sc)
        text, doc = _load(target)
        if name in _models_table(doc, target):
            new = copy.deepcopy(doc)
            del new["models"][name]
            _write_config(target, text, new, name, None)
            return target
    where = f" in {config_path(scope)}" if scope else ""
    raise GenlabError(f"no alias named {name!r}{where} ({_known_hint()})")


def _write_config(path: Path, old_text: str | None, new_doc: dict[str, Any], name: str,
                  table: dict[str, Any] | None) -> None:
    """Write `new_doc` to `path`: the old text with only alias `name` edited when that gives
    exactly `new_doc`, else the canonical rendering of `new_doc`."""
    block = dumps({"models": {name: table}}) if table is not None else None
    text = None
    if old_text:
        candidate = _edit_sections(old_text, name, block)
        try:
            if tomllib.loads(candidate) == new_doc:
                text = candidate
        except tomllib.TOMLDecodeError:
            pass
    if text is None:
        text = dumps(new_doc)
    from genlab.atomic import write_text

    write_text(path, text)


def _header_keys(line: str) -> list[str] | None:
    """The dotted key of a `[table]` or `[[array]]` header line, or None if the line is not one."""
    s = line.strip()
    if not s.startswith("["):
        return None
    double = s.startswith("[[")
    i = 2 if double else 1
    keys: list[str] = []
    while True:
        while i < len(s) and s[i] in " \t":
            i += 1
        if i < len(s) and s[i] in "\"'":
            quote = s[i]
            j = i + 1
            while j < len(s) and s[j] != quote:
                j += 2 if quote == '"' and s[j] == "\\" else 1
            if j >= len(s):
                return None
            try:
                keys.append(tomllib.loads(f"k = {s[i:j + 1]}")["k"])
            except tomllib.TOMLDecodeError:
                return None
            i = j + 1
        else:
            m = _BARE_RUN.match(s, i)
            if not m:
                return None
            keys.append(m.group())
            i = m.end()
        while i < len(s) and s[i] in " \t":
            i += 1
        if i < len(s) and s[i] == ".":
            i += 1
            continue
        break
    close = "]]" if double else "]"
    if not s.startswith(close, i):
        return None
    rest = s[i + len(close):].strip()
    return keys if not rest or rest.startswith("#") else None


def _edit_sections(text: str, name: str, block: str | None) -> str:
    """`text` without the [models.NAME...] sections, with `block` in place of the first one (or
    at the end). Comment lines just above the next section stay with it."""
    lines = text.splitlines(keepends=True)
    headers = [(i, keys) for i, line in enumerate(lines) if (keys := _header_keys(line)) is not None]
    spans: list[tuple[int, int]] = []
    for n, (start, keys) in enumerate(headers):
        if len(keys) >= 2 and keys[0] == "models" and keys[1] == name:
            end = headers[n + 1][0] if n + 1 < len(headers) else len(lines)
            if n + 1 < len(headers):
                while end - 1 > start and lines[end - 1].lstrip().startswith("#"):
                    end -= 1
            spans.append((start, end))
    out: list[str] = []
    pos = 0
    placed = block is None
    for start, end in spans:
        out.extend(lines[pos:start])
        if not placed:
            out.append(block)  # type: ignore[arg-type]
            if end < len(lines):
                out.append("\n")
            placed = True
        pos = end
    out.extend(lines[pos:])
    body = "".join(out)
    if block is None:
        return body.rstrip("\r\n") + "\n" if spans and body.strip() else body
    if placed:
        return body
    if not body.strip():
        return block
    if not body.endswith("\n"):
        body += "\n"
    return body + ("" if body.endswith(("\n\n", "\n\r\n")) else "\n") + block


# --- a small TOML writer -------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_BARE_RUN = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def dumps(doc: Mapping[str, Any]) -> str:
    """TOML text for `doc`: tables as [sections], other values (strings, numbers, booleans,
    dates, arrays, tables inside arrays) inline. tomllib.loads(dumps(doc)) == doc."""
    lines: list[str] = []
    _write_table(lines, [], doc)
    return "\n".join(lines) + "\n" if lines else ""


def _write_table(lines: list[str], path: list[str], table: Mapping[str, Any]) -> None:
    plain = [(k, v) for k, v in table.items() if not isinstance(v, Mapping)]
    tables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    if path and (plain or not tables):
        if lines:
            lines.append("")
        lines.append("[" + ".".join(_key(k) for k in path) + "]")
    for k, v in plain:
        lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in tables:
        _write_table(lines, [*path, k], v)


def _key(key: str) -> str:
    if not isinstance(key, str):
        raise GenlabError(f"TOML keys must be text, got {key!r}")
    return key if _BARE_KEY.match(key) else _string(key)


def _string(s: str) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            raise GenlabError(f"cannot write {s!r} to a TOML file: it is not valid Unicode text")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, os.PathLike):
        return _string(os.fspath(v))
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise GenlabError(f"cannot write {v!r} ({type(v).__name__}) to a TOML file")


# --- backend names -------------------------------------------------------------------------------


def parse_hf(spec: str) -> tuple[str, str]:
    """"OWNER/REPO/FILE.gguf" (FILE may be in a folder) -> ("OWNER/REPO", "FILE.gguf")."""
    parts = spec.strip().split("/")
    if len(parts) < 3 or not all(parts):
        raise GenlabError(f"hf:{spec} is not hf:OWNER/REPO/FILE.gguf "
                          "(for example hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf)")
    return "/".join(parts[:2]), "/".join(parts[2:])


def hf_download(spec: str) -> Path:
    """Download (or find in the Hugging Face cache) the file of hf:OWNER/REPO/FILE."""
    repo, filename = parse_hf(spec)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise GenlabError("hf: models need huggingface-hub: pip install 'genlab[hf]'") from None
    from genlab import __version__

    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, library_name="genlab",
                                    library_version=__version__))
    except Exception as exc:  # huggingface_hub's errors differ between versions: go by class name
        raise GenlabError(_hf_error(exc, repo, filename)) from None


def _hf_error(exc: BaseException, repo: str, filename: str) -> str:
    kinds = {c.__name__ for c in type(exc).__mro__}
    what = f"hf:{repo}/{filename}"
    if "OfflineModeIsEnabled" in kinds or "LocalEntryNotFoundError" in kinds:
        return (f"cannot download {what}: no connection to the Hugging Face Hub (or HF_HUB_OFFLINE is set) "
                "and the file is not in the local cache")
    if "GatedRepoError" in kinds:
        return f"{repo} is a gated repository: accept its terms on huggingface.co and log in (hf auth login)"
    if "RepositoryNotFoundError" in kinds:
        return f"no repository {repo} on the Hugging Face Hub (or it is private: log in with 'hf auth login')"
    if "EntryNotFoundError" in kinds or "RemoteEntryNotFoundError" in kinds:
        return f"no file {filename!r} in the Hugging Face repository {repo}"
    if "RevisionNotFoundError" in kinds:
        return f"revision not found in the Hugging Face repository {repo}"
    if "HFValidationError" in kinds:
        return f"{repo!r} is not a valid Hugging Face repository id (OWNER/REPO)"
    detail = " ".join(str(exc).split())[:200] or type(exc).__name__
    return f"downloading {what} failed: {detail}"
