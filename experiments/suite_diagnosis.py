"""Where equilearn's gap to the oracle comes from, on the learner-model suite -> experiments/results/suite_diagnosis.md

    .venv/bin/python -m experiments.suite_diagnosis [--students 150 --seed 1 --log-students 300]

Five questions, each answered on the suite's own worlds (`engine.simulate.suite.SETTINGS`), equilearn serving a
model set built by `equilearn model build` from a random-practice log of other students (as in the suite):

1. **Estimates or decision rule?** The same decision rule (the recommender, unchanged) is fed, two by two, the
   engine's estimates (as served) or the simulator's true state (P(learned) := true mastery, the mastered flag :=
   truly mastered, predicted success := true success), and the learning law built from the log or the world's own
   (proficiency family: `rate_scale x peak(band centre)` logits per step). Placement questions are off with the
   true state: there is nothing to place. Then one part of the state at a time (`TRUTH_PARTS`: the mastered flag,
   P(learned), the whole skill-level state, the item-level predictions) from the truth and the rest estimated, with
   the law from the log and placement off in every row, beside the engine's estimates with placement off (the
   reference of those rows; its difference from the served row is what the placement questions cost). Gated
   curriculum and oracle beside them.
2. **What can a random-practice log tell about the difficulty that teaches?** Per difficulty band of a step (the
   engine's predicted success before it), the paired progress of the step: the residual of the student's next answer
   on the same skill minus the residual of the step's own answer, both predicted from the state before the step.
   The predictor's miscalibration at that state cancels in the difference to first order, so its mean is the success
   the step added (plus forgetting over the gap); what is left of the miscalibration shows in a control world where
   nobody learns (`NO_LEARNING`, built the same way), the zero line of every band. If the worlds whose learning
   peaks at 40% and at 85% give the same profile, the log does not identify the peak, whatever the estimator.
3. **Where do the steps go?** Per policy: share of steps by true success of the practised item, true learning per
   step (mean true mastery over all skills, x 1e-3), the prerequisite gate of the practised skill, steps on truly
   mastered skills; for equilearn also the mastered flag's precision and recall and the share of the students who
   became ready for advanced work that took an advanced project (first recommendation only).
4. **Are the served predictions calibrated for every student?** For equilearn as served, the engine's predicted
   success of each item it served (before the answer; the blend and its two sides, per-skill IRT and the skill
   model) against the item's true success, by prior-achievement quartile and by whether the student had answered
   on the item's skill before. A policy aims its items by these predictions, so a quartile whose predictions run
   high is served items harder than meant, whatever law the policy follows.
5. **Where does each quartile's learning go?** For equilearn as served and for the gated curriculum (proficiency
   family), per prior-achievement quartile: steps per student, true learning per step and the prerequisite gate of
   the practised skill, in the first PLACEMENT_RESPONSES steps and after; for equilearn also by kind of step (a
   placement question, or the level of the resource recommended: remedial, core, advanced).

The true-state engine below is a diagnostic device of this experiment only: nothing served reads the truth.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from unittest import mock

import numpy as np
import polars as pl

from engine.catalog import Catalog, load_catalog
from engine.catalog.schema import ADVANCED, CORE, REMEDIAL
from engine.mastery import MasteryBatch, MasteryEngine, irt_p_correct
from engine.mastery.engine import p3
from engine.modelbuild.predictor import HeldOut
from engine.recommend.law import LearningLaw
from engine.recommend.learning import BAND_EDGES, DifficultyProgress
from engine.simulate.learners import _Learners
from engine.simulate.proficiency import ProficiencyLearners
from engine.simulate.report import normalized_gain, prior_quartile
from engine.simulate.runner import PLACEMENT_RESPONSES, RunResult, run_policy
from engine.simulate.suite import Setting, built_policy, random_practice_log, setting_by_name
from engine.simulate.world import World

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
DECOMPOSE = ("proficiency-peak40", "misspecified-15", "proficiency-peak60", "curve")
IDENTIFY = ("proficiency-peak40", "proficiency-peak60", "proficiency-peak75", "proficiency-peak85", "misspecified-15", "bkt", "curve")
STEPS = 60
NO_LEARNING = Setting("control: nobody learns", "proficiency", {"rate_scale": 0.0, "forgetting": 0.0, "resource_weight": 0.0},
                      description="proficiency world without learning or forgetting: the estimator's zero line")
EDGES = np.asarray(BAND_EDGES)


def band_labels() -> list[str]:
    return [f"{EDGES[b]:.0%}-{EDGES[b + 1]:.0%}" for b in range(EDGES.size - 1)]


# ---- 1. the decision rule fed the truth -------------------------------------------------------------------
class TrueStateEngine(MasteryEngine):
    """The built engine reading the simulator's truth where the recommender reads estimates (diagnostic only).
    `learners` is set by `RecordingSpec` when the run creates them; every batch must hold all of them."""

    learners: _Learners

    def _truth(self, batch: MasteryBatch) -> _Learners:
        if len(batch) != self.learners.world.n_students:
            raise RuntimeError("the true-state engine needs the whole simulated cohort in one batch (placement off)")
        return self.learners

    def p_now(self, batch: MasteryBatch, now: float | np.ndarray | None = None, start: np.ndarray | None = None) -> np.ndarray:
        return np.clip(self._truth(batch).mastery(), 1e-6, 1.0 - 1e-6)

    def skill_success(self, batch: MasteryBatch) -> np.ndarray:
        return self._truth(batch).mastery()

    def mastered(self, p: np.ndarray, batch: MasteryBatch | None = None) -> np.ndarray:
        return self.learners.known()

    def predict_skill_items(self, batch: MasteryBatch, items: np.ndarray | None = None) -> np.ndarray:
        x = self._truth(batch)
        if not isinstance(x, ProficiencyLearners):
            return super().predict_skill_items(batch, items)
        it = x.items
        idx = np.arange(it.skill.size) if items is None else np.asarray(items, dtype=np.int64)
        return irt_p_correct(x.theta[:, it.skill[idx]], it.a[idx][None, :], it.b[idx][None, :], it.c[idx][None, :])

    def item_ability(self, batch: MasteryBatch) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        x = self._truth(batch)
        if not isinstance(x, ProficiencyLearners):
            return super().item_ability(batch)
        it = x.items
        mean = x.theta[:, it.skill]
        return mean, np.full_like(mean, 1e-12), (it.a, it.b, it.c)

    def predict_items(self, batch: MasteryBatch, now: float | np.ndarray | None = None,
                      items: np.ndarray | None = None, *, p_now: np.ndarray | None = None) -> np.ndarray:
        if not isinstance(self._truth(batch), ProficiencyLearners):
            return super().predict_items(batch, now, items, p_now=p_now)
        return self.predict_skill_items(batch, items)

    def predict_skill_pairs(self, batch: MasteryBatch, items: np.ndarray) -> np.ndarray:
        x = self._truth(batch)
        if not isinstance(x, ProficiencyLearners):
            return super().predict_skill_pairs(batch, items)
        it, idx = x.items, np.asarray(items, dtype=np.int64)
        rows = np.arange(idx.size)
        return irt_p_correct(x.theta[rows, it.skill[idx]], it.a[idx], it.b[idx], it.c[idx])


def true_state(engine: MasteryEngine) -> TrueStateEngine:
    """A copy of `engine` that reads the truth (its learners are attached when a run creates them)."""
    out = copy.deepcopy(engine)
    out.__class__ = TrueStateEngine
    return out


def true_law(setting: Setting, built: LearningLaw) -> LearningLaw:
    """The world's own learning per band (proficiency family): rate_scale x peak(band centre) logits per step for an
    average learner with prerequisites in place, with the built law's step counts and a token SE."""
    learners_cls = ProficiencyLearners
    peak = float(setting.params.get("peak_success", learners_cls.peak_success))
    width = learners_cls.peak_width
    rate = float(setting.params.get("rate_scale", learners_cls.rate_scale))
    centres = (EDGES[:-1] + EDGES[1:]) / 2
    logit = lambda p: np.log(p / (1.0 - p))  # noqa: E731
    gamma = rate * np.exp(-0.5 * ((logit(centres) - logit(peak)) / width) ** 2)
    return LearningLaw(built.edges, tuple(float(g) for g in gamma), (0.01,) * gamma.size, built.n)


# The parts of the state the recommender reads, each replaceable by the truth on its own (`partly_true`).
TRUTH_PARTS: dict[str, tuple[str, ...]] = {
    "mastered flag": ("mastered",),
    "P(learned)": ("p_now",),
    "skill state (P(learned), skill success, mastered flag)": ("p_now", "skill_success", "mastered"),
    "item predictions": ("predict_skill_items", "item_ability", "predict_items", "predict_skill_pairs"),
}


def partly_true(engine: MasteryEngine, methods: tuple[str, ...]) -> MasteryEngine:
    """A copy of `engine` whose `methods` (names of `TrueStateEngine` methods) read the truth and whose other
    methods are the engine's own estimates; with no methods, a plain copy."""
    if not methods:
        return copy.deepcopy(engine)
    own = {m: MasteryEngine.__dict__[m] for m in TrueStateEngine.__dict__ if m in MasteryEngine.__dict__ and m not in methods}
    cls = type("PartlyTrueEngine", (TrueStateEngine,), own)  # the other methods back to the engine's estimates
    out = copy.deepcopy(engine)
    out.__class__ = cls
    return out


@contextmanager
def placement_off() -> Iterator[None]:
    """No placement questions (the true-state runs know the state already)."""
    with mock.patch("engine.recommend.recommender.needs_placement", lambda batch, *a, **k: np.zeros(len(batch), dtype=bool)):
        yield


# ---- 3. what every step did -------------------------------------------------------------------------------
@dataclass
class StepLog:
    """Per step (T, N): true success of the practised item, its skill's gate, whether it was truly mastered, and
    the mean true mastery over all skills before and after (proficiency family only; empty otherwise)."""

    success: list[np.ndarray] = field(default_factory=list)
    gate: list[np.ndarray] = field(default_factory=list)
    on_mastered: list[np.ndarray] = field(default_factory=list)
    learned: list[np.ndarray] = field(default_factory=list)


class RecordingSpec:
    """A suite setting as a `SimulatorSpec` that keeps the learners it makes (for a true-state engine) and records
    every step of proficiency learners into `log`."""

    def __init__(self, setting: Setting, engine: MasteryEngine | None = None) -> None:
        self.setting, self.engine, self.name = setting, engine, setting.name
        self.log = StepLog()

    def learners(self, world):  # noqa: ANN001, ANN201
        x = self.setting.learners(world)
        if self.engine is not None:
            self.engine.learners = x
        if isinstance(x, ProficiencyLearners):
            x.step = self._recorded(x, x.step)
        return x

    def _recorded(self, x: ProficiencyLearners, step):  # noqa: ANN001, ANN202
        def run(resources: np.ndarray, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            it, rows = x.items, np.arange(items.size)
            skill = it.skill[items]
            m = x.mastery()
            self.log.success.append(irt_p_correct(x.theta[rows, skill], it.a[items], it.b[items], it.c[items]))
            self.log.gate.append(x._gate(m)[rows, skill])
            self.log.on_mastered.append(m[rows, skill] >= 0.8)
            before = m.mean(axis=1)
            correct = step(resources, items, rng)
            self.log.learned.append(x.mastery().mean(axis=1) - before)
            return correct
        return run


@dataclass(frozen=True)
class Profile:
    gain: float
    by_band: tuple[float, ...]
    learned: float
    gate: float
    on_mastered: float
    wasted: float
    precision: float
    recall: float
    advanced_reach: float


def profile(result: RunResult, log: StepLog) -> Profile:
    flagged, truly = result.flagged_mastered, result.truly_mastered
    precision = float((flagged & truly).sum() / flagged.sum()) if flagged.any() else math.nan
    recall = float((flagged & truly).sum() / truly.sum()) if truly.any() else math.nan
    reach = float(result.offered_when_ready.sum() / result.ever_ready.sum()) if result.ever_ready.any() else math.nan
    wasted = float(result.over_practice.sum() / (result.initial.size * result.steps))
    if not log.success:
        nan = math.nan
        return Profile(normalized_gain(result.initial, result.final), (nan,) * (EDGES.size - 1), nan, nan, nan, wasted, precision, recall, reach)
    success = np.concatenate(log.success)
    shares = np.histogram(success, bins=EDGES)[0] / success.size
    return Profile(normalized_gain(result.initial, result.final), tuple(float(s) for s in shares), float(np.concatenate(log.learned).mean() * 1e3),
                   float(np.concatenate(log.gate).mean()), float(np.concatenate(log.on_mastered).mean()), wasted,
                   precision, recall, reach)


# ---- 4. calibration of the served predictions by quartile --------------------------------------------------
@dataclass(frozen=True)
class CalibrationCell:
    share: float  # of the quartile's steps
    predicted: float
    irt: float
    skill_model: float
    true: float


@dataclass(frozen=True)
class StateCell:
    """A quartile's practised (student, skill) pairs at the end of the run: the engine's mean P(learned) and skill
    success against the mean true mastery and the share truly mastered."""

    p_learned: float
    success: float
    true_mastery: float
    truly_mastered: float


@dataclass(frozen=True)
class Calibration:
    steps: dict[tuple[int, bool], CalibrationCell]  # (quartile, skill answered before) -> served predictions vs truth
    states: dict[int, StateCell]  # quartile -> practised skills at the end


class PredictionRecorder:
    """Records, on one engine, the runner's prediction before each answer (`predict_pair_parts` over the whole cohort:
    both sides, and whether the item's skill was answered before) and keeps the runner's batch, for `calibration`."""

    def __init__(self, engine: MasteryEngine, students: int) -> None:
        self.students = students
        self.steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.batch: MasteryBatch | None = None
        parts = engine.predict_pair_parts

        def recording(batch: MasteryBatch, items: np.ndarray, now: float | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
            p_irt, p_skill = parts(batch, items, now)
            if len(batch) == students:  # the runner's call before each answer (the policy predicts whole item sets)
                seen = batch.evidence[np.arange(students), engine.catalog.item_skill[np.asarray(items)]] > 0
                self.steps.append((p_irt, p_skill, seen))
                self.batch = batch  # the runner's own batch, updated in place after the answer
            return p_irt, p_skill

        engine.predict_pair_parts = recording

    def calibration(self, engine: MasteryEngine, log: StepLog, result: RunResult) -> Calibration:
        """Each step's predicted success of the served item against its true success (`log`, proficiency learners
        only), by quartile and by whether the skill was answered before; and the practised skills at the end against
        the truth (the learners `RecordingSpec(setting, engine)` kept on `engine.learners`)."""
        p_irt, p_skill, seen = (np.array([r[k] for r in self.steps]) for k in range(3))
        blend = HeldOut(np.zeros(0), p_irt, p_skill, self.students).blend(engine.config.irt_weight)  # the served blend
        true = np.array(log.success)
        quartile = prior_quartile(result.initial)
        per_step = np.broadcast_to(quartile, true.shape)
        steps = {}
        for q in range(4):
            mine = per_step == q
            for before in (False, True):
                m = mine & (seen == before)
                steps[(q, before)] = CalibrationCell(float(m.sum() / max(mine.sum(), 1)), float(blend[m].mean()),
                                                     float(p_irt[m].mean()), float(p_skill[m].mean()), float(true[m].mean()))
        batch, learners = self.batch, engine.learners
        p, success, mastery, known = engine.p_now(batch), engine.skill_success(batch), learners.mastery(), learners.known()
        states = {}
        for q in range(4):
            m = (quartile == q)[:, None] & (batch.evidence > 0)
            states[q] = StateCell(float(p[m].mean()), float(success[m].mean()), float(mastery[m].mean()), float(known[m].mean()))
        return Calibration(steps, states)


# ---- 5. where each quartile's learning goes ---------------------------------------------------------------
@dataclass(frozen=True)
class StepsCell:
    steps: float  # per student of the quartile
    learned: float  # true learning per step: mean true mastery over all skills, x 1e-3 (NaN without steps)
    gate: float  # prerequisite gate of the practised skill


def learning_by_kind(result: RunResult, log: StepLog, catalog: Catalog) -> dict[tuple[int, str], StepsCell]:
    """(quartile, group of steps) -> steps per student, true learning per step, gate. Groups: the first
    PLACEMENT_RESPONSES steps and the rest; with the run's actions and placement flags recorded (equilearn,
    `record_actions=True`), also the placement questions and the other steps by the level of the resource."""
    learned, gate = np.array(log.learned), np.array(log.gate)  # (T, N)
    quartile = prior_quartile(result.initial)
    step = np.arange(learned.shape[0])[:, None]
    groups = {"first steps": np.broadcast_to(step < PLACEMENT_RESPONSES, learned.shape),
              "after": np.broadcast_to(step >= PLACEMENT_RESPONSES, learned.shape)}
    if result.actions is not None and result.placement is not None:
        level, placed = catalog.resource_level[result.actions.T], result.placement.T
        groups |= {"placement question": placed, "remedial": ~placed & (level == REMEDIAL),
                   "core": ~placed & (level == CORE), "advanced": ~placed & (level == ADVANCED)}
    out = {}
    for q in range(4):
        mine = quartile == q
        for name, mask in groups.items():
            m = mask & mine[None, :]
            out[(q, name)] = StepsCell(float(m.sum() / max(mine.sum(), 1)),
                                       float(learned[m].mean() * 1e3) if m.any() else math.nan,
                                       float(gate[m].mean()) if m.any() else math.nan)
    return out


# ---- 2. paired progress in a random-practice log ----------------------------------------------------------
@dataclass(frozen=True)
class BandProgress:
    n: tuple[int, ...]
    mean: tuple[float, ...]
    se: tuple[float, ...]


def paired_progress(engine: MasteryEngine, log: pl.DataFrame) -> BandProgress:
    """Per band of a step's predicted success: mean and SE of (y' - p_before(i')) - (y - p_before(i)), where y is the
    step's answer on item i, y' the student's next answer on the same skill (item i'), and p_before the engine's
    per-skill prediction from the state before the step. Replayed in log order, students in parallel."""
    cat = engine.catalog
    ordered = log.sort(["student_id", "seq"]).with_columns(pl.int_range(pl.len()).over("student_id").alias("__pos"))
    students = ordered["student_id"].unique(maintain_order=True)
    rows = ordered.select(pl.col("student_id").replace_strict(students, pl.int_range(students.len(), eager=True)))["student_id"].to_numpy()
    item_index = pl.Series(cat.item_ids)
    items = ordered.select(pl.col("item_id").replace_strict(item_index, pl.int_range(item_index.len(), eager=True)))["item_id"].to_numpy()
    y, pos = ordered["correct"].to_numpy().astype(float), ordered["__pos"].to_numpy()
    n, k = students.len(), cat.n_skills
    batch = engine.new_batch(students.to_list())
    band = np.full((n, k), -1, dtype=np.int64)
    residual, mean, var = np.zeros((n, k)), np.zeros((n, k)), np.ones((n, k))
    drift = engine.config.skill_drift
    diffs, bands = [], []
    for step in range(int(pos.max()) + 1):
        sel = np.flatnonzero(pos == step)
        r, i, answer = rows[sel], items[sel], y[sel]
        skill = cat.item_skill[i]
        a, b, c = cat.item_a[i], cat.item_b[i], cat.item_c[i]
        then = p3(mean[r, skill], var[r, skill] + drift, a, b, c)  # the earlier step's state predicting this item
        waiting = band[r, skill] >= 0
        diffs.append(((answer - then) - residual[r, skill])[waiting])
        bands.append(band[r, skill][waiting])
        m_now, v_now = engine.skill_ability_at(batch, r, skill)
        own = p3(m_now, v_now + drift, a, b, c)
        band[r, skill] = np.clip(np.searchsorted(EDGES, own, side="right") - 1, 0, EDGES.size - 2)
        residual[r, skill], mean[r, skill], var[r, skill] = answer - own, m_now, v_now
        engine.update_batch(batch, r, i, answer)
    d, g = np.concatenate(diffs), np.concatenate(bands)
    count = np.bincount(g, minlength=EDGES.size - 1)
    total = np.bincount(g, weights=d, minlength=EDGES.size - 1)
    total_sq = np.bincount(g, weights=d**2, minlength=EDGES.size - 1)
    mu = total / np.maximum(count, 1)
    sd = np.sqrt(np.maximum(total_sq / np.maximum(count, 1) - mu**2, 0.0))
    return BandProgress(tuple(int(x) for x in count), tuple(float(x) for x in mu),
                        tuple(float(s / math.sqrt(max(c, 1))) for s, c in zip(sd, count)))


# ---- the run ----------------------------------------------------------------------------------------------
def _built(setting: Setting, world: World, log_students: int, seed: int) -> tuple[pl.DataFrame, MasteryEngine, DifficultyProgress | None]:
    """The log of other students on the content of `world`, and the set built from it."""
    catalog = world.catalog
    log = random_practice_log(setting, catalog, log_students, STEPS, seed + 10_000, content=world)
    engine, learned = built_policy(catalog, log, seed)
    return log, engine, learned


def decompose(setting: Setting, catalog: Catalog, students: int, seed: int, log_students: int
              ) -> tuple[dict[str, Profile], Calibration | None, dict[str, dict[tuple[int, str], StepsCell]]]:
    """Part 1's rows, part 4's calibration of the served row and part 5's steps of the served row and the gated
    curriculum (proficiency family; None and {} elsewhere)."""
    world = setting.world(catalog, students, seed)
    _, engine, learned = _built(setting, world, log_students, seed)
    world_law = true_law(setting, learned.law) if setting.family == "proficiency" and learned is not None and learned.law is not None else None
    variants = [("equilearn, engine's estimates, law from the log (served)", False, None),
                ("equilearn, engine's estimates, the world's true law", False, world_law),
                ("equilearn, true state, law from the log", True, None),
                ("equilearn, true state, the world's true law", True, world_law)]
    out: dict[str, Profile] = {}
    calibrated, steps = None, {}
    proficiency = setting.family == "proficiency"
    for label, truthful, law in variants:
        if "true law" in label and law is None:
            continue
        served, progress = (true_state(engine) if truthful else copy.deepcopy(engine)), copy.deepcopy(learned)
        if law is not None:
            progress.law = law
            served.law = law if served.law is not None else None
        as_served = not truthful and law is None
        recorder = PredictionRecorder(served, students) if as_served else None
        spec = RecordingSpec(setting, served if truthful or as_served else None)
        with placement_off() if truthful else contextlib.nullcontext():
            result = run_policy(world, spec, "equilearn", STEPS, engine=served, progress=progress, record_actions=as_served)
        out[label] = profile(result, spec.log)
        if recorder is not None and proficiency:
            calibrated = recorder.calibration(served, spec.log, result)
            steps["equilearn (served)"] = learning_by_kind(result, spec.log, catalog)
    # one part of the truth at a time, law from the log, placement off in every row (the reference included)
    for part, methods in (("none (engine's estimates)", ()), *TRUTH_PARTS.items()):
        served = partly_true(engine, methods)
        spec = RecordingSpec(setting, served if methods else None)
        with placement_off():
            result = run_policy(world, spec, "equilearn", STEPS, engine=served, progress=copy.deepcopy(learned))
        out[f"equilearn, no placement, true {part}"] = profile(result, spec.log)
    for policy in ("gated-curriculum", "oracle"):
        spec = RecordingSpec(setting)
        result = run_policy(world, spec, policy, STEPS)
        out[policy] = profile(result, spec.log)
        if policy == "gated-curriculum" and proficiency:
            steps[policy] = learning_by_kind(result, spec.log, catalog)
    return out, calibrated, steps


def identify(setting: Setting, catalog: Catalog, students: int, log_students: int, seed: int
             ) -> tuple[BandProgress, LearningLaw | None]:
    """The paired progress per band in the setting's random-practice log (on the content of part 1's world), and
    the learning law `model build` fits."""
    log, engine, learned = _built(setting, setting.world(catalog, students, seed), log_students, seed)
    return paired_progress(copy.deepcopy(engine), log), (learned.law if learned is not None else None)


def _f(x: float, fmt: str = ".3f") -> str:
    return "n/a" if x is None or not math.isfinite(x) else format(x, fmt)


def _choice_args(args: argparse.Namespace) -> str:
    """The --decompose / --identify arguments when they are not the defaults (so the command line reproduces)."""
    out = ""
    for flag, value, default in (("decompose", args.decompose, DECOMPOSE), ("identify", args.identify, IDENTIFY)):
        if value != ",".join(default):
            out += f" --{flag} '{value}'"
    return out


def markdown(args: argparse.Namespace, decomposed: dict[str, dict[str, Profile]],
             identified: dict[str, tuple[BandProgress, LearningLaw | None]],
             calibrated: dict[str, Calibration], stepped: dict[str, dict[str, dict[tuple[int, str], StepsCell]]],
             seconds: float, load: tuple[float, float, float]) -> str:
    size = "" if args.log_students == 300 else f": random-practice logs of {args.log_students:,} students"
    lines = [f"# Where equilearn's gap to the oracle comes from{size}", "",
             f"Command: `.venv/bin/python -m experiments.suite_diagnosis --students {args.students} --seed {args.seed} "
             f"--log-students {args.log_students}{_choice_args(args)}` ({seconds / 60:.0f} min; load average before {load[0]:.2f}, {load[1]:.2f}, "
             f"{load[2]:.2f}). What each part measures: the module docstring of `experiments/suite_diagnosis.py`. "
             f"{args.students} students x {STEPS} steps, one world (seed {args.seed}); equilearn serves a set built from a "
             f"random-practice log of {args.log_students} other students.", "",
             "## 1. The same decision rule fed estimates or the truth", "",
             "Rows \"no placement, true ...\" replace one part of the engine's state by the truth (the rest estimated, "
             "the law from the log) and switch placement questions off; their reference is \"no placement, true none\".", ""]
    for name, rows in decomposed.items():
        oracle = rows["oracle"].gain
        lines += [f"### {name}", "",
                  "| policy | gain | share of oracle | steps at true success " + " / ".join(band_labels()) +
                  " | true learning per step (1e-3) | gate | steps on truly mastered | wasted steps | flag precision / recall | advanced reach |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for label, p in rows.items():
            own = label.startswith("equilearn")
            flag = f"{_f(p.precision, '.2f')} / {_f(p.recall, '.2f')}" if own else ""
            reach = _f(p.advanced_reach, '.2f') if own else ""
            bands = " / ".join(_f(s, ".2f") for s in p.by_band)
            lines.append(f"| {label} | {_f(p.gain)} | {_f(p.gain / oracle, '.2f')} | {bands} | {_f(p.learned, '.2f')} | "
                         f"{_f(p.gate, '.2f')} | {_f(p.on_mastered, '.2f')} | {_f(p.wasted, '.2f')} | "
                         f"{flag} | {reach} |")
        lines.append("")
    lines += ["## 2. Paired progress of a step by its predicted success, in the random-practice log", "",
              "Mean of (next answer's residual - the step's own residual), both from the state before the step, x 100 "
              "(percentage points of success the step added), with its standard error; n = steps with a later answer on "
              "the same skill.", "",
              "| setting | " + " | ".join(band_labels()) + " |", "|---|" + "---|" * (EDGES.size - 1)]
    for name, (bp, _) in identified.items():
        cells = " | ".join(f"{100 * m:+.1f} ± {100 * s:.1f} (n {n})" for m, s, n in zip(bp.mean, bp.se, bp.n))
        lines.append(f"| {name} | {cells} |")
    lines += ["", "The learning law `model build` fits from the same log (gamma per band, logits per step at full readiness, "
              "with its SE; `engine/recommend/law.py`):", "",
              "| setting | " + " | ".join(band_labels()) + " | best band |", "|---|" + "---|" * EDGES.size]
    for name, (_, law) in identified.items():
        if law is None:
            continue
        cells = " | ".join(f"{g:+.2f} ± {s:.2f}" for g, s in zip(law.gamma, law.se))
        lines.append(f"| {name} | {cells} | {band_labels()[int(np.argmax(law.gamma))]} |")
    lines.append("")
    if calibrated:
        lines += ["## 4. Served predictions and states against the truth, by prior-achievement quartile", "",
                  "Equilearn serving the built set (the proficiency-family settings of part 1, whose learners expose each "
                  "item's true success): mean predicted success of the items it served (the served blend, and its per-skill "
                  "IRT and skill-model sides) against their mean true success, split by whether the student had answered on "
                  "the item's skill before; share = of the quartile's steps.", "",
                  "| setting | quartile | skill | share | predicted | IRT side | skill-model side | true |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, cal in calibrated.items():
            for (q, before), c in cal.steps.items():
                lines.append(f"| {name} | Q{q + 1} | {'answered before' if before else 'first answer'} | {c.share:.2f} | "
                             f"{c.predicted:.3f} | {c.irt:.3f} | {c.skill_model:.3f} | {c.true:.3f} |")
        lines += ["", "The practised skills at the end of the run: the engine's mean P(learned) and skill success (its typical "
                  "item, no guessing) against the learners' mean true mastery and the share truly mastered.", "",
                  "| setting | quartile | P(learned) | skill success | true mastery | truly mastered |", "|---|---|---|---|---|---|"]
        for name, cal in calibrated.items():
            for q, c in cal.states.items():
                lines.append(f"| {name} | Q{q + 1} | {c.p_learned:.2f} | {c.success:.2f} | {c.true_mastery:.2f} | {c.truly_mastered:.2f} |")
        lines.append("")
    if stepped:
        groups = ("first steps", "after", "placement question", "remedial", "core", "advanced")
        lines += ["## 5. Where each quartile's learning goes", "",
                  f"Per prior-achievement quartile, each cell: steps per student / true learning per step (mean true mastery "
                  f"over all skills, x 1e-3) / prerequisite gate of the practised skill. \"First steps\": the first "
                  f"{PLACEMENT_RESPONSES}; equilearn's steps also by kind (a placement question, or the level of the "
                  "resource recommended).", "",
                  "| setting | policy | quartile | " + " | ".join(groups) + " |", "|---|---|---|" + "---|" * len(groups)]
        for name, policies in stepped.items():
            for policy, cells in policies.items():
                for q in range(4):
                    row = [f"{c.steps:.1f} / {_f(c.learned, '.2f')} / {_f(c.gate, '.2f')}" if (c := cells.get((q, g))) else ""
                           for g in groups]
                    lines.append(f"| {name} | {policy} | Q{q + 1} | " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-students", type=int, default=300)
    parser.add_argument("--decompose", default=",".join(DECOMPOSE), help="settings for part 1 (comma-separated)")
    parser.add_argument("--identify", default=",".join(IDENTIFY), help="settings for part 2 (comma-separated)")
    parser.add_argument("--out", type=Path, default=RESULTS / "suite_diagnosis.md")
    args = parser.parse_args()
    catalog = load_catalog(None)
    load = os.getloadavg()
    started = time.perf_counter()
    decomposed, calibrated, stepped = {}, {}, {}
    for name in filter(None, args.decompose.split(",")):
        decomposed[name], calibration, steps = decompose(setting_by_name(name), catalog, args.students, args.seed, args.log_students)
        if calibration is not None:
            calibrated[name] = calibration
        if steps:
            stepped[name] = steps
    names = list(filter(None, args.identify.split(",")))
    identified = {name: identify(setting_by_name(name), catalog, args.students, args.log_students, args.seed) for name in names}
    if names:
        identified[NO_LEARNING.name] = identify(NO_LEARNING, catalog, args.students, args.log_students, args.seed)
    text = markdown(args, decomposed, identified, calibrated, stepped, time.perf_counter() - started, load)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
