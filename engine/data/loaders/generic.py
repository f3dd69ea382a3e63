"""`generic` format: a user's own response log (CSV/TSV or Parquet) with a column mapping.

Options of `load_generic`:
- `columns`: canonical name -> source column name, for any of `student_id`, `item_id`, `correct`
  (required) and `skill_ids`, `timestamp`, `seq`, `steered`, `resource_id` (optional; `steered`: whether the adaptive
  policy chose the item, true/false or 1/0, `engine.data.steering`; `resource_id`: the resource the student used just
  before the answer, empty where none, `engine.recommend.resource_value`). Unmapped names are looked up as they are, else
  whatever their case and surrounding spaces (`Student_ID`); ids lose surrounding spaces, and an id column written
  wholly as floats ("12.0", pandas' export of integers with blanks) reads as integers ("12"); blank lines are skipped.
  Text files must be UTF-8 (a Latin-1 export is an error naming its line, not merged ids).
- `skill_separator` (default ","): splits a text skill column ("12,15" -> ["12", "15"]); a Parquet
  list column is used as it is. Without a skill column every response gets an empty skill list.
- `separator`: CSV field separator; default tab for `.tsv`/`.tab`, otherwise sniffed from the header.
- `timestamp_format`: strptime format of a text timestamp, or `unix` / `unix_ms` (seconds / milliseconds since
  1970-01-01 UTC). Default: ISO 8601 text, and a column of plain numbers with one at least 1e8 as Unix time, each
  value in the unit its size says (seconds below 1e11, milliseconds below 1e14, microseconds below 1e17, else
  nanoseconds: for times from 1973 to 5138 the ranges do not overlap, so a column that mixes units reads right).
  Smaller numbers there (step or day counts) are errors naming their rows rather than times in 1970: they belong
  in `seq`.
  Dates written day/month/year or month/day/year take the order the values show (a number above 12 first or
  second); a column whose every date reads both ways is an error asking for the format. Times are read as UTC.
- `correct`: a number in [0, 1], or `true` / `false`, `t` / `f`, `yes` / `no` in any case (Python and pandas,
  PostgreSQL, spreadsheets).
- `roster_columns`: per-student columns (subgroups for fairness audits) returned as `Dataset.roster`
  and kept out of the responses; a student must have one value per column.
Order within a student: `seq` when mapped, else `timestamp` (ties keep file order, and an answer without a time
follows the answer before it in the file), else file order. Row numbers in errors count data rows from 1, header excluded.

The module also holds the table helpers the other text loaders share: reading every column as text
with clear errors, checking required columns, and validating in file-row terms.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import polars as pl

from engine.data.dataset import Dataset, canonical_responses
from engine.data.loaders.common import require_file
from engine.data.schema import SCHEMAS, SKILL_LIST, UTC_DATETIME, TableSchema
from engine.data.validate import find_problems, validate
from engine.errors import DataValidationError, Problem
from engine.jsonfile import binary_data, sniff_separator, table_error, tidy_text_table

FILE_ROW = "__file_row__"  # 0-based data row of the source file, carried through a loader
ROWS_LISTED = 20
DEFAULT_NULLS = ("", "NA", "NaN", "nan", "null", "NULL")
CANONICAL = ("student_id", "item_id", "correct", "skill_ids", "timestamp", "seq", "steered", "resource_id")
REQUIRED = ("student_id", "item_id", "correct")


# ----------------------------------------------------------------------------- shared table helpers
def read_text_table(path: Path, separator: str | None = None, null_values: Sequence[str] = DEFAULT_NULLS) -> pl.DataFrame:
    """Read a delimited file with every column as text (so bad values are reported, not guessed).

    Returns the frame with a `__file_row__` column (0-based data row). An absent, empty or
    unreadable file raises a DataValidationError naming the path.
    """
    require_file(path)
    if (why := binary_data(path)) is not None:
        raise DataValidationError([Problem(None, None, None, f"not a text file ({why}); expected a comma- or tab-separated "
                                                             "text table with a header row (or check --format)")], str(path))
    sep = separator or sniff_separator(path)
    try:
        frame = pl.read_csv(
            path, separator=sep, infer_schema=False, null_values=list(null_values), encoding="utf8-lossy",
        )
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise DataValidationError(
            [Problem(None, None, None, table_error(path, exc, sep, with_file=False))], source=str(path),
        ) from None
    frame = tidy_text_table(frame.with_row_index(FILE_ROW))
    if frame.width <= 1 or frame.height == 0:
        raise DataValidationError([Problem(None, None, str(path), "the file has no data rows")], source=str(path))
    return frame


def require_columns(frame: pl.DataFrame, needed: Iterable[str], source: str, what: str) -> None:
    """Raise one DataValidationError naming every needed column the frame lacks."""
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        has = ", ".join(repr(c) for c in frame.columns if c != FILE_ROW)
        raise DataValidationError(
            [Problem(None, c, None, f"required column is missing (the file's columns: {has}); {what}") for c in missing],
            source=source,
        )


def rows_problems(bad: pl.DataFrame, column: str, hint: str, value_column: str | None = None) -> list[Problem]:
    """Problems for the offending rows of `bad` (holding `__file_row__`): first rows listed, rest counted."""
    if bad.height == 0:
        return []
    value_column = value_column or column
    rows = (bad[FILE_ROW] + 1).to_list()
    values = bad[value_column].to_list() if value_column in bad.columns else [None] * bad.height
    listed = [Problem(int(r), column, v, hint) for r, v in zip(rows[:ROWS_LISTED], values[:ROWS_LISTED])]
    if bad.height > ROWS_LISTED:
        listed.append(Problem(int(rows[ROWS_LISTED]), column, values[ROWS_LISTED], hint, count=bad.height - ROWS_LISTED))
    return listed


def check_rows(frame: pl.DataFrame, mask: pl.Expr, column: str, hint: str, value_column: str | None = None) -> list[Problem]:
    """Problems for rows of `frame` where `mask` is true (null counts as false)."""
    return rows_problems(frame.filter(mask.fill_null(False)), column, hint, value_column)


def to_file_rows(problems: list[Problem], file_rows: pl.Series) -> list[Problem]:
    """Re-express Problems whose rows index `file_rows` (1-based) as 1-based source-file data rows."""
    return [p if p.row is None else replace(p, row=int(file_rows[p.row - 1]) + 1) for p in problems]


def _duplicate_key_problems(frame: pl.DataFrame, sch: TableSchema) -> list[Problem]:
    """Rows repeating a single-column unique key (e.g. a roster's student_id), in file-row terms."""
    if len(sch.unique_key) != 1 or sch.unique_key[0] not in frame.columns:
        return []
    key = sch.unique_key[0]
    hint = f"duplicate {key}; each must be unique: remove or rename the repeated rows"
    return check_rows(frame, pl.col(key).is_duplicated() & pl.col(key).is_not_null(), key, hint)


def validate_file_rows(
    frame: pl.DataFrame, schema: TableSchema | str, source: str, found: Sequence[Problem] = ()
) -> pl.DataFrame:
    """Validate a canonical table still in file order, naming source-file rows; returns the cast frame.

    `frame` must hold `__file_row__`; it is kept in the result so a loader can sort stably afterwards.
    Repeats of a single-column unique key are reported here (first occurrences are checked further).
    `found`: problems a loader already found in source columns, raised together with these.
    """
    sch = SCHEMAS[schema] if isinstance(schema, str) else schema
    duplicates = _duplicate_key_problems(frame, sch)
    if duplicates:
        frame = frame.unique(sch.unique_key[0], keep="first", maintain_order=True)
    file_rows = frame[FILE_ROW]
    cast, problems = find_problems(frame.drop(FILE_ROW), sch)
    problems = [*found, *duplicates, *to_file_rows(problems, file_rows)]
    if problems:
        raise DataValidationError(problems, source=f"{source} ({sch.name})")
    return cast.with_columns(file_rows)


def integer_text(expr: pl.Expr) -> pl.Expr:
    """Text ids written by float-typed exports ("12.0") back to integer text ("12"); others unchanged."""
    return expr.str.strip_chars().str.replace(r"^(-?\d+)\.0+$", "${1}")


def split_skills(expr: pl.Expr, separator: str) -> pl.Expr:
    """A text skill column to a list of non-empty skill ids; missing text gives an empty list."""
    parts = expr.str.split(separator).list.eval(integer_text(pl.element())).list.eval(
        pl.element().filter(pl.element().str.len_chars() > 0)
    )
    return parts.fill_null(pl.lit([], dtype=SKILL_LIST))


FIRST_ROW = "__first_row__"


def in_file_order(frame: pl.DataFrame, then: Sequence[str]) -> pl.DataFrame:
    """Students in the order they first appear in the file (not sorted as text: 1, 10, 100, 2), each
    student's rows by `then`; `frame` must hold `__file_row__`."""
    first = pl.col(FILE_ROW).min().over("student_id").alias(FIRST_ROW)
    return frame.with_columns(first).sort([FIRST_ROW, *then], nulls_last=True, maintain_order=True).drop(FIRST_ROW)


TIME_KEY = "__time_key__"  # ordering time: a missing time takes the time of the student's answer before it in the file


def number_within_student(frame: pl.DataFrame, order: Sequence[str]) -> pl.DataFrame:
    """Group by student in file order, then sort by `order` (stable: ties and nulls keep file order, nulls
    last) and set `seq`."""
    ordered = in_file_order(frame, [*order, FILE_ROW])
    return ordered.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).over("student_id").alias("seq"))


def typed_columns(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Give text columns a numeric type when every present value parses (Int64, else Float64)."""
    out = []
    for name in columns:
        series = frame[name]
        if series.dtype != pl.Utf8:
            continue
        for dtype in (pl.Int64, pl.Float64):
            parsed = series.str.strip_chars().cast(dtype, strict=False)
            if parsed.null_count() == series.null_count():
                out.append(parsed.alias(name))
                break
    return frame.with_columns(out) if out else frame


# ----------------------------------------------------------------------------- the generic loader
def _not_utf8(path: Path, chunk: int = 1 << 24) -> Problem | None:
    """The first byte of `path` that is not UTF-8, as a problem naming its data row, else None (read in chunks, so a
    large log costs no second copy in memory). A spreadsheet's Latin-1 or Windows-1252 export decoded leniently would
    turn 'José' and 'Josè' into one student without a word."""
    decoder, newlines = codecs.getincrementaldecoder("utf-8")(), 0
    with path.open("rb") as handle:
        while True:
            data = handle.read(chunk)
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                # newlines before the bad byte (its index counts a few undecoded bytes of the chunk before, never a
                # newline): 0 = the header, else the 1-based data row
                row = newlines + data.count(b"\n", 0, max(exc.start, 0))
                where = "the header" if not row else f"line {row + 1}"
                return Problem(row or None, None, None, f"the file is not UTF-8 text ({where}): re-save it as UTF-8 "
                                                         "(spreadsheets: CSV UTF-8); read leniently, different ids could "
                                                         "merge into one")
            if not data:
                return None
            newlines += data.count(b"\n")


def _read_any(path: Path, separator: str | None) -> pl.DataFrame:
    if path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
        raise DataValidationError([Problem(None, None, str(path), "JSON logs are not read: write the log as CSV, TSV or "
                                                                  "Parquet, one row per answer (README, \"Data formats\")")],
                                  str(path))
    if path.suffix.lower() in (".parquet", ".pq"):
        require_file(path)
        try:
            frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise DataValidationError([Problem(None, None, str(path), f"unreadable Parquet file: {exc}")], str(path)) from exc
        return frame.with_row_index(FILE_ROW)
    require_file(path)
    if binary_data(path) is None and (problem := _not_utf8(path)) is not None:  # binary files get their own message
        raise DataValidationError([problem], str(path))
    return read_text_table(path, separator)


def _skill_column(frame: pl.DataFrame, source: str | None, separator: str) -> pl.Expr:
    if source is None:
        return pl.lit([], dtype=SKILL_LIST).alias("skill_ids")
    if isinstance(frame[source].dtype, pl.List):
        return pl.col(source).cast(SKILL_LIST).fill_null(pl.lit([], dtype=SKILL_LIST)).alias("skill_ids")
    return split_skills(pl.col(source).cast(pl.Utf8), separator).alias("skill_ids")


def _parse_times(text: pl.Series, zoned: bool) -> pl.Series:
    """Parse (format inferred) only the values that do / do not end in a UTC offset, as UTC times."""
    has_zone = text.str.contains(r"(Z|[+-]\d\d:?\d\d)$")
    subset = pl.select(pl.when(has_zone if zoned else ~has_zone).then(text)).to_series()
    nothing = pl.Series(text.name, [None] * text.len(), dtype=UTC_DATETIME)
    if subset.null_count() == subset.len():
        return nothing
    try:
        parsed = subset.str.to_datetime(time_unit="us", strict=False)
    except pl.exceptions.ComputeError:  # no value gives away a format: none of them is a date-time
        return nothing
    zone = getattr(parsed.dtype, "time_zone", None)
    return parsed.dt.convert_time_zone("UTC") if zone else parsed.dt.replace_time_zone("UTC")


UNIX_FORMATS = {"unix": 1_000_000.0, "unix_ms": 1_000.0}  # timestamp_format -> microseconds per unit
UNIX_FROM = 1e8  # a plain-number timestamp is read as Unix time from this on (1973); below, a count of steps or days
# A plain number's unit by its size, for times from 1973 to 5138: seconds below 1e11, milliseconds below 1e14,
# microseconds below 1e17, nanoseconds above (the ranges do not overlap, so each value is read by its own size and a
# column that mixes units, a platform that changed its export, reads right)
UNIX_UNITS = ((1e11, 1_000_000.0), (1e14, 1_000.0), (1e17, 1.0), (float("inf"), 0.001))
MAX_MICROS = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z


def _unix_times(numbers: pl.Series, micros_per_unit: float | pl.Series) -> pl.Series:
    """Numbers of seconds (or other units) since 1970-01-01 UTC as UTC times (fractions kept to the microsecond);
    a value beyond year 9999 becomes null, so it is reported as a row that cannot be read, not a crash."""
    micros = (numbers * micros_per_unit).round()
    micros = pl.select(pl.when(micros.abs() <= MAX_MICROS).then(micros)).to_series().cast(pl.Int64)
    return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")


def _micros_per_unit(numbers: pl.Series) -> pl.Series:
    """Per value, the microseconds of its unit by its size (UNIX_UNITS)."""
    size = pl.col("size")
    expr = pl.lit(UNIX_UNITS[-1][1])
    for bound, micros in reversed(UNIX_UNITS[:-1]):
        expr = pl.when(size < bound).then(pl.lit(micros)).otherwise(expr)
    return pl.DataFrame({"size": numbers.abs()}).select(expr.alias("micros")).to_series()


def _timestamp(frame: pl.DataFrame, source: str, fmt: str | None) -> tuple[pl.Series, list[Problem]]:
    """Parse a timestamp column to UTC, and list the rows whose values are not date-times."""
    column = frame[source]
    if isinstance(column.dtype, pl.Datetime):
        utc = column.dt.replace_time_zone("UTC") if column.dtype.time_zone is None else column.dt.convert_time_zone("UTC")
        return utc.alias("timestamp"), []
    text = column.cast(pl.Utf8).str.strip_chars()
    numbers = text.cast(pl.Float64, strict=False)
    # plain numbers, at least one of them a Unix time (a column of small numbers only, e.g. 20240131, is read as text)
    all_numbers = (numbers.null_count() == text.null_count() and text.null_count() < text.len()
                   and float(numbers.abs().max()) >= UNIX_FROM)
    if fmt in UNIX_FORMATS:
        parsed = _unix_times(numbers, UNIX_FORMATS[fmt])
    elif fmt:
        parsed = text.str.to_datetime(fmt, time_zone="UTC", strict=False, time_unit="us")
    elif all_numbers:
        early = frame.select(FILE_ROW, pl.col(source)).filter(numbers.abs() < UNIX_FROM)
        if early.height:  # plain numbers, some too small to be Unix times: name those rows, not every row
            return pl.Series("timestamp", [None] * text.len(), dtype=UTC_DATETIME), rows_problems(early, source, (
                "a plain number below 100000000 is not a Unix time after 1973 (the other values of the column are): a "
                "count of steps or days is not a time (map it as seq, --column seq=...), and a missing time is an empty "
                "cell"))
        parsed = _unix_times(numbers, _micros_per_unit(numbers))
    else:
        text, ambiguous = _numeric_dates_as_iso(text)
        if ambiguous is not None:
            return pl.Series("timestamp", [None] * text.len(), dtype=UTC_DATETIME), [Problem(None, source, ambiguous, (
                "every date reads both day-first and month-first (no day above 12), so the order cannot be told; name "
                "it: --timestamp-format '%m/%d/%Y %H:%M' (month first) or '%d/%m/%Y %H:%M' (day first), with your "
                "time part (Python: timestamp_format=)"))]
        parsed = pl.coalesce(_parse_times(text, zoned=False), _parse_times(text, zoned=True))
    bad = frame.select(FILE_ROW, pl.col(source)).filter(parsed.is_null() & text.is_not_null())
    hint = (f"cannot be read as a date-time (format {fmt or 'not given'}); write ISO 8601 (2024-01-31T14:05:00Z) or "
            "Unix seconds, or name the format: --timestamp-format '%d/%m/%Y %H:%M', unix or unix_ms "
            "(Python: timestamp_format=); a count of steps or days is not a time: map it as seq (--column seq=...)")
    return parsed.alias("timestamp"), rows_problems(bad, source, hint)


NUMERIC_DATE = r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})(.*)$"  # 31/01/2026 14:05, 01.31.2026, ...


def _numeric_dates_as_iso(text: pl.Series) -> tuple[pl.Series, str | None]:
    """Dates written day/month/year or month/day/year, as ISO text (the rest of each value, a time, kept), the order
    told by the values: a first number above 12 makes the column day-first, a second one month-first. When every
    value fits both orders the column is returned as it is with the first value, to be named in an error: read
    either way, 01/04/2026 would be a silent guess of January or April. Columns not wholly in this form pass
    unchanged (None)."""
    parts = text.str.extract_groups(NUMERIC_DATE)
    present = text.is_not_null()
    if not bool(present.any()) or bool((parts.struct.field("1").is_null() & present).any()):
        return text, None
    first, second = (parts.struct.field(k).cast(pl.Int64) for k in ("1", "2"))
    day_first, month_first = int(first.max()) > 12, int(second.max()) > 12
    if day_first == month_first:  # both orders fit (or neither): nothing in the data to tell them apart
        return text, (str(text.drop_nulls()[0]) if not day_first else None)
    day, month = (first, second) if day_first else (second, first)
    iso = pl.select(pl.concat_str([parts.struct.field("3"), pl.lit("-"), month.cast(pl.Utf8).str.zfill(2), pl.lit("-"),
                                   day.cast(pl.Utf8).str.zfill(2), parts.struct.field("4")])).to_series()
    return iso.alias(text.name), None


def _correct_column(column: pl.Series) -> pl.Expr:
    """The `correct` column with boolean words read as 1 / 0 (TRUE_WORDS / FALSE_WORDS in any case), or a Boolean column."""
    name = column.name
    if column.dtype == pl.Boolean:
        return pl.col(name).cast(pl.Float64)
    if column.dtype != pl.Utf8:
        return pl.col(name)
    word = pl.col(name).str.strip_chars().str.to_lowercase()
    return (pl.when(word.is_in(TRUE_WORDS)).then(pl.lit("1")).when(word.is_in(FALSE_WORDS)).then(pl.lit("0"))
            .otherwise(pl.col(name).str.strip_chars()).alias(name))


TRUE_WORDS, FALSE_WORDS = ("true", "t", "yes"), ("false", "f", "no")  # Python/pandas, PostgreSQL, spreadsheets


def _id_column(raw: pl.DataFrame, source: str, name: str) -> pl.Expr:
    """An id column as stripped text; a column whose every value is written as a float ("12.0", what pandas writes
    for an integer column with a blank) back to integer text ("12"), as skill ids are (`integer_text`)."""
    text = raw[source].cast(pl.Utf8).str.strip_chars()
    present = text.drop_nulls()
    float_export = present.len() > 0 and bool(present.str.contains(r"^-?\d+\.0+$").all())
    column = pl.col(source).cast(pl.Utf8).str.strip_chars()
    return (integer_text(column) if float_export else column).alias(name)


def _steered_column(raw: pl.DataFrame, source: str) -> tuple[pl.Series, list[Problem]]:
    """`steered` as booleans from true/false (any case) or 1/0, with a problem naming each other value's file row."""
    text = raw[source].cast(pl.Utf8).str.strip_chars().str.to_lowercase()
    value = pl.select(pl.when(text.is_in(["true", "1", "1.0"])).then(True)
                      .when(text.is_in(["false", "0", "0.0"])).then(False).otherwise(None)).to_series().alias("steered")
    bad = raw.select(FILE_ROW, pl.col(source)).filter(value.is_null())
    hint = "steered must be true/false or 1/0: whether the adaptive policy chose the item (engine.data.steering)"
    return value, [Problem(int(r) + 1, "steered", v, hint) for r, v in bad.head(20).iter_rows()]


def _roster(frame: pl.DataFrame, columns: Sequence[str], where: str) -> pl.DataFrame:
    """One row per student with the roster columns; a student with two different values is a problem."""
    per_student = frame.select(FILE_ROW, "student_id", *columns).unique(["student_id", *columns], keep="first", maintain_order=True)
    clash = per_student.filter(pl.col("student_id").is_duplicated())
    if clash.height:
        hint = f"a student has more than one value in the roster columns {list(columns)}; keep one per student"
        raise DataValidationError(rows_problems(clash, "student_id", hint), source=where)
    return validate(typed_columns(per_student.drop(FILE_ROW), columns), "roster", source=where)


def _resolve_column(columns: Sequence[str], name: str, where: str) -> str:
    """`name` when the file has that column; else the one column equal to it but for case and surrounding spaces
    (`Student_ID` for student_id, `Timestamp` for timestamp), so a column is never left out for its spelling; else
    `name` (missing: reported by the caller)."""
    if name in columns:
        return name
    alike = [c for c in columns if c.strip().lower() == name.strip().lower()]
    if len(alike) > 1:
        raise DataValidationError([Problem(None, name, None, f"several columns could be {name!r} ({', '.join(map(repr, alike))}); "
                                                             f"name one with --column {name}=COLUMN")], where)
    return alike[0] if alike else name


def load_generic(
    path: str | Path,
    columns: Mapping[str, str] | None = None,
    skill_separator: str = ",",
    separator: str | None = None,
    timestamp_format: str | None = None,
    roster_columns: Sequence[str] = (),
) -> Dataset:
    """Load a long response log (one row per response) from CSV/TSV or Parquet; see the module doc."""
    target = Path(path)
    where = str(target)
    mapping = {name: name for name in CANONICAL} | dict(columns or {})
    unknown = sorted(set(mapping) - set(CANONICAL))
    if unknown:
        raise DataValidationError(
            [Problem(None, u, None, f"not a canonical column; map only {', '.join(CANONICAL)}") for u in unknown], where
        )
    raw = _read_any(target, separator)
    mapping = {name: _resolve_column(raw.columns, source, where) for name, source in mapping.items()}
    require_columns(raw, [mapping[c] for c in REQUIRED] + list(roster_columns), where,
                    "map it with --column CANONICAL=YOURS on the command line, e.g. --column student_id=learner "
                    "(Python: columns={canonical name: your column name})")
    present = {c: mapping[c] for c in CANONICAL if mapping[c] in raw.columns}
    raw = raw.with_columns(_correct_column(raw[present["correct"]]))
    selected = [
        pl.col(FILE_ROW),
        _id_column(raw, present["student_id"], "student_id"),  # ' s01' is s01
        _id_column(raw, present["item_id"], "item_id"),
        _skill_column(raw, present.get("skill_ids"), skill_separator),
        pl.col(present["correct"]).alias("correct"),
    ]
    if "seq" in present:
        selected.append(pl.col(present["seq"]).alias("seq"))
    if "resource_id" in present:
        selected.append(_id_column(raw, present["resource_id"], "resource_id"))
    frame = raw.select(selected)
    time_problems: list[Problem] = []
    if "timestamp" in present:
        timestamp, time_problems = _timestamp(raw, present["timestamp"], timestamp_format)
        frame = frame.with_columns(timestamp)
    if "seq" not in present:
        frame = frame.with_columns(pl.col(FILE_ROW).cast(pl.Int64).alias("seq"))  # placeholder, unique
    if "steered" in present:
        steered, steered_problems = _steered_column(raw, present["steered"])
        frame, time_problems = frame.with_columns(steered), time_problems + steered_problems
    checked = validate_file_rows(frame, "responses", where, time_problems)
    if "timestamp" in present:  # an answer without a time stays where the file has it: after the answer before it
        checked = checked.with_columns(pl.col("timestamp").forward_fill().backward_fill().over("student_id").alias(TIME_KEY))
    if "seq" not in present:
        checked = number_within_student(checked, [TIME_KEY] if "timestamp" in present else [])
    roster = None
    if roster_columns:
        per_row = raw.select(FILE_ROW, *roster_columns).with_columns(frame["student_id"])
        roster = _roster(per_row, roster_columns, where)
    responses = canonical_responses(in_file_order(checked, ["seq"]).drop(FILE_ROW, TIME_KEY, strict=False), source=where)
    return Dataset(name=target.stem, train=responses, roster=roster)
