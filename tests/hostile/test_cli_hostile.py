"""The command line against the wrong files and careless use (issue 16): one clean error line and exit 2 (or
the data error's listing and exit 1), never a traceback; fast help; flags named in hints; input order kept."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())"]
BINARY = bytes(random.Random(16).randrange(256) for _ in range(4000))  # NUL bytes and invalid UTF-8
BINARY_NO_NUL = bytes(b or 0x81 for b in BINARY)  # still binary: mostly bytes that are not UTF-8


def run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _file(tmp_path: Path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


def _log(tmp_path: Path, students=(100, 9, 1000, 1, 10, 2), items=("q10", "q9", "q1", "q2", "q100")) -> str:
    rng = random.Random(3)
    rows = ["student_id,item_id,correct"] + [f"{s},{i},{rng.randint(0, 1)}" for s in students for i in items]
    return _file(tmp_path, "log.csv", "\n".join(rows) + "\n")


def assert_one_clean_line(err: str, *needles: str) -> None:
    assert "Traceback" not in err and err.startswith("error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


# ---- binary files where JSON or TOML is expected ------------------------------------------------------------------
@pytest.mark.parametrize("data", [BINARY, BINARY_NO_NUL], ids=["nul", "not-utf8"])
def test_binary_calibration_file(tmp_path, capsys, data):
    calibration = _file(tmp_path, "cal.json", data)
    code, out, err = run(["irt", "score", _log(tmp_path), "--format", "generic", "--calibration", calibration], capsys)
    assert code == 2 and out == ""
    assert_one_clean_line(err, calibration, "not a text file", "equilearn irt calibrate")


@pytest.mark.parametrize("argv", [["audit", "gate", "--audit", "{bin}"],
                                  ["experiment", "run", "{bin}"],
                                  ["irt", "calibrate", "{log}", "--format", "generic", "--anchors", "{bin}"],
                                  ["recommend", "--student", "s", "--config", "{bin}"]],
                         ids=["audit-result", "experiment-config", "anchors", "recommender-config"])
def test_binary_json_and_toml_files(tmp_path, capsys, argv):
    names = {"bin": _file(tmp_path, "x.json", BINARY), "log": _log(tmp_path)}
    code, _, err = run([a.format(**names) for a in argv], capsys)
    assert code == 2
    assert_one_clean_line(err, names["bin"], "not a text file")


def test_binary_catalog_and_policy_files(tmp_path):
    from engine.catalog import load_catalog
    from engine.errors import ConfigError
    from engine.fairness.gate import load_policy

    with pytest.raises(ConfigError, match="not a text file"):
        load_catalog(_file(tmp_path, "catalog.json", BINARY))
    with pytest.raises(ConfigError, match="not a text file.*gate policy"):
        load_policy(_file(tmp_path, "policy.toml", BINARY))


# ---- random bytes where a table is expected -----------------------------------------------------------------------
@pytest.mark.parametrize("data", [BINARY, BINARY_NO_NUL], ids=["nul", "not-utf8"])
def test_random_bytes_as_a_csv(tmp_path, capsys, data):
    path = _file(tmp_path, "data.csv", data)
    for argv in (["data", "validate", path, "--format", "generic"], ["irt", "calibrate", path, "--format", "generic"]):
        code, _, err = run(argv, capsys)
        assert code == 1 and "Traceback" not in err
        assert path in err and "not a text file" in err and "header row" in err
        assert "row_offset" not in err and "Schema" not in err


def test_a_broken_text_table_is_explained(tmp_path, capsys):
    path = _file(tmp_path, "data.csv", 'student_id,item_id,correct\ns1,i1,1\ns1,"i2,1\ns2,i3,0,5,6\n')
    code, _, err = run(["data", "validate", path, "--format", "generic"], capsys)
    assert code == 1 and "cannot be read as a comma-separated table with a header row" in err
    roster = _file(tmp_path, "roster.csv", BINARY)
    from engine.errors import ConfigError
    from engine.experiment.data import read_roster

    with pytest.raises(ConfigError, match="not a text file"):
        read_roster(Path(roster))


# ---- --help is fast: no scientific library at start-up ------------------------------------------------------------
HEAVY = ("sklearn", "scipy", "mlflow", "statsmodels", "numba")


@pytest.mark.parametrize("argv", [["--help"], ["-v", "--help"], ["serve", "--help"], ["demo-serve", "--help"],
                                  ["demo", "--help"]])
def test_help_imports_no_heavy_library(argv):
    code = ("import sys\nfrom engine.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & set(%r)))" % (argv, HEAVY))
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert time.monotonic() - start < 10  # generous for a loaded CI machine; typically 0.1 s


def test_kt_help_needs_no_model_zoo():
    code = ("import sys\nfrom engine.cli import main\ntry:\n    main(['kt', 'evaluate', '--help'])\nexcept SystemExit:\n"
            "    pass\nprint('sklearn' in sys.modules, 'engine.evaluation.zoo' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "False False"


def test_the_command_table_matches_the_modules():
    from engine.cli import COMMAND_MODULES, COMMANDS, build_parser

    full = build_parser()
    sub = next(a for a in full._actions if a.dest == "command")  # noqa: SLF001
    assert set(sub.choices) == set(COMMANDS)
    assert {module for module, _ in COMMANDS.values()} == set(COMMAND_MODULES)


def test_a_command_runs_with_only_its_module(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EQUILEARN_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    code, out, _ = run(["keys", "create", "--scope", "ingest"], capsys)
    assert code == 0 and out.startswith("eqk_")
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2


# ---- hints name the command line's flags, and the flags exist ----------------------------------------------------
def test_column_mapping_hint_and_flag(tmp_path, capsys):
    path = _file(tmp_path, "log.csv", "learner,question,score\nA,q1,1\nA,q2,0\nB,q1,1\n")
    code, _, err = run(["data", "validate", path, "--format", "generic"], capsys)
    assert code == 1 and "--column CANONICAL=YOURS" in err
    code, out, _ = run(["data", "validate", path, "--format", "generic", "--column", "student_id=learner",
                        "--column", "item_id=question", "--column", "correct=score"], capsys)
    assert code == 0 and json.loads(out)["responses"] == 3
    code, _, err = run(["data", "validate", path, "--format", "generic", "--column", "student_id"], capsys)
    assert code == 2 and "CANONICAL=YOURS" in err


def test_answer_key_and_covariates_hint_and_flags(tmp_path, capsys):
    path = _file(tmp_path, "wide.csv", "person,sex,i1,i2,i3\np1,F,A,C,B\np2,M,B,C,A\np3,F,A,D,B\n")
    code, _, err = run(["data", "validate", path, "--format", "wide"], capsys)
    assert code == 1 and "--key" in err and "--covariates" in err and "--missing-values" in err
    assert "key=..." not in err and "covariates=[...]" not in err
    code, out, err = run(["data", "validate", path, "--format", "wide", "--key", "A,C,B", "--covariates", "person,sex"],
                         capsys)
    assert code == 0, err
    code, _, err = run(["data", "validate", path, "--format", "generic", "--key", "A,C,B"], capsys)
    assert code == 2 and "--key does not apply to --format generic" in err


# ---- input order kept --------------------------------------------------------------------------------------------
def test_irt_outputs_keep_the_files_order(tmp_path, capsys):
    log = _log(tmp_path)
    cal = str(tmp_path / "cal.json")
    code, out, _ = run(["irt", "calibrate", log, "--format", "generic", "--model", "rasch", "--out", cal], capsys)
    assert code == 0
    assert [i["item_id"] for i in json.loads(Path(cal).read_text())["items"]] == ["q10", "q9", "q1", "q2", "q100"]
    code, out, _ = run(["irt", "score", log, "--format", "generic", "--calibration", cal], capsys)
    assert code == 0
    assert [line.split(",")[0] for line in out.splitlines()[1:]] == ["100", "9", "1000", "1", "10", "2"]


# ---- make run on a busy port fails before any work ---------------------------------------------------------------
def test_demo_serve_on_a_busy_port_fails_before_training(tmp_path, isolated_home):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "EQUILEARN_HOME": str(isolated_home)}
        start = time.monotonic()
        result = subprocess.run([*CLI, "demo-serve", "--port", str(port)], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert f"127.0.0.1:{port}" in result.stderr and "in use" in result.stderr and "PORT=" in result.stderr
        assert "training" not in result.stdout and "API key" not in result.stdout
        assert time.monotonic() - start < 20
        assert not isolated_home.exists() or not any(isolated_home.iterdir())  # nothing trained, registered or keyed
        check = subprocess.run([*CLI, "demo-serve", "--port", str(port), "--check-port"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert check.returncode == 2
