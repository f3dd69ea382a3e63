"""The `best` model (StackedKT): out-of-fold stacking contract, online == batch, JSON, optional BKT."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy.special import expit

from models.ensemble import StackedKT

SCHEMA = {"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64}


def learning_log(n: int = 120, length: int = 15, seed: int = 2) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    students = np.repeat(np.arange(n), length)
    steps = np.tile(np.arange(length), n)
    items = rng.integers(0, 8, n * length)
    ability = rng.normal(0, 1, n)[students]
    y = (rng.random(n * length) < expit(ability + 0.12 * steps - 0.2 * items + 0.3)).astype(float)
    return pl.DataFrame(
        {"student_id": [f"s{s}" for s in students], "item_id": [f"i{i}" for i in items], "skill_ids": [[f"k{i % 3}"] for i in items],
         "correct": y, "seq": steps},
        schema=SCHEMA,
    )


def check_online_and_json(model: StackedKT, log: pl.DataFrame) -> None:
    one = log.filter(pl.col("student_id") == "s5").sort("seq")
    state = model.initial_state()
    online = []
    for row in one.iter_rows(named=True):
        online.append(model.predict_next(state, row["item_id"], row["skill_ids"]))
        model.update(state, row)
    assert online == pytest.approx(model.predict_proba(one).tolist(), abs=1e-6)
    json.dumps(state)
    again = StackedKT.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again.predict_proba(log) == pytest.approx(model.predict_proba(log))


def test_elo_stack_online_equals_batch_and_round_trips() -> None:
    log = learning_log()
    model = StackedKT(submodels=("elo",), n_folds=3).fit(log)
    assert "extra:logit_elo" in model.coefficients()["column"].to_list()
    assert model.coefficients().filter(pl.col("column") == "extra:logit_elo")["coef"][0] > 0  # Elo's view helps
    check_online_and_json(model, log)


def test_bkt_stack_when_bkt_exists() -> None:
    pytest.importorskip("models.bkt")
    log = learning_log()
    model = StackedKT(n_folds=3).fit(log)
    assert set(model.fitted_submodels_) == {"elo", "bkt"}
    check_online_and_json(model, log)


def _independent_out_of_fold_elo(ordered: pl.DataFrame) -> np.ndarray:
    """Each row's Elo logit from a model refitted here, independently, on the students of the other folds only
    (the folds as `stack_submodels` draws them: sorted student ids, a `random_state` 0 permutation, modulo 3)."""
    from models.elo import Elo

    students = np.sort(ordered["student_id"].unique().to_numpy())
    fold_of = dict(zip(students, np.random.default_rng(0).permutation(students.size) % 3))
    fold = np.array([fold_of[s] for s in ordered["student_id"].to_list()])
    expected = np.full(ordered.height, np.nan)
    for f in range(3):
        held = fold == f
        refit = Elo().fit(ordered.filter(pl.Series(~held)))
        expected[held] = refit.decision_function(ordered.filter(pl.Series(held)))
    assert np.isfinite(expected).all()
    return expected


def test_every_out_of_fold_row_comes_from_a_model_that_never_saw_its_student() -> None:
    """The training column of a sub-model, row by row: each student's rows must equal the sequential
    predictions of an Elo model refitted independently on the other folds' students. A column where even one
    student's rows came from a model that saw that student fails."""
    from models.elo import Elo
    from models.logistic.features import sequential_order

    log = learning_log()
    model = StackedKT(submodels=("elo",), n_folds=3, random_state=0)
    model.submodels_ = ["elo"]
    ordered = sequential_order(log)
    model._fit_extra(ordered)
    oof = model._train_extra["logit_elo"]
    assert oof == pytest.approx(_independent_out_of_fold_elo(ordered), abs=1e-9)  # every row, not most of them
    in_sample = Elo().fit(ordered).decision_function(ordered)
    assert np.abs(oof - in_sample).max() > 1e-3  # and the comparison can tell the two apart


def test_the_regression_is_fitted_on_the_out_of_fold_column() -> None:
    """What the regression's training design actually holds, not only what was computed: during `fit`, the
    sub-model column handed to the design must be the out-of-fold one (equal to the independent refits), never
    the refitted sub-model's in-sample logits (the leakage the stacking exists to avoid)."""
    from models.logistic.features import sequential_order

    log = learning_log()
    ordered = sequential_order(log)
    model = StackedKT(submodels=("elo",), n_folds=3, random_state=0)
    seen: list[np.ndarray] = []
    columns = model._extra_columns

    def recording(frame: pl.DataFrame) -> dict[str, np.ndarray]:
        out = columns(frame)
        seen.append(np.asarray(out["logit_elo"], dtype=float))
        return out

    model._extra_columns = recording  # the instance's own method, called by the design during fit
    model.fit(log)
    assert seen, "the design never asked for the sub-model column"
    expected = _independent_out_of_fold_elo(ordered)
    assert all(column == pytest.approx(expected, abs=1e-9) for column in seen)


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="n_folds"):
        StackedKT(n_folds=1).fit(learning_log())
    with pytest.raises(ValueError, match="at least 2 training students"):
        StackedKT(submodels=("elo",)).fit(learning_log().filter(pl.col("student_id") == "s1"))
    few = learning_log().filter(pl.col("student_id").is_in(["s1", "s2", "s3"]))  # fewer students than folds
    assert np.all(np.isfinite(StackedKT(submodels=("elo",), n_folds=5).fit(few).predict_proba(few)))
    with pytest.raises(ValueError, match="unknown sub-model"):
        StackedKT(submodels=("dkt",)).fit(learning_log())


def test_a_sub_model_that_cannot_be_imported_is_skipped_with_a_warning_and_the_rest_kept(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """`available_submodels` (its docstring): a failed import is a log line naming the sub-model and the error, and
    the sub-model is left out; the sub-models after it are still used (in their order)."""
    import models.ensemble.stacked as stacked

    names = list(stacked.SUBMODELS)
    assert len(names) >= 2
    broken = names[0]

    def fails() -> None:
        raise ImportError("no module named 'fake_dependency'")

    monkeypatch.setitem(stacked.SUBMODELS, broken, (fails, *stacked.SUBMODELS[broken][1:]))
    with caplog.at_level("WARNING", logger=stacked.log.name):
        kept = stacked.available_submodels(names)
    assert kept == tuple(names[1:])
    assert [r.getMessage() for r in caplog.records] == [
        f"best: sub-model {broken} unavailable (no module named 'fake_dependency'); fitting without it"]
