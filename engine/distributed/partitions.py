"""Response logs as student partitions: each student's responses all in one partition, so the E-step
of a partition needs no other partition and the partitions' statistics add up to the whole log's.

Two sources: a frame already in the driver, split here by a hash of `student_id`; or a folder of
Parquet files, one partition per file, read lazily (polars `scan_parquet`) by the worker that owns it,
so the driver never holds the log. Files must already be split by student (`check_disjoint` verifies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

CANONICAL = ("student_id", "item_id", "correct")
PARQUET_SUFFIXES = (".parquet", ".pq")
HASH_SEED = 0x5EED  # fixed so a frame splits the same way on every run


@dataclass(frozen=True)
class ParquetPartition:
    """One Parquet file of a student-partitioned log; `columns` maps canonical names to the file's."""

    path: str
    columns: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path

    def read(self) -> pl.DataFrame:
        """student_id, item_id (Utf8) and correct (Float64) of this file, read column-pruned."""
        source = {name: self.columns.get(name, name) for name in CANONICAL}
        scan = pl.scan_parquet(self.path)
        present = scan.collect_schema().names()
        missing = [f"{name} (column {column!r})" for name, column in source.items() if column not in present]
        if missing:
            raise ValueError(f"{self.path}: missing column(s) {', '.join(missing)}; the file has {present}; "
                             "map yours with --column CANONICAL=YOURS")
        return scan.select(
            pl.col(source["student_id"]).cast(pl.Utf8).alias("student_id"),
            pl.col(source["item_id"]).cast(pl.Utf8).alias("item_id"),
            pl.col(source["correct"]).cast(pl.Float64).alias("correct"),
        ).collect()


def parquet_files(folder: str | Path) -> list[Path]:
    """The Parquet files of a partition folder (searched recursively), sorted; ValueError when none."""
    root = Path(folder)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in PARQUET_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"{root}: no .parquet files; a partitioned log is a folder of Parquet files split by student")
    return files


def is_partition_folder(path: str | Path) -> bool:
    """True for a folder holding at least one Parquet file."""
    root = Path(path)
    return root.is_dir() and any(p.suffix.lower() in PARQUET_SUFFIXES for p in root.rglob("*"))


def student_hash(students: pl.Series) -> np.ndarray:
    """A stable 64-bit hash of each student id (as text), shape (R,)."""
    return students.cast(pl.Utf8).hash(seed=HASH_SEED).to_numpy()


def split_by_student(frame: pl.DataFrame, n_parts: int) -> list[pl.DataFrame]:
    """`frame`'s canonical columns cut into `n_parts` student-disjoint frames (by student hash), each in
    `frame`'s row order; a part may be empty when there are fewer students than parts."""
    if n_parts < 1:
        raise ValueError(f"need at least one partition, got {n_parts}")
    columns = frame.select(
        pl.col("student_id").cast(pl.Utf8), pl.col("item_id").cast(pl.Utf8), pl.col("correct").cast(pl.Float64)
    )
    part = pl.Series("part", student_hash(columns["student_id"]) % np.uint64(n_parts))
    return [columns.filter(part == k) for k in range(n_parts)]


def assign(files: Sequence[Path], n_workers: int) -> list[list[Path]]:
    """Files dealt to at most `n_workers` workers, largest first onto the least loaded (by bytes)."""
    groups: list[list[Path]] = [[] for _ in range(max(1, min(n_workers, len(files))))]
    load = np.zeros(len(groups))
    for path in sorted(files, key=lambda p: -p.stat().st_size):
        k = int(np.argmin(load))
        groups[k].append(path)
        load[k] += path.stat().st_size
    return [sorted(g) for g in groups]


def check_disjoint(keys: Sequence[np.ndarray], names: Sequence[str]) -> None:
    """ValueError when a student hash occurs in two partitions (the files are not split by student)."""
    sizes = [len(k) for k in keys]
    if not sum(sizes):
        return
    allkeys = np.concatenate(keys)
    owner = np.repeat(np.arange(len(keys)), sizes)
    order = np.argsort(allkeys, kind="stable")
    same = np.flatnonzero(allkeys[order][1:] == allkeys[order][:-1])
    if same.size:
        first, second = owner[order][same[0]], owner[order][same[0] + 1]
        raise ValueError(
            f"{same.size} student(s) have responses in more than one partition (e.g. in {names[first]} and "
            f"{names[second]}); partition the log by student_id (experiments/gen_scale_log.py writes such folders)"
        )
