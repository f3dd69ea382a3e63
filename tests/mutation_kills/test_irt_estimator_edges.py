"""The `IRT` estimator's online update, empty input, JSON round trip of the priors and the `kt evaluate`
configuration (models/irt/estimator.py), against independent truths: the posterior over the nodes written
out from the bank's own (a, b, c) arrays (prior weight x P^y Q^(1-y) per response), the bank mean for an
unseen item (the docstring), and the configuration the docstring of `knowledge_tracing_irt` states."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from models.irt import IRT
from models.irt.estimator import knowledge_tracing_irt
from models.irt.simulate import simulate


def _frame(seed: int, n_students: int = 200, n_items: int = 6) -> pl.DataFrame:
    sim = simulate(n_students, n_items, None, "2pl", random_state=seed)
    seq = np.tile(np.arange(n_items), n_students)
    return pl.DataFrame({"student_id": [f"s{v}" for v in sim.student], "item_id": [f"i{v}" for v in sim.item],
                         "correct": sim.correct.astype(float), "seq": seq})


def _posterior(nodes: np.ndarray, sd_grid: float, answers: list[tuple[float, float, float, int]]) -> tuple[float, float]:
    """EAP and SD over `nodes` under an N(0, 1) prior after the given (a, b, c, correct) responses."""
    log_w = -0.5 * nodes**2 / sd_grid**2
    for a, b, c, y in answers:
        p = c + (1 - c) / (1 + np.exp(-a * (nodes - b)))
        log_w = log_w + (np.log(p) if y else np.log1p(-p))
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    mean = float(w @ nodes)
    return mean, float(np.sqrt(w @ (nodes - mean) ** 2))


@pytest.fixture(scope="module")
def fitted() -> IRT:
    return IRT(model="2pl", n_points=21, bounds=(-4.0, 4.0), standard_errors="none").fit(_frame(0))


def test_update_uses_the_items_own_parameters_and_the_models_quadrature(fitted: IRT) -> None:
    bank = fitted.bank_
    nodes = np.linspace(-4.0, 4.0, 21)
    state = fitted.initial_state()
    assert state.shape == (21,)
    answers = []
    for item, y in (("i2", 1), ("i4", 0), ("i2", 1)):
        k = int(np.flatnonzero(bank.item_ids == item)[0])
        answers.append((bank.a[k], bank.b[k], bank.c[k], y))
        state = fitted.update(state, {"item_id": item, "correct": y})
        assert state.shape == (21,)
        theta, sd = fitted.ability(state)
        want = _posterior(nodes, 1.0, answers)
        assert theta == pytest.approx(want[0], abs=1e-9) and sd == pytest.approx(want[1], abs=1e-9)
    # an item the bank has not seen gets the bank's mean (a, b, c)
    unseen = fitted.update(fitted.initial_state(), {"item_id": "never-seen", "correct": 1})
    want = _posterior(nodes, 1.0, [(bank.a.mean(), bank.b.mean(), bank.c.mean(), 1)])
    assert fitted.ability(unseen) == pytest.approx(want, abs=1e-9)
    # ids are compared as text: an integer id reaches the item "3" of a bank fitted on integer ids
    ints = IRT(model="rasch", standard_errors="none").fit(
        _frame(1).with_columns(pl.col("item_id").str.slice(1).cast(pl.Int64)))
    k = int(np.flatnonzero(ints.bank_.item_ids == "3")[0])
    got = ints.ability(ints.update(ints.initial_state(), {"item_id": 3, "correct": 0}))
    want = _posterior(np.linspace(-6, 6, 61), 1.0, [(1.0, ints.bank_.b[k], 0.0, 0)])
    assert got == pytest.approx(want, abs=1e-9)


def test_update_after_a_refit_uses_the_new_bank() -> None:
    model = IRT(model="rasch", standard_errors="none")
    model.fit(_frame(2))
    first = model.ability(model.update(model.initial_state(), {"item_id": "i1", "correct": 1}))
    model.fit(_frame(3).with_columns((1.0 - pl.col("correct")).alias("correct")))  # another bank
    k = int(np.flatnonzero(model.bank_.item_ids == "i1")[0])
    got = model.ability(model.update(model.initial_state(), {"item_id": "i1", "correct": 1}))
    want = _posterior(np.linspace(-6, 6, 61), 1.0, [(1.0, model.bank_.b[k], 0.0, 1)])
    assert got == pytest.approx(want, abs=1e-9) and got[0] != pytest.approx(first[0], abs=1e-3)


def test_predict_proba_of_no_rows_is_empty(fitted: IRT) -> None:
    out = fitted.predict_proba(_frame(4).head(0))
    assert isinstance(out, np.ndarray) and out.shape == (0,)


def test_predictions_without_seq_follow_the_row_order(fitted: IRT) -> None:
    bank = fitted.bank_
    # students interleaved (and "t" before "s"), so sorting by student moves rows; each student's rows in order
    student = ["t", "s", "t", "s", "s", "t", "s", "s", "t", "s"] * 3
    rng = np.random.default_rng(7)
    rows = pl.DataFrame({"student_id": student, "item_id": [f"i{v}" for v in rng.integers(0, 6, len(student))],
                         "correct": rng.integers(0, 2, len(student)).astype(float)})
    got = fitted.predict_proba(rows)
    nodes = np.linspace(-4.0, 4.0, 21)
    seen: dict[str, list] = {}
    for r, (sid, item, y) in enumerate(zip(rows["student_id"], rows["item_id"], rows["correct"])):
        k = int(np.flatnonzero(bank.item_ids == item)[0])
        a, b, c = bank.a[k], bank.b[k], bank.c[k]
        theta = _posterior(nodes, 1.0, seen.get(sid, []))[0]
        assert got[r] == pytest.approx(c + (1 - c) / (1 + np.exp(-a * (theta - b))), abs=1e-9)
        seen.setdefault(sid, []).append((a, b, c, int(y)))


def test_json_round_trip_keeps_priors_and_item_order() -> None:
    model = IRT(model="2pl", prior_a=(0.0, 0.5), prior_b=(0.0, 2.0), n_points=21, bounds=(-5.0, 5.0),
                standard_errors="none").fit(_frame(5))
    back = IRT.from_dict(json.loads(json.dumps(model.to_dict())))
    assert back.prior_a == (0.0, 0.5) and back.prior_b == (0.0, 2.0) and back.prior_c is None
    assert isinstance(back.prior_a, tuple) and back.bounds == (-5.0, 5.0)
    assert back.get_params() == model.get_params()
    assert back.item_order_ == model.item_order_
    # a payload without an item order loads and saves again
    payload = json.loads(json.dumps(model.to_dict()))
    payload["item_order"] = None
    loaded = IRT.from_dict(payload)
    assert not hasattr(loaded, "item_order_")
    assert loaded.to_dict()["item_order"] is None


def test_knowledge_tracing_configuration() -> None:
    model = knowledge_tracing_irt()
    assert model.model == "rasch" and model.prior_b == (0.0, 2.0) and model.standard_errors == "none"
    assert model.prior_a is None and model.prior_c is None


def test_long_histories_next_to_short_ones_keep_finite_predictions(fitted: IRT) -> None:
    # 1 500 answers of one student give a log-likelihood near -1 000 at every node: the posterior must be
    # normalised per row (a shift by the row's own maximum), or exp() underflows to 0 / 0
    bank = fitted.bank_
    k = int(np.flatnonzero(bank.item_ids == "i3")[0])
    a, b, c = bank.a[k], bank.b[k], bank.c[k]
    n_long = 1500
    answers = (np.arange(n_long) % 2).astype(float)  # right, wrong, right, ...: the MLE is b, finite
    rows = pl.DataFrame({"student_id": ["long"] * n_long + ["short"], "item_id": ["i3"] * (n_long + 1),
                         "correct": np.append(answers, 1.0), "seq": np.arange(n_long + 1)})
    got = fitted.predict_proba(rows)
    assert np.isfinite(got).all()
    nodes = np.linspace(-4.0, 4.0, 21)
    for r in (1, 2, 700, n_long - 1):
        theta = _posterior(nodes, 1.0, [(a, b, c, int(y)) for y in answers[:r]])[0]
        assert got[r] == pytest.approx(c + (1 - c) / (1 + np.exp(-a * (theta - b))), abs=1e-9)
    assert got[n_long] == pytest.approx(c + (1 - c) / (1 + np.exp(-a * (_posterior(nodes, 1.0, [])[0] - b))), abs=1e-9)


def test_predictions_with_a_lower_asymptote(fitted: IRT) -> None:
    from models.irt.bank import ItemBank

    model = IRT(model="3pl", n_points=21, bounds=(-4.0, 4.0))
    model.bank_ = ItemBank.from_arrays(["u", "v"], [1.3, 0.8], [0.4, -0.6], [0.25, 0.1])
    rows = pl.DataFrame({"student_id": ["s", "s", "s"], "item_id": ["u", "v", "u"], "correct": [0.0, 1.0, 1.0],
                         "seq": [0, 1, 2]})
    got = model.predict_proba(rows)
    nodes = np.linspace(-4.0, 4.0, 21)
    params = {"u": (1.3, 0.4, 0.25), "v": (0.8, -0.6, 0.1)}
    seen: list = []
    for r, (item, y) in enumerate(zip(rows["item_id"], rows["correct"])):
        a, b, c = params[item]
        theta = _posterior(nodes, 1.0, seen)[0]
        assert got[r] == pytest.approx(c + (1 - c) / (1 + np.exp(-a * (theta - b))), abs=1e-9)
        seen.append((a, b, c, int(y)))


def _marginal_loglik(bank, frame: pl.DataFrame, nodes: np.ndarray) -> float:
    """Sum over students of log sum_k w_k prod_r P^y Q^(1-y), weights N(0, 1) renormalised on the nodes."""
    w = np.exp(-0.5 * nodes**2)
    w /= w.sum()
    total = 0.0
    for _, rows in frame.group_by("student_id"):
        like = np.ones_like(nodes)
        for item, y in zip(rows["item_id"], rows["correct"]):
            k = int(np.flatnonzero(bank.item_ids == item)[0])
            p = bank.c[k] + (1 - bank.c[k]) / (1 + np.exp(-bank.a[k] * (nodes - bank.b[k])))
            like *= p if y else 1 - p
        total += float(np.log(like @ w))
    return total


def test_fit_uses_the_models_quadrature_priors_anchors_and_callback() -> None:
    from models.irt.bank import ItemBank
    from models.irt.priors import Priors

    frame = _frame(6, n_students=120)
    calls: list = []
    model = IRT(model="2pl", prior_b=(0.0, 2.0), n_points=21, bounds=(-4.0, 4.0), max_iter=30, standard_errors="none")
    model.fit(frame, callback=lambda i, m: calls.append((i, m)))
    cal = model.calibration_
    assert cal.priors == Priors(b_normal=(0.0, 2.0))
    assert calls and calls[0] == (1, 30) and all(m == 30 for _, m in calls) and calls[-1][0] == cal.n_iter
    # the log-likelihood reported is the marginal one on the model's own 21 nodes over +/- 4
    assert cal.loglik == pytest.approx(_marginal_loglik(model.bank_, frame, np.linspace(-4, 4, 21)), rel=1e-9)
    # anchors keep their values
    anchors = ItemBank.from_arrays(["i0", "i1"], [1.3, 0.9], [0.2, -0.7])
    anchored = IRT(model="2pl", max_iter=30, standard_errors="none").fit(frame, anchors=anchors)
    k = [int(np.flatnonzero(anchored.bank_.item_ids == i)[0]) for i in ("i0", "i1")]
    assert anchored.bank_.a[k].tolist() == pytest.approx([1.3, 0.9]) and anchored.bank_.b[k].tolist() == pytest.approx([0.2, -0.7])


@pytest.mark.parametrize("kwargs, want", [
    ({"model": "2pl"}, {}),
    ({"model": "2pl", "prior_a": (0.0, 0.5)}, {"a_lognormal": (0.0, 0.5)}),
    ({"model": "2pl", "prior_b": (0.0, 2.0)}, {"b_normal": (0.0, 2.0)}),
    ({"model": "3pl"}, {"c_beta": (5.0, 17.0)}),
    ({"model": "3pl", "prior_b": (0.5, 1.5)}, {"b_normal": (0.5, 1.5), "c_beta": (5.0, 17.0)}),
    ({"model": "3pl", "prior_c": (3.0, 9.0)}, {"c_beta": (3.0, 9.0)}),
    ({"model": "2pl", "prior_c": (3.0, 9.0)}, {"c_beta": (3.0, 9.0)}),
])
def test_priors_passed_to_the_calibration(kwargs: dict, want: dict) -> None:
    # the docstring: prior_a lognormal, prior_b normal, prior_c beta; the 3PL defaults to Beta(5, 17)
    from models.irt.priors import Priors

    model = IRT(**kwargs, max_iter=2, standard_errors="none").fit(_frame(7, n_students=60))
    assert model.calibration_.priors == Priors(**want)
    assert model.calibration_.se_method == "none" and np.isnan(model.bank_.se_b).all()  # as asked


def test_item_parameters_of_known_unknown_and_inestimable_items() -> None:
    from models.irt.bank import ItemBank

    model = IRT()
    model.bank_ = ItemBank.from_arrays(["p", "q", "r"], [1.5, 0.5, np.nan], [-1.0, 2.0, np.nan], [0.1, 0.3, np.nan])
    a, b, c = model.item_parameters(["p", "q", "r", "zz", "p"])
    # known items their own values (including the first, at position 0); "r" (not estimated) and "zz" the means of p, q
    assert a.tolist() == pytest.approx([1.5, 0.5, 1.0, 1.0, 1.5])
    assert b.tolist() == pytest.approx([-1.0, 2.0, 0.5, 0.5, -1.0])
    assert c.tolist() == pytest.approx([0.1, 0.3, 0.2, 0.2, 0.1])
    # a model loaded without an item order still lists its items
    payload = {"model": "irt", "format_version": 1, "params": IRT().get_params() | {"bounds": [-6.0, 6.0]},
               "calibration": {"model": "2pl", "items": model.bank_.to_records()}, "item_order": None}
    table = IRT.from_dict(payload).item_table()
    assert table["item"].to_list() == ["p", "q", "r"]


def test_default_fit_is_a_maximum_of_the_marginal_likelihood() -> None:
    # with the default tolerance the Rasch difficulties zero the gradient of the marginal log-likelihood on the
    # default quadrature (61 nodes on +/- 6, N(0, 1) weights), by central differences
    frame = _frame(8, n_students=150)
    model = IRT(model="rasch", standard_errors="none").fit(frame)
    ids = model.bank_.item_ids.tolist()
    item = np.array([ids.index(i) for i in frame["item_id"]])
    student = np.unique(frame["student_id"].to_numpy(), return_inverse=True)[1]
    y = frame["correct"].to_numpy()
    nodes = np.linspace(-6, 6, 61)
    w = np.exp(-0.5 * nodes**2)
    w /= w.sum()

    def loglik(b: np.ndarray) -> float:
        p = 1 / (1 + np.exp(-(nodes[None, :] - b[item][:, None])))
        logp = np.where(y[:, None] == 1, np.log(p), np.log1p(-p))
        per_student = np.zeros((student.max() + 1, len(nodes)))
        np.add.at(per_student, student, logp)
        return float(np.sum(np.log(np.exp(per_student) @ w)))

    b = model.bank_.b.copy()
    assert model.calibration_.loglik == pytest.approx(loglik(b), rel=1e-9)
    for k in range(len(b)):
        up, dn = b.copy(), b.copy()
        up[k] += 1e-5
        dn[k] -= 1e-5
        assert (loglik(up) - loglik(dn)) / 2e-5 == pytest.approx(0.0, abs=1e-2)
