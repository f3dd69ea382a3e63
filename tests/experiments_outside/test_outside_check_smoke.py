"""The outside check end to end, small: the documented CLI pipeline, a real server, the HTTP loop."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.outside_check.__main__ import main


@pytest.mark.slow  # 25-40 s (load 4-10): model build, a real `equilearn serve`, 100 recommendation requests
def test_smoke_pipeline_runs_end_to_end_and_the_oracle_beats_random(tmp_path: Path) -> None:
    out = tmp_path / "outside_check.md"
    [summary] = main(["--smoke", "--out", str(out), "--workdir", str(tmp_path / "work")])
    served = summary["served"]
    assert served["steps"] == 10 * 10
    assert served["cold_start_with_item"] == served["cold_start_total"] == 10  # new students get an item
    # the service answered (some steps may fall back to a random item on a 5xx; they are counted)
    assert served["steps"] - served["fallback_steps"] >= 80, summary["friction"]
    assert set(summary["policies"]) == {"random item", "gated curriculum", "equilearn", "oracle"}
    assert summary["log_responses"] == 150 * 40
    # an independent truth about our own world: greedy on the true state beats random items
    oracle_minus_random = summary["policies"]["oracle"]["gain"]["mean"] - summary["policies"]["random item"]["gain"]["mean"]
    assert oracle_minus_random > 0.01
    assert out.read_text().startswith("# Outside check") and out.with_suffix(".json").exists()
