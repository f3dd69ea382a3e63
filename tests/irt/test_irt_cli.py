"""`equilearn irt calibrate` / `irt score` end to end on the LSAT file and on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.cli import main


def test_irt_cli_calibrate_and_score(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lsat.json"
    assert main(["irt", "calibrate", str(shared_data / "irt" / "ltm_LSAT.csv"), "--format", "wide", "--model", "2pl", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"model", "loglik", "aic", "bic", "n_iter", "converged", "items"} <= set(result)
    assert set(result["items"][0]) == {"item_id", "a", "b", "c", "se_a", "se_b", "se_c"}
    np.testing.assert_allclose([i["b"] for i in result["items"]], [-3.360, -1.370, -0.280, -1.866, -3.124], atol=0.01)
    capsys.readouterr()

    scores = tmp_path / "scores.csv"
    assert main(["irt", "score", str(shared_data / "irt" / "ltm_LSAT.csv"), "--format", "wide", "--calibration", str(out),
                 "--method", "mle", "--out", str(scores)]) == 0
    table = pl.read_csv(scores)
    assert table.height == 1000 and table["n_responses"].min() == 5
    # LSAT has all-correct patterns; their MLE does not exist and is flagged
    assert table.filter(pl.col("extreme"))["theta"].abs().min() == 6.0


def test_irt_cli_rejects_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "resp.csv"
    data.write_text("id,q1,q2\n1,1,0\n2,0,1\n")
    broken = tmp_path / "broken.json"
    broken.write_text('{"model": "2pl", "items": [{"item_id": "q1", "a": 1.0}]}')
    assert main(["irt", "score", str(data), "--format", "wide", "--calibration", str(broken)]) == 1
    assert "field 'b' is missing" in capsys.readouterr().err
    notjson = tmp_path / "bad.json"
    notjson.write_text("{nope")
    assert main(["irt", "score", str(data), "--format", "wide", "--calibration", str(notjson)]) == 1
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["irt", "score", str(data), "--format", "wide", "--calibration", str(tmp_path / "missing.json")]) == 2
    partial = tmp_path / "partial.csv"
    partial.write_text("id,q1,q2\n1,1,0.5\n2,0,1\n")
    assert main(["irt", "calibrate", str(partial), "--format", "wide"]) == 1
    assert "not 0/1" in capsys.readouterr().err
