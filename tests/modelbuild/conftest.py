"""A platform's own catalog (12 skills, 120 items, no IRT parameters) and a log simulated from known item
parameters, written to disk once per session for the `model build` tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.catalog.synthetic import synthetic_bundle

N_SKILLS, ITEMS_PER_SKILL = 12, 10
N_STUDENTS, PER_STUDENT = 600, 50
LOW_DATA = 5  # items answered fewer than 10 times


@dataclass(frozen=True)
class World:
    catalog: Path  # folder bundle without a, b, c
    log: Path  # CSV: student_id, item_id, correct, timestamp
    truth: pl.DataFrame  # item_id, a, b (the parameters the log was simulated from)
    low_data: tuple[str, ...]  # items with fewer than 10 responses
    n_responses: int


def write_catalog(folder: Path, seed: int = 3) -> list[str]:
    """A 12-skill, 120-item catalog bundle (CSV folder) whose items carry no IRT parameters; its item ids."""
    bundle = synthetic_bundle(N_SKILLS, ITEMS_PER_SKILL, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.toml").write_text('name = "platform-maths"\nversion = "1"\n')
    for table in ("skills", "items", "resources", "skill_params"):
        frame = bundle.tables[table]
        if table == "items":
            frame = frame.select("item_id", "skill_ids")  # the platform has no IRT parameters yet
        frame.with_columns([pl.col(c).list.join(";") for c, t in frame.schema.items() if isinstance(t, pl.List)]
                           ).write_csv(folder / f"{table}.csv")
    return bundle.tables["items"]["item_id"].to_list()


def simulate_log(items: list[str], path: Path, seed: int = 11,
                 guessing: float = 0.0) -> tuple[pl.DataFrame, tuple[str, ...], int]:
    """2PL responses (a ~ lognormal(0, 0.3), b ~ N(0, 1), theta ~ N(0, 1)), right by guessing with probability
    `guessing` besides (3PL with that c: multiple-choice items); the last LOW_DATA items are answered only 3 to 8
    times in all. Returns (truth, low-data items, number of responses)."""
    rng = np.random.default_rng(seed)
    n_items = len(items)
    a = np.exp(rng.normal(0.0, 0.3, n_items))
    b = rng.normal(0.0, 1.0, n_items)
    theta = rng.normal(0.0, 1.0, N_STUDENTS)
    regular = n_items - LOW_DATA
    student = np.repeat(np.arange(N_STUDENTS), PER_STUDENT)
    item = np.concatenate([rng.choice(regular, PER_STUDENT, replace=False) for _ in range(N_STUDENTS)])
    low_counts = rng.integers(3, 9, LOW_DATA)  # swap a few regular answers for the low-data items
    slots = rng.choice(student.size, int(low_counts.sum()), replace=False)
    item[slots] = np.repeat(np.arange(regular, n_items), low_counts)
    p = guessing + (1.0 - guessing) / (1.0 + np.exp(-a[item] * (theta[student] - b[item])))
    correct = (rng.random(student.size) < p).astype(int)
    start = np.datetime64("2024-09-02T08:00:00")
    minutes = np.tile(np.arange(PER_STUDENT) * 20, N_STUDENTS) + student * 7
    ids = np.array(items)
    pl.DataFrame({"student_id": [f"p{s:04d}" for s in student], "item_id": ids[item], "correct": correct,
                  "timestamp": (start + minutes.astype("timedelta64[m]")).astype(str)}).write_csv(path)
    truth = pl.DataFrame({"item_id": items, "a": a, "b": b})
    return truth, tuple(ids[regular:].tolist()), int(student.size)


def make_world(folder: Path) -> World:
    items = write_catalog(folder / "catalog")
    truth, low, n = simulate_log(items, folder / "log.csv")
    return World(folder / "catalog", folder / "log.csv", truth, low, n)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("platform"))
