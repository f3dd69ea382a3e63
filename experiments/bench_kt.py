"""Knowledge-tracing evaluation table and online-update timings -> experiments/results/kt.md.

Run from the project root: `.venv/bin/python -m experiments.bench_kt` (needs ../shared/data).
Every model of the zoo (engine/evaluation/zoo.py) on both ASSISTments 2009 splits under the protocol of
../shared/data/README.md (fit on train, predict test sequentially, one AUC over all test responses),
plus three reference variants (classic PFA without recency, IRT-as-LR with item columns only, and the
static Rasch model that scores every test student at the prior, as the published IRT figure does). Each
row names the published figure it is comparable with, with a footnote where none is; `best`'s
configuration is chosen on validation students (the paragraph under the table gives the candidates'
validation AUCs); each dataset's split checks (engine/experiment/caveats.py) print their caveats. Then
the cost of one online update (predict the next response, then add it to the state) per model, and for
BKT + Elo + IRT EAP together: median over many single calls.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


import numpy as np
import polars as pl

from engine.data import load
from engine.evaluation.protocol import evaluate_model, protocol_split, sort_sequential
from engine.evaluation.zoo import MODELS
from engine.experiment.annotations import published_cells, selection_lines
from engine.experiment.caveats import caveat_lines, split_checks
from models.irt.estimator import knowledge_tracing_irt
from models.logistic import IRTLR, PFA

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
DATASETS = (("assistments09", "lpp"), ("assistments09_dkt", "dkt3"))
STATIC_RASCH = "irt (static Rasch: every test student at the prior)"


class StaticRasch:
    """Rasch item difficulties from the training students; every test response is scored at the ability
    prior, with no update from the student's earlier answers: how the published IRT figure (0.69 on
    assistments09) scores unseen students, hence the row to compare it with (besides `irt-lr`)."""

    def fit(self, responses: pl.DataFrame) -> StaticRasch:
        self.irt_ = knowledge_tracing_irt().fit(responses)
        return self

    def predict_proba(self, responses: pl.DataFrame) -> np.ndarray:
        """P(correct) averaged over the N(0, 1) ability prior (the marginal probability), per row."""
        a, b, c = self.irt_.item_parameters(responses["item_id"])
        nodes = np.linspace(-6.0, 6.0, 121)
        weights = np.exp(-0.5 * nodes**2)
        weights /= weights.sum()
        p = c[:, None] + (1.0 - c[:, None]) / (1.0 + np.exp(-a[:, None] * (nodes[None, :] - b[:, None])))
        return p @ weights


VARIANTS: dict[str, Callable[[], Any]] = {
    "pfa (classic, recency=None)": lambda: PFA(recency=None),
    "irt-lr (items only, skill_backoff=False)": lambda: IRTLR(skill_backoff=False),
    STATIC_RASCH: StaticRasch,
}
# the published test AUC measured the same way as the row (../shared/data/README.md)
PUBLISHED = {
    "assistments09": {"irt-lr": "0.69 (IRT, Gervet et al. 2020)", STATIC_RASCH: "0.69 (IRT, Gervet et al. 2020)",
                      "pfa": "0.72 (PFA)", "best-lr": "0.77 (Best-LR)"},
    "assistments09_dkt": {"bkt": "0.76 (pyBKT BKT; 0.73 Khajah et al. 2016)", "bkt-forget": "0.83 (pyBKT BKT + forgets)"},
}
NOTES = {
    "assistments09": {
        "irt": "Rasch difficulties with each test student's ability updated online (EAP) from that student's earlier "
               "test answers. The published IRT 0.69 scores unseen test students at the prior, without that update, so it "
               f"is not comparable with this row: compare it with `irt-lr` and with `{STATIC_RASCH}`.",
    },
}


def evaluate_dataset(folder: str, fmt: str, models: list[str], with_variants: bool) -> tuple[list[tuple[str, str]], list[str]]:
    """(model name, row cells) per model, and the paragraphs under the table: caveats and `best`'s selection."""
    split = protocol_split(load(str(DATA / folder), fmt))
    factories = {**{m: MODELS[m] for m in models}, **(VARIANTS if with_variants else {})}
    rows: list[tuple[str, str]] = []
    selections: dict[str, dict[str, Any]] = {}
    for name, factory in factories.items():
        model = factory()
        try:
            r = evaluate_model(model, split.train, split.test)
        except Exception as exc:  # noqa: BLE001 - one broken model must not hide the others' rows
            rows.append((name, f"failed: {type(exc).__name__}: {str(exc)[:80]} | | | "))
            continue
        print(folder, name, r, flush=True)
        rows.append((name, f"{r['auc']:.4f} | {r['rmse']:.4f} | {r['fit_seconds']:.1f} | {r['predict_seconds']:.1f}"))
        if getattr(model, "selection_", None) is not None:
            selections[f"{name}` on `{folder}"] = model.selection_.to_dict()
    checks = split_checks(sort_sequential(split.train), sort_sequential(split.test))
    caveats = [f"`{folder}`: {c}" if c.startswith("**") else c for c in caveat_lines(checks)]
    return rows, [*caveats, *selection_lines(selections)]


def table(models: list[str], with_variants: bool) -> list[str]:
    lines = ["| dataset | model | test AUC | RMSE | fit s | predict s | comparable published AUC |", "|---|---|---|---|---|---|---|"]
    paragraphs: list[str] = []
    footnotes: list[str] = []
    for folder, fmt in DATASETS:
        rows, below = evaluate_dataset(folder, fmt, models, with_variants)
        cells, notes = published_cells([n for n, _ in rows], PUBLISHED.get(folder, {}), NOTES.get(folder, {}), len(footnotes) + 1)
        footnotes += notes
        lines += [f"| {folder} | {name} | {body} | {cells[name]} |" for name, body in rows]
        paragraphs += below
    if footnotes:
        lines += ["", "Notes on the published figures (compare a model only with a figure measured the same way, on the "
                  "same files and split):", "", *footnotes]
    for paragraph in paragraphs:
        lines += ["", paragraph]
    return lines


def _median_us(step: Callable[[int], None], n: int) -> float:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def online(n: int = 2000) -> list[str]:
    """Median microseconds of predict_next + update of one response, per model and BKT + Elo + IRT together."""
    split = protocol_split(load(str(DATA / "assistments09"), "lpp"))
    train = sort_sequential(split.train)
    stream = sort_sequential(split.test).head(n).select("item_id", "skill_ids", "correct").to_dicts()
    fitted: dict[str, Any] = {}
    for name in ("elo", "best-lr", "bkt", "irt"):
        if name in MODELS:
            fitted[name] = MODELS[name]().fit(train)
    lines = ["| model(s) | median µs per response (predict + update) |", "|---|---|"]

    def runner(names: list[str]) -> Callable[[int], None]:
        states = {k: fitted[k].initial_state() for k in names}

        def step(i: int) -> None:
            r = stream[i]
            for k in names:
                m = fitted[k]
                if hasattr(m, "predict_next"):
                    m.predict_next(states[k], r["item_id"], r["skill_ids"])
                out = m.update(states[k], r)
                states[k] = out  # IRT returns a new array; the others update in place and return it

        return step

    for name in fitted:
        lines.append(f"| {name} | {_median_us(runner([name]), len(stream)):.1f} |")
    together = [k for k in ("bkt", "elo", "irt") if k in fitted]
    lines.append(f"| {' + '.join(together)} together | {_median_us(runner(together), len(stream)):.1f} |")
    if "irt" in fitted:
        # the EAP posterior update itself, with the item's (a, b, c) looked up in a dict built once
        from models.irt import OnlineAbility

        irt = fitted["irt"]
        items = sorted({r["item_id"] for r in stream})
        a, b, c = irt.item_parameters(items)
        params = {i: (float(x), float(y), float(z)) for i, x, y, z in zip(items, a, b, c)}
        core = OnlineAbility(irt._quadrature())
        holder = {"irt": core.initial_state(), "elo": fitted["elo"].initial_state(), "bkt": fitted["bkt"].initial_state()} if "bkt" in fitted else None

        def irt_core(i: int) -> None:
            r = stream[i]
            holder["irt"] = core.update(holder["irt"], *params[r["item_id"]], r["correct"])

        def all_core(i: int) -> None:
            r = stream[i]
            for k in ("elo", "bkt"):
                fitted[k].predict_next(holder[k], r["item_id"], r["skill_ids"])
                fitted[k].update(holder[k], r)
            holder["irt"] = core.update(holder["irt"], *params[r["item_id"]], r["correct"])

        if holder is not None:
            lines.append(f"| irt EAP core (`OnlineAbility.update`, item parameters from a dict) | {_median_us(irt_core, len(stream)):.1f} |")
            lines.append(f"| bkt + elo + irt EAP core together | {_median_us(all_core, len(stream)):.1f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="", help="comma-separated zoo names, plus `variants` for the reference variants (default: the whole zoo and the variants)")
    parser.add_argument("--out", default=str(ROOT / "experiments" / "results" / "kt.md"))
    args = parser.parse_args()
    chosen = [m for m in args.models.split(",") if m]
    models = [m for m in chosen if m != "variants"] or list(MODELS)
    load_before = os.getloadavg()
    t0 = time.time()
    rows = table(models, with_variants=not chosen or "variants" in chosen)
    updates = online()
    load_after = os.getloadavg()
    text = [
        "# Knowledge tracing: evaluation table and online update",
        "",
        f"Command: `.venv/bin/python -m experiments.bench_kt{' --models ' + args.models if args.models else ''}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, shared with other jobs; load average (1/5/15 min) "
        f"{'/'.join(f'{x:.1f}' for x in load_before)} before, {'/'.join(f'{x:.1f}' for x in load_after)} after; "
        f"total {time.time() - t0:.0f} s. Fit and predict seconds are wall-clock under that load (single runs).",
        "",
        "Protocol (../shared/data/README.md): fit on the `train` file, predict every `test` response sequentially "
        "(only the student's earlier test responses and the trained parameters), one AUC over all test responses.",
        "",
        *rows,
        "",
        "## Online update of one response",
        "",
        "Models fitted on assistments09 train; the first 2,000 test responses streamed through "
        "`predict_next` (where the model has it) and `update`; median over single calls.",
        "",
        *updates,
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
