"""Experiment configs: every bad key, path or model name is an error that names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ConfigError, NotFoundError
from engine.experiment.config import load_config, model_names, parse_config

CONFIGS = Path(__file__).resolve().parents[2] / "experiments" / "configs"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def test_registry_config_unknown_key_is_named(tmp_path) -> None:
    path = _write(tmp_path, '[experiment]\nname = "x"\n[data]\nformat = "demo"\nmax_studnets = 5\n')
    with pytest.raises(ConfigError, match=r"unknown key 'data\.max_studnets'.*known keys in \[data\]"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"unknown section \[modle\]"):
        parse_config({"experiment": {"name": "x"}, "data": {"format": "demo"}, "modle": {}})


def test_registry_config_missing_dataset_path_is_named(tmp_path) -> None:
    path = _write(tmp_path, '[experiment]\nname = "x"\n[data]\nformat = "lpp"\npath = "no_such_folder"\n')
    with pytest.raises(NotFoundError, match=r"data\.path 'no_such_folder' not found at .*no_such_folder.*data root"):
        load_config(path, cli_root=tmp_path)
    with pytest.raises(ConfigError, match=r"missing required key 'data\.path'"):
        parse_config({"experiment": {"name": "x"}, "data": {"format": "lpp"}}, cli_root=tmp_path)
    with pytest.raises(NotFoundError, match="experiment config .*nope.toml not found"):
        load_config(tmp_path / "nope.toml")


def test_registry_config_unknown_model_and_types(tmp_path) -> None:
    base = {"experiment": {"name": "x"}, "data": {"format": "demo"}}
    with pytest.raises(ConfigError, match=r"models\.names has unknown model\(s\) 'deep-magic'.*available: .*baseline-item"):
        parse_config({**base, "models": {"names": ["baseline-item", "deep-magic"]}})
    with pytest.raises(ConfigError, match=r"key 'cv\.folds' must be int"):
        parse_config({**base, "cv": {"folds": "five"}})
    with pytest.raises(ConfigError, match=r"cv\.folds must be 0 \(off\) or at least 2"):
        parse_config({**base, "cv": {"folds": 1}})
    with pytest.raises(ConfigError, match=r"data\.format 'csvv' is unknown"):
        parse_config({"experiment": {"name": "x"}, "data": {"format": "csvv"}})
    with pytest.raises(ConfigError, match=r"missing required key 'experiment\.name'"):
        parse_config({"data": {"format": "demo"}})


def test_registry_config_data_root_precedence(tmp_path, monkeypatch) -> None:
    for name in ("cli", "env", "file"):
        (tmp_path / name / "ds").mkdir(parents=True)
    raw = {"experiment": {"name": "x"}, "data": {"format": "lpp", "path": "ds", "root": str(tmp_path / "file")}}
    monkeypatch.delenv("EQUILEARN_DATA_ROOT", raising=False)
    assert parse_config(raw).data_path == tmp_path / "file" / "ds"
    monkeypatch.setenv("EQUILEARN_DATA_ROOT", str(tmp_path / "env"))
    assert parse_config(raw).data_path == tmp_path / "env" / "ds"
    assert parse_config(raw, cli_root=tmp_path / "cli").data_path == tmp_path / "cli" / "ds"
    absolute = {**raw, "data": {**raw["data"], "path": str(tmp_path / "cli" / "ds")}}
    assert parse_config(absolute).data_path == tmp_path / "cli" / "ds"


def test_registry_shipped_configs_parse(shared_data) -> None:
    from engine.evaluation.zoo import MODELS

    names = sorted(p.name for p in CONFIGS.glob("*.toml"))
    assert {"assistments09.toml", "assistments09_dkt.toml", "assist2015.toml", "demo.toml"} <= set(names)
    for name in names:
        config = load_config(CONFIGS / name, cli_root=shared_data)
        assert config.data_path is None or config.data_path.is_relative_to(shared_data.resolve())
        if config.models == ("all",):
            assert model_names(config) == sorted(MODELS)  # "all" = every model in the zoo
        else:
            assert set(model_names(config)) <= set(MODELS)
