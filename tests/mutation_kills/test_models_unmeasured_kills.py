"""Kill tests for the ninth mutation slice (docs/testing.md): models/bkt/model.py, models/bkt/data.py,
models/base.py, models/ensemble/{selection, stacked}.py and the two simulate.py files.

Every expected value is worked by hand in the comments (BKT forward step, KT-IDEM emissions, multiprior
priors), or is documented behaviour (docstrings), or is a simulation's known parameter.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.bkt import BKT
from models.bkt.model import bkt_forget, bkt_idem

SCHEMA = {"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64}


def frame(student: list[str], skills: list[list[str]], correct: list[float], item: list[str] | None = None,
          seq: list[int] | None = None) -> pl.DataFrame:
    return pl.DataFrame({
        "student_id": student, "item_id": item if item is not None else ["i"] * len(student), "skill_ids": skills,
        "correct": correct, "seq": seq if seq is not None else list(range(len(student))),
    }, schema=SCHEMA)


def hand_model(item_params: bool = False, prior_groups: str | None = None) -> BKT:
    """Skill A: prior 0.4, learn 0.2, guess 0.25, slip 0.1; skill B: prior 0.5, learn 0, guess 0.5, slip 0.5;
    pooled (last entry): prior 0.3, learn 0.1, guess 0.2, slip 0.1. KT-IDEM: item i1 of A has guess 0.1,
    slip 0.05; item i2 of A guess 0.3, slip 0.2. Multiprior: group "hi" of A has prior 0.8."""
    params = {"prior": [0.4, 0.5, 0.3], "learn": [0.2, 0.0, 0.1], "forget": [0.0, 0.0, 0.0],
              "guess": [0.25, 0.5, 0.2], "slip": [0.1, 0.5, 0.1]}
    return BKT.from_dict({
        "model": "bkt", "format_version": 1,
        "params": BKT(item_params=item_params, prior_groups=prior_groups).get_params(), "skills": ["A", "B"],
        **params, "n_responses": [100, 100], "loglik": [0.0, 0.0], "n_iter": [1, 1], "sparse_skills": [],
        "item_guess_slip": ({"skill": [0, 0], "item": ["i1", "i2"], "guess": [0.1, 0.3], "slip": [0.05, 0.2]}
                            if item_params else None),
        "group_prior": {"skill": [0], "group": ["hi"], "prior": [0.8]} if prior_groups else None,
        "global_mean": 0.6, "n_no_skill": 0,
    })


# ---- models/bkt/model.py: the online path ----------------------------------------------------------------

def test_kt_idem_online_uses_the_items_guess_and_slip_and_the_skills_for_an_unknown_item() -> None:
    model = hand_model(item_params=True)
    state = model.initial_state()
    # i1: 0.4 * (1 - 0.05) + 0.6 * 0.1 = 0.44; i2: 0.4 * 0.8 + 0.6 * 0.3 = 0.5; unknown item: skill A's 0.51
    assert model.predict_next(state, "i1", ["A"]) == pytest.approx(0.44, abs=1e-12)
    assert model.predict_next(state, "i2", ["A"]) == pytest.approx(0.5, abs=1e-12)
    assert model.predict_next(state, "i9", ["A"]) == pytest.approx(0.51, abs=1e-12)
    # the batch path agrees
    np.testing.assert_allclose(model.predict_proba(frame(["s", "t", "u"], [["A"]] * 3, [1.0] * 3, ["i1", "i2", "i9"])),
                               [0.44, 0.5, 0.51], rtol=1e-12)
    # a correct answer on i1: P(L|c) = 0.38 / 0.44; P(L next) = 0.38/0.44 + (0.06/0.44) * 0.2 = 0.392 / 0.44
    model.update(state, {"item_id": "i1", "skill_ids": ["A"], "correct": 1.0})
    assert state["p_learned"]["A"] == pytest.approx(0.392 / 0.44, abs=1e-12)
    assert state["p_unlearned"]["A"] == pytest.approx(0.048 / 0.44, abs=1e-12)


def test_an_item_without_skills_is_predicted_with_the_training_mean_online() -> None:
    model = hand_model()
    assert model.predict_next(model.initial_state(), "i", []) == 0.6  # documented: training mean when it has none


def test_online_update_refuses_a_correct_outside_0_1() -> None:
    model = hand_model()
    for bad in (1.5, -0.5):
        with pytest.raises(ValueError, match=r"correct must be in \[0, 1\], got " + str(bad)):
            model.update(model.initial_state(), {"item_id": "i", "skill_ids": ["A"], "correct": bad})


def test_mastery_of_an_unseen_skill_is_the_pooled_prior() -> None:
    model = hand_model()
    assert model.mastery_of(model.initial_state(), "never-seen") == 0.3  # pooled prior (last entry)
    assert model.mastery_of(model.initial_state(), "A") == 0.4


def test_mastery_of_no_responses_is_an_empty_table_with_the_documented_types() -> None:
    table = hand_model().mastery(frame([], [], []))
    assert table.height == 0
    assert table.schema == pl.Schema({"student_id": pl.Utf8, "skill_id": pl.Utf8, "p_learned": pl.Float64})


def test_the_zoo_factories_switch_their_variant_on() -> None:
    assert bkt_idem().item_params is True and bkt_idem().forgets is False
    assert bkt_forget().forgets is True and bkt_forget().item_params is False


def test_a_state_without_p_unlearned_is_updated_and_gains_it() -> None:
    # `_state_of` reads states without "p_unlearned" (1 - p_learned then); update must accept them too
    model = hand_model()
    state = {"p_learned": {}, "group": None}
    model.update(state, {"item_id": "i", "skill_ids": ["A"], "correct": 1.0})
    # P(L|c) = 0.36 / 0.51 = 12/17; next: 12/17 + (5/17) * 0.2 = 13/17, unlearned 4/17
    assert state["p_learned"]["A"] == pytest.approx(13 / 17, abs=1e-12)
    assert state["p_unlearned"]["A"] == pytest.approx(4 / 17, abs=1e-12)


def test_multiprior_online_prior_of_a_known_group_else_the_skills() -> None:
    model = hand_model(prior_groups="band")
    assert model.mastery_of(model.initial_state("hi"), "A") == 0.8
    assert model.mastery_of(model.initial_state("lo"), "A") == 0.4  # a group unseen in training: the skill's prior
    assert model.mastery_of(model.initial_state(), "A") == 0.4
    # 0.8 * 0.9 + 0.2 * 0.25 = 0.77
    assert model.predict_next(model.initial_state("hi"), "i", ["A"]) == pytest.approx(0.77, abs=1e-12)
    # a model without prior groups ignores a group in the state
    plain = hand_model()
    assert plain.mastery_of(plain.initial_state("hi"), "A") == 0.4
    assert plain.predict_next(plain.initial_state("hi"), "i", ["A"]) == pytest.approx(0.51, abs=1e-12)


def test_the_initial_state_has_the_documented_keys() -> None:
    assert hand_model().initial_state() == {"p_learned": {}, "p_unlearned": {}, "group": None}
    assert hand_model().initial_state("hi")["group"] == "hi"


def test_online_long_run_keeps_precision_through_p_unlearned() -> None:
    # the online mirror of test_bkt_forward.test_bkt_long_run_keeps_precision: after 40 correct answers
    # P(unlearned) < 1e-26 (1 - p_learned would be exactly 0, mastery stuck at 1); 60 wrong answers then bring
    # P(correct) back to its floor 0.40 under learn = 0.2
    model = hand_model()
    state = model.initial_state()
    online = []
    for c in [1.0] * 40 + [0.0] * 60:
        online.append(model.predict_next(state, "i", ["A"]))
        model.update(state, {"item_id": "i", "skill_ids": ["A"], "correct": c})
    assert online[39] == pytest.approx(0.9) and online[-1] == pytest.approx(0.40, abs=0.01)


def test_a_state_without_p_unlearned_reads_its_complement() -> None:
    model = hand_model()
    # P(L) = 0.4 given without p_unlearned: 0.4 * 0.9 + 0.6 * 0.25 = 0.51
    assert model.predict_next({"p_learned": {"A": 0.4}, "group": None}, "i", ["A"]) == pytest.approx(0.51, abs=1e-12)
    # with it, p_unlearned is read as stored (here 1e-20 where 1 - p_learned is 0): a wrong answer gives
    # P(U next) = (1e-20 * 0.75 * 0.8) / (1.0 * 0.1 + 1e-20 * 0.75) = 6e-20
    state = {"p_learned": {"A": 1.0}, "p_unlearned": {"A": 1e-20}, "group": None}
    model.update(state, {"item_id": "i", "skill_ids": ["A"], "correct": 0.0})
    assert state["p_unlearned"]["A"] == pytest.approx(6e-20, rel=1e-9)


def test_unseen_skills_at_prediction_are_logged_by_name_at_most_ten(caplog: pytest.LogCaptureFixture) -> None:
    model = hand_model()
    with caplog.at_level("INFO", logger="models.bkt.model"):
        model.predict_proba(frame(["s", "s"], [["A"], ["B"]], [1.0, 0.0]))
    assert not [r for r in caplog.records if "unseen" in r.getMessage()]  # every skill known: nothing logged
    caplog.clear()
    with caplog.at_level("INFO", logger="models.bkt.model"):
        model.predict_proba(frame(["s", "s", "s"], [["A"], ["x"], ["x"]], [1.0, 0.0, 1.0]))
    assert [r.getMessage() for r in caplog.records] == ["BKT: 1 skill(s) unseen in training use pooled parameters: ['x']"]
    caplog.clear()
    names = [f"n{j:02d}" for j in range(11)]
    with caplog.at_level("INFO", logger="models.bkt.model"):
        model.predict_proba(frame(["s"] * 11, [[n] for n in names], [1.0] * 11))
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith("BKT: 11 skill(s) unseen in training use pooled parameters: ")
    listed = message.split(": ", 2)[2]
    assert listed.count("'") == 20  # ten names listed, not eleven


def test_a_last_row_without_skill_gets_the_training_mean() -> None:
    p = hand_model().predict_proba(frame(["s", "s"], [["A"], []], [1.0, 1.0]))
    np.testing.assert_allclose(p, [0.51, 0.6], rtol=1e-12)  # the skill-less row: global_mean 0.6


def test_from_dict_round_trips_exactly_and_reads_parameters_as_float() -> None:
    import json

    model = hand_model(item_params=True, prior_groups="band")
    payload = model.to_dict()
    assert BKT.from_dict(json.loads(json.dumps(payload))).to_dict() == payload
    assert payload["n_no_skill"] == 0 and payload["global_mean"] == 0.6 and payload["sparse_skills"] == []
    assert payload["loglik"] == [0.0, 0.0] and payload["n_iter"] == [1, 1] and payload["n_responses"] == [100, 100]
    assert payload["group_prior"] == {"skill": [0], "group": ["hi"], "prior": [0.8]}
    ints = {**payload, "forget": [0, 0, 0]}  # JSON written elsewhere may hold whole numbers
    assert BKT.from_dict(ints).forget_.dtype == np.float64
    with pytest.raises(ValueError, match=r"bkt: prior has 2 values for 2 skills \(\+1 pooled\)"):
        BKT.from_dict({**payload, "prior": [0.4, 0.5]})


# ---- models/ensemble/selection.py --------------------------------------------------------------------------

class _Recorder:
    """A stand-in candidate predicting column `x`; remembers the students it was fitted on."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fit(self, frame: pl.DataFrame) -> _Recorder:
        self.fitted_on = set(frame["student_id"])
        return self

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        return frame["x"].to_numpy()


def _selection_log(n: int = 10) -> pl.DataFrame:
    students = [f"s{i}" for i in range(n) for _ in range(2)]
    return pl.DataFrame({"student_id": students, "correct": [1.0, 0.0] * n, "x": [0.9, 0.1] * n})


def test_select_on_validation_defaults_and_seed_reach_the_split() -> None:
    from models.ensemble.selection import select_on_validation, validation_split

    log = _selection_log()
    made: list[_Recorder] = []

    def make(candidate: dict) -> _Recorder:
        made.append(_Recorder(candidate["name"]))
        return made[-1]

    selection = select_on_validation([{"name": "a"}], make, log)  # documented defaults: 0.2, seed 0
    fit_part, held = validation_split(log, 0.2, 0)
    assert (selection.validation_fraction, selection.seed) == (0.2, 0)
    assert made[-1].fitted_on == set(fit_part["student_id"]) and selection.validation_students == 2
    fit_part3, _ = validation_split(log, 0.2, 3)
    assert set(fit_part3["student_id"]) != set(fit_part["student_id"])  # seeds 0 and 3 hold out other students
    select_on_validation([{"name": "a"}], make, log, seed=3)
    assert made[-1].fitted_on == set(fit_part3["student_id"])


def test_select_on_validation_fits_with_the_given_fit() -> None:
    from models.ensemble.selection import select_on_validation

    calls: list[int] = []

    def fit(model: _Recorder, frame: pl.DataFrame) -> _Recorder:
        calls.append(frame.height)
        return model.fit(frame)

    select_on_validation([{"name": "a"}, {"name": "b"}], lambda c: _Recorder(c["name"]), _selection_log(), 0.2, 0, fit)
    assert calls == [16, 16]  # 8 of the 10 students (2 rows each) fit, once per candidate


def test_each_candidates_validation_auc_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    from models.ensemble.selection import select_on_validation

    with caplog.at_level("INFO", logger="models.ensemble.selection"):
        select_on_validation([{"name": "a"}], lambda c: _Recorder(c["name"]), _selection_log(), 0.2, 0)
    assert [r.getMessage() for r in caplog.records] == ["validation AUC 1.0 for {'name': 'a'}"]


def test_choose_warns_only_when_no_score_is_defined(caplog: pytest.LogCaptureFixture) -> None:
    from models.ensemble.selection import choose

    with caplog.at_level("WARNING", logger="models.ensemble.selection"):
        assert choose([None, 0.6, float("nan")]) == 1
    assert not caplog.records
    with caplog.at_level("WARNING", logger="models.ensemble.selection"):
        assert choose([None, float("nan")]) == 0
    assert [r.getMessage() for r in caplog.records] == [
        "no candidate has a defined validation AUC (one class only); keeping the first candidate"]


# ---- models/bkt/data.py --------------------------------------------------------------------------------------

def _problems(responses: pl.DataFrame) -> list:
    from models.errors import DataValidationError

    with pytest.raises(DataValidationError) as info:
        hand_model().predict_proba(responses)
    assert info.value.source == "bkt input"
    return info.value.problems


def test_missing_columns_are_each_named_without_a_row() -> None:
    from models.errors import Problem

    problems = _problems(frame(["s"], [["A"]], [1.0]).drop("correct", "item_id"))
    assert problems == [Problem(None, "item_id", None, "required column for BKT is missing"),
                        Problem(None, "correct", None, "required column for BKT is missing")]


@pytest.mark.parametrize("bad", [None, float("nan"), -0.5, 1.5])
def test_each_kind_of_bad_correct_is_refused_at_its_row(bad: float | None) -> None:
    from models.errors import Problem

    rows = frame(["s"] * 3, [["A"]] * 3, [1.0, 0.0, 1.0]).with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(pl.lit(bad, dtype=pl.Float64)).otherwise(pl.col("correct")).alias("correct"))
    (problem,) = _problems(rows)
    assert (problem.row, problem.column, problem.hint, problem.count) == (2, "correct", "must be a number in [0, 1]", 1)
    if bad is not None and bad == bad:
        assert problem.value == bad


def test_bad_corrects_are_counted_and_the_first_is_shown() -> None:
    rows = frame(["s"] * 5, [["A"]] * 5, [1.0, -0.5, 2.0, float("nan"), 0.0])
    (problem,) = _problems(rows)
    assert (problem.row, problem.value, problem.count) == (2, -0.5, 3)
    assert [p.row for p in _problems(frame(["s"] * 3, [["A"]] * 3, [1.0, 0.0, 0.0]).with_columns(
        pl.Series("correct", [1.0, 0.0, 1.0000001])))] == [3]  # just above 1; exactly 0 and 1 are fine


def test_empty_ids_are_counted_after_a_bad_correct() -> None:
    from models.errors import Problem

    rows = pl.DataFrame({"student_id": ["s", None, None], "item_id": ["i", "i", None], "skill_ids": [["A"]] * 3,
                         "correct": [1.0, 5.0, 0.0], "seq": [0, 1, 2]}, schema=SCHEMA)
    hint = "is empty; every response needs a student and an item id"
    assert _problems(rows) == [Problem(2, "correct", 5.0, "must be a number in [0, 1]"),
                               Problem(2, "student_id", None, hint, count=2), Problem(3, "item_id", None, hint)]


def test_without_seq_the_row_order_is_the_order() -> None:
    # rows of student s in input order: correct then anything: 0.51, then 12.7/17 (test_bkt_forward's hand values)
    rows = frame(["s", "t", "s"], [["A"]] * 3, [1.0, 0.0, 0.0], seq=[5, 0, 1]).drop("seq")
    np.testing.assert_allclose(hand_model().predict_proba(rows), [0.51, 0.51, 12.7 / 17], rtol=1e-12)


def test_a_skill_repeated_or_null_in_a_rows_list_counts_once() -> None:
    rows = pl.DataFrame({"student_id": ["s", "s"], "item_id": ["i", "i"], "skill_ids": [["A", "A", None], ["A"]],
                         "correct": [1.0, 1.0], "seq": [0, 1]}, schema=SCHEMA)
    # one update of A by the correct answer (12.7/17), not two; the null tag is no skill
    np.testing.assert_allclose(hand_model().predict_proba(rows), [0.51, 12.7 / 17], rtol=1e-12)


def test_multiprior_batch_prediction_uses_the_students_group() -> None:
    model = hand_model(prior_groups="band")
    rows = frame(["s", "t", "u"], [["A"]] * 3, [1.0] * 3).with_columns(pl.Series("band", ["hi", "lo", None]))
    # group hi: 0.8 * 0.9 + 0.2 * 0.25 = 0.77; an unknown or missing group: skill A's prior, 0.51
    np.testing.assert_allclose(model.predict_proba(rows), [0.77, 0.51, 0.51], rtol=1e-12)
    np.testing.assert_allclose(model.mastery(rows.head(1))["p_learned"],
                               [(0.72 / 0.77) + (0.05 / 0.77) * 0.2], rtol=1e-12)


def test_a_tie_names_a_row_of_the_tied_pair() -> None:
    # seq 0, 1, 1: rows 2 and 3 are tied; the later one (row 3) is reported, never the untied row 1
    (problem,) = _problems(frame(["x"] * 3, [["A"]] * 3, [1.0, 0.0, 1.0], seq=[0, 1, 1]))
    assert (problem.row, problem.column, problem.value, problem.count) == (3, "seq", 1, 1)
    assert "student 'x' has two responses on skill 'A' with this seq" in problem.hint


# ---- models/base.py ----------------------------------------------------------------------------------------

def test_check_format_names_the_model_it_got() -> None:
    from models.base import check_format

    with pytest.raises(ValueError, match=r"^expected a serialized 'bkt' model, got 'elo'$"):
        check_format({"model": "elo", "format_version": 1}, "bkt", 1)


def test_get_params_goes_down_every_level_of_nesting() -> None:
    from models.base import Hyperparameters

    class Leaf(Hyperparameters):
        def __init__(self, alpha: float = 1.0) -> None:
            self.alpha = alpha

    class Middle(Hyperparameters):
        def __init__(self, leaf: Leaf | None = None) -> None:
            self.leaf = leaf

    class Top(Hyperparameters):
        def __init__(self, middle: Middle | None = None) -> None:
            self.middle = middle

    top = Top(Middle(Leaf(2.0)))
    params = top.get_params()
    assert params["middle__leaf__alpha"] == 2.0 and params["middle__leaf"] is top.middle.leaf
    assert set(params) == {"middle__leaf__alpha", "middle__leaf", "middle"}


def test_two_ties_are_counted_and_explained() -> None:
    (problem,) = _problems(frame(["x"] * 4, [["A"]] * 4, [1.0, 0.0, 1.0, 0.0], seq=[1, 1, 2, 2]))
    assert (problem.row, problem.column, problem.value, problem.count) == (2, "seq", 1, 2)
    assert problem.hint == ("student 'x' has two responses on skill 'A' with this seq, so their order is unknown; "
                            "give each of a student's responses a distinct seq")


def test_two_responses_without_seq_are_refused_at_the_first() -> None:
    from models.errors import Problem

    rows = frame(["s"] * 3, [["A"]] * 3, [1.0, 0.0, 1.0]).with_columns(pl.Series("seq", [0, None, None], dtype=pl.Int64))
    assert _problems(rows) == [Problem(2, "seq", None, "student 's' has a response with no seq, so its order is unknown; "
                                       "give every response a seq (or drop the column to use the row order)", count=2)]


def test_an_unseen_skill_is_traced_apart_from_a_known_skill_of_the_same_student() -> None:
    # skill A: 0.51, then 12.7/17 after a correct answer (test_bkt_forward's hand values); the unseen x takes the
    # pooled parameters (prior 0.3, learn 0.1, guess 0.2, slip 0.1): 0.3 * 0.9 + 0.7 * 0.2 = 0.41, then after a
    # correct answer P(L) = 0.27/0.41 + (0.14/0.41) * 0.1 = 0.284/0.41 and P(correct) = (0.284 * 0.9 + 0.126 * 0.2) / 0.41
    for known, first, second in (("A", 0.51, 12.7 / 17), ("B", 0.5, 0.5)):  # B: learn 0, guess = 1 - slip: stays at 0.5
        rows = frame(["s"] * 4, [[known], ["x"], [known], ["x"]], [1.0, 1.0, 1.0, 1.0])
        np.testing.assert_allclose(hand_model().predict_proba(rows), [first, 0.41, second, 0.2808 / 0.41], rtol=1e-12)


def test_sequences_are_sorted_by_skill_then_student_id() -> None:
    from models.bkt.data import build_sequences, ordered_pairs

    rows = frame(["b", "a", "c", "a"], [["A"], ["A"], ["B"], ["B"]], [1.0, 0.0, 1.0, 0.0])
    seqs = build_sequences(ordered_pairs(rows))  # documented: as sorting by (code, skill name, student id, order)
    assert seqs.seq_student.tolist() == ["a", "b", "a", "c"] and seqs.seq_skill.tolist() == [0, 0, 1, 1]
    assert seqs.row.tolist() == [1, 0, 3, 2] and seqs.seq_start.tolist() == [0, 1, 2, 3, 4]


def test_validation_split_defaults_are_a_fifth_and_seed_0() -> None:
    from models.ensemble.selection import validation_split

    log = _selection_log(20)
    default_fit, default_held = validation_split(log)
    fit0, held0 = validation_split(log, 0.2, 0)
    assert default_held.equals(held0) and default_fit.equals(fit0) and held0["student_id"].n_unique() == 4
    assert not validation_split(log, 0.2, 1)[1].equals(held0)  # another seed holds out other students


# ---- models/ensemble/stacked.py (partial run) ------------------------------------------------------------------

def test_best_stack_chooses_among_the_ablation_candidates() -> None:
    from models.ensemble.stacked import ABLATION_CANDIDATES, best_stack

    assert best_stack().candidates == ABLATION_CANDIDATES and len(ABLATION_CANDIDATES) == 4


def test_progress_adds_up_the_planned_fits() -> None:
    from models.ensemble.stacked import _Progress

    seen: list[tuple[int, int]] = []
    progress = _Progress(lambda done, total: seen.append((done, total)))
    progress.add(3)
    progress.add(2)
    progress.plan_final(4)
    progress.plan_final(1)  # replanned: the final share 4 becomes 1
    progress.step()
    assert seen == [(1, 6)]


def test_an_empty_candidate_list_is_refused_with_its_message() -> None:
    from models.ensemble.stacked import StackedKT

    with pytest.raises(ValueError, match=r"^best: candidates is an empty list; give at least one configuration, "
                                         r"or None for no selection$"):
        StackedKT(candidates=[]).fit(frame(["a", "b", "c"], [["A"]] * 3, [1.0, 0.0, 1.0]))


def test_the_online_sub_model_logit_is_clipped_as_the_batch_one() -> None:
    from scipy.special import logit

    from models.ensemble.stacked import CLIP, StackedKT, _sub_logit

    class Certain:
        def __init__(self, p: float) -> None:
            self.p = p

        def predict_next(self, state: dict, item_id: str, skill_ids: list[str]) -> float:
            return self.p

        def predict_proba(self, responses: pl.DataFrame) -> np.ndarray:
            return np.full(responses.height, self.p)

    model = StackedKT()
    for p, expected in ((1.0, logit(1.0 - CLIP)), (0.0, logit(CLIP))):
        model.fitted_submodels_ = {"x": Certain(p)}
        online = model._extra_online({"submodels": {"x": {}}}, "i", ["A"])["logit_x"]
        assert online == pytest.approx(expected, rel=1e-9)
        assert online == pytest.approx(_sub_logit(Certain(p), frame(["s"], [["A"]], [1.0]))[0], rel=1e-9)


def test_a_selection_fit_reports_progress_against_the_documented_total() -> None:
    from models.ensemble.stacked import StackedKT

    rng = np.random.default_rng(0)
    n = 12
    rows = frame([f"s{i // 6:02d}" for i in range(6 * n)], [["A"] if i % 2 else ["B"] for i in range(6 * n)],
                 rng.integers(0, 2, 6 * n).astype(float).tolist(), item=[f"i{i % 3}" for i in range(6 * n)],
                 seq=[i % 6 for i in range(6 * n)])
    seen: list[tuple[int, int]] = []
    model = StackedKT(submodels=("elo",), n_folds=2, candidates=[{"decays": []}, {"decays": [0.5]}])
    model.fit(rows, callback=lambda done, total: seen.append((done, total)))
    # documented: sub-models x (folds + 1), once for the selection and once for the final fit: 1 x 3 + 1 x 3
    assert seen == [(done, 6) for done in range(1, 7)]
    assert (model.selection_.seed, model.selection_.validation_fraction) == (0, 0.2)  # random_state and the default
    # a refit without candidates or sub-models drops the earlier choice and sub-models
    model.set_params(candidates=None, submodels=()).fit(rows)
    assert not hasattr(model, "selection_") and model.submodels_ == [] and model.config()["decays"] == (0.0, 0.5, 0.9)


def test_the_chosen_configuration_overrides_the_constructors_and_shapes_the_features() -> None:
    from models.ensemble.selection import Selection
    from models.ensemble.stacked import StackedKT

    model = StackedKT(decays=(0.5,), submodels=("elo", "bkt"), skill_recency=True)
    features = model.feature_set()  # Best-LR: item and skill one-hots, per-skill counts, plus recency
    assert features.onehot == ("item", "skill")
    assert features.per_skill == ("skill_attempts", "skill_wins", "skill_wins_r0", "skill_fails_r0")
    model.selection_ = Selection(chosen=0, candidates=[{"decays": [], "skill_recency": False, "submodels": ["elo"]}],
                                 validation_auc=[0.7], fit_students=8, validation_students=2, validation_responses=4,
                                 validation_fraction=0.2, seed=0)
    assert model.config() == {"decays": (), "skill_recency": False, "submodels": ("elo",)}
    assert model.feature_set().per_skill == ("skill_attempts", "skill_wins")
