"""`dkt3` format: the 3-line KT format (Piech et al. 2015; pyBKT and DKVMN use it).

Each record is three lines: the number of responses, the comma-separated skill ids, the
comma-separated 0/1 answers. A trailing comma on a line is allowed. Records carry no student or item
ids, so each record is one student (`train-0`, `test-0`, ...) and the item is the skill (skill-level data).
A path is one file, or a folder holding one `*train*` and one `*test*` file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from engine.data.dataset import Dataset, canonical_responses
from engine.data.loaders.common import require_file
from engine.errors import DataValidationError, Problem


def _parse_ints(line: str) -> list[str]:
    return [tok.strip() for tok in line.strip().rstrip(",").split(",") if tok.strip()]


def read_dkt3(path: Path, prefix: str) -> pl.DataFrame:
    """Parse one 3-line file; every malformed record is reported with its file line number."""
    try:
        lines = require_file(path).read_text().splitlines()
    except UnicodeDecodeError as exc:
        raise DataValidationError([Problem(None, None, str(path), f"not a text file: {exc}")], str(path)) from exc
    while lines and not lines[-1].strip():
        lines.pop()
    problems: list[Problem] = []
    if len(lines) % 3:
        problems.append(Problem(None, None, len(lines), "line count is not a multiple of 3 (count / skills / answers); the last record is incomplete"))
    students: list[str] = []
    skills: list[str] = []
    answers: list[str] = []
    lengths: list[int] = []
    for start in range(0, len(lines) - len(lines) % 3, 3):
        line_no = start + 1
        count_text, skill_line, answer_line = lines[start : start + 3]
        rec_skills, rec_answers = _parse_ints(skill_line), _parse_ints(answer_line)
        try:
            count = int(count_text.strip())
        except ValueError:
            problems.append(Problem(line_no, "count", count_text, "first line of a record must be the number of responses"))
            continue
        if len(rec_skills) != count or len(rec_answers) != count:
            problems.append(
                Problem(line_no, "count", count, f"record says {count} responses but has {len(rec_skills)} skills and {len(rec_answers)} answers")
            )
            continue
        bad_answer = next((a for a in rec_answers if a not in ("0", "1")), None)
        if bad_answer is not None:
            problems.append(Problem(line_no + 2, "correct", bad_answer, "answers must be 0 or 1"))
            continue
        students.append(f"{prefix}-{start // 3}")
        lengths.append(count)
        skills.extend(rec_skills)
        answers.extend(rec_answers)
    if problems:
        raise DataValidationError(problems, source=f"{path} (line numbers)")
    student_col = np.repeat(np.array(students, dtype=object), lengths)
    skill_series = pl.Series("item_id", skills, dtype=pl.Utf8)
    return pl.DataFrame(
        {
            "student_id": pl.Series(student_col, dtype=pl.Utf8),
            "item_id": skill_series,
            "skill_ids": skill_series.cast(pl.Utf8).reshape((-1, 1)).cast(pl.List(pl.Utf8)),
            "correct": pl.Series(answers, dtype=pl.Utf8).cast(pl.Float64),
        }
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
