"""The `experiment` and `model` commands end to end, on a real local MLflow store."""

from __future__ import annotations

import json
from pathlib import Path


from engine.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "experiments" / "configs"


def test_registry_cli_assistments09_small_scale_twice(store_env, shared_data, tmp_path, capsys) -> None:
    """Acceptance: the shipped assistments09 config logs the AUC table of every zoo model; same seed, same metrics."""
    from engine.evaluation.zoo import MODELS

    outs = []
    for i in range(2):
        out = tmp_path / f"run{i}.json"
        md = tmp_path / f"run{i}.md"
        assert main(["experiment", "run", str(CONFIGS / "assistments09.toml"), "--data-root", str(shared_data),
                     "--max-students", "12", "--out", str(out), "--markdown", str(md), "--no-progress",
                     "--no-log-models"]) == 0
        outs.append(json.loads(out.read_text()))
    assert set(outs[0]["metrics"]) == set(MODELS)
    assert outs[0]["metrics"] == outs[1]["metrics"] and outs[0]["run_id"] != outs[1]["run_id"]
    text = (tmp_path / "run0.md").read_text()
    assert "| model | AUC |" in text and "--max-students 12" in text
    capsys.readouterr()
    assert main(["experiment", "compare", f"{outs[0]['run_id']},{outs[1]['run_id']}"]) == 0
    table = capsys.readouterr().out
    assert table.count("assistments09") == 2 * len(MODELS) and outs[0]["run_id"][:8] in table


def test_registry_cli_bad_inputs_name_the_problem(store_env, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nname = "x"\nseeed = 3\n[data]\nformat = "demo"\n')
    assert main(["experiment", "run", str(bad)]) == 2
    assert "unknown key 'experiment.seeed'" in capsys.readouterr().err
    missing = tmp_path / "missing.toml"
    missing.write_text('[experiment]\nname = "x"\n[data]\nformat = "dkt3"\npath = "gone/away.csv"\n')
    assert main(["experiment", "run", str(missing), "--data-root", str(tmp_path)]) == 2
    assert f"{tmp_path / 'gone' / 'away.csv'}" in capsys.readouterr().err
    model = tmp_path / "model.toml"
    model.write_text('[experiment]\nname = "x"\n[data]\nformat = "demo"\n[models]\nnames = ["dkt-transformer"]\n')
    assert main(["experiment", "run", str(model)]) == 2
    assert "'dkt-transformer'" in capsys.readouterr().err
    assert main(["experiment", "compare", "0123456789abcdef"]) == 2
    assert "no MLflow run '0123456789abcdef'" in capsys.readouterr().err


def test_registry_cli_promote_refuses_failed_audit(store_env, tmp_path, capsys) -> None:
    from engine.data.demo import demo_dataset
    from engine.registry import register_model_set
    from models.baselines import GlobalMean

    model = GlobalMean().fit(demo_dataset(n_students=20, attempts=5).train)
    ms = register_model_set("cli-set", {"kt": {"zoo_model": "baseline-mean", "params": model.to_dict()}}, "sha256:t",
                            settings=store_env)
    fail, ok = tmp_path / "fail.json", tmp_path / "ok.json"
    bound = {"content_sha256": ms.content_sha256}  # audits name the content they audited
    fail.write_text(json.dumps({"audit": "model", "status": "FAIL", "findings": ["AUC gap"], **bound}))
    ok.write_text(json.dumps({"audit": "model", "status": "PASS", **bound}))
    assert main(["model", "promote", "cli-set", ms.version, "--alias", "champion", "--audit", str(fail)]) == 2
    assert "refusing to promote" in capsys.readouterr().err
    assert main(["model", "promote", "cli-set", ms.version, "--audit", str(ok)]) == 1  # over a FAIL: needs a reason
    assert "reason" in capsys.readouterr().err
    assert main(["model", "promote", "cli-set", ms.version, "--audit", str(ok), "--reason", "re-audited"]) == 0
    assert "promoted model set 'cli-set'" in capsys.readouterr().out
    assert main(["model", "list"]) == 0
    listing = [line for line in capsys.readouterr().out.splitlines() if line.startswith("cli-set")]
    assert listing and "champion" in listing[0] and "PASS" in listing[0]
