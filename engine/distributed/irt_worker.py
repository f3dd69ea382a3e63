"""One partition worker of a distributed IRT calibration: it holds a student-disjoint share of the log
and answers the driver's questions about it (item totals, E-step statistics, score cross-products).

A plain class: Ray wraps it as an actor (`engine.distributed.pools.RayPool`), and tests and the
one-process reference call it directly (`InlinePool`). Its E-step is `models.irt.em.EMProblem` over its
own students, i.e. exactly the local engine's code on a smaller log.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.distributed.partitions import ParquetPartition, check_disjoint, student_hash
from engine.distributed.pools import peak_rss_bytes
from models.irt.data import ResponseData, binary_responses, lookup
from models.irt.em import EMProblem
from models.irt.estep import ExpectedCounts
from models.irt.priors import Priors
from models.irt.quadrature import Quadrature


@dataclass
class CodedPart:
    """One partition in compact form (9 bytes a response): student codes (int32, dense within the part),
    item codes (int32) into the part's sorted item ids, and 0/1 answers (int8)."""

    student: np.ndarray
    n_students: int
    item: np.ndarray
    item_ids: np.ndarray
    correct: np.ndarray


def dense_codes(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (int32) of a text column into its sorted distinct values, and those values: what
    `models.irt.data.encode` gives, through a hash lookup instead of a sort of the whole column."""
    text = series.cast(pl.Utf8)
    uniques = text.unique().sort()
    codes = text.replace_strict(uniques, pl.Series(np.arange(len(uniques), dtype=np.int32)), return_dtype=pl.Int32)
    return codes.to_numpy().astype(np.int32, copy=False), uniques.to_numpy().astype(object)


def code_part(frame: pl.DataFrame, name: str) -> tuple[CodedPart, np.ndarray]:
    """Validate one partition and code it compactly; also returns its students' hashes (sorted, distinct).
    ValueError names the partition and the first bad row (counted within the partition)."""
    for column in ("student_id", "item_id"):
        nulls = frame[column].null_count()
        if nulls:
            row = int(np.flatnonzero(frame[column].is_null().to_numpy())[0])
            raise ValueError(f"{name}: {column}: {nulls} missing id(s), first at row {row} of this partition; "
                             "every response needs an id")
    try:
        correct = binary_responses(frame["correct"])
    except ValueError as exc:
        raise ValueError(f"{name} (positions count rows of this partition): {exc}") from None
    student, students = dense_codes(frame["student_id"])
    item, items = dense_codes(frame["item_id"])
    keys = np.unique(student_hash(pl.Series(students.astype(str), dtype=pl.Utf8)))
    return CodedPart(student, len(students), item, items, correct), keys


class IRTPartitionWorker:
    """A share of the log: any mix of Parquet partitions (read here) and frames (sent by the driver).

    Memory: after `load` about 9 bytes a response (`CodedPart`); after `prepare` the E-step's
    `ResponseData` and incidence matrix, about 30 bytes a response (the coding in between peaks higher)."""

    def __init__(self, name: str, *parts: ParquetPartition | pl.DataFrame) -> None:
        self.name = name
        self.parts = parts
        self.coded: list[CodedPart] | None = None
        self.keys = np.zeros(0, dtype=np.uint64)
        self.problem: EMProblem | None = None

    def load(self) -> int:
        """Read and code this worker's partitions one at a time (the raw text columns of one partition at
        most are in memory at once); returns its number of responses."""
        self.coded, keys, names = [], [], []
        for part in self.parts:
            frame = part.read() if isinstance(part, ParquetPartition) else part
            names.append(part.name if isinstance(part, ParquetPartition) else self.name)
            coded, part_keys = code_part(frame, names[-1])
            self.coded.append(coded)
            keys.append(part_keys)
            del frame
        self.parts = ()  # frames sent by the driver are released too
        check_disjoint(keys, names)  # students are coded per partition: one in two files would count twice
        self.keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
        return sum(len(c.correct) for c in self.coded)

    def item_totals(self) -> pl.DataFrame:
        """Responses and right answers per item of this share: item_id, n, right."""
        tables = [pl.DataFrame({"item_id": c.item_ids.astype(str),
                                "n": np.bincount(c.item, minlength=len(c.item_ids)).astype(np.int64),
                                "right": np.bincount(c.item, weights=c.correct, minlength=len(c.item_ids)).astype(np.int64)},
                               schema={"item_id": pl.Utf8, "n": pl.Int64, "right": pl.Int64})
                  for c in self._coded()]
        if not tables:
            return pl.DataFrame(schema={"item_id": pl.Utf8, "n": pl.Int64, "right": pl.Int64})
        return pl.concat(tables).group_by("item_id").agg(pl.col("n").sum(), pl.col("right").sum())

    def student_keys(self) -> np.ndarray:
        """Distinct student hashes of this share (for the driver's check that partitions are disjoint)."""
        self._coded()
        return self.keys

    def prepare(
        self, item_ids: np.ndarray, model: str, priors: Priors, quadrature: Quadrature, free: np.ndarray,
        kept: np.ndarray, anchors: tuple[np.ndarray, np.ndarray, np.ndarray], latent: bool,
    ) -> int:
        """Recode this share against the driver's item list and build its E-step; returns the number of its
        students with at least one kept response. The compact codes are released."""
        students, items, offset = [], [], 0
        for c in self._coded():
            position = lookup(c.item_ids, item_ids, "item_id")
            if (position < 0).any():
                raise ValueError(f"{self.name}: item {c.item_ids[int(np.argmax(position < 0))]!r} is not in the driver's item list")
            items.append(position[c.item])
            students.append(c.student.astype(np.int64) + offset)
            offset += c.n_students
        correct = np.concatenate([c.correct for c in self.coded]) if self.coded else np.zeros(0, dtype=np.int8)
        self.coded = []
        data = ResponseData(np.concatenate(students) if students else np.zeros(0, dtype=np.int64),
                            np.concatenate(items) if items else np.zeros(0, dtype=np.int64), correct,
                            np.arange(offset), np.asarray(item_ids, dtype=object))
        del students, items
        self.problem = EMProblem(data, model, priors, quadrature, free, kept, anchors, latent)
        return self.problem.n_responding

    def expected_counts(self, vector: np.ndarray) -> ExpectedCounts:
        """The E-step's sufficient statistics of this share at `vector`."""
        return self._problem().expected_counts(vector)

    def score_crossproduct(self, vector: np.ndarray) -> np.ndarray:
        """Sum over this share's students of score score^T, dense (P, P) (the crossprod information)."""
        scores = self._problem().student_scores(vector)
        return np.asarray((scores.T @ scores).toarray())

    def peak_rss_bytes(self) -> int:
        return peak_rss_bytes()

    def cpu_seconds(self) -> float:
        """CPU time (user + system) this process has used: per-iteration work that does not depend on how
        busy the machine is."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return float(usage.ru_utime + usage.ru_stime)

    def _coded(self) -> list[CodedPart]:
        if self.coded is None:
            raise RuntimeError(f"{self.name}: load() must run first")
        return self.coded

    def _problem(self) -> EMProblem:
        if self.problem is None:
            raise RuntimeError(f"{self.name}: prepare() must run before the E-step")
        return self.problem
