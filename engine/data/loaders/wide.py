"""`wide` format: a person x item response matrix (classic IRT data), read into the long canonical log.

Columns of the file play one of four roles:
- id: `id_column`, or the first column named (case-insensitively) one of `ID_NAMES` (e.g. `idstud`);
  without one, a person is named by the file's data row ("17"; with frequencies "17_3", the 3rd copy).
- frequency: `freq_column`; by default a column named `freq`/`frequency`/`count`. Each row then
  stands for that many persons (a pattern table such as mirt's LSAT7) and is expanded.
- covariates: `covariates`, by default every column named (case-insensitively) in `COVARIATE_NAMES`
  (e.g. `Gender`, `Anger`, `female`, `migra`, `hisei`, `idschool`). They go to `Dataset.roster`
  keyed by student_id (the subgroup columns of a fairness audit) and never into the responses. A
  user with other covariate names passes `covariates=["col", ...]` (Python API; `--covariates col,...` on
  the command line), or renames them.
- items: every other column; `item_id` is the column name, `seq` follows column order,
  `skill_ids` is empty.
Cells must be 0/1 (or a score in [0, 1]); a missing cell (`missing_values`, default empty/NA/NaN/.)
is simply absent from the long log. With `key` (one correct choice per item, a list or a
comma-separated string) raw choices are scored: choice == key -> 1, other choice -> 0.
Known public files get their documented settings by file name (`PRESETS`: mirt's SAT12 key, 8 =
missing); explicit options override them. Row numbers in errors count data rows from 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from engine.data.dataset import Dataset, canonical_responses
from engine.data.loaders.generic import (
    DEFAULT_NULLS,
    FILE_ROW,
    check_rows,
    integer_text,
    read_text_table,
    rows_problems,
    typed_columns,
    validate_file_rows,
)
from engine.data.schema import SKILL_LIST
from engine.errors import ConfigError, DataValidationError, Problem

ID_NAMES = ("idstud", "id", "student_id", "studentid", "person_id", "personid", "person", "")
FREQ_NAMES = ("freq", "frequency", "count")
COVARIATE_NAMES = (
    "gender", "sex", "female", "male", "anger", "migra", "migration", "hisei", "escs", "ses",
    "idschool", "school", "school_id", "age", "ethnicity", "race", "language", "country", "group",
)
SAT12_KEY = "1,4,5,2,3,1,2,1,3,1,2,4,2,1,5,3,4,4,1,4,3,3,4,1,3,5,1,3,1,5,4,5"
PRESETS: dict[str, dict[str, object]] = {
    # mirt's SAT12: raw choices 1-5, 8 = not answered; key from mirt's documentation.
    "mirt_SAT12.csv": {"key": SAT12_KEY, "missing_values": (*DEFAULT_NULLS, "8")},
}
PERSON = "__person__"


def _first_named(columns: Sequence[str], names: Sequence[str]) -> str | None:
    lowered = {c.strip().lower(): c for c in reversed(columns)}
    return next((lowered[n] for n in names if n in lowered), None)


def _roles(
    columns: list[str], id_column: str | None, freq_column: str | None, covariates: Sequence[str] | str, where: str
) -> tuple[str | None, str | None, list[str], list[str]]:
    """Split the file's columns into (id, frequency, covariates, items)."""
    data_columns = [c for c in columns if c != FILE_ROW]
    id_col = id_column if id_column is not None else _first_named(data_columns, ID_NAMES)
    freq_col = _first_named(data_columns, FREQ_NAMES) if freq_column == "auto" else freq_column
    if covariates == "auto":
        cov = [c for c in data_columns if c.strip().lower() in COVARIATE_NAMES and c not in (id_col, freq_col)]
    else:
        cov = [covariates] if isinstance(covariates, str) else list(covariates)
    named = [c for c in (id_col, freq_col, *cov) if c is not None]
    missing = [c for c in named if c not in data_columns]
    if missing:
        raise DataValidationError(
            [Problem(None, c, None, "column named in the options is not in the file") for c in missing],
            source=where,
        )
    items = [c for c in data_columns if c not in named]
    if not items:
        raise ConfigError(f"{where}: no item columns left after id, frequency and covariate columns")
    return id_col, freq_col, cov, items


def _key(key: Sequence[str] | str, items: list[str]) -> dict[str, str]:
    choices = [k.strip() for k in key.split(",")] if isinstance(key, str) else [str(k).strip() for k in key]
    if len(choices) != len(items):
        raise ConfigError(f"key has {len(choices)} entries but the file has {len(items)} item columns")
    return dict(zip(items, choices))


def _persons(raw: pl.DataFrame, id_col: str | None, freq_col: str | None, where: str) -> pl.DataFrame:
    """One row per person: `__file_row__` and `__person__` (the student_id), expanding frequency rows."""
    base = integer_text(pl.col(id_col)) if id_col else (pl.col(FILE_ROW) + 1).cast(pl.Utf8)
    if freq_col is None:
        return raw.select(FILE_ROW, base.alias(PERSON))
    rows = raw.select(FILE_ROW, freq_col, base.alias(PERSON), integer_text(pl.col(freq_col)).cast(pl.Int64, strict=False).alias("__freq__"))
    problems = check_rows(rows, pl.col("__freq__").is_null() | (pl.col("__freq__") < 0), freq_col,
                          "frequency must be a whole number >= 0 (how many persons share this row)")
    if problems:
        raise DataValidationError(problems, source=where)
    copies = rows.filter(pl.col("__freq__") > 0).with_columns(pl.int_ranges(1, pl.col("__freq__") + 1).alias("__copy__"))
    return copies.explode("__copy__").select(
        FILE_ROW, pl.concat_str([pl.col(PERSON), pl.col("__copy__").cast(pl.Utf8)], separator="_").alias(PERSON)
    )


def _scores(raw: pl.DataFrame, items: list[str], key: dict[str, str] | None, where: str) -> pl.DataFrame:
    """Long cells (`__file_row__`, item_id, correct) of answered cells; bad cells named by row and item."""
    long = raw.select(FILE_ROW, *items).unpivot(index=FILE_ROW, on=items, variable_name="item_id", value_name="cell")
    long = long.filter(pl.col("cell").is_not_null()).with_columns(pl.col("cell").str.strip_chars())
    if key is not None:
        keys = pl.col("item_id").replace_strict(key, return_dtype=pl.Utf8)
        return long.with_columns((integer_text(pl.col("cell")) == keys).cast(pl.Float64).alias("correct"))
    value = pl.col("cell").cast(pl.Float64, strict=False)
    bad = long.filter(value.is_null() | value.is_nan() | (value < 0) | (value > 1)).sort(FILE_ROW, maintain_order=True)
    if bad.height:
        hint = ("item cells must be 0/1 or a score in [0, 1]; raw choices need an answer key (--key A,C,B,...), "
                "a person column must be named (--covariates COL,...), a missing code listed (--missing-values 8,...); "
                "in Python: key=, covariates=, missing_values=")
        problems = []
        for item in bad["item_id"].unique(maintain_order=True).to_list():
            problems += rows_problems(bad.filter(pl.col("item_id") == item), item, hint, value_column="cell")
        raise DataValidationError(problems, source=where)
    return long.with_columns(value.alias("correct"))


def load_wide(
    path: str | Path,
    id_column: str | None = None,
    freq_column: str | None = "auto",
    covariates: Sequence[str] | str = "auto",
    key: Sequence[str] | str | None = None,
    missing_values: Sequence[str] | None = None,
    separator: str | None = None,
) -> Dataset:
    """Load a person x item matrix into long responses plus a covariate roster (see the module doc)."""
    target = Path(path)
    where = str(target)
    preset = PRESETS.get(target.name, {})
    key = preset.get("key") if key is None else key  # type: ignore[assignment]
    nulls = missing_values if missing_values is not None else preset.get("missing_values", DEFAULT_NULLS)
    raw = read_text_table(target, separator, null_values=list(nulls))  # type: ignore[arg-type]
    id_col, freq_col, cov, items = _roles(raw.columns, id_column, freq_column, covariates, where)
    persons = _persons(raw, id_col, freq_col, where)
    roster = validate_file_rows(
        persons.rename({PERSON: "student_id"}).join(raw.select(FILE_ROW, *cov), on=FILE_ROW, maintain_order="left"),
        "roster", where,
    ).drop(FILE_ROW)
    cells = _scores(raw, items, _key(key, items) if key is not None else None, where)
    position = {item: i for i, item in enumerate(items)}
    long = persons.with_row_index("__index__").join(cells, on=FILE_ROW, maintain_order="left").with_columns(
        pl.col("item_id").replace_strict(position, return_dtype=pl.Int64).alias("__pos__")
    ).sort(["__index__", "__pos__"])
    frame = long.select(
        pl.col(PERSON).alias("student_id"),
        "item_id",
        pl.lit([], dtype=SKILL_LIST).alias("skill_ids"),
        "correct",
    )
    responses = canonical_responses(frame, source=where)
    return Dataset(name=target.stem, train=responses, roster=typed_columns(roster, cov) if cov else None)
