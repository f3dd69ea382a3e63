"""Read a catalog bundle from disk into raw polars tables (no validation here; see `catalog.build`).

A bundle is either
- a folder with `skills.*`, `items.*`, `resources.*` and optionally `interventions.*` and
  `skill_params.*` (population priors per skill for cold start), each `.csv`,
  `.json` or `.toml`, plus an optional manifest `catalog.toml` / `catalog.json` (`name`, `version`,
  `description`); or
- one `.toml` / `.json` file with top-level arrays `skills`, `items`, `resources` and optionally
  `interventions`, `skill_params` (and optional `name`, `version`, `description`).

In CSV files, list cells (`prerequisites`, `skill_ids`) are joined with ";".
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from engine.catalog.schema import LIST_COLUMNS, LIST_SEPARATOR, TABLES
from engine.errors import ConfigError, DataError, NotFoundError
from engine.jsonfile import check_text_table, read_text, sniff_separator, table_error, tidy_text_table

SUFFIXES = (".csv", ".json", ".toml")
REQUIRED_TABLES = ("skills", "items", "resources")
MANIFEST_NAMES = ("catalog.toml", "catalog.json")


@dataclass
class RawBundle:
    """Tables as read from disk, keyed by table name; `source` names the path for error messages."""

    source: str
    name: str
    version: str
    description: str = ""
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)


def _read_structured(path: Path) -> Any:
    kind = "TOML" if path.suffix == ".toml" else "JSON"
    text = read_text(path, "catalog file", f"a catalog table or bundle in {kind}")
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        return json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot parse {kind}: {exc}") from None


def _records_frame(records: Any, table: str, where: str) -> pl.DataFrame:
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError(f"{where}: {table!r} must be a list of records (an array of tables in TOML, of objects in JSON)")
    if not records:
        return pl.DataFrame()
    return pl.from_dicts(records, infer_schema_length=None)


def _split_list_cells(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Turn CSV text cells "a;b" into lists ["a", "b"]; empty cells become empty lists."""
    exprs = []
    for column in LIST_COLUMNS[table]:
        if column in frame.columns and frame[column].dtype == pl.Utf8:
            exprs.append(
                pl.col(column).fill_null("").str.split(LIST_SEPARATOR)
                .list.eval(pl.element().str.strip_chars()).list.eval(pl.element().filter(pl.element() != ""))
                .alias(column)
            )
    return frame.with_columns(exprs) if exprs else frame


def read_table(path: str | Path, table: str) -> pl.DataFrame:
    """One table file (.csv, .json or .toml) as a raw frame; list cells of CSV files are split."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{table} table not found: {path}")
    return _read_table_file(path, table)


def _read_table_file(path: Path, table: str) -> pl.DataFrame:
    if path.suffix == ".csv":
        check_text_table(path, f"{table} table", "comma-separated text with a header row")
        try:
            separator = sniff_separator(path)
            frame = tidy_text_table(pl.read_csv(path, infer_schema=False, separator=separator))
            frame = frame.with_columns(pl.col(pl.Utf8).str.strip_chars())  # ' s01' is s01: no id or name starts with a space
            lower = {c: c.lower() for c in frame.columns if c != c.lower() and c.lower() not in frame.columns}
            frame = frame.rename(lower) if len(set(lower.values())) == len(lower) else frame  # Item_ID is item_id
        except pl.exceptions.PolarsError as exc:
            raise DataError(table_error(path, exc, separator)) from None
        return _split_list_cells(frame, table)
    payload = _read_structured(path)
    records = payload.get(table) if isinstance(payload, dict) else payload
    if records is None:
        raise DataError(f"{path}: expected a top-level {table!r} array")
    return _records_frame(records, table, str(path))


def _table_path(folder: Path, table: str) -> Path | None:
    found = [folder / f"{table}{suffix}" for suffix in SUFFIXES if (folder / f"{table}{suffix}").is_file()]
    if len(found) > 1:
        raise ConfigError(f"{folder}: several files for table {table!r} ({', '.join(p.name for p in found)}); keep one")
    return found[0] if found else None


def _read_folder(folder: Path) -> RawBundle:
    manifest: dict[str, Any] = {}
    for name in MANIFEST_NAMES:
        if (folder / name).is_file():
            manifest = _read_structured(folder / name)
            break
    bundle = RawBundle(
        source=str(folder),
        name=str(manifest.get("name", folder.name)),
        version=str(manifest.get("version", "0")),
        description=str(manifest.get("description", "")),
    )
    for table in TABLES:
        path = _table_path(folder, table)
        if path is None:
            if table in REQUIRED_TABLES:
                raise DataError(f"{folder}: no {table} table; add {table}.csv, {table}.json or {table}.toml")
            bundle.tables[table] = pl.DataFrame()
            continue
        bundle.tables[table] = _read_table_file(path, table)
    return bundle


def _read_single_file(path: Path) -> RawBundle:
    if path.suffix not in (".toml", ".json"):
        raise ConfigError(f"{path}: a one-file catalog must be .toml or .json (or give a folder bundle)")
    payload = _read_structured(path)
    if not isinstance(payload, dict):
        raise DataError(f"{path}: expected an object with arrays {', '.join(TABLES)}")
    bundle = RawBundle(
        source=str(path),
        name=str(payload.get("name", path.stem)),
        version=str(payload.get("version", "0")),
        description=str(payload.get("description", "")),
    )
    for table in TABLES:
        if table not in payload:
            if table in REQUIRED_TABLES:
                raise DataError(f"{path}: no {table!r} array; every catalog needs {', '.join(REQUIRED_TABLES)}")
            bundle.tables[table] = pl.DataFrame()
            continue
        bundle.tables[table] = _records_frame(payload[table], table, str(path))
    return bundle


def read_bundle(path: str | Path) -> RawBundle:
    """Read the raw tables of the bundle at `path` (folder or single file)."""
    p = Path(path)
    if not p.exists():
        raise NotFoundError(f"catalog not found: {p}")
    return _read_folder(p) if p.is_dir() else _read_single_file(p)
