"""Which catalog is served: the model set's own (component `catalog`), else an uploaded bundle (kept under
EQUILEARN_HOME), else the demo.

A model set that carries its catalog was fitted to it (item bank, skill model), so it wins over any
uploaded bundle: a server started with such a set serves its catalog without an upload, and an upload
while it is served is refused (`ConflictError`) rather than silently mismatching the models. A set
without a catalog keeps the old order: uploaded bundle, else the demo catalog.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from engine.catalog import Catalog, RawBundle, build_catalog, demo_catalog
from engine.catalog.catalog import misspelt_column
from engine.catalog.schema import TABLES
from engine.errors import ConflictError, DataError

log = logging.getLogger(__name__)

REQUIRED = ("skills", "items", "resources")
BUNDLE_KEYS = ("name", "version", "description", *TABLES)
MODEL_SET, UPLOADED, DEMO = "model set", "uploaded", "demo"


def catalog_from_dict(payload: Any, source: str = "uploaded catalog") -> Catalog:
    """Validate a one-document bundle (`name`, `version`, arrays `skills`, `items`, `resources`, optional
    `interventions`, `skill_params`) and build the catalog, or raise listing every problem."""
    if not isinstance(payload, dict):
        raise DataError(f"{source}: expected an object with arrays {', '.join(REQUIRED)}")
    unknown = sorted(set(payload) - set(BUNDLE_KEYS), key=str)
    if unknown:
        hints = [f"{k!r} (did you mean {m!r}?)" if (m := misspelt_column(str(k), BUNDLE_KEYS)) else repr(k) for k in unknown]
        raise DataError(f"{source}: unknown key(s) {', '.join(hints)}; a catalog bundle has {', '.join(BUNDLE_KEYS)} "
                        "(anything else would be ignored)")
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


@dataclass(frozen=True)
class ServedCatalog:
    """The catalog to serve and where it came from (`MODEL_SET`, `UPLOADED` or `DEMO`)."""

    catalog: Catalog
    source: str


def choose_catalog(uploaded: Path, components: dict[str, Any]) -> ServedCatalog:
    """The model set's catalog, else the uploaded bundle at `uploaded`, else the demo (module docstring)."""
    if isinstance(components.get("catalog"), dict):
        if uploaded.is_file():
            log.warning("the model set carries its own catalog; the uploaded catalog %s is not served", uploaded)
        return ServedCatalog(catalog_from_dict(components["catalog"], source="model-set catalog"), MODEL_SET)
    if uploaded.is_file():
        return ServedCatalog(catalog_from_dict(json.loads(uploaded.read_text()), source=str(uploaded)), UPLOADED)
    return ServedCatalog(demo_catalog(), DEMO)


def refuse_upload_over_set_catalog(components: dict[str, Any], set_label: str) -> None:
    """An upload cannot replace the catalog a served model set carries (its models were fitted to it)."""
    if isinstance(components.get("catalog"), dict):
        raise ConflictError(f"the served model set {set_label} carries its own catalog, which its item bank and skill "
                            "model were fitted to; an uploaded catalog would not match them. Build a model set for the "
                            "new catalog (`equilearn model build --catalog ...`) and serve that instead")


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def catalog_to_dict(catalog: Catalog) -> dict[str, Any]:
    """The one-document bundle of a validated catalog (what `catalog_from_dict` reads back): `name`,
    `version`, `description`, arrays `skills`, `items`, `resources`, `interventions`, `skill_params`."""
    tables = {"skills": catalog.skills, "items": catalog.items, "resources": catalog.resources,
              "interventions": catalog.interventions, "skill_params": catalog.skill_params}
    out: dict[str, Any] = {"name": catalog.name, "version": catalog.version, "description": ""}
    for table, frame in tables.items():
        rows = frame.to_dicts() if frame.height else []
        out[table] = [{k: _json_value(v) for k, v in row.items() if v is not None} for row in rows]
    return out


def save_uploaded(path: Path, payload: dict[str, Any]) -> None:
    """Keep an accepted bundle (atomically: a crash leaves the old one or the new one, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)

