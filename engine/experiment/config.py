"""Experiment configs: a TOML file read into a checked `ExperimentConfig` before any work starts.

    [experiment]  name, description, seed
    [data]        root, path, format, test_fraction, max_students, roster, groups, min_group_size, [data.options]
    [models]      names  (["all"] = every model in the zoo)
    [cv]          folds (0 = off, else k-fold by student), confidence
    [mlflow]      experiment, log_models
    [register]    name, model ("best" by test AUC, or a model name), catalog   -- optional
    [published]   <model> = "text"   the published figure comparable with that model, shown in its row -- optional
    [notes]       <model> = "text"   a footnote to that model's row (e.g. why no published figure is comparable) -- optional

`data.path` (and `data.roster`, `register.catalog`) are relative to the data root, which is, first found: the `--data-root`
option, the `EQUILEARN_DATA_ROOT` variable, `data.root` in the file, `../shared/data`. A relative root is
relative to the working directory. Every unknown key, wrong type or missing file is an error naming it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError, NotFoundError

DEFAULT_ROOT = "../shared/data"
DEMO_FORMAT = "demo"
SECTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "experiment": {"name": str, "description": str, "seed": int},
    "data": {"root": str, "path": str, "format": str, "test_fraction": float, "max_students": int, "roster": str,
             "groups": list, "min_group_size": int, "options": dict},
    "models": {"names": list},
    "cv": {"folds": int, "confidence": float},
    "mlflow": {"experiment": str, "log_models": bool},
    "register": {"name": str, "model": str, "catalog": str},
}
MODEL_KEYED = ("published", "notes")  # sections whose keys are zoo model names and whose values are text
REQUIRED = {"experiment": ("name",), "data": ("format",)}


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    data_format: str
    data_path: Path | None  # resolved against the data root; None for the built-in demo data
    source: str = "<dict>"  # the config file, for messages
    description: str = ""
    seed: int = 0
    data_root: Path | None = None
    test_fraction: float = 0.2
    max_students: int = 0
    roster: Path | None = None
    groups: tuple[str, ...] = ()
    min_group_size: int = 20
    data_options: dict[str, Any] = field(default_factory=dict)
    models: tuple[str, ...] = ("all",)
    cv_folds: int = 0
    confidence: float = 0.95
    mlflow_experiment: str = "equilearn-experiments"
    log_models: bool = True
    register_name: str | None = None
    register_model: str = "best"
    register_catalog: Path | None = None  # with it, [register] registers a servable set (engine.modelbuild) on this catalog
    published: dict[str, str] = field(default_factory=dict)  # model -> the comparable published figure (text)
    notes: dict[str, str] = field(default_factory=dict)  # model -> footnote under the results table
    raw: dict[str, Any] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        """The settings worth logging as MLflow params (paths relative to the data root)."""
        return {
            "config": self.source, "name": self.name, "seed": self.seed, "data.format": self.data_format,
            "data.path": self.raw.get("data", {}).get("path", ""), "data.test_fraction": self.test_fraction,
            "data.max_students": self.max_students, "data.groups": ",".join(self.groups),
            "data.options": str(self.data_options), "cv.folds": self.cv_folds, "cv.confidence": self.confidence,
        }


def _check_type(where: str, key: str, value: Any, expected: type | tuple[type, ...]) -> Any:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and expected is not bool:
        raise ConfigError(f"{where}: key {key!r} must be {expected.__name__}, got a boolean")
    if not isinstance(value, expected):
        raise ConfigError(f"{where}: key {key!r} must be {getattr(expected, '__name__', expected)}, got {type(value).__name__} {value!r}")
    return value


def check_keys(raw: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """Every section and key known and of the right type; returns the sections with floats normalised."""
    out: dict[str, dict[str, Any]] = {}
    for section, body in raw.items():
        if section not in SECTIONS and section not in MODEL_KEYED:
            raise ConfigError(f"{source}: unknown section [{section}]; known sections: {', '.join([*SECTIONS, *MODEL_KEYED])}")
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: {section!r} must be a [section] table")
        if section in MODEL_KEYED:
            out[section] = {k: _check_type(source, f"{section}.{k}", v, str) for k, v in body.items()}
            continue
        known = SECTIONS[section]
        for key in body:
            if key not in known:
                raise ConfigError(f"{source}: unknown key '{section}.{key}'; known keys in [{section}]: {', '.join(known)}")
        out[section] = {k: _check_type(source, f"{section}.{k}", v, known[k]) for k, v in body.items()}
    for section, keys in REQUIRED.items():
        for key in keys:
            if key not in out.get(section, {}):
                raise ConfigError(f"{source}: missing required key '{section}.{key}'")
    return out


def data_root(cli_root: str | Path | None, file_root: str | None) -> Path:
    root = cli_root or os.environ.get("EQUILEARN_DATA_ROOT") or file_root or DEFAULT_ROOT
    return Path(root).expanduser().resolve()


def _resolve(root: Path, relative: str, key: str, source: str) -> Path:
    path = Path(relative).expanduser()
    path = path if path.is_absolute() else root / path
    if not path.exists():
        raise NotFoundError(f"{source}: {key} {relative!r} not found at {path} (data root {root}; set it with "
                            "--data-root or EQUILEARN_DATA_ROOT, or give an absolute path)")
    return path


def parse_config(raw: dict[str, Any], source: str = "<dict>", cli_root: str | Path | None = None,
                 max_students: int | None = None, seed: int | None = None, models: list[str] | None = None) -> ExperimentConfig:
    """Check a config mapping and resolve its paths; the overrides come from the command line."""
    from engine.data import FORMATS
    from engine.evaluation.zoo import MODELS

    override_models = models
    sec = check_keys(raw, source)
    exp, data, models, cv, ml, reg = (sec.get(s, {}) for s in ("experiment", "data", "models", "cv", "mlflow", "register"))
    fmt = data["format"]
    if fmt != DEMO_FORMAT and fmt not in FORMATS:
        raise ConfigError(f"{source}: data.format {fmt!r} is unknown; choose one of: {', '.join(sorted([*FORMATS, DEMO_FORMAT]))}")
    root = data_root(cli_root, data.get("root"))
    if fmt == DEMO_FORMAT:
        path = None
    elif "path" not in data:
        raise ConfigError(f"{source}: missing required key 'data.path' (relative to the data root {root})")
    else:
        path = _resolve(root, data["path"], "data.path", source)
    roster = _resolve(root, data["roster"], "data.roster", source) if data.get("roster") else None
    names = tuple(models.get("names", ["all"]) if override_models is None else override_models)
    if not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{source}: models.names must be a non-empty list of model names (or [\"all\"])")
    unknown = [n for n in names if n != "all" and n not in MODELS]
    if unknown:
        raise ConfigError(f"{source}: models.names has unknown model(s) {', '.join(map(repr, unknown))}; "
                          f"available: {', '.join(sorted(MODELS))}")
    test_fraction = data.get("test_fraction", 0.2)
    if not 0 < test_fraction < 1:
        raise ConfigError(f"{source}: data.test_fraction must be in (0, 1), got {test_fraction}")
    folds = cv.get("folds", 0)
    if folds == 1 or folds < 0:
        raise ConfigError(f"{source}: cv.folds must be 0 (off) or at least 2, got {folds}")
    confidence = cv.get("confidence", 0.95)
    if not 0 < confidence < 1:
        raise ConfigError(f"{source}: cv.confidence must be in (0, 1), got {confidence}")
    groups = tuple(data.get("groups", []))
    if groups and roster is None and fmt in (DEMO_FORMAT, "lpp", "dkt3"):
        raise ConfigError(f"{source}: data.groups needs data.roster (a table of student_id + group columns) for format {fmt!r}")
    for section in MODEL_KEYED:
        strays = [k for k in sec.get(section, {}) if k not in MODELS]
        if strays:
            raise ConfigError(f"{source}: [{section}] has key(s) {', '.join(map(repr, strays))} that name no model; "
                              f"keys are model names: {', '.join(sorted(MODELS))}")
    register_model = reg.get("model", "best")
    if register_model != "best" and register_model not in MODELS:
        raise ConfigError(f"{source}: register.model {register_model!r} is not a model name; use \"best\" or one of: {', '.join(sorted(MODELS))}")
    n_students = data.get("max_students", 0) if max_students is None else max_students
    if n_students < 0:
        raise ConfigError(f"{source}: data.max_students must be 0 (all) or positive, got {n_students}")
    return ExperimentConfig(
        name=exp["name"], description=exp.get("description", ""), seed=exp.get("seed", 0) if seed is None else seed,
        source=source, data_format=fmt, data_path=path, data_root=root, test_fraction=test_fraction, max_students=n_students,
        roster=roster, groups=groups, min_group_size=data.get("min_group_size", 20), data_options=dict(data.get("options", {})),
        models=names, cv_folds=folds, confidence=confidence,
        mlflow_experiment=ml.get("experiment", "equilearn-experiments"), log_models=ml.get("log_models", True),
        register_name=reg.get("name"), register_model=register_model,
        register_catalog=_resolve(root, reg["catalog"], "register.catalog", source) if reg.get("catalog") else None, raw=raw,
        published=dict(sec.get("published", {})), notes=dict(sec.get("notes", {})),
    )


def load_config(path: str | Path, cli_root: str | Path | None = None, max_students: int | None = None,
                seed: int | None = None, models: list[str] | None = None) -> ExperimentConfig:
    """Read and check a TOML experiment config."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"experiment config {file} not found")
    from engine.jsonfile import read_text  # noqa: PLC0415

    try:
        raw = tomllib.loads(read_text(file, "experiment config", "a TOML experiment config"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    return parse_config(raw, str(file), cli_root, max_students, seed, models)


def model_names(config: ExperimentConfig) -> list[str]:
    """The models to run: the listed names, with "all" expanded to every zoo model (sorted), no duplicates."""
    from engine.evaluation.zoo import MODELS

    out: list[str] = []
    for name in config.models:
        for n in (sorted(MODELS) if name == "all" else [name]):
            if n not in out:
                out.append(n)
    return out
