"""Where equilearn's steps on truly mastered skills come from, in the outside world driven in process.

The outside check finds that equilearn spends more of its steps on skills the student has already truly
mastered than random practice does. This run says which steps those are and what the engine believed when
it chose them: per resource level (remedial, core, advanced), the share of steps and how many of them land
on a truly mastered skill; on those steps, how much evidence the engine had on the skill, whether its
mastered flag was set, its predicted success on the skill's typical item against the true level, and whether
the student's last answer on that skill was right; at the end, the mastered flag's recall on truly mastered
skills by the evidence behind them, and its precision. Then per band of the served prediction for the chosen item
(the learning law's bands of predicted success): the share of steps, the mean predicted and true success of the item,
and the share on a truly mastered skill. Calibrated predictions with many mastered skills in the bands the policy
aims at mean the steps come from the uncertainty of each skill's state, not from a biased estimate.
The oracle's share of steps on mastered skills is printed beside ours: in a world where practice on a
mastered skill still teaches, the oracle spends steps there too. Last, by how many times the student had already
answered an item of the practised (true) skill during the run: the share of all steps that land on a mastered skill
there, and how many of the steps on mastered skills are on a skill mastered before the run (what a policy must
discover) rather than during it (what it must notice). Then per prior-achievement quartile (the students ranked by
their mastery before the run, as the outside check ranks them): the gain under equilearn and under the gated
curriculum, the share of steps on mastered skills under equilearn, the curriculum and the oracle, how many of
equilearn's steps on mastered skills were on a skill mastered before the run, and the served prediction against the
true success on the first answer of a skill in the run and on the later ones, and at the end the engine's success on
each practised skill's typical item against its true level, over every skill practised (not only those chosen).
Where the outside check's quartile claim fails it fails in the upper quartiles (`outside_variants.md`); this says
where their steps go and whether the predictions the choices rest on are biased for them.

    PYTHONPATH=. .venv/bin/python -m experiments.outside_overpractice --out experiments/results/outside_overpractice.md

Same world, cohort, log and build as `experiments.outside_inproc` (world seed 7, seed 0, 300 x 60).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.catalog.schema import LEVELS
from engine.recommend.learning import BAND_EDGES, band_of
from experiments.outside_check.driver import Run, local_runs, run_policy
from experiments.outside_check.stats import quartiles
from experiments.outside_check.world import Learners, World
from experiments.outside_inproc import EquilearnInProcess, cohort_setting, pipeline_inputs, report_main

EVIDENCE_BANDS = ((1, 3), (3, 6), (6, 10), (10, None))  # answers on the skill: [low, high)
HISTORY_BANDS = ((0, 1), (1, 3), (3, 6), (6, None))  # the run's answers on the practised skill before the step


@dataclass(frozen=True)
class StepRecords:
    """(T, N) per step and student: the chosen resource's level code, and on the item's skill (as the
    catalog tags it) the engine's evidence count, its mastered flag, its predicted success on the skill's
    typical item and the student's last answer on it (1 right, 0 wrong, -1 none yet); the item's true skill's
    level and whether it was truly mastered, before the answer; the served prediction of the item and its true
    success; the student's answers on the item's true skill earlier in the run, and whether that skill was truly
    mastered when the run began."""

    level: np.ndarray
    evidence: np.ndarray
    last_answer: np.ndarray
    flagged: np.ndarray
    predicted: np.ndarray
    true_level: np.ndarray
    on_mastered: np.ndarray
    served: np.ndarray
    true_success: np.ndarray
    answers_before: np.ndarray
    mastered_at_start: np.ndarray


class RecordingEquilearn:
    """An `EquilearnInProcess` that records, at each choice, the engine's view and the truth of the item's skill."""

    def __init__(self, inner: EquilearnInProcess, learners: Learners, world: World) -> None:
        self.inner, self.learners, self.world = inner, learners, world
        self.name = inner.name
        self._rows: dict[str, list[np.ndarray]] = {f: [] for f in StepRecords.__dataclass_fields__}
        self._last = np.full((inner.batch.theta.size, inner.engine.catalog.n_skills), -1.0)
        self._answers = np.zeros((inner.batch.theta.size, world.n_skills), dtype=np.int64)  # per true skill
        self._at_start = learners.mastered().copy()

    def choose(self, step: int) -> np.ndarray:
        items = self.inner.choose(step)
        engine, batch = self.inner.engine, self.inner.batch
        rows = np.arange(items.size)
        skill = engine.catalog.item_skill[self.inner.to_catalog[items]]
        p = engine.p_now(batch, None)  # as the recommender judges mastery: before forgetting
        levels = self.learners.levels()[rows, self.world.item_skill[items]]
        record = {"level": engine.catalog.resource_level[self.inner._resources],
                  "evidence": batch.evidence[rows, skill], "last_answer": self._last[rows, skill],
                  "flagged": engine.mastered(p, batch)[rows, skill],
                  "predicted": engine.skill_success(batch)[rows, skill], "true_level": levels,
                  "on_mastered": levels >= self.world.spec.mastery_level,
                  "served": self.inner._predicted, "true_success": self.learners.p_correct(items),
                  "answers_before": self._answers[rows, self.world.item_skill[items]],
                  "mastered_at_start": self._at_start[rows, self.world.item_skill[items]]}
        for name, values in record.items():
            self._rows[name].append(np.asarray(values))
        return items

    def observe(self, step: int, items: np.ndarray, correct: np.ndarray) -> None:
        skill = self.inner.engine.catalog.item_skill[self.inner.to_catalog[items]]
        self._last[np.arange(items.size), skill] = np.asarray(correct, dtype=float)
        self._answers[np.arange(items.size), self.world.item_skill[items]] += 1
        self.inner.observe(step, items, correct)

    def records(self) -> StepRecords:
        return StepRecords(**{name: np.stack(values) for name, values in self._rows.items()})


def by_level(rec: StepRecords) -> list[dict[str, float | str]]:
    """Per resource level: share of all steps, share of its steps on a truly mastered skill, its share of all
    steps on mastered skills; and on its steps on mastered skills, the engine's mean evidence, flag rate,
    predicted success, the true level, and the share that followed a right answer on the same skill."""
    total_on = max(int(rec.on_mastered.sum()), 1)
    out = []
    for code, name in enumerate(LEVELS):
        mine = rec.level == code
        if not mine.any():
            continue
        on = mine & rec.on_mastered
        out.append({"level": name, "steps": float(mine.mean()), "on_mastered": float(on.sum() / mine.sum()),
                    "of_all_on_mastered": float(on.sum() / total_on),
                    "evidence": _mean(rec.evidence, on), "flagged": _mean(rec.flagged, on),
                    "predicted": _mean(rec.predicted, on), "true_level": _mean(rec.true_level, on),
                    "after_right": _mean(rec.last_answer == 1, on)})
    return out


def by_served_band(rec: StepRecords) -> list[dict[str, float | str]]:
    """Per band of the served prediction (`BAND_EDGES`): share of steps, mean predicted and true success, share of
    its steps on a truly mastered skill."""
    band = band_of(rec.served, np.asarray(BAND_EDGES))
    out = []
    for k in range(len(BAND_EDGES) - 1):
        mine = band == k
        out.append({"band": f"{BAND_EDGES[k]:.0%}-{BAND_EDGES[k + 1]:.0%}", "steps": float(mine.mean()),
                    "predicted": _mean(rec.served, mine), "true": _mean(rec.true_success, mine),
                    "on_mastered": _mean(rec.on_mastered, mine)})
    return out


def by_history(rec: StepRecords) -> list[dict[str, float | str]]:
    """Per band of the run's earlier answers on the practised true skill (`HISTORY_BANDS`): share of all steps, share
    of all steps that land on a truly mastered skill, the on-mastered rate of the band's steps, and of those steps on
    mastered skills the share mastered before the run began."""
    out = []
    for low, high in HISTORY_BANDS:
        mine = (rec.answers_before >= low) & (rec.answers_before < (np.inf if high is None else high))
        on = mine & rec.on_mastered
        label = f"{low}+" if high is None else (str(low) if high - low == 1 else f"{low}-{high - 1}")
        out.append({"answers": label, "steps": float(mine.mean()), "on_mastered_of_all": float(on.mean()),
                    "on_mastered": _mean(rec.on_mastered, mine), "from_start": _mean(rec.mastered_at_start, on)})
    return out


def by_quartile(rec: StepRecords, quartile: np.ndarray, runs: dict[str, Run], end_estimate: np.ndarray,
                end_level: np.ndarray, practised: np.ndarray) -> list[dict[str, float | str]]:
    """Per prior-achievement quartile (`quartile` (N,), 0 lowest): the mean gain under equilearn and the gated
    curriculum, the share of steps on truly mastered skills under equilearn (from the records), the curriculum and the
    oracle (`runs`), the share of equilearn's steps on mastered skills that were mastered before the run, the mean
    served prediction and true success on first answers of a skill in the run and on later answers, and at the end, over
    every skill the student practised (`practised` (N, S)), the engine's success on its typical item (`end_estimate`)
    against the true level (`end_level`): the same estimate on all practised skills, not only on those chosen."""
    out = []
    for k in range(4):
        mine = np.broadcast_to(quartile[None, :] == k, rec.on_mastered.shape)
        on, first = mine & rec.on_mastered, mine & (rec.answers_before == 0)
        later = mine & (rec.answers_before > 0)
        students = quartile == k
        out.append({"quartile": f"Q{k + 1}", "gain": float(runs["equilearn"].gain[students].mean()),
                    "gain_curriculum": float(runs["gated curriculum"].gain[students].mean()),
                    "on_mastered": _mean(rec.on_mastered, mine),
                    "on_mastered_curriculum": float(runs["gated curriculum"].on_mastered[students].mean()),
                    "on_mastered_oracle": float(runs["oracle"].on_mastered[students].mean()),
                    "from_start": _mean(rec.mastered_at_start, on),
                    "first_served": _mean(rec.served, first), "first_true": _mean(rec.true_success, first),
                    "later_served": _mean(rec.served, later), "later_true": _mean(rec.true_success, later),
                    "end_estimate": _mean(end_estimate, students[:, None] & practised),
                    "end_level": _mean(end_level, students[:, None] & practised)})
    return out


def flag_by_evidence(flagged: np.ndarray, truly: np.ndarray, evidence: np.ndarray) -> list[dict[str, float | str]]:
    """(N, S) end states: per evidence band, the truly mastered pairs and the share the flag marks (recall)."""
    out = []
    for low, high in EVIDENCE_BANDS:
        band = (evidence >= low) & (evidence < (np.inf if high is None else high))
        mastered = band & truly
        out.append({"answers": f"{low}+" if high is None else f"{low}-{high - 1}", "truly_mastered": int(mastered.sum()),
                    "recall": _mean(flagged, mastered)})
    return out


def _mean(values: np.ndarray, where: np.ndarray) -> float:
    return float(values[where].mean()) if where.any() else float("nan")


def run_setting(name: str, students: int, steps: int, world_seed: int, seed: int) -> dict[str, object]:
    """Equilearn (recorded) and the local policies (random item, gated curriculum, oracle) on one setting, paired as
    `outside_inproc.run_setting` pairs them."""
    world, cohort, uniforms = cohort_setting(name, students, steps, world_seed, seed)
    runs = local_runs(world, cohort, uniforms, seed)
    learners = Learners(world, cohort)
    with pipeline_inputs(world, seed) as (catalog, log):
        policy = RecordingEquilearn(EquilearnInProcess(world, cohort, catalog, log, seed), learners, world)
        runs["equilearn"] = run = run_policy(world, cohort, policy, uniforms, learners)
    rec = policy.records()
    flagged = policy.inner.mastered_flags()
    truly = learners.levels() >= world.spec.mastery_level
    return {"ours": float(run.on_mastered.mean()), "oracle": float(runs["oracle"].on_mastered.mean()),
            "levels": by_level(rec), "bands": by_served_band(rec), "history": by_history(rec),
            "quartiles": by_quartile(rec, quartiles(run.initial), runs, policy.inner.engine.skill_success(policy.inner.batch),
                                     learners.levels(), ~np.isnan(policy.inner.batch.skill_theta)),
            "from_start": _mean(rec.mastered_at_start, rec.on_mastered),
            "flags": flag_by_evidence(flagged, truly, policy.inner.batch.evidence),
            "precision": _mean(truly, flagged), "flags_set": int(flagged.sum())}


def markdown(results: dict[str, dict[str, object]], command: str, load: float) -> str:
    lines = ["# Equilearn's steps on truly mastered skills, outside world in process", "",
             f"Command: `{command}` (load average {load:.2f}). Module docstring: what each column means.", ""]
    for name, r in results.items():
        lines += [f"## {name}", "",
                  f"Steps on truly mastered skills: equilearn {r['ours']:.3f}, oracle {r['oracle']:.3f}. "
                  f"Mastered flags at the end: {r['flags_set']}, precision {r['precision']:.2f}.", "",
                  "| level | share of steps | on mastered | share of all on-mastered | evidence | flag set "
                  "| predicted success | true level | after a right answer |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {x['level']} | {x['steps']:.2f} | {x['on_mastered']:.2f} | {x['of_all_on_mastered']:.2f} | "
                  f"{x['evidence']:.1f} | {x['flagged']:.2f} | {x['predicted']:.2f} | {x['true_level']:.2f} | "
                  f"{x['after_right']:.2f} |"
                  for x in r["levels"]]
        lines += ["", "| answers on the skill | truly mastered at the end | flag recall |", "|---|---|---|"]
        lines += [f"| {x['answers']} | {x['truly_mastered']} | {x['recall']:.2f} |" for x in r["flags"]]
        lines += ["", "| served prediction | share of steps | predicted success | true success | on mastered |",
                  "|---|---|---|---|---|"]
        lines += [f"| {x['band']} | {x['steps']:.2f} | {x['predicted']:.2f} | {x['true']:.2f} | {x['on_mastered']:.2f} |"
                  for x in r["bands"]]
        lines += ["", f"Of the steps on truly mastered skills, {r['from_start']:.2f} were on a skill mastered before the run "
                  "began; the rest on skills the student mastered during it.", "",
                  "| earlier answers on the skill in the run | share of steps | on mastered, share of all steps "
                  "| on mastered, share of these steps | of those, mastered before the run |", "|---|---|---|---|---|"]
        lines += [f"| {x['answers']} | {x['steps']:.2f} | {x['on_mastered_of_all']:.3f} | {x['on_mastered']:.2f} | "
                  f"{x['from_start']:.2f} |" for x in r["history"]]
        lines += ["", "| prior quartile | gain, ours / curriculum | steps on mastered, ours / curriculum / oracle "
                  "| ours on mastered, mastered before the run | first answer on a skill: served / true "
                  "| later answers: served / true | every practised skill at the end: engine / true |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {x['quartile']} | {x['gain']:.3f} / {x['gain_curriculum']:.3f} | {x['on_mastered']:.2f} / "
                  f"{x['on_mastered_curriculum']:.2f} / {x['on_mastered_oracle']:.2f} | {x['from_start']:.2f} | "
                  f"{x['first_served']:.2f} / {x['first_true']:.2f} | {x['later_served']:.2f} / {x['later_true']:.2f} | "
                  f"{x['end_estimate']:.2f} / {x['end_level']:.2f} |"
                  for x in r["quartiles"]]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    report_main(__doc__, "experiments.outside_overpractice", run_setting, markdown)


if __name__ == "__main__":
    main()
