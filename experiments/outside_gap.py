"""Where equilearn's gap to the oracle comes from in the outside world, driven in process.

    PYTHONPATH=. .venv/bin/python -m experiments.outside_gap --out experiments/results/outside_gap.md

The outside world teaches a step by rate x bump(p) x gate (`experiments/outside_check/world.py`): `bump` is the
world's learning curve in the item's true success p (1 at its peak), `gate` the practised skill's weakest direct
prerequisite's level raised to the world's gating. A policy falls short of the oracle by practising skills whose
prerequisites are not in place (gate) or at difficulties that teach little (bump).

Part 1, every policy on the same world, cohort and answer draws as `experiments.outside_inproc` (equilearn serves the
set built from the 300-student random-practice log): the mean gate, bump and their product over all steps, the share
of steps by the chosen item's true success, and the share on truly mastered skills.

Part 2, equilearn only: the chosen item's true success against the prediction served for it, by the answers the
engine had on the item's skill (as the catalog tags it): the mean of each, the SD of their difference, and the share
of items whose true success was below 30% or above 75%. A calibrated prediction with a wide spread around it is
uncertainty about the student's state, which no choice rule removes; a biased one is an estimate to mend. The last
line compares the built item bank's difficulties with the world's true ones, within each skill.
"""

from __future__ import annotations

import numpy as np

from experiments.outside_check.driver import run_policy
from experiments.outside_check.policies import GatedCurriculum, GreedyOracle, Policy, RandomItem
from experiments.outside_check.world import Learners, World, logit
from experiments.outside_inproc import EquilearnInProcess, cohort_setting, pipeline_inputs, report_main

SUCCESS_BANDS = (0.0, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0)
EVIDENCE_BANDS = ((0, 1), (1, 3), (3, 6), (6, 10), (10, None))  # answers on the skill before the step: [low, high)


class StepRecorder:
    """Wraps a policy: at each choice, the true success of the chosen item, the gate and bump of its true skill, and
    whether that skill was truly mastered; for equilearn also the served prediction and the engine's evidence."""

    def __init__(self, inner: Policy, learners: Learners, world: World) -> None:
        self.inner, self.learners, self.world = inner, learners, world
        self.name = inner.name
        self.steps: list[np.ndarray] = []  # per step (N, 6): success, gate, bump, on mastered, served, evidence

    def choose(self, step: int) -> np.ndarray:
        items = self.inner.choose(step)
        if hasattr(self.inner, "listed"):
            self.listed = self.inner.listed
        lr, world, rows = self.learners, self.world, np.arange(items.size)
        skill = world.item_skill[items]
        success = lr.p_correct(items)
        bump = np.exp(-0.5 * ((logit(success) - logit(world.spec.peak_success)) / world.spec.peak_width) ** 2)
        served = evidence = np.full(items.size, np.nan)
        if isinstance(self.inner, EquilearnInProcess):
            ours = self.inner.to_catalog[items]
            served = self.inner._predicted
            evidence = self.inner.batch.evidence[rows, self.inner.engine.catalog.item_skill[ours]].astype(float)
        self.steps.append(np.c_[success, lr.gate()[rows, skill], bump, lr.mastered()[rows, skill], served, evidence])
        return items

    def observe(self, step: int, items: np.ndarray, correct: np.ndarray) -> None:
        self.inner.observe(step, items, correct)

    def records(self) -> np.ndarray:
        """(steps x students, 6) every step's record."""
        return np.concatenate(self.steps)


def policy_row(name: str, gain: float, rec: np.ndarray) -> dict[str, object]:
    success, gate, bump, mastered = rec[:, 0], rec[:, 1], rec[:, 2], rec[:, 3]
    band = np.clip(np.searchsorted(SUCCESS_BANDS, success, side="right") - 1, 0, len(SUCCESS_BANDS) - 2)
    return {"policy": name, "gain": gain, "gate": float(gate.mean()), "bump": float(bump.mean()),
            "product": float((gate * bump).mean()), "on_mastered": float(mastered.mean()),
            "bands": [float((band == k).mean()) for k in range(len(SUCCESS_BANDS) - 1)]}


def dispersion_rows(rec: np.ndarray) -> list[dict[str, object]]:
    """Part 2: equilearn's served prediction against the true success, by evidence on the skill."""
    out = []
    for low, high in EVIDENCE_BANDS:
        sel = (rec[:, 5] >= low) & (rec[:, 5] < (np.inf if high is None else high))
        if not sel.any():
            continue
        true, served = rec[sel, 0], rec[sel, 4]
        label = "0" if high == low + 1 and low == 0 else (f"{low}+" if high is None else f"{low}-{high - 1}")
        out.append({"answers": label, "share": float(sel.mean()), "served": float(served.mean()),
                    "true": float(true.mean()), "sd": float((true - served).std()),
                    "below": float((true < 0.3).mean()), "above": float((true > 0.75).mean())})
    return out


def bank_error(policy: EquilearnInProcess, world: World) -> dict[str, float]:
    """Built difficulties against the world's true ones on the items tagged to their true skill, within each skill:
    the slope and the residual SD of a least-squares fit with one intercept per skill (in the world's logits)."""
    right = world.catalog_skill == world.item_skill
    built = policy.engine.catalog.item_b[policy.to_catalog][right]
    skills = world.item_skill[right]
    design = np.c_[world.item_b[right], (skills[:, None] == np.arange(len(world.skill_ids))[None, :]).astype(float)]
    coef, *_ = np.linalg.lstsq(design, built, rcond=None)
    return {"slope": float(coef[0]), "residual_sd": float((built - design @ coef).std() / coef[0]),
            "catalog_noise": float(world.spec.difficulty_noise)}


def run_setting(name: str, students: int, steps: int, world_seed: int, seed: int) -> dict[str, object]:
    """Every policy on one setting, each on a fresh copy of the cohort (the seeds of `outside_check.driver.local_runs`)."""
    world, cohort, uniforms = cohort_setting(name, students, steps, world_seed, seed)
    with pipeline_inputs(world, seed) as (catalog, log):
        equilearn = EquilearnInProcess(world, cohort, catalog, log, seed)
    makers = {"oracle": GreedyOracle, "equilearn": lambda lr: equilearn,
              "gated curriculum": lambda lr: GatedCurriculum(world, students, seed + 12),
              "random item": lambda lr: RandomItem(world, students, seed + 11)}
    rows, records = [], {}
    for label, make in makers.items():
        learners = Learners(world, cohort)
        recorder = StepRecorder(make(learners), learners, world)
        run = run_policy(world, cohort, recorder, uniforms, learners)
        records[label] = recorder.records()
        rows.append(policy_row(label, float(run.gain.mean()), records[label]))
    return {"policies": rows, "dispersion": dispersion_rows(records["equilearn"]), "bank": bank_error(equilearn, world)}


def markdown(results: dict[str, dict[str, object]], command: str, load: float) -> str:
    bands = " / ".join(f"{SUCCESS_BANDS[k]:.0%}-{SUCCESS_BANDS[k + 1]:.0%}" for k in range(len(SUCCESS_BANDS) - 1))
    lines = ["# Where equilearn's gap to the oracle comes from, outside world in process", "",
             f"Command: `{command}` (load average {load:.2f}). What each part measures: the module docstring of "
             "`experiments/outside_gap.py`.", ""]
    for name, r in results.items():
        lines += [f"## {name}", "",
                  f"| policy | gain | gate | bump | gate x bump | steps at true success {bands} | on mastered |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {x['policy']} | {x['gain']:.3f} | {x['gate']:.2f} | {x['bump']:.2f} | {x['product']:.3f} | "
                  + " / ".join(f"{v:.2f}" for v in x["bands"]) + f" | {x['on_mastered']:.2f} |" for x in r["policies"]]
        lines += ["", "| answers on the skill | share of steps | served prediction | true success | SD of true - served "
                  "| true below 30% | true above 75% |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {x['answers']} | {x['share']:.2f} | {x['served']:.2f} | {x['true']:.2f} | {x['sd']:.3f} | "
                  f"{x['below']:.2f} | {x['above']:.2f} |" for x in r["dispersion"]]
        b = r["bank"]
        lines += ["", f"Built item bank against the true difficulties, within skill: slope {b['slope']:.2f}, residual SD "
                  f"{b['residual_sd']:.2f} logits (the catalog's stated difficulties were off by N(0, {b['catalog_noise']}))."
                  , ""]
    return "\n".join(lines)


def main() -> None:
    report_main(__doc__, "experiments.outside_gap", run_setting, markdown)


if __name__ == "__main__":
    main()
