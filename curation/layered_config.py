"""Configs built in layers: a preset, then a YAML file with any subset of its keys, then
`section.key=value` overrides from the command line. Shared by the sync classifier's and
AVSyncD's configs (pydantic models with nested sections)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

ConfigT = TypeVar("ConfigT", bound=BaseModel)


def merge(base: dict, update: Mapping) -> dict:
    """`update` over `base`, recursing into nested sections."""
    out = dict(base)
    for key, value in update.items():
        out[key] = merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) else value
    return out


def parse_override(text: str) -> dict:
    """`train.lr=1e-3` → {"train": {"lr": 0.001}} (the value is parsed as YAML)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form section.key=value")
    dotted, raw = text.split("=", 1)
    value: Any = yaml.safe_load(raw)
    for part in reversed(dotted.strip().split(".")):
        value = {part: value}
    return value


def read_mapping(path: str | Path) -> dict:
    """A YAML config file's top-level mapping (an empty file is an empty mapping)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"config file {path} must hold a mapping, got {type(loaded).__name__}")
    return loaded


def load_layered(presets: Mapping[str, Callable[[], ConfigT]], preset: str, path: str | Path | None = None,
                 overrides: Sequence[str] = ()) -> ConfigT:
    """The preset named `preset`, then the YAML file at `path`, then `overrides`, validated."""
    if preset not in presets:
        raise KeyError(f"unknown preset {preset!r}; choose from {sorted(presets)}")
    base = presets[preset]()
    data = base.model_dump()
    if path is not None:
        data = merge(data, read_mapping(path))
    for override in overrides:
        data = merge(data, parse_override(override))
    return type(base).model_validate(data)
