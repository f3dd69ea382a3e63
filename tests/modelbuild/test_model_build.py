"""`model build`: a platform's catalog (no IRT parameters) and a log simulated from known item parameters
become a model set the service serves as it is, without a catalog upload.

Truth is independent of the code under test: the simulated items' parameters, a per-response replay
through the engine's public one-student API, and the HTTP routes of the service."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from engine.modelbuild import build_model_set, format_table, prepare_log, read_store_log
from engine.modelbuild.modelset import fit_components
from engine.catalog import demo_catalog, load_catalog
from engine.data import load
from engine.errors import ConfigError, DataError, DataValidationError, NotFoundError
from engine.evaluation.metrics import auc
from engine.evaluation.splits import split_students
from engine.mastery import MasteryBatch, MasteryConfig, MasteryEngine
from engine.runtime import Runtime, load_service_settings
from engine.runtime.catalogs import catalog_from_dict, catalog_to_dict, save_uploaded
from engine.runtime.modelset import check_set_catalog, write_model_set_file
from tests.modelbuild.conftest import World
from tests.service.conftest import h, record_verdict


@pytest.fixture(scope="session")
def built(world: World):
    """The set built with `--predictor auto` (seed 0), once for the session."""
    catalog = load_catalog(world.catalog)
    responses = load(str(world.log), "generic").responses
    model_set, diagnostics = build_model_set(catalog, responses, predictor="auto", seed=0)
    return catalog, responses, model_set, diagnostics


def test_the_build_reports_items_answering_another_skill_and_finds_none_where_one_ability_answers_all(built):
    """The log was simulated from one ability for every skill: no item follows another skill better than its own, and
    the build says what it tested (the detection itself: tests/modelbuild/test_item_tags.py)."""
    _, _, model_set, diagnostics = built
    tags = model_set.components["build"]["item_tags"]
    assert tags["tested"] > 100 and tags["flagged"] == [] and tags["alpha"] == 0.05
    assert any(n.startswith(f"item tags checked against the answers: {tags['tested']} item(s) tested, 0 answer")
               for n in diagnostics.notes)


def served_engine(model_set) -> MasteryEngine:
    c = model_set.components
    return MasteryEngine.from_components(catalog_from_dict(c["catalog"]), c["mastery"])


def test_bank_recovers_true_difficulties_and_keeps_low_data_items_at_the_prior(world, built):
    _, _, model_set, diagnostics = built
    items = served_engine(model_set).catalog.items.join(world.truth, on="item_id", suffix="_true")
    regular = items.filter(~pl.col("item_id").is_in(list(world.low_data)))
    assert np.corrcoef(regular["b"], regular["b_true"])[0, 1] > 0.9
    assert np.corrcoef(regular["a"], regular["a_true"])[0, 1] > 0.6
    low = items.filter(pl.col("item_id").is_in(list(world.low_data)))
    assert low.height == len(world.low_data) > 0
    assert low["a"].to_list() == [1.0] * low.height and low["b"].to_list() == [0.0] * low.height  # the prior's centre
    reported = {row["item_id"]: row["n"] for row in diagnostics.low_data_items}
    assert set(reported) == set(world.low_data) and all(n < 10 for n in reported.values())
    bank = {r["item_id"] for r in model_set.components["mastery"]["ability_model"]["model"]["calibration"]["items"]}
    assert bank.isdisjoint(world.low_data) and len(bank) == 120 - len(world.low_data)
    text = format_table(diagnostics)
    assert "items with too little data" in text and all(i in text for i in world.low_data)
    assert diagnostics.absent_items == [] and diagnostics.skills_without_evidence == []


def test_auto_predictor_records_its_choice_and_the_best_auc(built):
    _, _, model_set, _ = built
    pred = model_set.components["build"]["predictor"]
    assert pred["choice"] == "auto" and pred["held_out"]["fraction"] == 0.2
    tried = {row["irt_weight"]: row["auc"] for row in pred["weights"]}
    assert sorted(tried) == [0.0, 0.25, 0.5, 0.75, 1.0] and all(0.5 < a < 1 for a in tried.values())
    assert pred["auc"] == tried[pred["irt_weight"]] and all(pred["auc"] >= a for a in tried.values())
    # the log is simulated from 2PL items of spread difficulty: any real predictor ranks far above a constant (0.5)
    assert pred["auc"] > 0.65
    assert model_set.components["mastery"]["mastery"]["irt_weight"] == pred["irt_weight"]
    # the log is pure 2PL: the IRT side must predict better than the skill model alone
    assert tried[1.0] > tried[0.0] + 0.03


def test_held_out_auc_equals_a_per_response_replay_through_the_public_api(world, built):
    """The vectorized held-out replay against a plain loop: one student at a time, predict, then update."""
    catalog, responses, model_set, _ = built
    pred = model_set.components["build"]["predictor"]
    prepared = prepare_log(catalog, responses).responses
    train, test = split_students(prepared, 0.2, 0)
    fitted = fit_components(catalog, train, irt_model="2pl", min_item_responses=30, prior_a=(0.0, 0.5),
                            prior_b=(0.0, 2.0), irt_weight=0.5, seed=0, standard_errors="none")
    w = pred["irt_weight"]
    engine = MasteryEngine(fitted.engine.catalog, fitted.engine.skill_model, fitted.engine.ability_model,
                           MasteryConfig(irt_weight=w))
    ys, ps = [], []
    for student, rows in test.sort("student_id", "seq").group_by("student_id", maintain_order=True):
        state = engine.new_state(str(student[0]))
        for item, y, ts in rows.select("item_id", "correct", "timestamp").iter_rows():
            days = ts.timestamp() / 86_400.0
            idx = np.array([engine.catalog.item_index(item)])
            ps.append(float(engine.predict_pairs(MasteryBatch.stack([state]), idx, np.array([days]))[0]))
            ys.append(y)
            state = engine.update(state, item, y, days)
    assert pred["held_out"]["n_responses"] == len(ys)
    assert auc(np.array(ys), np.array(ps)) == pytest.approx(pred["auc"], abs=1e-6)


def test_service_serves_the_built_set_and_its_catalog_without_an_upload(world, built, isolated_home, monkeypatch):
    from service.app import create_app

    _, _, model_set, _ = built
    path = isolated_home / "built.json"
    write_model_set_file(path, model_set)
    monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(path))
    settings = load_service_settings()
    save_uploaded(settings.catalog_file, catalog_to_dict(demo_catalog()))  # an older upload: the set's catalog wins
    record_verdict(f"{model_set.name}/{model_set.version}", model_set.components, "PASS")  # as `model audit --file` does
    rt = Runtime.open(settings)
    key = rt.store.create_api_key("ingest,recommend,admin")[0]
    expected = served_engine(model_set).catalog.items.select("item_id", "a", "b", "c")
    with TestClient(create_app(rt)) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert ready.json()["model_set"]["catalog"] == "platform-maths/v1"
        rows = pl.DataFrame(c.get("/v1/catalog/items", headers=h(key)).json()["rows"]).select("item_id", "a", "b", "c")
        assert rows.equals(expected)
        calibrated = rows.filter(~pl.col("item_id").is_in(list(world.low_data)))
        assert calibrated["b"].std() > 0.5 and (calibrated["a"] != 1.0).all()  # not the catalog's a=1, b=0
        item = world.truth["item_id"][0]
        r = c.post("/v1/events", json={"events": [{"event_id": "e1", "student_id": "new-1", "item_id": item, "correct": 1}]},
                   headers=h(key))
        assert r.status_code == 200, r.text
        recs = c.get("/v1/students/new-1/recommendations?k=3", headers=h(key))
        assert recs.status_code == 200, recs.text
        catalog = load_catalog(world.catalog)
        chosen = recs.json()["recommendations"]
        assert len(chosen) == 3 and all(x["resource_id"] in catalog.resource_ids for x in chosen)
        assert all(x["item_id"] is None or x["item_id"] in catalog.item_ids for x in chosen)
        # the set's catalog cannot be replaced by an upload: its models were fitted to it
        bundle = model_set.components["catalog"]
        refused = c.put("/v1/catalog", json=bundle, headers=h(key))
        assert refused.status_code == 409 and "carries its own catalog" in refused.json()["detail"]
    rt.close()


def test_a_set_whose_catalog_does_not_match_its_models_is_refused(built, isolated_home, monkeypatch):
    _, _, model_set, _ = built
    bundle = json.loads(json.dumps(model_set.components["catalog"]))
    dropped = bundle["items"].pop(0)["item_id"]
    with pytest.raises(ConfigError, match=f"item bank holds 1 item.*{dropped}"):
        check_set_catalog(catalog_from_dict(bundle), model_set.components)
    path = isolated_home / "mismatch.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": "x", "version": "1", "components": {**model_set.components, "catalog": bundle}}))
    monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(path))
    monkeypatch.setenv("EQUILEARN_ALLOW_UNAUDITED", "true")  # past the audit gate, to the catalog check
    rt = Runtime.open(load_service_settings())
    ready, details = rt.readiness()
    assert not ready and "does not match its components" in details["error"]
    rt.close()


def test_unknown_items_name_the_row_and_the_fix(world):
    catalog = load_catalog(world.catalog)
    responses = load(str(world.log), "generic").responses
    extra = pl.DataFrame({"student_id": ["zz-student"] * 2, "item_id": ["not-an-item", "s0000-01"],
                          "skill_ids": [[], []], "correct": [1.0, 0.0], "seq": [0, 1]},
                         schema={k: responses.schema[k] for k in ("student_id", "item_id", "skill_ids", "correct", "seq")})
    log = pl.concat([responses, extra], how="diagonal_relaxed")
    with pytest.raises(DataValidationError) as err:
        prepare_log(catalog, log)
    text = str(err.value)
    assert f"row {log.height - 1}, column 'item_id', value 'not-an-item'" in text
    assert "student 'zz-student', response #1" in text and "--ignore-unknown-items" in text
    assert "add those items to the catalog's items table" in text
    kept = prepare_log(catalog, log, ignore_unknown_items=True)
    assert kept.n_unknown_rows == 1 and kept.unknown_items == ("not-an-item",)
    assert kept.responses.height == log.height - 1
    assert kept.responses.filter(pl.col("student_id") == "zz-student")["skill_ids"].to_list() == [["s0000"]]


def serving(model_set, home, monkeypatch) -> Runtime:
    """A runtime serving `model_set` (written under `home`, with a PASS recorded for it)."""
    path = home / "built.json"
    write_model_set_file(path, model_set)
    monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(path))
    record_verdict(f"{model_set.name}/{model_set.version}", model_set.components, "PASS")
    return Runtime.open(load_service_settings())


def send(rt: Runtime, responses: pl.DataFrame) -> None:
    """Post canonical responses as events, 1,000 a batch (event id: student-seq)."""
    for start in range(0, responses.height, 1000):
        part = responses.slice(start, 1000).select("student_id", "item_id", "correct", "seq", "timestamp")
        rt.ingest(rt.events_from_json([{"event_id": f"{s}-{q}", "student_id": s, "item_id": i, "correct": y,
                                        "timestamp": t} for s, i, y, q, t in part.iter_rows()]))


def test_from_store_reads_the_event_log_in_chunks(world, built, isolated_home, monkeypatch):
    """Events posted to the service come back from the store, chunk by chunk, as the log that was sent."""
    _, responses, model_set, _ = built
    rt = serving(model_set, isolated_home, monkeypatch)
    sent = responses.filter(pl.col("student_id") < "p0040").sort("student_id", "seq")
    send(rt, sent)
    log = read_store_log(rt.store, chunk_students=7)
    assert "resource_id" not in log.columns  # no event named a resource: the log is an item-only log
    catalog = rt.policy.catalog
    named = [{"event_id": f"r{k}", "student_id": "zz-resources", "item_id": catalog.item_ids[k],
              "correct": 1.0, "resource_id": catalog.resource_ids[k] if k % 2 else None} for k in range(4)]
    rt.ingest(rt.events_from_json(named))
    with_resources = read_store_log(rt.store, chunk_students=7)
    rt.close()
    assert with_resources.filter(pl.col("student_id") == "zz-resources").sort("seq")["resource_id"].to_list() == [
        None, catalog.resource_ids[1], None, catalog.resource_ids[3]]
    assert with_resources.filter(pl.col("student_id") != "zz-resources")["resource_id"].null_count() == log.height
    got = log.sort("student_id", "seq").select("student_id", "item_id", "correct")
    assert got.equals(sent.select("student_id", "item_id", "correct"))
    set2, diag = build_model_set(load_catalog(world.catalog), log, predictor="irt", test_fraction=0, min_item_responses=5)
    assert diag.n_responses == sent.height and set2.components["build"]["predictor"]["irt_weight"] == 1.0
    assert set2.components["build"]["predictor"]["held_out"] is None


def test_from_store_measures_each_served_resource_by_the_answer_that_followed_it(world, built, isolated_home, monkeypatch,
                                                                                 capsys):
    """Lists served through the runtime and the answers to their first entries' items come back from the store as
    residuals (answer minus the `item_p` served); the set built with them carries them, and the served recommender
    starts from them."""
    from engine.recommend.outcomes import read_store_outcomes
    from engine.runtime.modelset import build_policy

    from engine.runtime.followups import SETTLE_SECONDS
    from engine.store.types import utc_now

    catalog, responses, model_set, _ = built
    rt = serving(model_set, isolated_home, monkeypatch)
    other = serving(model_set, isolated_home, monkeypatch)  # a second server process on the same database
    sent = responses.filter(pl.col("student_id") < "p0006")
    send(rt, sent)
    expected: dict[str, list[float]] = {}
    for n, student in enumerate(sorted(set(sent["student_id"].to_list()))):
        response, row = rt.compute_recommendations(student, 3)
        rt.write_served([row])
        first = response["recommendations"][0]
        assert not first["placement"] and 0 < first["item_p"] < 1
        correct = float(n % 2)
        answered = first["item_id"] if n < 4 else next(i for i in catalog.item_ids  # the last ones answer something else
                                                        if i not in {r["item_id"] for r in response["recommendations"]})
        taker = (rt, other)[n % 2]  # half the answers reach the other process
        taker.ingest(taker.events_from_json([{"event_id": f"{student}-after", "student_id": student, "item_id": answered,
                                              "correct": correct}]))
        if n < 4:
            expected.setdefault(first["resource_id"], []).append(correct - first["item_p"])
        if n == 2:  # both processes follow the logs as they grow: each outcome once, whichever process stored it
            assert rt.catch_up(utc_now() + timedelta(seconds=SETTLE_SECONDS)) == 3
    settled = utc_now() + timedelta(seconds=SETTLE_SECONDS)
    assert rt.catch_up(settled) == 1 and rt.catch_up(settled) == 0 and other.catch_up(settled) == 4
    outcomes = read_store_outcomes(rt.store, chunk_students=2)
    live = rt.policy.recommender.effectiveness  # the running service learned the same outcomes as they came
    assert other.policy.recommender.effectiveness.total == pytest.approx(live.total)
    rt.close()
    other.close()
    assert outcomes.height == 4
    set2, _ = build_model_set(catalog, responses, predictor="irt", test_fraction=0, min_item_responses=5,
                              served_outcomes=outcomes)
    eff = build_policy(catalog, set2.components)[1].effectiveness
    index = {r: i for i, r in enumerate(catalog.resource_ids)}
    assert eff.count.sum() == 4 and set2.components["build"]["resource_effectiveness"]["outcomes"] == 4
    for resource, residuals in expected.items():
        for stats in (eff, live):
            assert stats.count[index[resource]] == len(residuals)
            assert stats.total[index[resource]] == pytest.approx(sum(residuals))
    assert live.count.sum() == 4
    restarted = serving(model_set, isolated_home, monkeypatch)  # a restart recounts them from the logs
    assert restarted.policy.recommender.effectiveness.total == pytest.approx(live.total)
    restarted.close()
    monkeypatch.setattr("engine.runtime.runtime.RECOUNT_LISTS", 3)  # only the newest 3 of the 6 lists: one outcome
    capped = serving(model_set, isolated_home, monkeypatch)
    assert capped.policy.recommender.effectiveness.count.sum() == 1
    capped.close()
    with_them = serving(set2, isolated_home, monkeypatch)  # a set that counted them does not count them twice
    assert with_them.policy.recommender.effectiveness.count.sum() == 4
    with_them.close()
    from engine.cli import main  # the command reads the same store and says what it measured

    assert main(["model", "build", "--catalog", str(world.catalog), "--from-store", "--predictor", "irt",
                 "--test-fraction", "0", "--min-item-responses", "1", "--out", str(isolated_home / "from-store.json")]) == 0
    printed = capsys.readouterr()
    assert "served log: 4 served resource(s) followed by their item's answer" in printed.err
    # the 4 answers on a listed item were the policy's choice (engine.data.steering): the bank is calibrated without them
    assert (f"item bank: calibrated on the {sent.height + 2} answers the adaptive policy did not choose, of {sent.height + 6}"
            in printed.out + printed.err)
    written = json.loads((isolated_home / "from-store.json").read_text())["components"]["resource_effectiveness"]
    assert sum(n for n, _ in written["resources"].values()) == 4


def test_register_puts_a_servable_set_in_the_registry(world, isolated_home, monkeypatch, capsys):
    """`model build --register NAME` adds a version whose components the registry's loader returns intact."""
    from engine.cli import main
    from engine.registry import load_model_set, set_alias

    monkeypatch.setenv("EQUILEARN_MLFLOW_URI", f"sqlite:///{isolated_home / 'mlflow.db'}")
    code = main(["model", "build", "--catalog", str(world.catalog), "--data", str(world.log), "--format", "generic",
                 "--register", "platform", "--predictor", "blend", "--test-fraction", "0", "--out",
                 str(isolated_home / "set.json")])
    assert code == 0
    err = capsys.readouterr().err
    assert "registered model set 'platform' version 1 (not audited yet)" in err
    set_alias("platform", "1", "champion")  # development path; `model promote` needs a passing audit
    registered, warning = load_model_set("platform", "champion")
    assert "no recorded fairness audit" in warning
    written = json.loads((isolated_home / "set.json").read_text())
    assert written["name"] == "platform" and written["version"] == "1"
    assert registered.components["mastery"] == written["components"]["mastery"]
    assert registered.components["catalog"]["name"] == "platform-maths"
    assert registered.components["build"]["predictor"]["irt_weight"] == 0.5


def test_build_reads_a_log_with_its_own_column_names(world, tmp_path, capsys):
    """`model build --format generic --column CANONICAL=YOURS` reads a platform's own column names (the README
    promises the generic format's mapping): the set equals the one built from the canonical file."""
    from engine.cli import main

    raw = pl.read_csv(world.log)
    renamed = tmp_path / "platform-log.csv"
    raw.rename({"student_id": "learner", "item_id": "question", "correct": "score"}).write_csv(renamed)
    out_mapped, out_plain = tmp_path / "mapped.json", tmp_path / "plain.json"
    common = ["--catalog", str(world.catalog), "--format", "generic", "--predictor", "irt", "--test-fraction", "0"]
    assert main(["model", "build", *common, "--data", str(renamed), "--out", str(out_mapped),
                 "--column", "student_id=learner", "--column", "item_id=question", "--column", "correct=score"]) == 0
    assert main(["model", "build", *common, "--data", str(world.log), "--out", str(out_plain)]) == 0
    mapped, plain = json.loads(out_mapped.read_text()), json.loads(out_plain.read_text())
    assert mapped["components"]["mastery"] == plain["components"]["mastery"]
    assert main(["model", "build", *common, "--data", str(renamed), "--out", str(tmp_path / "x.json")]) != 0
    assert "--column" in capsys.readouterr().err  # without the mapping: the error names the flag that fixes it


def test_build_reads_booleans_and_unix_or_custom_times(world, tmp_path, capsys):
    """A log written by Python or pandas (correct as True/False) with Unix-millisecond times, or with times in a
    format of its own named by `--timestamp-format`, builds the set the canonical file builds: same responses in the
    same order (the data fingerprint) and the same fitted models."""
    from engine.cli import main

    raw = pl.read_csv(world.log)
    times = raw["timestamp"].str.to_datetime(time_unit="us").dt.replace_time_zone("UTC")
    written = raw.with_columns(pl.col("correct").cast(pl.Boolean))
    unix = tmp_path / "unix-log.csv"
    written.with_columns((times.dt.epoch("ms")).alias("timestamp")).write_csv(unix)
    assert "true" in unix.read_text().lower() and raw["correct"].n_unique() == 2
    custom = tmp_path / "custom-log.csv"
    written.with_columns(times.dt.strftime("%d.%m.%Y %H:%M:%S").alias("timestamp")).write_csv(custom)
    common = ["--catalog", str(world.catalog), "--format", "generic", "--predictor", "irt", "--test-fraction", "0"]
    outs = {name: tmp_path / f"{name}.json" for name in ("plain", "unix", "custom")}
    assert main(["model", "build", *common, "--data", str(world.log), "--out", str(outs["plain"])]) == 0
    assert main(["model", "build", *common, "--data", str(unix), "--out", str(outs["unix"])]) == 0
    assert main(["model", "build", *common, "--data", str(custom), "--out", str(outs["custom"]),
                 "--timestamp-format", "%d.%m.%Y %H:%M:%S"]) == 0
    sets = {name: json.loads(path.read_text())["components"] for name, path in outs.items()}
    for name in ("unix", "custom"):
        assert sets[name]["build"]["data"]["fingerprint"] == sets["plain"]["build"]["data"]["fingerprint"]
        assert sets[name]["mastery"] == sets["plain"]["mastery"]
    plain_times = load(world.log, "generic").train["timestamp"]
    assert load(unix, "generic").train["timestamp"].equals(plain_times)  # the fingerprint leaves times out
    assert load(custom, "generic", timestamp_format="%d.%m.%Y %H:%M:%S").train["timestamp"].equals(plain_times)
    capsys.readouterr()
    assert main(["irt", "calibrate", str(custom), "--format", "wide", "--timestamp-format", "%d"]) != 0
    assert "--timestamp-format does not apply to --format wide" in capsys.readouterr().err


def test_the_build_repeats_the_defaults_the_catalog_filled_in(world, tmp_path):
    """A catalog whose items carry no IRT parameters gets a = 1, b = 0, c = 0 (catalog.notes); the build's diagnostics
    say so too, where a platform reads them, and a catalog that gives them adds no such note."""
    import shutil

    items = pl.read_csv(world.catalog / "items.csv")
    assert {"a", "b", "c"}.isdisjoint(items.columns)  # the fixture's platform gives none
    full = tmp_path / "full"
    shutil.copytree(world.catalog, full)
    items.with_columns(a=pl.lit(1.2), b=pl.lit(0.3), c=pl.lit(0.1)).write_csv(full / "items.csv")
    log = load(world.log, "generic").train
    _, diagnostics = build_model_set(load_catalog(world.catalog), log, predictor="irt", test_fraction=0)
    [note] = [n for n in diagnostics.notes if n.startswith("catalog: ")]
    assert all(f"{p}={v} for {items.height} item(s)" in note for p, v in (("a", 1.0), ("b", 0.0), ("c", 0.0)))
    _, complete = build_model_set(load_catalog(full), log, predictor="irt", test_fraction=0)
    assert not any(n.startswith("catalog: ") for n in complete.notes)


def test_a_log_of_few_students_is_named_in_the_diagnostics(world):
    """Fewer than SMALL_LOG_STUDENTS students and the build says so with the figure it rests on; the fixture's 600
    students say nothing."""
    from engine.modelbuild.modelset import SMALL_LOG_STUDENTS

    log = load(world.log, "generic").train
    few = log.filter(pl.col("student_id").is_in(log["student_id"].unique().sort().head(SMALL_LOG_STUDENTS - 1).implode()))
    _, small = build_model_set(load_catalog(world.catalog), few, predictor="irt", test_fraction=0, min_item_responses=5)
    [note] = [n for n in small.notes if n.startswith("a small log")]
    assert f"{SMALL_LOG_STUDENTS - 1} students" in note and "How large a log" in note
    _, full = build_model_set(load_catalog(world.catalog), log, predictor="irt", test_fraction=0)
    assert log["student_id"].n_unique() >= SMALL_LOG_STUDENTS and not any(n.startswith("a small log") for n in full.notes)


def test_repeated_answers_are_kept_and_named_and_partial_scores_name_their_rows(world):
    """A log joined twice: every answer repeated with its time (the build's models change: forgetting, the predictor),
    so the diagnostics count them and name the first; a partial score stops the build naming student, item and seq."""
    from engine.modelbuild.modelset import repeated_answers

    log = load(world.log, "generic").train
    assert "timestamp" in log.columns and repeated_answers(log) is None
    twice = pl.concat([log, log.with_columns(pl.col("seq") + 10_000)])
    note = repeated_answers(twice)
    first = log.row(0, named=True)  # the first answer of the second copy repeats the log's first row
    assert note is not None and note.startswith(f"{log.height} answer(s) (50.0% of the log) repeat an earlier answer")
    assert f"first: student {first['student_id']!r}, item {first['item_id']!r}" in note
    one = log.with_columns(pl.when(pl.int_range(pl.len()) == 7).then(0.5).otherwise(pl.col("correct")).alias("correct"))
    row = one.row(7, named=True)
    with pytest.raises(DataError, match=rf"1 answer\(s\) are partial scores \(student {row['student_id']!r}, item "
                                        rf"{row['item_id']!r}, seq {row['seq']}: 0.5\)"):
        build_model_set(load_catalog(world.catalog), one, predictor="irt", test_fraction=0)


def test_auto_serves_a_3pl_bank_only_where_the_held_out_answers_show_guessing(world, built, tmp_path):
    """`--model auto` (the default): the plain world's 2PL answers keep the 2PL bank (both models' held-out
    log-loss recorded); the same catalog answered with a guessing floor of 0.25 gets the 3PL bank, whose lower
    asymptotes come out near that floor, and the diagnostics say why."""
    from tests.modelbuild.conftest import simulate_log

    _, _, model_set, diagnostics = built
    plain = model_set.components["build"]["irt_model"]
    assert plain["irt_model"] == "2pl" and {t["irt_model"] for t in plain["tried"]} == {"2pl", "3pl"}
    assert diagnostics.irt_model == "2pl"
    guessed_log = tmp_path / "guessed.csv"
    simulate_log(pl.read_csv(world.catalog / "items.csv")["item_id"].to_list(), guessed_log, guessing=0.25)
    guessed_set, guessed = build_model_set(load_catalog(world.catalog), load(guessed_log, "generic").train, predictor="irt")
    choice = guessed_set.components["build"]["irt_model"]
    assert choice["irt_model"] == "3pl" and guessed.irt_model == "3pl", choice
    losses = {t["irt_model"]: t["logloss"] for t in choice["tried"]}
    assert losses["3pl"] < losses["2pl"]
    assert any(n.startswith("item bank measured on the held-out students: 3PL") for n in guessed.notes)
    served = served_engine(guessed_set).catalog  # the bank's (a, b, c) applied to the items it holds
    calibrated = [served.item_index(i) for i in served.item_ids if i not in world.low_data]
    assert abs(float(np.median(served.item_c[calibrated])) - 0.25) < 0.06


def test_build_measures_the_resources_a_log_names(world, tmp_path, capsys):
    """A log with the resource used before each answer under the platform's own column name (`--column
    resource_id=material`; empty cells: none): the set carries a value for each resource the log used
    (`engine.recommend.resource_value`) and the build says so; the mastery models are those built without the column,
    which only the recommender reads. A resource the catalog lacks stops the build with its row named."""
    from engine.cli import main

    catalog = load_catalog(world.catalog)
    raw = pl.read_csv(world.log)
    rng = np.random.default_rng(3)
    named = np.array(catalog.resource_ids)[rng.integers(0, catalog.n_resources, raw.height)]
    material = [None if empty else r for r, empty in zip(named.tolist(), rng.random(raw.height) < 0.2)]
    with_resources = tmp_path / "with-resources.csv"
    raw.with_columns(pl.Series("material", material, dtype=pl.Utf8)).write_csv(with_resources)
    common = ["--catalog", str(world.catalog), "--format", "generic", "--predictor", "irt", "--test-fraction", "0"]
    outs = {name: tmp_path / f"{name}.json" for name in ("with", "without")}
    assert main(["model", "build", *common, "--data", str(with_resources), "--out", str(outs["with"]),
                 "--column", "resource_id=material"]) == 0
    assert "resource values measured from the log's resource_id column" in capsys.readouterr().out
    assert main(["model", "build", *common, "--data", str(world.log), "--out", str(outs["without"])]) == 0
    built = {name: json.loads(path.read_text())["components"] for name, path in outs.items()}
    values = built["with"]["policy_learning"]["resource_value"]
    assert set(values) == {r for r in material if r is not None}
    assert "resource_value" not in built["without"]["policy_learning"]
    assert built["with"]["mastery"] == built["without"]["mastery"]
    bad = tmp_path / "bad.csv"
    raw.with_columns(pl.Series("material", ["not-a-resource"] + named[1:].tolist())).write_csv(bad)
    assert main(["model", "build", *common, "--data", str(bad), "--out", str(tmp_path / "x.json"),
                 "--column", "resource_id=material"]) != 0
    err = capsys.readouterr().err
    assert "resource_id" in err and "not-a-resource" in err and "row " in err


def test_apply_item_tags_builds_on_the_suggested_tags_and_serves_them(world, tmp_path, monkeypatch, capsys):
    """With --apply-item-tags the items the check flags (here one flag, set by hand: the check itself is tested in
    test_item_tags.py, and this log has none) are retagged before the fits, and the set's catalog carries the new tag;
    without it the same flag is only reported."""
    from engine.cli import main
    from engine.modelbuild import item_tags, modelset

    catalog = load_catalog(world.catalog)
    item, tagged = catalog.item_ids[5], catalog.skill_ids[catalog.item_skill[5]]
    other = next(s for s in catalog.skill_ids if s != tagged)
    flag = item_tags.FlaggedItem(item, tagged, other, 0.05, 0.4, 6.0, 1e-6, 200)
    monkeypatch.setattr(modelset, "check_item_tags", lambda responses, cat: item_tags.ItemTagCheck(100, [flag]))
    common = ["--catalog", str(world.catalog), "--data", str(world.log), "--format", "generic", "--predictor", "irt",
              "--test-fraction", "0"]
    outs = {name: tmp_path / f"{name}.json" for name in ("applied", "reported")}
    assert main(["model", "build", *common, "--out", str(outs["applied"]), "--apply-item-tags"]) == 0
    assert "(applied: the set's catalog carries the suggested tags)" in capsys.readouterr().out
    assert main(["model", "build", *common, "--out", str(outs["reported"])]) == 0
    assert f"{item} (tagged {tagged}) follows {other}" in capsys.readouterr().out
    sets = {name: json.loads(path.read_text())["components"] for name, path in outs.items()}
    served = {name: catalog_from_dict(c["catalog"]) for name, c in sets.items()}
    assert served["applied"].skill_ids[served["applied"].item_skill[5]] == other
    assert served["reported"].skill_ids[served["reported"].item_skill[5]] == tagged
    assert sets["applied"]["build"]["item_tags"]["applied"] and not sets["reported"]["build"]["item_tags"]["applied"]
    assert served["applied"].item_skill.tolist()[:5] == served["reported"].item_skill.tolist()[:5]  # the rest as tagged


def test_retagged_catalog_moves_only_the_named_items():
    catalog = demo_catalog()
    item, skill = catalog.item_ids[3], catalog.skill_ids[-1]
    moved = catalog.retagged({item: skill})
    assert moved.item_skill[3] == catalog.n_skills - 1 and moved.item_skills[3].sum() == 1
    assert np.array_equal(np.delete(moved.item_skill, 3), np.delete(catalog.item_skill, 3))
    assert 3 in moved.items_by_skill[-1] and 3 not in moved.items_by_skill[catalog.item_skill[3]]
    assert catalog.retagged({}) is catalog
    with pytest.raises(NotFoundError, match="not in catalog"):
        catalog.retagged({"no-such-item": skill})


def test_a_log_too_short_to_calibrate_any_item_still_builds_a_set_that_recommends(world):
    """No item with --min-item-responses answers (a large catalog and a short log: the build used to stop): the set serves
    the catalog's item parameters on the catalog's own scale (a N(0, 1) population), fits the rest from the log, says so,
    and a new student gets a placement list from it."""
    from engine.runtime.modelset import build_policy

    log = load(world.log, "generic").train
    most = int(log.group_by("item_id").len()["len"].max())  # the log's best-answered item, counted here
    catalog = load_catalog(world.catalog)
    model_set, diagnostics = build_model_set(catalog, log, min_item_responses=most + 1)  # auto model and predictor
    mastery = model_set.components["mastery"]
    assert mastery["ability_model"]["kind"] == "grid-eap" and mastery["skill_model"]["kind"] == "models.bkt"
    engine = served_engine(model_set)
    assert (engine.ability_model.prior_mean, engine.ability_model.prior_sd) == (0.0, 1.0)
    for column in ("item_a", "item_b", "item_c"):
        np.testing.assert_array_equal(getattr(engine.catalog, column), getattr(catalog, column))
    assert diagnostics.n_calibrated == 0 and len(diagnostics.low_data_items) == catalog.n_items
    assert diagnostics.irt_model == "2pl"  # nothing to compare a 3PL bank with
    [note] = [n for n in diagnostics.notes if n.startswith("item bank: no catalog item")]
    assert f"has {most + 1} or more responses in the log (most: {most})" in note
    engine, recommender = build_policy(catalog, model_set.components)
    [first, *_] = recommender.recommend_dicts(engine.new_state("brand-new"), k=3)
    assert first["placement"] and first["item_id"] in catalog.item_ids
