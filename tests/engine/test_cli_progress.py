"""Progress bars of the long commands (issue 16): drawn on a terminal with rate and ETA, silent elsewhere (pipes,
CI, these tests); the engine reports through plain callbacks that leave every result unchanged."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.cli.progress import Bar, fit_with_progress, progress_bar, wanted


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_on_a_terminal_shows_what_runs_done_of_total_rate_and_eta() -> None:
    out = Terminal()
    with progress_bar("simulate", total=4, unit="step", stream=out) as bar:
        for _ in range(4):
            bar.step("bkt seed 1 random")
    text = out.getvalue()
    assert "bkt seed 1 random" in text and "4/4" in text and "step/s" in text and "ETA" in text


def test_no_bar_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setenv("TERM", "xterm")
    assert not wanted(out) and wanted(Terminal())
    monkeypatch.setenv("TERM", "dumb")
    assert not wanted(Terminal())  # a terminal that says it cannot draw
    with progress_bar("kt evaluate", total=2, stream=out) as bar:
        bar.update(1, 2, "fit bkt")
        bar.update(2, 2, "done")
    assert out.getvalue() == "" and bar.completed == 2 and bar.description == "done"


def test_rich_is_imported_only_to_draw() -> None:
    import subprocess

    code = ("import sys, io\nfrom engine.cli.progress import progress_bar\n"
            "with progress_bar('x', total=3, stream=io.StringIO()) as bar:\n    bar.step()\n"
            "print('rich' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "False", result.stderr


def test_fit_with_progress_counts_a_model_that_reports_and_waits_for_one_that_cannot() -> None:
    calls: list[tuple] = []

    class Counting:
        def fit(self, responses, callback=None):  # noqa: ANN001, ANN201
            for i in range(3):
                callback(i + 1, 3)
                calls.append((i + 1, 3))
            return self

    class Silent:
        def fit(self, responses):  # noqa: ANN001, ANN201
            calls.append("silent")
            return self

    assert isinstance(fit_with_progress(Counting(), None, "fit"), Counting)
    assert isinstance(fit_with_progress(Silent(), None, "fit"), Silent)
    assert calls == [(1, 3), (2, 3), (3, 3), "silent"]


def test_commands_under_test_draw_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`simulate` on a captured (non-terminal) stderr: the table on stdout, nothing on stderr."""
    code = main(["simulate", "--students", "30", "--steps", "3", "--policies", "random,equilearn"])
    out, err = capsys.readouterr()
    assert code == 0 and "policy" in out and err == ""


def test_a_model_that_cannot_use_the_data_is_one_error_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """BKT needs skill ids: `kt fit` and `kt evaluate` say so (exit 1) instead of a traceback."""
    log = tmp_path / "log.csv"
    log.write_text("student_id,item_id,correct\n" + "".join(f"s{i % 7},i{i % 5},{i % 2}\n" for i in range(60)))
    for argv in (["kt", "fit", "--data", str(log), "--format", "generic", "--model", "bkt", "--out", str(tmp_path / "m.json")],
                 ["kt", "evaluate", "--data", str(log), "--format", "generic", "--models", "elo,bkt"]):
        code = main(argv)
        _, err = capsys.readouterr()
        assert code == 1 and err.startswith("error: ") and "skill" in err and len(err.strip().splitlines()) == 1, err


# ---- the engine's callbacks: called as documented, results unchanged ------------------------------------------------
def test_evaluate_reports_each_fit_and_predict() -> None:
    from engine.data.demo import demo_dataset
    from engine.evaluation.protocol import evaluate

    dataset = demo_dataset(n_students=60, attempts=10)
    seen: list[tuple[int, int, str]] = []
    with_progress = evaluate(dataset, ["baseline-mean", "elo"], progress=lambda *a: seen.append(a))
    plain = evaluate(dataset, ["baseline-mean", "elo"])
    assert seen == [(0, 4, "fit baseline-mean"), (1, 4, "predict baseline-mean"), (2, 4, "fit elo"),
                    (3, 4, "predict elo"), (4, 4, "done")]
    strip = lambda r: {m: {k: v for k, v in d.items() if not k.endswith("seconds")} for m, d in r["models"].items()}  # noqa: E731
    assert strip(with_progress) == strip(plain)


def test_irt_em_callback_counts_steps_and_changes_nothing() -> None:
    from models.irt import ResponseData, calibrate
    from models.irt.simulate import simulate

    sim = simulate(300, 12, model="2pl", random_state=3)
    data = ResponseData.from_arrays(sim.student, sim.item, sim.correct)
    steps: list[tuple[int, int]] = []
    counted = calibrate(data, "2pl", max_iter=500, standard_errors="none", callback=lambda n, m: steps.append((n, m)))
    plain = calibrate(data, "2pl", max_iter=500, standard_errors="none")
    assert steps and all(m == 500 for _, m in steps) and [n for n, _ in steps] == sorted({n for n, _ in steps})
    assert steps[-1][0] <= counted.n_iter
    np.testing.assert_array_equal(counted.bank.a, plain.bank.a)
    np.testing.assert_array_equal(counted.bank.b, plain.bank.b)


def test_stacked_model_reports_each_sub_model_fit() -> None:
    from engine.data.demo import demo_dataset
    from engine.evaluation.protocol import sort_sequential
    from engine.evaluation.zoo import make_model

    train = sort_sequential(demo_dataset(n_students=60, attempts=10).train)
    seen: list[tuple[int, int]] = []
    counted = make_model("best").fit(train, callback=lambda done, total: seen.append((done, total)))
    plain = make_model("best").fit(train)
    total = seen[-1][1]
    assert [d for d, _ in seen] == list(range(1, total + 1)) and total == 2 * len(counted.submodels_) * (counted.n_folds + 1)  # choosing on validation students, then the final fit
    np.testing.assert_allclose(counted.predict_proba(train), plain.predict_proba(train))
    assert not hasattr(counted, "_callback")


def test_simulate_reports_every_step_of_every_run() -> None:
    from engine.catalog import demo_catalog
    from engine.simulate import compare_policies
    from engine.simulate.suite import SETTINGS, run_suite

    catalog = demo_catalog()
    labels: list[str] = []
    compare_policies(catalog, ["random", "equilearn"], "bkt", 20, 4, [1, 2], on_step=labels.append)
    assert len(labels) == 2 * 2 * 4 and labels[0] == "bkt seed 1 random" and labels[-1] == "bkt seed 2 equilearn"
    labels.clear()
    texts: list[str] = []
    run_suite(catalog, ["random", "oracle"], [SETTINGS[0]], 20, 3, [1], progress=texts.append, on_step=labels.append)
    assert len(labels) == 2 * 3 and len(texts) == 2


def test_model_audit_reports_its_stages_and_ends_complete() -> None:
    from engine.fairness.model_audit import audit_model
    from tests.fairness import simulate as sim

    rng = np.random.default_rng(0)
    roster = sim.roster(200, rng)
    predictions = sim.predictions(roster, rng)
    seen: list[tuple] = []
    audit_model(predictions, "gender,ses", roster=roster, n_boot=20, n_permutations=20, progress=lambda *a: seen.append(a))
    assert seen[0][:2] == (0, None) and seen[-1] == (seen[-1][1], seen[-1][1], "done")
    done = [d for d, _, _ in seen]
    assert done == sorted(done) and len(seen) == seen[-1][1] + 1
    assert any(text.startswith("ABROCA") for _, _, text in seen)


def test_a_silent_bar_logs_its_notes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="engine.cli.progress")
    Bar("suite", 2, "step").note("bkt seed 1 random: 0.4 s")
    assert "bkt seed 1 random: 0.4 s" in caplog.text
