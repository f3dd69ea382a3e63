"""Declarative experiments: a TOML config -> train, evaluate (KT protocol), cross-validate, log to MLflow, compare.

    from engine.experiment import load_config, run_experiment, compare_runs
    result = run_experiment(load_config("experiments/configs/demo.toml"))
"""

from engine.experiment.compare import compare_runs, format_table
from engine.experiment.config import ExperimentConfig, load_config, model_names, parse_config
from engine.experiment.crossval import cross_validate, summarize
from engine.experiment.runner import ExperimentResult, run_experiment

__all__ = ["ExperimentConfig", "ExperimentResult", "compare_runs", "cross_validate", "format_table", "load_config",
           "model_names", "parse_config", "run_experiment", "summarize"]
