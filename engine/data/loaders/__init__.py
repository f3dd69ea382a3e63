"""Loaders: one module per public format, each returning a canonical `Dataset`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.data.dataset import Dataset
from engine.data.loaders.assistments import load_assistments
from engine.data.loaders.datashop import load_datashop
from engine.data.loaders.dkt3 import load_dkt3
from engine.data.loaders.generic import load_generic
from engine.data.loaders.lpp import load_lpp
from engine.data.loaders.oulad import load_oulad
from engine.data.loaders.wide import load_wide
from engine.errors import ConfigError

FORMATS: dict[str, Callable[..., Dataset]] = {
    "lpp": load_lpp,
    "dkt3": load_dkt3,
    "datashop": load_datashop,
    "assistments": load_assistments,
    "wide": load_wide,
    "oulad": load_oulad,
    "generic": load_generic,
}


def load(path: str | Path, format: str, **options: object) -> Dataset:
    """Load `path` in the named `format` (see `FORMATS`) into a validated canonical Dataset."""
    try:
        loader = FORMATS[format]
    except KeyError:
        raise ConfigError(f"unknown data format {format!r}; choose one of: {', '.join(sorted(FORMATS))}") from None
    return loader(path, **options)
