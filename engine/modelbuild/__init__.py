"""From a response log to a served model set (`equilearn model build`): fit, diagnose, write, register.

One module for the CLI and the experiment runner alike:

    from engine.modelbuild import build_model_set, format_table, register_built_set
    model_set, diagnostics = build_model_set(catalog, responses, predictor="auto", seed=0)

See `engine.modelbuild.modelset` for the steps and the component layout.
"""

from engine.modelbuild.data import prepare_log, read_store_log
from engine.modelbuild.diagnostics import Diagnostics, format_table
from engine.modelbuild.modelset import build_model_set, check_servable, diagnostics_of, register_built_set
from engine.modelbuild.predictor import PREDICTORS, WEIGHTS

__all__ = ["PREDICTORS", "WEIGHTS", "Diagnostics", "build_model_set", "check_servable", "diagnostics_of", "format_table",
           "prepare_log", "read_store_log", "register_built_set"]
