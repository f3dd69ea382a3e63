"""`lpp` format: the learner-performance-prediction preprocessing (Gervet et al. 2020).

A folder with `preprocessed_data_train.csv`, `preprocessed_data_test.csv` (tab-separated
`user_id item_id timestamp correct skill_id`) and `q_mat.npz` (items x skills, scipy sparse).
Timestamps there are all 0, so file order within a user is the sequence order. The `skill_id` column
is a skill-combination id; the item's skills come from the Q-matrix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from engine.data.dataset import Dataset, canonical_responses
from engine.data.loaders.common import require_file
from engine.errors import Problem, DataValidationError
from engine.jsonfile import binary_data, table_error

COLUMNS = ("user_id", "item_id", "timestamp", "correct", "skill_id")


def _qmatrix(path: Path) -> pl.DataFrame:
    import scipy.sparse as sp  # noqa: PLC0415 - only this format needs scipy: importing it for every loader slows start-up

    q = sp.load_npz(path).tocoo()
    return pl.DataFrame(
        {"item_id": q.row.astype(np.int64), "skill_id": q.col.astype(np.int64)}
    ).with_columns(pl.all().cast(pl.Utf8)).unique(maintain_order=True)


def _read_split(path: Path) -> pl.DataFrame:
    if (why := binary_data(path)) is not None:
        raise DataValidationError([Problem(None, None, None, f"not a text file ({why}); expected tab-separated text with "
                                                             "user_id item_id timestamp correct skill_id")], str(path))
    try:
        frame = pl.read_csv(path, separator="\t", schema_overrides={c: pl.Utf8 for c in ("user_id", "item_id", "skill_id", "correct")})
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataValidationError([Problem(None, None, None, table_error(path, exc, "\t", with_file=False))], str(path)) from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataValidationError(
            [Problem(None, c, None, "required lpp column is missing (expected user_id item_id timestamp correct skill_id, tab-separated)") for c in missing],
            str(path),
        )
    return frame


def load_lpp(path: str | Path) -> Dataset:
    folder = Path(path)
    train_path = require_file(folder / "preprocessed_data_train.csv")
    test_path = require_file(folder / "preprocessed_data_test.csv")
    qmatrix = _qmatrix(require_file(folder / "q_mat.npz"))
    skills_of_item = qmatrix.group_by("item_id", maintain_order=True).agg(pl.col("skill_id").alias("skill_ids"))

    def canonical(file: Path) -> pl.DataFrame:
        raw = _read_split(file).with_row_index("__line__")
        joined = raw.join(skills_of_item, on="item_id", how="left", maintain_order="left")
        frame = joined.select(
            pl.col("user_id").alias("student_id"),
            "item_id",
            pl.col("skill_ids").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))),
            pl.col("correct").str.strip_chars(),  # validate casts it and names any non-number by row
        )
        return canonical_responses(frame, source=str(file))

    return Dataset(name=folder.name, train=canonical(train_path), test=canonical(test_path), qmatrix=qmatrix)
