"""How a key of the config file is declared (``key()``), read (``Table``) and checked, and the
one loader (``Loader``) that walks the dataclasses of ``rnmail.config``. Nothing here knows a
particular section: the declarations and their hooks are in ``rnmail.config``."""

from __future__ import annotations

import math
import os
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import Field, dataclass, field, fields, is_dataclass
from datetime import date, time
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from rnmail.errors import ConfigError


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # a key without default: the file must give it
SAME: Any = object()

Reader = Callable[["Table", str, Any], Any]  # (table, key, default) -> value
Parser = Callable[[Any, "Table", str], Any]  # (value read, table, key) -> value
Deriver = Callable[[dict[str, Any], "Loader"], Any]  # (the section's values so far, loader)


@dataclass(frozen=True)
class Key:
    """How one key of the file is read, checked and documented: its field's metadata."""

    doc: str
    default: Any  # the value when the file leaves the key out; REQUIRED: it must be given
    min: float | None = None  # integers: at least 0 anyway; numbers: greater than 0 anyway
    max: float | None = None
    unit: str = ""  # said after ``max`` in the message and the reference
    choices: tuple[str, ...] = ()  # of the value, or of every item of a list
    secret: bool = False  # may come from the variable named by ``<key>_env`` or the
    # file named by ``<key>_file``
    name: str = ""  # the key in the file when it is not the field's name
    type_doc: str = ""  # the type in the reference when the annotation does not say it
    default_doc: str = ""  # the default in the reference when ``default`` does not say it
    derive: Deriver | None = None  # hook: a default computed from other values
    read: Reader | None = None  # hook: a key read its own way
    parse: Parser | None = None  # hook: checks (and may convert) the value read
    in_file: bool = True  # False: not a key of the file, set by ``derive``


KEY = "rnmail.config"


def key(default: Any = REQUIRED, *, doc: str, code_default: Any = SAME,
        min: float | None = None, max: float | None = None, unit: str = "",
        choices: tuple[str, ...] = (), secret: bool = False, name: str = "",
        type_doc: str = "", default_doc: str = "", derive: Deriver | None = None,
        read: Reader | None = None, parse: Parser | None = None,
        in_file: bool = True) -> Any:
    """A dataclass field that is a key of the file. ``default`` is the value when the file
    leaves it out (absent: the key is required); ``code_default`` the field's own default
    (for the dataclass built in code) when it differs, ``REQUIRED`` for none."""
    spec = Key(doc, default, min, max, unit, choices, secret, name, type_doc, default_doc,
               derive, read, parse, in_file)
    own = default if code_default is SAME else code_default
    if own is REQUIRED:
        return field(metadata={KEY: spec})
    return field(default=own, metadata={KEY: spec})


class Table:
    """Typed reads from one TOML table, with errors that name the file and the key."""

    def __init__(self, data: Any, where: str, base: Path) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a table")
        self.data: dict[str, Any] = data
        self.where = where
        self.base = base
        self.used: set[str] = set()

    def _get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is REQUIRED:
                raise ConfigError(f"{self.where}: missing required key {key!r}")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{self.where}.{key}: expected {_kind_name(kind)}, got {value!r}")
        return value

    def text(self, key: str, default: Any = None) -> Any:
        return self._get(key, str, default)

    def boolean(self, key: str, default: bool) -> bool:
        return bool(self._get(key, bool, default))

    def integer(self, key: str, default: Any = None) -> Any:
        value = self._get(key, int, default)
        if isinstance(value, int) and value < 0:
            raise ConfigError(f"{self.where}.{key}: must not be negative")
        return value

    def number(self, key: str, default: Any = None) -> Any:
        value = self._get(key, float, default)
        if isinstance(value, float) and not 0 < value < math.inf:  # nan compares false
            raise ConfigError(f"{self.where}.{key}: must be a positive finite number")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._get(key, list, None)
        if value is None:
            return default
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.where}.{key}: expected a list of strings")
        return tuple(value)

    def choice(self, key: str, choices: tuple[str, ...], default: Any) -> Any:
        value = self.text(key, default)
        if value not in choices:
            raise ConfigError(f"{self.where}.{key}: {value!r} is not one of {', '.join(choices)}")
        return value

    def path(self, key: str, default: str | None = None) -> Path | None:
        value = self.text(key, default)
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.base / p).resolve()

    def secret(self, key: str, default: Any = "") -> Any:
        """A secret from the file, from the environment variable named by ``KEY_env``, or
        from the file named by ``KEY_file`` (its first line)."""
        env_name = self.text(f"{key}_env")
        file_path = self.path(f"{key}_file")
        if env_name and key in self.data:
            raise ConfigError(f"{self.where}: give either {key} or {key}_env, not both")
        if file_path is not None and (env_name or key in self.data):
            other = f"{key}_env" if env_name else key
            raise ConfigError(f"{self.where}: give either {other} or {key}_file, not both")
        if file_path is not None:
            try:
                lines = file_path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise ConfigError(f"{self.where}.{key}_file: cannot read {file_path}: "
                                  f"{reason}") from None
            return lines[0].strip() if lines else ""
        if env_name:
            if env_name not in os.environ:
                raise ConfigError(
                    f"{self.where}.{key}_env: environment variable {env_name} is not set"
                )
            return os.environ[env_name]
        return self.text(key, default)

    def hour(self, key: str, default: Any) -> time:
        value = self.text(key, default.isoformat("minutes") if isinstance(default, time)
                          else default)
        try:
            return time.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{self.where}.{key}: expected a time such as 08:30, not "
                              f"{value!r}") from None

    def dates(self, key: str, default: tuple[date, ...]) -> tuple[date, ...]:
        if key not in self.data:
            self.used.add(key)
            return default
        days = []
        for value in self.strings(key, ()):
            try:
                days.append(date.fromisoformat(value))
            except ValueError:
                raise ConfigError(f"{self.where}.{key}: expected dates such as 2026-12-24, not "
                                  f"{value!r}") from None
        return tuple(days)

    def check_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(f"{self.where}: unknown key(s) {', '.join(unknown)}")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list"}
    return names.get(kind, str(kind)) if isinstance(kind, type) else "a value"


def read_by_type(t: Table, name: str, hint: Any, default: Any) -> Any:
    """The plain reading of a key of type ``hint``."""
    if hint is str:
        return t.text(name, default)
    if hint is bool:
        return t.boolean(name, default)
    if hint is int:
        return t.integer(name, default)
    if hint is float:
        return t.number(name, default)
    if hint is time:
        return t.hour(name, default)
    if is_path(hint):
        return t.path(name, str(default) if isinstance(default, Path) else default)
    if hint == tuple[str, ...]:
        return t.strings(name, default)
    if hint == tuple[date, ...]:
        return t.dates(name, default)
    raise TypeError(f"{t.where}.{name}: no reader for {hint!r}: declare read=")


def is_path(hint: Any) -> bool:
    return hint is Path or (isinstance(hint, types.UnionType)
                            and set(get_args(hint)) == {Path, type(None)})


def keys(cls: type) -> Iterator[tuple[Field[Any], Key, Any]]:
    """The fields of a section with their declaration and resolved type."""
    hints = get_type_hints(cls)
    for f in fields(cls):
        yield f, f.metadata[KEY], hints[f.name]


def sections(root: type) -> Iterator[tuple[str, str, type, bool]]:
    """(field, name in the file, dataclass, is an array of tables) per section of ``root``:
    its fields that are a dataclass or a tuple of them; ``field(metadata={KEY: "name"})``
    gives the name in the file when it is not the field's."""
    hints = get_type_hints(root)
    for f in fields(root):
        hint = hints[f.name]
        array = get_origin(hint) is tuple
        cls = get_args(hint)[0] if array else hint
        if isinstance(cls, type) and is_dataclass(cls):
            yield f.name, f.metadata.get(KEY, f.name), cls, array


class Loader:
    """Reads one file into ``root``: each section once, in the order of ``root``'s fields
    unless a ``derive`` hook asks for another first (``section()``). ``root`` is built with
    ``path`` and the sections; ``checks`` are the checks across the keys of a section."""

    def __init__(self, root: type, raw: dict[str, Any], cfg_path: Path,
                 checks: Mapping[type, Callable[[Any, str], None]]) -> None:
        self.root = root
        self.raw = raw
        self.cfg_path = cfg_path
        self.base = cfg_path.parent
        self.checks = checks
        self.specs = {attr: (toml, cls, array) for attr, toml, cls, array in sections(root)}
        self.tables: dict[str, Table] = {}
        self.loaded: dict[str, Any] = {}
        self.memo: dict[str, Any] = {}  # for hooks that read something once

    def load(self) -> Any:
        top = Table(self.raw, str(self.cfg_path), self.base)
        top.used.update(toml for toml, _cls, _array in self.specs.values())
        top.check_unknown()
        for attr in self.specs:
            self.section(attr)
        return self.root(path=self.cfg_path, **self.loaded)

    def table(self, toml: str) -> Table:
        if toml not in self.tables:
            self.tables[toml] = Table(self.raw.get(toml, {}), f"[{toml}]", self.base)
        return self.tables[toml]

    def section(self, attr: str) -> Any:
        if attr not in self.loaded:
            toml, cls, array = self.specs[attr]
            if array:
                self.loaded[attr] = self._array(toml, cls)
            else:
                self.loaded[attr] = self._read(cls, self.table(toml))
        return self.loaded[attr]

    def _array(self, toml: str, cls: type) -> tuple[Any, ...]:
        items = self.raw.get(toml, [])
        if not isinstance(items, list):
            raise ConfigError(f"{self.cfg_path}: [[{toml}]] must be an array of tables")
        read = tuple(self._read(cls, Table(item, f"[[{toml}]] #{i + 1}", self.base), toml)
                     for i, item in enumerate(items))
        names = [item.name for item in read]
        if len(set(names)) != len(names):
            raise ConfigError(f"{self.cfg_path}: {toml} names must be unique "
                              f"({', '.join(names)})")
        return read

    def _read(self, cls: type, t: Table, array: str = "") -> Any:
        """One table into ``cls``: every key read (those with a derived default last), then
        unknown keys refused, then each value checked, then the section as a whole."""
        values: dict[str, Any] = {}
        declared = sorted(keys(cls), key=lambda d: d[1].derive is not None)
        for f, spec, hint in declared:
            values[f.name] = self._read_key(t, spec.name or f.name, spec, hint, values)
            if array and f.name == "name":  # the tables of an array are named by their name
                t.where = f"[[{array}]] {values['name']!r}"
        t.check_unknown()
        for f, spec, _hint in declared:
            values[f.name] = check_key(t, spec.name or f.name, spec, values[f.name])
        section = cls(**values)
        if cls in self.checks:
            self.checks[cls](section, t.where)
        return section

    def _read_key(self, t: Table, name: str, spec: Key, hint: Any,
                  values: dict[str, Any]) -> Any:
        default = spec.default if spec.derive is None else spec.derive(values, self)
        if not spec.in_file:
            return default
        if spec.read is not None:
            return spec.read(t, name, default)
        if spec.secret:
            return t.secret(name, default)
        if spec.choices and hint is str:
            return t.choice(name, spec.choices, default)
        return read_by_type(t, name, hint, default)


# How a value below its minimum is worded: "[ingest].batch_size: must be at least 1", but
# "[web].session_hours: at least 1", as [web] always said.
BELOW_MIN = {"[web]": "at least"}


def check_key(t: Table, name: str, spec: Key, value: Any) -> Any:
    """The checks of one value read: its ``parse`` hook, its choices and bounds."""
    if not spec.in_file:
        return value
    if spec.parse is not None:
        value = spec.parse(value, t, name)
    for item in value if isinstance(value, tuple) and spec.choices else ():
        if item not in spec.choices:
            raise ConfigError(f"{t.where}.{name}: {item!r} is not one of "
                              f"{', '.join(spec.choices)}")
    if spec.min is not None and value < spec.min:
        said = BELOW_MIN.get(t.where, "must be at least")
        raise ConfigError(f"{t.where}.{name}: {said} {spec.min}")
    if spec.max is not None and value > spec.max:
        raise ConfigError(f"{t.where}.{name}: at most {spec.max} {spec.unit}".rstrip())
    return value


