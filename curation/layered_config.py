"""Configs built in layers, the one way every CLI loads its config:

    preset  <  YAML file (any subset of keys)  <  CLI flags  <  `--set section.key=value` (last)

Shared by the sync classifier's, AVSyncD's and curation's configs (pydantic models with nested
sections, all deriving from `StrictConfig`, so an unknown key is an error).

Values mean what the user typed. PyYAML implements YAML 1.1, where `no`, `off`, `yes`, `on` are
booleans and `1e-4` is a string; here YAML files and override values are read with YAML 1.2's
core rules (only `true`/`false` are booleans, `1e-4` is a number), and pydantic's own coercion
turns `no`/`off`/`yes`/`on` into booleans for boolean fields only. An override whose target field
holds text (`str`, a `Literal` of strings, a path) keeps the raw text, so `no` stays "no" and
paths with `:` or `#` arrive whole.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml
from pydantic import BaseModel, ConfigDict

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class StrictConfig(BaseModel):
    """Base of every config section: unknown keys are errors, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema booleans and floats."""


# Drop YAML 1.1's implicit bool, int and float resolvers (`no`, `12:30` = 750, `010` = 8), then add
# the 1.2 core ones.
_YAML11_ONLY = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML11_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
# Ints first: 1.2's float pattern also matches `3`.
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
                                    list("-+0123456789"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith(("0x", "0o")):
        return int(text[2:], 16 if text[1] == "x" else 8)
    return int(text, 10)


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_yaml(text: str) -> Any:
    """Parse YAML text with YAML 1.2 core booleans/floats (`no` is a string, `1e-4` a float)."""
    return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 (a SafeLoader subclass)


def merge(base: dict, update: Mapping) -> dict:
    """`update` over `base`, recursing into nested sections."""
    out = dict(base)
    for key, value in update.items():
        out[key] = merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) else value
    return out


_NONE = {"null", "~", "None", "none"}


def _is_text(annotation: Any) -> bool:
    """Whether a field of this type holds text: str, Path, a Literal of strings, or an optional one."""
    if annotation in (str, Path):
        return True
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return all(isinstance(arg, str) for arg in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return bool(members) and all(_is_text(arg) for arg in members)
    return False


def _optional(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (Union, types.UnionType) and type(None) in typing.get_args(annotation)


def _field_type(config_type: type[BaseModel] | None, path: Sequence[str]) -> Any:
    """The annotation of the field at `path` in `config_type` (None when unknown: the
    validation after merging reports unknown keys with the model's own message)."""
    annotation: Any = config_type
    for part in path:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part)
            if field is None:
                return None
            annotation = field.annotation
        elif typing.get_origin(annotation) in (dict, Mapping):
            annotation = typing.get_args(annotation)[1] if typing.get_args(annotation) else Any
        else:
            return None
    return annotation


def parse_value(raw: str, annotation: Any = None) -> Any:
    """The value a user meant by `raw` for a field of type `annotation` (None/Any: read as YAML).

    Text fields keep the raw text (a quoted value is unquoted; `null` clears an optional one).
    Other fields are read as YAML 1.2; a collection only when written as one (`[a, b]`, `{k: v}`),
    so a value like `a: b` is not silently turned into a mapping.
    """
    text = raw.strip()
    if _is_text(annotation):
        if text in _NONE and _optional(annotation):
            return None
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return load_yaml(text)
        return raw
    try:
        value = load_yaml(text) if text else ""
    except yaml.YAMLError:
        return raw
    if isinstance(value, (dict, list)) and not text.startswith(("[", "{")):
        return raw
    if isinstance(value, str) and text[:1] not in ("'", '"'):
        return text  # as typed: YAML would drop a ` #...` tail as a comment
    return value


def parse_override(text: str, config_type: type[BaseModel] | None = None) -> dict:
    """`train.lr=1e-3` → {"train": {"lr": 0.001}}, the value parsed for the target field's type
    in `config_type` (see `parse_value`)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form section.key=value")
    dotted, raw = text.split("=", 1)
    path = [part.strip() for part in dotted.strip().split(".")]
    if not all(path):
        raise ValueError(f"override {text!r}: empty key in {dotted!r}")
    return nest(path, parse_value(raw, _field_type(config_type, path)))


def nest(path: Sequence[str], value: Any) -> dict:
    """["train", "lr"], 1e-3 → {"train": {"lr": 1e-3}}."""
    for part in reversed(path):
        value = {part: value}
    return value


def read_mapping(path: str | Path) -> dict:
    """A YAML config file's top-level mapping (an empty file is an empty mapping), read with
    YAML 1.2 booleans/floats (`mixed_precision: no` is the string "no")."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    loaded = load_yaml(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"config file {path} must hold a mapping, got {type(loaded).__name__}")
    return loaded


def load_layered(presets: Mapping[str, Callable[[], ConfigT]], preset: str, path: str | Path | None = None,
                 overrides: Sequence[str] = (), flags: Mapping[str, Any] | None = None) -> ConfigT:
    """The preset named `preset`, then the YAML file at `path`, then `flags` (dotted key → typed
    value, from a CLI's own options; None values are skipped), then `overrides` (`--set` texts,
    applied last), validated."""
    if preset not in presets:
        raise KeyError(f"unknown preset {preset!r}; choose from {sorted(presets)}")
    base = presets[preset]()
    config_type = type(base)
    data = base.model_dump()
    if path is not None:
        data = merge(data, read_mapping(path))
    for dotted, value in (flags or {}).items():
        if value is not None:
            data = merge(data, nest(dotted.split("."), value))
    for override in overrides:
        data = merge(data, parse_override(override, config_type))
    return config_type.model_validate(data)


def config_error_message(exc: Exception) -> str:
    """One line for a CLI: `train.lr: Input should be greater than 0 (got -1)`; pydantic's own
    message spans several lines per error."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return str(exc)
    return "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']} (got {error.get('input')!r})"
                     for error in exc.errors())
