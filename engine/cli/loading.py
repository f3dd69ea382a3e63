"""Loader options on the command line, shared by every command that reads a response file (`--format`).

`--column CANONICAL=YOURS` (repeatable) maps the generic format's columns, `--timestamp-format`, `--skill-separator`
and `--separator` say how its values are written; `--key`, `--covariates` and `--missing-values` are the wide
format's answer key, person columns and missing codes. They become the loaders' keyword arguments (`columns=`,
`timestamp_format=`, `skill_separator=`, `separator=`, `key=`, `covariates=`, `missing_values=`), and the loaders'
hints name these flags.
"""

from __future__ import annotations

import argparse
import inspect
from typing import Any

from engine.errors import ConfigError

FLAGS = {"columns": "--column", "timestamp_format": "--timestamp-format", "skill_separator": "--skill-separator",
         "separator": "--separator", "key": "--key", "covariates": "--covariates", "missing_values": "--missing-values"}
TEXT_FLAGS = ("timestamp_format", "skill_separator", "separator")  # passed to the loader as they are given

# The names of `engine.data.FORMATS`, for `--format` choices: importing the loaders (polars) only to build the
# parser would slow every `--help`. A test checks this list against FORMATS.
FORMAT_NAMES = ("assistments", "datashop", "dkt3", "generic", "lpp", "oulad", "wide")


def add_loader_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reading the file")
    group.add_argument("--column", action="append", default=[], metavar="CANONICAL=YOURS",
                       help="generic format: your column for a canonical one, e.g. --column student_id=learner "
                            "(repeatable; canonical: student_id, item_id, correct, skill_ids, timestamp)")
    group.add_argument("--timestamp-format", metavar="FORMAT",
                       help="generic format: how the timestamp column is written when it is not ISO 8601 or Unix seconds: "
                            "a strptime format such as '%%d/%%m/%%Y %%H:%%M', or unix / unix_ms (seconds / milliseconds "
                            "since 1970 UTC)")
    group.add_argument("--skill-separator", metavar="SEP",
                       help="generic format: what separates several skills in the skill_ids column (default ',')")
    group.add_argument("--separator", metavar="SEP",
                       help="generic format: the field separator of a text file (default: tab for .tsv, else guessed "
                            "from the header)")
    group.add_argument("--key", help="wide format: the correct choice of each item column, comma-separated, in column "
                                     "order (raw choices are scored 1 when equal, else 0)")
    group.add_argument("--covariates", help="wide format: comma-separated person columns (not items); they go to the roster")
    group.add_argument("--missing-values", help="wide format: comma-separated codes that mean 'not answered' "
                                                "(default: empty, NA, NaN, .)")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def loader_options(args: argparse.Namespace, fmt: str) -> dict[str, Any]:
    """The keyword arguments for `engine.data.load(path, fmt, ...)` that the flags ask for; a flag the
    format does not take is a `ConfigError` naming both."""
    options: dict[str, Any] = {}
    if getattr(args, "column", None):
        columns = {}
        for item in args.column:
            canonical, sep, yours = item.partition("=")
            if not sep or not canonical.strip() or not yours.strip():
                raise ConfigError(f"--column takes CANONICAL=YOURS, e.g. --column student_id=learner; got {item!r}")
            columns[canonical.strip()] = yours.strip()
        options["columns"] = columns
    for name in TEXT_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            if not value:
                raise ConfigError(f"{FLAGS[name]} needs a value")
            options[name] = "\t" if name == "separator" and value in ("tab", "\\t") else value
    if getattr(args, "key", None):
        options["key"] = _split(args.key)
    if getattr(args, "covariates", None) is not None:
        options["covariates"] = _split(args.covariates)
    if getattr(args, "missing_values", None) is not None:
        options["missing_values"] = _split(args.missing_values)
    if options:
        from engine.data import FORMATS  # noqa: PLC0415 - the loaders are imported by the commands that load

        accepted = set(inspect.signature(FORMATS[fmt]).parameters) if fmt in FORMATS else set()
        wrong = [FLAGS[name] for name in options if name not in accepted]
        if wrong:
            users = {flag: sorted(f for f, loader in FORMATS.items() if name in inspect.signature(loader).parameters)
                     for name, flag in FLAGS.items()}
            raise ConfigError("; ".join(f"{flag} does not apply to --format {fmt} (it is for --format "
                                        f"{', '.join(users[flag]) or 'none'})" for flag in wrong))
    return options
