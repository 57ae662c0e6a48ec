"""Experiment settings: flat YAML files validated against a dataclass, saved as JSON.

Each task defines one frozen dataclass of its settings with defaults.  A config file is a
flat YAML mapping (no inheritance, no nesting beyond plain lists/dicts as values) that
overrides some of them; unknown keys and wrong types are errors naming the file and the
key.  The resolved settings are saved as JSON beside every checkpoint, so a checkpoint
always says how it was made.

Example:
    >>> from dataclasses import dataclass
    >>> from flag3d.config import config_from_dict, config_to_dict
    >>> @dataclass(frozen=True)
    ... class Demo:
    ...     lr: float = 0.1
    ...     layers: int = 3
    ...     name: str = "x"
    >>> cfg = config_from_dict(Demo, {"lr": 0.01}, overrides=["layers=5"])
    >>> cfg.lr, cfg.layers, config_to_dict(cfg)["name"]
    (0.01, 5, 'x')
    >>> config_from_dict(Demo, {"lr": "fast"})
    Traceback (most recent call last):
    ...
    flag3d.errors.Flag3dError: config key 'lr' must be a number, got 'fast'
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Type, TypeVar, Union

import yaml

from flag3d.errors import Flag3dError

T = TypeVar("T")
PathLike = Union[str, "os.PathLike[str]"]


def _type_name(tp: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp)))


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Check (and gently convert) ``value`` against the annotation ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Union:  # Optional[X] and unions
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(key, value, arg)
            except Flag3dError:
                continue
        raise Flag3dError(f"config key {key!r} has an unsupported value {value!r}")
    if tp is Any:
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise Flag3dError(f"config key {key!r} must be a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise Flag3dError(f"config key {key!r} must have {len(args)} items, got {len(value)}")
            return tuple(_coerce(key, v, a) for v, a in zip(value, args))
        inner = args[0] if args else Any
        items = [_coerce(key, v, inner) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise Flag3dError(f"config key {key!r} must be a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise Flag3dError(f"config key {key!r} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise Flag3dError(f"config key {key!r} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Flag3dError(f"config key {key!r} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise Flag3dError(f"config key {key!r} must be a string, got {value!r}")
        return value
    return value


def _parse_override(item: str) -> tuple:
    if "=" not in item:
        raise Flag3dError(f"override {item!r} must look like key=value")
    key, raw = item.split("=", 1)
    return key.strip(), yaml.safe_load(raw)


def config_from_dict(cls: Type[T], values: Dict[str, Any],
                     overrides: Iterable[str] = (), source: Optional[PathLike] = None) -> T:
    """Build ``cls`` from ``values`` plus ``key=value`` overrides, validating every key."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls} is not a dataclass")
    merged = dict(values or {})
    merged.update(dict(_parse_override(o) for o in overrides))
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(merged) - names)
    try:
        if unknown:
            raise Flag3dError(f"unknown config key(s) {', '.join(unknown)}; known: "
                              f"{', '.join(sorted(names))}")
        kwargs = {k: _coerce(k, v, hints[k]) for k, v in merged.items()}
        return cls(**kwargs)
    except Flag3dError as err:
        raise err.with_path(source) if source is not None else err


def load_config(cls: Type[T], path: Optional[PathLike] = None, overrides: Iterable[str] = ()) -> T:
    """Read a flat YAML (or JSON) config file into ``cls``; ``None`` gives the defaults."""
    values: Dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise Flag3dError("config file not found", path=p)
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise Flag3dError(f"not valid YAML ({str(err).splitlines()[0]})", path=p) from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise Flag3dError("a config file must be a mapping of key: value", path=p)
        values = loaded
    return config_from_dict(cls, values, overrides, source=path)


def config_to_dict(cfg: Any) -> Dict[str, Any]:
    """Plain JSON-able dict of a config dataclass (tuples become lists)."""
    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        return v

    return {f.name: plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}


def save_config(cfg: Any, path: PathLike) -> None:
    """Write the resolved settings as JSON (atomically)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(config_to_dict(cfg), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, p)
