"""Markdown and JSON of the outside check: per setting, every policy's gain with paired comparisons, and
what the service did (first recommendations, mastered flags, friction, timings)."""

from __future__ import annotations

import numpy as np

from experiments.outside_check.driver import SettingOutcome
from experiments.outside_check.stats import Estimate, mean_ci, paired, precision_recall, quartiles
from experiments.outside_check.world import GROUPS

ORDER = ("random item", "gated curriculum", "equilearn", "oracle")
BASELINES = ("random item", "gated curriculum")


def _f(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"


def _audit_excerpt(text: str, lines: int = 12) -> str:
    """The audit's last lines (the verdict, or a crash's final error)."""
    return "\n".join(text.strip().splitlines()[-lines:])


def setting_summary(out: SettingOutcome) -> dict:
    """The figures of one setting as plain JSON (means and intervals)."""
    quart = quartiles(out.runs["oracle"].initial)
    oracle_gain = out.runs["oracle"].gain.mean()
    policies = {}
    for name in ORDER:
        if name not in out.runs:
            continue
        run = out.runs[name]
        policies[name] = {
            "gain": mean_ci(run.gain).__dict__,
            "gain_by_group": {g: float(run.gain[out.group == i].mean()) for i, g in enumerate(GROUPS)},
            "gain_by_quartile": [float(run.gain[quart == q].mean()) for q in range(4)],
            "final_gap": float(run.final[out.group == 0].mean() - run.final[out.group == 1].mean()),
            "share_of_oracle": float(run.gain.mean() / oracle_gain) if oracle_gain else float("nan"),
            "steps_on_mastered": float(run.on_mastered.mean()),
            "correct_rate": float(run.correct_rate.mean()),
            "final_truly_mastered": float(run.final_mastered.mean()),
            "ready_within_5": {"practised": run.ready_practised.share, "listed": run.ready_listed.share,
                               "events": run.ready_listed.events,
                               "listed_misses": run.ready_listed.events - run.ready_listed.hits,
                               "listed_miss_dips": run.ready_listed.dips},
        }
    comparisons = {}
    if "equilearn" in out.runs:
        eq = out.runs["equilearn"]
        for base in (*BASELINES, "oracle"):
            other = out.runs[base]
            comparisons[base] = {
                "overall": paired(eq.gain, other.gain).__dict__,
                "by_group": {g: paired(eq.gain[out.group == i], other.gain[out.group == i]).__dict__
                             for i, g in enumerate(GROUPS)},
                "by_quartile": [paired(eq.gain[quart == q], other.gain[quart == q]).__dict__ for q in range(4)],
            }
    flags = None
    if out.flags is not None:
        precision, recall, n_flags = precision_recall(out.flags, out.runs["equilearn"].final_mastered)
        flags = {"precision": precision, "recall": recall, "flags": n_flags, "pairs": int(out.flags.size),
                 "share_flagged": float(out.flags.mean()),
                 "share_truly_mastered": float(out.runs["equilearn"].final_mastered.mean())}
    s = out.served
    lat = np.asarray(s.latency_ms) if s.latency_ms else np.asarray([np.nan])
    return {
        "setting": out.name, "peak_success": out.peak, "students": int(out.group.size),
        "initial_mastery": float(out.runs["oracle"].initial.mean()),
        "policies": policies, "equilearn_minus": comparisons, "mastered_flag": flags,
        "served": {"first_level": dict(s.level), "first_kind": dict(s.kind),
                   "placement_share": s.placement_steps / s.steps if s.steps else float("nan"),
                   "fallback_steps": s.fallback_steps, "steps": s.steps,
                   "audit_status": {str(k): v for k, v in s.audit_status.items()},
                   "cold_start_with_item": s.cold_start_with_item, "cold_start_total": s.cold_start_total,
                   "recommendation_ms_p50_p95": [float(np.nanpercentile(lat, 50)), float(np.nanpercentile(lat, 95))]},
        "friction": {k: {"count": v, "example": out.friction.examples.get(k, "")}
                     for k, v in out.friction.counts.items()},
        "audit_verdict": out.audit_verdict,
        "audit_excerpt": _audit_excerpt(out.audit_summary), "log_responses": out.log_responses,
        "timings_s": {k: round(v, 1) for k, v in out.timings.items()},
        "readyz_model_set": out.readyz.get("model_set", out.readyz),
    }


def acceptance(summary: dict) -> list[tuple[str, bool | None, str]]:
    """The issue's claims checked on one setting: (claim, held?, figures)."""
    pol, cmp_ = summary["policies"], summary["equilearn_minus"]
    if "equilearn" not in pol:
        return []
    eq = pol["equilearn"]
    best = max(BASELINES, key=lambda b: pol[b]["gain"]["mean"])
    above = all(cmp_[b]["overall"]["low"] > 0 for b in BASELINES)
    cells = [*cmp_[best]["by_group"].values(), *cmp_[best]["by_quartile"]]
    no_loser = all(not (c["high"] < 0) for c in cells)
    gap_ok = eq["final_gap"] <= pol["gated curriculum"]["final_gap"]
    flags = summary["mastered_flag"] or {}
    cold = summary["served"]
    return [
        ("above every non-oracle baseline (paired CI above 0)", above,
         ", ".join(f"vs {b} {Estimate(**cmp_[b]['overall']).text(True)}" for b in BASELINES)),
        ("at least 50% of the oracle's gain", eq["share_of_oracle"] >= 0.5, f"{eq['share_of_oracle']:.0%}"),
        (f"no group or quartile below the best baseline ({best}; CI not entirely below 0)", no_loser,
         ", ".join(f"{c['mean']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}]" for c in cells)),
        ("final group gap no larger than under the gated curriculum", gap_ok,
         f"{eq['final_gap']:.3f} vs {pol['gated curriculum']['final_gap']:.3f}"),
        ("at most 10% of steps on truly mastered skills", eq["steps_on_mastered"] <= 0.10,
         f"{eq['steps_on_mastered']:.1%} (oracle {pol['oracle']['steps_on_mastered']:.1%})"),
        ("a student who becomes ready for a skill is offered it within 5 steps (every time)", _every_time(eq),
         _ready_figures(pol)),
        ("`mastered` flag right at least 80% of the time", None if not flags or flags["precision"] != flags["precision"]
         else flags["precision"] >= 0.8,
         f"precision {_f(flags.get('precision', float('nan')))} on {flags.get('flags', 0)} flags"),
        ("a new student gets a 200 with an item", cold["cold_start_with_item"] == cold["cold_start_total"],
         f"{cold['cold_start_with_item']}/{cold['cold_start_total']}"),
        ("the README's pipeline serves the built set (`model audit` PASS)",
         None if summary["audit_verdict"] == "not run" else summary["audit_verdict"] == "PASS",
         summary["audit_verdict"]),
    ]


def _every_time(policy: dict) -> bool | None:
    """Was every readiness event offered in the list within 5 steps? (None: no event, or a summary without them.)"""
    ready = policy.get("ready_within_5")
    return None if not ready or not ready["events"] else ready["listed"] == 1.0


def _ready_figures(policies: dict) -> str:
    ready = {name: p["ready_within_5"] for name, p in policies.items() if p.get("ready_within_5")}
    if "equilearn" not in ready:
        return "not measured"
    eq = ready["equilearn"]
    others = ", ".join(f"{name} {r['practised']:.0%}" for name, r in ready.items() if name != "equilearn")
    n = eq.get("listed_miss_dips", 0)
    dips = "" if "listed_misses" not in eq else (f"; of the {eq['listed_misses']} listed misses, {n} "
                                                 f"{'was a dip' if n == 1 else 'were dips'} (a mastered skill forgotten "
                                                 "just below the line)")
    return f"listed {eq['listed']:.0%}, practised {eq['practised']:.0%} of {eq['events']} events (practised: {others}){dips}"


def _ready_cell(policy: dict) -> str:
    ready = policy.get("ready_within_5")
    if not ready or not ready["events"]:
        return "n/a"
    return f"{ready['practised']:.0%} / {ready['listed']:.0%}"


def setting_markdown(summary: dict) -> str:
    """One setting's section."""
    pol = summary["policies"]
    lines = [f"### {summary['setting']}: learning peaks at {summary['peak_success']:.0%} success",
             "",
             f"{summary['students']} students, initial mastery {summary['initial_mastery']:.3f}; model set built "
             f"from {summary['log_responses']:,} random-practice responses; `model audit` verdict: "
             f"{summary['audit_verdict']}; served `audit_status` {summary['served']['audit_status']}.",
             "",
             "| policy | gain [95% CI] | high opp. | low opp. | Q1 | Q2 | Q3 | Q4 | final gap | share of oracle "
             "| steps on mastered skills | correct | turned ready: practised / listed within 5 steps |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, p in pol.items():
        g = p["gain_by_group"]
        lines.append(f"| {name} | {Estimate(**p['gain']).text()} | {g[GROUPS[0]]:.3f} | {g[GROUPS[1]]:.3f} | "
                     + " | ".join(f"{q:.3f}" for q in p["gain_by_quartile"])
                     + f" | {p['final_gap']:.3f} | {p['share_of_oracle']:.0%} | {p['steps_on_mastered']:.1%} | "
                       f"{p['correct_rate']:.0%} | {_ready_cell(p)} |")
    if summary["equilearn_minus"]:
        lines += ["", "equilearn minus each policy, paired on the same students (95% CI):", "",
                  "| minus | overall | high opp. | low opp. | Q1 | Q2 | Q3 | Q4 |", "|---|---|---|---|---|---|---|---|"]
        for base, c in summary["equilearn_minus"].items():
            cells = [Estimate(**c["overall"]), *(Estimate(**v) for v in c["by_group"].values()),
                     *(Estimate(**v) for v in c["by_quartile"])]
            lines.append(f"| {base} | " + " | ".join(e.text(True) for e in cells) + " |")
        lines += ["", "| claim of issue 14 | held | figures |", "|---|---|---|"]
        for claim, held, figures in acceptance(summary):
            lines.append(f"| {claim} | {'n/a' if held is None else ('yes' if held else 'NO')} | {figures} |")
        flags, s = summary["mastered_flag"], summary["served"]
        if flags:
            lines += ["", f"`mastered` flags at the end: {flags['flags']} of {flags['pairs']} "
                      f"(student, skill) pairs ({flags['share_flagged']:.1%}) against {flags['share_truly_mastered']:.1%} "
                      f"truly mastered; precision {_f(flags['precision'])}, recall {_f(flags['recall'])}."]
        lines += [f"First recommendations: levels {s['first_level']}, kinds {s['first_kind']}; placement questions "
                  f"{s['placement_share']:.1%} of steps; steps with no usable item {s['fallback_steps']}; "
                  f"recommendation latency p50/p95 {s['recommendation_ms_p50_p95'][0]:.0f}/"
                  f"{s['recommendation_ms_p50_p95'][1]:.0f} ms (client side, 4 in flight)."]
        if summary["friction"]:
            lines.append("Friction over HTTP: " + "; ".join(
                f"{k} x{v['count']} (e.g. `{v['example'][:120]}`)" if v["example"] else f"{k} x{v['count']}"
                for k, v in summary["friction"].items()) + ".")
        lines.append(f"Timings (s): {summary['timings_s']}.")
        if summary.get("audit_verdict") not in ("PASS", "not run"):
            lines += ["", "`model audit --file` output (last lines):", "", "```", summary["audit_excerpt"], "```"]
    return "\n".join(lines) + "\n"


def overview_markdown(summaries: list[dict]) -> str:
    """One line per setting: every policy's gain and equilearn's paired differences."""
    lines = ["| setting | random item | gated curriculum | equilearn | oracle | equilearn - random | "
             "equilearn - curriculum | equilearn's share of oracle |", "|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        pol, cmp_ = s["policies"], s["equilearn_minus"]
        cells = [Estimate(**pol[n]["gain"]).text() if n in pol else "n/a" for n in ORDER]
        diffs = [Estimate(**cmp_[b]["overall"]).text(True) if cmp_ else "n/a" for b in BASELINES]
        share = f"{pol['equilearn']['share_of_oracle']:.0%}" if "equilearn" in pol else "n/a"
        lines.append(f"| {s['setting']} | " + " | ".join(cells + diffs + [share]) + " |")
    return "\n".join(lines) + "\n"


def claims_markdown(summaries: list[dict]) -> str:
    """Which of the issue's claims held in which setting: one row per claim, one column per setting."""
    if not any(s["equilearn_minus"] for s in summaries):
        return ""
    rows: dict[str, list[str]] = {}
    for s in summaries:
        for claim, held, _ in acceptance(s):
            rows.setdefault(claim.split(" (")[0], []).append("n/a" if held is None else ("yes" if held else "NO"))
    head = "| claim of issue 14 | " + " | ".join(s["setting"] for s in summaries) + " |"
    return ("\n" + head + "\n|---|" + "---|" * len(summaries) + "\n"
            + "\n".join(f"| {claim} | " + " | ".join(cells) + " |" for claim, cells in rows.items()) + "\n")
