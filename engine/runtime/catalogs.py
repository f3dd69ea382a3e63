"""Which catalog is served: an uploaded bundle (kept under EQUILEARN_HOME), else the model set's, else the demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from engine.catalog import Catalog, RawBundle, build_catalog, demo_catalog
from engine.catalog.schema import TABLES
from engine.errors import DataError

REQUIRED = ("skills", "items", "resources")


def catalog_from_dict(payload: Any, source: str = "uploaded catalog") -> Catalog:
    """Validate a one-document bundle (`name`, `version`, arrays `skills`, `items`, `resources`, optional
    `interventions`, `skill_params`) and build the catalog, or raise listing every problem."""
    if not isinstance(payload, dict):
        raise DataError(f"{source}: expected an object with arrays {', '.join(REQUIRED)}")
    missing = [t for t in REQUIRED if t not in payload]
    if missing:
        raise DataError(f"{source}: missing array(s) {', '.join(missing)}; every catalog needs {', '.join(REQUIRED)}")
    tables: dict[str, pl.DataFrame] = {}
    for table in TABLES:
        records = payload.get(table) or []
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise DataError(f"{source}: {table!r} must be an array of objects")
        if table in REQUIRED and not records:
            raise DataError(f"{source}: {table!r} is empty")
        try:
            tables[table] = pl.from_dicts(records, infer_schema_length=None) if records else pl.DataFrame()
        except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
            raise DataError(f"{source}: {table!r} has columns of mixed types ({exc.__class__.__name__}); "
                            "give each column one type") from None
    raw = RawBundle(source=source, name=str(payload.get("name", "uploaded")), version=str(payload.get("version", "0")),
                    description=str(payload.get("description", "")), tables=tables)
    return build_catalog(raw)


def serving_catalog(uploaded: Path, components: dict[str, Any]) -> Catalog:
    if uploaded.is_file():
        return catalog_from_dict(json.loads(uploaded.read_text()), source=str(uploaded))
    if isinstance(components.get("catalog"), dict):
        return catalog_from_dict(components["catalog"], source="model-set catalog")
    return demo_catalog()


def save_uploaded(path: Path, payload: dict[str, Any]) -> None:
    """Keep an accepted bundle (atomically: a crash leaves the old one or the new one, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)

