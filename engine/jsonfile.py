"""Read the files a user points a command at (JSON, TOML, text tables), with the errors every command gives.

A missing file is a `NotFoundError`; a file that is not text at all (binary data, or not UTF-8) is a
`ConfigError` naming the file and what was expected instead: the option points at the wrong file, so the
command line exits 2 with one line, never a traceback; text that does not parse is the caller's `error`
(default `DataError`) with the parser's position and the `hint`.
"""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError, DataError, EquilearnError, NotFoundError

if TYPE_CHECKING:  # the command line's help reads this module: polars loads only when a table is read
    import polars as pl

NUL = b"\x00"
SAMPLE_BYTES = 64 * 1024  # how much of a table is looked at to tell text from binary data


def _require(path: str | Path, what: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"{what} {file} not found")
    return file


def _not_text(file: Path, what: str, why: str, expected: str) -> ConfigError:
    return ConfigError(f"{file} is not a text file ({why}); {what}: expected {expected or 'a text file'}")


def read_text(path: str | Path, what: str, expected: str = "") -> str:
    """The file's text (UTF-8, a byte-order mark allowed); `ConfigError` if it is binary or not UTF-8."""
    file = _require(path, what)
    data = file.read_bytes()
    if (nul := data.find(NUL)) >= 0:
        raise _not_text(file, what, f"byte {nul} is NUL: binary data", expected)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_text(file, what, f"byte {exc.start} is not UTF-8", expected) from None


def read_json(path: str | Path, what: str, error: type[EquilearnError] = DataError, hint: str = "") -> Any:
    """The parsed document; NotFoundError ("<what> <path> not found") when absent, ConfigError when not a
    text file, `error` (with `hint`, the fix) when not JSON."""
    text = read_text(path, what, hint.removeprefix("expected ") if hint else "a JSON document")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{Path(path)}: not valid JSON ({exc})" + (f"; {hint}" if hint else "")) from None
    except RecursionError:
        raise error(f"{Path(path)}: not usable JSON (nested too deeply)" + (f"; {hint}" if hint else "")) from None


def read_toml(path: str | Path, what: str, error: type[EquilearnError] = ConfigError, hint: str = "") -> dict[str, Any]:
    """The parsed TOML document, with the errors of `read_json`."""
    text = read_text(path, what, hint.removeprefix("expected ") if hint else "a TOML document")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{Path(path)}: not valid TOML: {exc}" + (f"; {hint}" if hint else "")) from None


# Archives a table often arrives in, by their first bytes: what the file is and what to do.
PACKED = ((b"\x1f\x8b", "gzip-compressed: decompress it first (gunzip)"),
          (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook is one): unzip it, or save the sheet as CSV"))


def binary_data(path: str | Path) -> str | None:
    """Why the start of `path` is binary data rather than text (a compressed archive, NUL bytes, or mostly bytes that
    are not UTF-8 text), or None. A few stray bytes (a Latin-1 accent) pass: the table readers replace them."""
    with Path(path).open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    for magic, what in PACKED:
        if sample.startswith(magic):
            return what
    if (nul := sample.find(NUL)) >= 0:
        return f"byte {nul} is NUL: binary data"
    text = sample.decode("utf-8", errors="replace")
    odd = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\r\n\f"))
    if text and odd > max(8, len(text) // 20):  # more than 5% replacement or control characters
        return "mostly bytes that are not UTF-8 text: binary data"
    return None


def check_text_table(path: str | Path, what: str = "a delimited text table",
                     expected: str = "comma- or tab-separated text with a header row") -> Path:
    """`path` if its start looks like a text table; `ConfigError` for binary data, so a wrong file gets one
    clear line instead of a CSV parser's complaint."""
    file = _require(path, what)
    if (why := binary_data(file)) is not None:
        raise _not_text(file, what, why, expected)
    return file


def sniff_separator(path: Path) -> str:
    """Tab for .tsv/.tab; otherwise the most frequent of `, ; tab |` in the header line (a spreadsheet saved in a
    locale whose decimal mark is a comma writes `;`)."""
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def tidy_text_table(frame: pl.DataFrame) -> pl.DataFrame:
    """A text table (polars, every column text) as a person meant it: header names without surrounding spaces
    (`student_id, item_id` after a comma-and-space header) and without the rows whose every cell is empty (blank
    lines, a spreadsheet's trailing empty rows), which hold no data. Columns added before (a row index) count as
    cells only when they are text."""
    import polars as pl  # noqa: PLC0415 - see the TYPE_CHECKING import

    names = {name: name.strip() for name in frame.columns if name != name.strip()}
    if names and len(set(frame.columns) - set(names) | set(names.values())) == frame.width:
        frame = frame.rename(names)
    text = [name for name, dtype in frame.schema.items() if dtype == pl.Utf8]
    if not text:
        return frame
    blank = pl.all_horizontal(pl.col(text).str.strip_chars().fill_null("") == "")
    return frame.filter(~blank)


def first_ragged_line(file: str | Path, separator: str) -> int | None:
    """The 1-based line of `file` where the first record with another number of fields than the header starts (quotes
    honoured, as a CSV reader reads them), else None; only called once a reader has failed, so its cost is no one's."""
    try:
        with open(file, encoding="utf-8", errors="replace", newline="") as handle:
            reader = csv.reader(handle, delimiter=separator)
            width, start = None, 1
            for record in reader:
                if record:
                    width = width if width is not None else len(record)
                    if len(record) != width:
                        return start
                start = reader.line_num + 1
    except (OSError, csv.Error):
        return None
    return None


def table_error(file: str | Path, exc: BaseException, separator: str = ",", with_file: bool = True) -> str:
    """A CSV reader's error in words: what is wrong with the table, not the parser's internals."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    name = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}.get(separator, repr(separator))
    lowered = text.lower()
    if "field" in lowered or ("expected" in lowered and "rows" in lowered):
        line = first_ragged_line(file, separator)
        where = f" (first at line {line} of the file)" if line else ""
        why = f"its rows do not all have the header's number of fields{where} (a stray separator or quote?)"
    elif "utf-8" in lowered or "utf8" in lowered or ("invalid" in lowered and "byte" in lowered):
        why = "it is not UTF-8 text"
    elif "empty" in lowered or "no data" in lowered:
        why = "it has no data"
    else:
        why = f"the reader stopped at: {text[:160]}"
    message = f"cannot be read as a {name}-separated table with a header row: {why}"
    return f"{file}: {message}" if with_file else message
