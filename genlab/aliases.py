"""Model aliases: short names for GGUF files and server models, with their settings, kept in
genlab.toml files.

Two files are read, the first one that defines a name wins: ``./genlab.toml`` in the working
directory ("local": one project's settings), then ``genlab.toml`` in the user config folder
("user", see genlab.folders.config_dir). An alias is a ``[models.NAME]`` table::

    [models.llama3]
    path = "~/models/Meta-Llama-3-8B-Instruct.Q5_K_M.gguf"
    n_ctx = 8192                 # also n_threads, n_gpu_layers, chat_format
    [models.llama3.sampling]     # defaults under the command line's sampling flags
    temperature = 0.7

``~`` is expanded, and a relative path is relative to the folder of the file that defines it.
An alias with ``url`` instead of ``path`` names a model on an OpenAI-compatible server; the
API key is read from the environment variable ``api_key_env`` names, so the file holds no
secret (also: ``model``, ``timeout`` in seconds, ``extra_sampling``). Unknown keys are an error.
Adding or removing an alias edits only its own table (genlab.tomledit).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from genlab import tomledit
from genlab.kinds import BUILT_IN
from genlab.errors import GenlabError
from genlab.folders import checked_path, config_dir, expand_user, working_dir
from genlab.sampling import Sampling, parse_value

CONFIG_NAME = "genlab.toml"
SCOPES = ("local", "user")
RESERVED = tuple(BUILT_IN)  # an alias cannot take a built-in kind's name: `--backend markov` stays an error
LLAMA_SETTINGS = ("n_ctx", "n_threads", "n_gpu_layers", "chat_format")
SERVER_KEYS = ("url", "model", "api_key_env", "timeout", "extra_sampling")  # an alias of a server model
ALIAS_KEYS = ("path", *LLAMA_SETTINGS, "sampling", *SERVER_KEYS)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_MINIMUM = {"n_ctx": 8, "n_threads": 1, "n_gpu_layers": -1}
_MAXIMUM = 2**31 - 1  # llama.cpp keeps these in 32-bit integers
MAX_TIMEOUT = 86400.0  # a day: longer is a typo, and too long for the socket's clock


# --- where the files are -------------------------------------------------------------------------


def config_path(scope: str) -> Path:
    """The file of a scope: "local" (./genlab.toml) or "user"."""
    if scope == "local":
        return working_dir() / CONFIG_NAME
    if scope == "user":
        return config_dir() / CONFIG_NAME
    raise GenlabError(f"unknown config scope {scope!r}: use 'local' or 'user'")


def config_files() -> list[tuple[str, Path]]:
    """(scope, file) in lookup order; the user file is left out when it is the local one."""
    local, user = config_path("local"), config_path("user")
    try:
        same = local.resolve() == user.resolve()
    except OSError:
        same = False
    return [("local", local)] if same else [("local", local), ("user", user)]


# --- the two kinds of alias ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Alias:
    """One `[models.NAME]` entry, checked. sampling: default sampling settings (only the keys
    given, already converted). source: the file that defines it; scope: "local" or "user"."""

    name: str
    sampling: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    scope: str | None = None

    is_server = False

    @property
    def location(self) -> str:
        """What the alias names: a file or a server address."""
        raise NotImplementedError

    def options(self) -> dict[str, Any]:
        """The loader's settings that are set."""
        return {}

    def sampling_json(self) -> dict[str, Any]:
        """The sampling settings as TOML or JSON values (lists, not tuples)."""
        return _plain(self.sampling)


@dataclass(frozen=True, kw_only=True)
class FileAlias(Alias):
    """An alias of a GGUF file. path: ~ expanded and absolute; raw_path: as written in the file.
    n_ctx, n_threads, n_gpu_layers, chat_format: llama settings, None when not set."""

    path: Path
    raw_path: str = ""
    n_ctx: int | None = None
    n_threads: int | None = None
    n_gpu_layers: int | None = None
    chat_format: str | None = None

    @property
    def location(self) -> str:
        return str(self.path)

    def options(self) -> dict[str, Any]:
        """The llama settings that are set, as keyword arguments of the llama loader."""
        return {k: getattr(self, k) for k in LLAMA_SETTINGS if getattr(self, k) is not None}


@dataclass(frozen=True, kw_only=True)
class ServerAlias(Alias):
    """An alias of a model on an OpenAI-compatible server at `url` (never a local file)."""

    url: str
    model: str | None = None
    api_key_env: str | None = None
    timeout: float | None = None
    extra_sampling: bool | None = None

    is_server = True

    @property
    def location(self) -> str:
        return self.url

    def server_options(self) -> dict[str, Any]:
        """Keyword arguments of the server generator for this alias."""
        out: dict[str, Any] = {"url": self.url, "model": self.model, "name": self.name}
        out.update({k: getattr(self, k) for k in ("api_key_env", "timeout", "extra_sampling")
                    if getattr(self, k) is not None})
        return out


# --- checking ------------------------------------------------------------------------------------


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


def check_settings(where: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Checked llama settings (None values dropped); `where` starts every error message."""
    where = f"{where}: " if where else ""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if value is None:
            continue
        if key in _MINIMUM:
            if isinstance(value, bool) or not isinstance(value, int) or not _MINIMUM[key] <= value <= _MAXIMUM:
                raise GenlabError(f"{where}{key} must be a whole number >= {_MINIMUM[key]} and <= {_MAXIMUM}, "
                                  f"got {_shown(value)}")
            out[key] = value
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


def _from_table(name: str, table: Any, source: Path, scope: str | None) -> Alias:
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
        return _server_alias(name, table, where, source=source, scope=scope)
    raw = table.get("path")
    if raw is None:
        raise GenlabError(f"{where} needs path = \"FILE.gguf\" (or url = \"http://HOST:PORT/v1\" for a server)")
    if not isinstance(raw, str) or not raw.strip():
        raise GenlabError(f"{where} needs path = \"FILE.gguf\" (the file's path as text), got {_shown(raw)}")
    server = [k for k in SERVER_KEYS if k in table]
    if server:
        raise GenlabError(f"{where}: {server[0]!r} is a server setting: a server alias has url = \"...\" "
                          "instead of path")
    try:
        path = expand_user(checked_path(raw))
    except GenlabError as exc:
        raise GenlabError(f"{where}: {exc}") from None
    if not path.is_absolute():
        path = source.parent / path
    settings = check_settings(where, {k: table.get(k) for k in LLAMA_SETTINGS})
    sampling = _check_sampling(where, table.get("sampling", {}))
    return FileAlias(name=name, path=Path(os.path.normpath(path)), raw_path=raw, sampling=sampling,
                     source=source, scope=scope, **settings)


def _server_alias(name: str, table: dict[str, Any], where: str, **common: Any) -> ServerAlias:
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
                                or not 0 < timeout <= MAX_TIMEOUT):
        raise GenlabError(f"{where}: timeout must be a number of seconds > 0 and at most {MAX_TIMEOUT:g}, "
                          f"got {_shown(timeout)}")
    extra = table.get("extra_sampling")
    if extra is not None and not isinstance(extra, bool):
        raise GenlabError(f"{where}: extra_sampling must be true or false, got {extra!r}")
    sampling = _check_sampling(where, table.get("sampling", {}))
    return ServerAlias(name=name, url=url.strip(), model=model.strip() if model else None, api_key_env=env,
                       timeout=timeout, extra_sampling=extra, sampling=sampling, **common)


# --- reading -------------------------------------------------------------------------------------


def _models_table(doc: Mapping[str, Any], path: Path) -> dict[str, Any]:
    models = doc.get("models", {})
    if not isinstance(models, dict):
        raise GenlabError(f"{path}: 'models' must be a table of aliases ([models.NAME] sections)")
    return models


def _defined() -> Iterator[tuple[str, Path, dict[str, Any]]]:
    """(scope, file, models table) of every config file, in lookup order."""
    for scope, path in config_files():
        _, doc = tomledit.load(path)
        yield scope, path, _models_table(doc, path)


def find_alias(name: str) -> Alias | None:
    """The alias called `name` (./genlab.toml first, then the user file), or None."""
    for scope, path, models in _defined():
        if name in models:
            return _from_table(name, models[name], path, scope)
    return None


def find_alias_quietly(name: str) -> Alias | None:
    """The alias `name` if it exists and reads cleanly, else None (a broken one is being replaced)."""
    try:
        return find_alias(name)
    except GenlabError:
        return None


def list_aliases(include_shadowed: bool = False, problems: list[str] | None = None) -> list[Alias]:
    """Every alias in effect, sorted by name; with include_shadowed, also user aliases that a
    local one of the same name hides (listed after it). An alias that cannot be read is an
    error, or, given a `problems` list, left out with its one-line reason there (so one bad
    alias does not hide the others). A file that cannot be read is an error either way."""
    seen: set[str] = set()
    out: list[Alias] = []
    for scope, path, models in _defined():
        for name, table in models.items():
            if name in seen and not include_shadowed:
                continue
            seen.add(name)
            try:
                out.append(_from_table(name, table, path, scope))
            except GenlabError as exc:
                if problems is None:
                    raise
                problems.append(str(exc))
    order = {s: i for i, s in enumerate(SCOPES)}
    return sorted(out, key=lambda a: (a.name, order.get(a.scope or "", 9)))


def alias_names() -> list[str]:
    """Names of every alias, without checking their settings (for messages)."""
    names: set[str] = set()
    for _, _, models in _defined():
        names.update(models)
    return sorted(names)


# --- writing -------------------------------------------------------------------------------------


def add_alias(name: str, path: str | os.PathLike[str], *, n_ctx: int | None = None, n_threads: int | None = None,
              n_gpu_layers: int | None = None, chat_format: str | None = None,
              sampling: Mapping[str, Any] | None = None, scope: str = "user", replace: bool = False) -> FileAlias:
    """Define alias `name` for the GGUF file `path` in the user or local config file.

    The file is not opened here (genlab.newalias checks it). A relative `path` is stored as an
    absolute one in the user file and as given in the local file (it is relative to the
    working directory, which is where ./genlab.toml lives); a path starting with ~ is kept as
    written. An existing alias of the same name in that file is an error unless `replace`
    (it is then replaced whole).
    """
    check_name(name)
    raw = os.fspath(path)
    if not isinstance(raw, str) or not raw.strip():
        raise GenlabError("an alias needs the path of a GGUF file")
    if not raw.startswith("~") and not os.path.isabs(raw) and scope == "user":
        raw = os.path.abspath(raw)
    table: dict[str, Any] = {"path": raw}
    table.update(check_settings(f"alias {name!r}", dict(n_ctx=n_ctx, n_threads=n_threads,
                                                        n_gpu_layers=n_gpu_layers, chat_format=chat_format)))
    alias = _save(name, table, sampling, scope, replace)
    assert isinstance(alias, FileAlias)
    return alias


def add_server_alias(name: str, url: str, *, model: str | None = None, api_key_env: str | None = None,
                     timeout: float | None = None, sampling: Mapping[str, Any] | None = None,
                     scope: str = "user", replace: bool = False) -> ServerAlias:
    """Define alias `name` for a model on an OpenAI-compatible server. The key itself is never
    stored: `api_key_env` names the environment variable that holds it. The server is not
    contacted here."""
    check_name(name)
    table: dict[str, Any] = {"url": url}
    table.update({k: v for k, v in (("model", model), ("api_key_env", api_key_env), ("timeout", timeout))
                  if v is not None})
    alias = _save(name, table, sampling, scope, replace)
    assert isinstance(alias, ServerAlias)
    return alias


def _save(name: str, table: dict[str, Any], sampling: Mapping[str, Any] | None, scope: str,
          replace: bool) -> Alias:
    """Check alias `name`'s table as reading it back will, then write it into the scope's file."""
    target = config_path(scope)
    if sampling:
        checked = _check_sampling(f"alias {name!r}", {k: v for k, v in sampling.items() if v is not None})
        if checked:
            table["sampling"] = _plain(checked)
    alias = _from_table(name, table, target, scope)  # exactly what reading it back will give
    _, doc = tomledit.load(target)
    if name in _models_table(doc, target) and not replace:
        raise GenlabError(f"alias {name!r} already exists in {target}; remove it first or replace it "
                          "(genlab models add --replace)")
    tomledit.set_table(target, "models", name, table)
    return alias


def remove_alias(name: str, scope: str | None = None) -> Path:
    """Delete alias `name` from the file that defines it (the local one first), or from the file
    of `scope`; returns that file."""
    for sc in SCOPES if scope is None else (scope,):
        target = config_path(sc)
        _, doc = tomledit.load(target)
        if name in _models_table(doc, target):
            tomledit.set_table(target, "models", name, None)
            return target
    where = f" in {config_path(scope)}" if scope else ""
    raise GenlabError(f"no alias named {name!r}{where} ({_known_hint()})")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _plain(sampling: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in sampling.items()}


def _known_hint() -> str:
    try:
        names = alias_names()
    except GenlabError:
        return ""
    if not names:
        return "no aliases yet: add one with 'genlab models add NAME PATH.gguf'"
    return "known aliases: " + ", ".join(names)
