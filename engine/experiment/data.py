"""The dataset of an experiment: loaded, optionally cut to a student subsample, fingerprinted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl

from engine.data import Dataset, load
from engine.data.demo import demo_dataset
from engine.errors import ConfigError, DataError
from engine.experiment.config import DEMO_FORMAT, ExperimentConfig
from engine.jsonfile import check_text_table, table_error


def fingerprint_path(path: Path) -> str:
    """sha256 over a file's bytes, or over every file of a folder (relative name + bytes, sorted)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path if path.is_dir() else path.parent)).encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def fingerprint(config: ExperimentConfig) -> str:
    """What the results depend on: the data files (or the demo generator's options) and the subsample."""
    if config.data_format == DEMO_FORMAT:
        base = "demo:" + hashlib.sha256(json.dumps(config.data_options, sort_keys=True).encode()).hexdigest()
    else:
        assert config.data_path is not None
        base = fingerprint_path(config.data_path)
    return base if not config.max_students else f"{base};max_students={config.max_students};seed={config.seed}"


def _sample(frame: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    students = np.sort(frame["student_id"].unique().to_numpy())
    if students.size <= n:
        return frame
    keep = np.random.default_rng(seed).permutation(students)[:n]
    return frame.filter(pl.col("student_id").is_in(pl.Series(keep).implode()))


def load_dataset(config: ExperimentConfig) -> Dataset:
    """Load the configured data; with `max_students` keep at most that many students on each side of the split."""
    if config.data_format == DEMO_FORMAT:
        try:
            dataset = demo_dataset(**config.data_options)
        except TypeError as exc:
            raise ConfigError(f"{config.source}: bad key in [data.options] for the demo data: {exc}") from None
    else:
        assert config.data_path is not None
        try:
            dataset = load(config.data_path, config.data_format, **config.data_options)
        except TypeError as exc:
            raise ConfigError(f"{config.source}: bad key in [data.options] for format {config.data_format!r}: {exc}") from None
    if config.roster is not None:
        dataset.roster = read_roster(config.roster)
    if config.groups:
        if dataset.roster is None:
            raise ConfigError(f"{config.source}: data.groups given but the data has no roster; set data.roster")
        missing = [g for g in config.groups if g not in dataset.roster.columns]
        if missing:
            raise ConfigError(f"{config.source}: data.groups names column(s) {', '.join(map(repr, missing))} that the roster "
                              f"does not have; roster columns: {', '.join(dataset.roster.columns)}")
    if config.max_students:
        dataset.train = _sample(dataset.train, config.max_students, config.seed)
        if dataset.test is not None:
            dataset.test = _sample(dataset.test, config.max_students, config.seed + 1)
    return dataset


def read_roster(path: Path) -> pl.DataFrame:
    """student_id + group columns from CSV/TSV/Parquet (`NA`, `?` and empty cells are missing)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        frame = pl.read_parquet(path)
    else:
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
        check_text_table(path, "roster", "comma- or tab-separated text with a student_id column")
        try:
            frame = pl.read_csv(path, separator=sep, null_values=["", "NA", "?"], infer_schema_length=10_000)
        except pl.exceptions.PolarsError as exc:
            raise DataError(table_error(path, exc, sep)) from None
    if "student_id" not in frame.columns:
        raise ConfigError(f"roster {path} has no 'student_id' column; columns: {', '.join(frame.columns)}")
    frame = frame.with_columns(pl.col("student_id").cast(pl.Utf8))
    duplicated = frame.filter(pl.col("student_id").is_duplicated())["student_id"].unique().sort()
    if duplicated.len():
        raise ConfigError(f"roster {path}: {duplicated.len()} student_id(s) appear more than once "
                          f"(e.g. {', '.join(duplicated.head(3).to_list())}); keep one row per student")
    return frame
