"""Choosing the engine, and Ray staying out of every import that does not ask for it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.distributed import resolve_engine
from engine.errors import ConfigError


def test_flag_beats_environment_which_beats_the_default() -> None:
    assert resolve_engine(None, {}) == "local"
    assert resolve_engine(None, {"EQUILEARN_ENGINE": "Ray"}) == "ray"
    assert resolve_engine("local", {"EQUILEARN_ENGINE": "ray"}) == "local"


def test_an_unknown_engine_names_its_source_and_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"EQUILEARN_ENGINE='spark'.*local, ray"):
        resolve_engine(None, {"EQUILEARN_ENGINE": "spark"})


def test_the_cli_and_the_service_import_no_ray() -> None:
    code = (
        "import sys, engine.cli, engine.cli.irt, engine.cli.kt, engine.distributed, service.app\n"
        "from engine.cli import parser_for\n"
        "parser_for(['irt', 'calibrate', 'x', '--format', 'wide', '--engine', 'ray'])\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_kt_fit_refuses_a_model_that_cannot_fit_on_ray_before_loading(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    code = main(["kt", "fit", "--data", "/nonexistent.csv", "--format", "generic", "--model", "best", "--engine", "ray",
                 "--out", "/nonexistent.json"])
    assert code == 2
    assert "out-of-fold logits of sub-models" in capsys.readouterr().err
