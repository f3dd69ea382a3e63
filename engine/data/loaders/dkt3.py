"""`dkt3` format: the 3-line KT format (Piech et al. 2015; pyBKT and DKVMN use it).

Each record is three lines: the number of responses, the comma-separated skill ids, the
comma-separated 0/1 answers. A trailing comma on a line is allowed. Records carry no student or item
ids, so each record is one student (`train-0`, `test-0`, ...) and the item is the skill (skill-level data).
A path is one file, or a folder holding one `*train*` and one `*test*` file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.data.dataset import Dataset, canonical_responses
from engine.data.loaders.common import require_file
from engine.errors import DataValidationError, Problem


def _tokens(lines: pl.Series) -> pl.Series:
    """Comma-separated text to a list of trimmed, non-empty tokens (a trailing comma is allowed)."""
    return (
        lines.str.split(",")
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element().str.len_chars() > 0))
    )


def _read_lines(path: Path) -> list[str]:
    try:
        lines = require_file(path).read_text().splitlines()
    except UnicodeDecodeError as exc:
        raise DataValidationError([Problem(None, None, str(path), f"not a text file: {exc}")], str(path)) from exc
    while len(lines) % 3 and not lines[-1].strip():  # trailing blank lines, but not an empty last record
        lines.pop()
    return lines


def _record_problems(records: pl.DataFrame) -> list[Problem]:
    """One problem per malformed record (the first that applies), named by its file line."""
    bad_count = records.filter(pl.col("count").is_null())
    mismatch = records.filter(
        pl.col("count").is_not_null()
        & ((pl.col("skills").list.len() != pl.col("count")) | (pl.col("answers").list.len() != pl.col("count")))
    )
    bad_answer = records.filter(
        pl.col("count").is_not_null()
        & (pl.col("skills").list.len() == pl.col("count"))
        & (pl.col("answers").list.len() == pl.col("count"))
    ).with_columns(
        pl.col("answers").list.eval(pl.element().filter(~pl.element().is_in(["0", "1"]))).list.first().alias("bad")
    ).filter(pl.col("bad").is_not_null())
    problems = [
        Problem(line, "count", text, "first line of a record must be the number of responses")
        for line, text in bad_count.select("line", "count_text").iter_rows()
    ]
    problems += [
        Problem(line, "count", count, f"record says {count} responses but has {n_skills} skills and {n_answers} answers")
        for line, count, n_skills, n_answers in mismatch.select(
            "line", "count", pl.col("skills").list.len(), pl.col("answers").list.len()
        ).iter_rows()
    ]
    problems += [
        Problem(line + 2, "correct", bad, "answers must be 0 or 1")
        for line, bad in bad_answer.select("line", "bad").iter_rows()
    ]
    return sorted(problems, key=lambda p: p.row or 0)


def read_dkt3(path: Path, prefix: str) -> pl.DataFrame:
    """Parse one 3-line file with column operations; every malformed record is named by its file line.

    Returns student_id (`{prefix}-{record index}`), item_id (= skill id), skill_ids ([skill]) and
    correct (0.0/1.0), in file order.
    """
    lines = _read_lines(path)
    problems: list[Problem] = []
    if len(lines) % 3:
        problems.append(Problem(None, None, len(lines), "line count is not a multiple of 3 (count / skills / answers); the last record is incomplete"))
    n_records = len(lines) // 3
    text = pl.Series("text", lines[: 3 * n_records], dtype=pl.Utf8)
    counts = text.gather_every(3, 0)
    records = pl.DataFrame(
        {
            "line": pl.int_range(0, n_records, eager=True) * 3 + 1,
            "record": pl.int_range(0, n_records, eager=True),
            "count_text": counts,
            "count": counts.str.strip_chars().cast(pl.Int64, strict=False),
            "skills": _tokens(text.gather_every(3, 1)),
            "answers": _tokens(text.gather_every(3, 2)),
        }
    )
    problems += _record_problems(records)
    if problems:
        raise DataValidationError(problems, source=f"{path} (line numbers)")
    responses = records.filter(pl.col("count") > 0).select("record", "skills", "answers").explode(["skills", "answers"])
    return responses.select(
        pl.concat_str([pl.lit(f"{prefix}-"), pl.col("record").cast(pl.Utf8)]).alias("student_id"),
        pl.col("skills").alias("item_id"),
        pl.concat_list("skills").alias("skill_ids"),
        pl.col("answers").cast(pl.Float64).alias("correct"),
    )


def _find_one(folder: Path, word: str) -> Path:
    matches = sorted(p for p in folder.iterdir() if p.is_file() and word in p.name)
    if len(matches) != 1:
        raise DataValidationError(
            [Problem(None, None, str(folder), f"expected exactly one file with {word!r} in its name, found {len(matches)}")],
            source=str(folder),
        )
    return matches[0]


def load_dkt3(path: str | Path) -> Dataset:
    target = Path(path)
    if target.is_dir():
        train_path, test_path = _find_one(target, "train"), _find_one(target, "test")
        train = canonical_responses(read_dkt3(train_path, "train"), source=str(train_path))
        test = canonical_responses(read_dkt3(test_path, "test"), source=str(test_path))
        return Dataset(name=target.name, train=train, test=test)
    frame = read_dkt3(target, target.stem)
    return Dataset(name=target.stem, train=canonical_responses(frame, source=str(target)))
