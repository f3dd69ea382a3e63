"""experiments.suite_posterior's verdicts: each target read off hand-made results."""

from __future__ import annotations

from experiments.suite_posterior import reach_rows


def _policy(share: float, over: float, minus: dict[str, tuple[float, float]], quartile_hi: float) -> dict:
    return {"share_of_oracle": share, "over_practice": over,
            "minus": {b: {"all": {"mean": (lo + hi) / 2, "ci": [lo, hi]},
                          **{f"quartile:Q{k}": {"mean": 0.0, "ci": [quartile_hi - 0.1, quartile_hi]} for k in range(1, 5)}}
                      for b, (lo, hi) in minus.items()}}


def test_each_target_is_met_only_when_its_own_figure_clears_it():
    posterior = _policy(0.55, 0.12, {"random": (0.01, 0.05), "gated-curriculum": (0.002, 0.03)}, 0.01)
    ours = _policy(0.49, 0.08, {"random": (0.02, 0.06), "gated-curriculum": (-0.01, 0.02)}, -0.001)
    result = {"settings": [{"setting": "w", "best_baseline": "gated-curriculum",
                            "policies": {"posterior": posterior, "equilearn": ours, "random": {}, "gated-curriculum": {},
                                         "oracle": {}}}]}
    row = reach_rows(result)[-1]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["w", "yes / no", "yes / no", "yes / no", "no / yes"]
