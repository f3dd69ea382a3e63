"""Experiment tables say which published figure a row is comparable with, the split's caveats, and how `best` chose."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from engine.experiment.config import parse_config
from engine.experiment.runner import results_markdown

BASE = {"experiment": {"name": "x"}, "data": {"format": "demo"}}
METRICS = {name: {"auc": auc, "rmse": 0.4, "logloss": 0.5, "accuracy": 0.7, "ece": 0.01}
           for name, auc in (("irt", 0.75), ("irt-lr", 0.69), ("best", 0.78))}
SELECTION = {"chosen": 1, "candidates": [{"decays": [], "skill_recency": False}, {"decays": [0.5, 0.9], "skill_recency": False}],
             "validation_auc": [0.71, 0.73], "fit_students": 80, "validation_students": 20, "validation_responses": 400,
             "validation_fraction": 0.2, "seed": 0}


def test_published_and_notes_sections_are_checked() -> None:
    with pytest.raises(ConfigError, match="'irt-xl' that name no model"):
        parse_config({**BASE, "published": {"irt-xl": "0.69"}})
    with pytest.raises(ConfigError, match="notes.irt"):
        parse_config({**BASE, "notes": {"irt": 0.69}})


def test_table_rows_carry_comparable_figures_footnotes_caveats_and_the_selection() -> None:
    config = parse_config({**BASE, "published": {"irt-lr": "0.69 (IRT)"}, "notes": {"irt": "online ability: not comparable"}})
    text = results_markdown(config, "dataset", 10, 5, METRICS, None, "run", "cmd", caveats=["**Caveat, order:** sorted"],
                            selections={"best": SELECTION})
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert rows["irt-lr"].endswith("| 0.69 (IRT) |") and rows["irt"].endswith("| none: see note 1 |")
    assert rows["best"].endswith("|  |")  # no published figure and no note: an empty cell
    assert "1. `irt`: online ability: not comparable" in text
    assert text.index("**Caveat, order:** sorted") < text.index("| model |")  # caveats before the numbers
    assert "0.7100; recency r = 0.5, 0.9 (total and item) 0.7300 (chosen)" in text
    plain = results_markdown(parse_config(BASE), "dataset", 10, 5, METRICS, None, "run", "cmd")
    assert "comparable published AUC" not in plain and "Caveat" not in plain
