"""Adapters: fitted models from `models/` as the engine's `AbilityModel` / `SkillModel`, and the
component registry that `MasteryEngine.to_components` / `from_components` use.

A component is a JSON-ready dict `{"kind": KIND, ...}`:
- skill models: `bkt-table` (`{"params": BKTParams.to_dict()}`), `models.bkt` (`{"model": <models.bkt
  model's to_dict()>, "item_prior_n": float, optional}`: with `item_prior_n`, a KT-IDEM model's item
  guess/slip weigh each answer, see `engine.mastery.item_evidence`);
- ability models: `grid-eap` (`{"params": GridEAP keyword arguments}`), `models.irt` (`{"model":
  <models.irt.IRT.to_dict()>, "drift": float}`): the fitted bank's (a, b, c) replace the catalog's item
  parameters for every catalog item the bank holds, and the online update is the EAP on the model's
  quadrature range with the calibrated population N(latent mean, latent sd) as prior.

`models.irt` and `models.bkt` are imported lazily, only when such a component is used, so the engine
works (with its own table-driven models) whether or not those packages are installed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import numpy as np
import polars as pl

from engine.catalog import Catalog
from engine.errors import ConfigError
from engine.mastery.ability import GridEAP
from engine.mastery.bkt import PARAM_NAMES, BKTParams, BKTSkillModel
from engine.mastery.item_evidence import ItemEvidence

log = logging.getLogger(__name__)

# Names other BKT implementations give the five parameters (pyBKT style and the usual aliases).
BKT_ALIASES: dict[str, tuple[str, ...]] = {
    "prior": ("prior", "p_init", "p_l0", "init", "prior_learned"),
    "learn": ("learn", "learns", "p_transit", "p_t", "transit", "p_learn"),
    "guess": ("guess", "guesses", "p_guess", "p_g"),
    "slip": ("slip", "slips", "p_slip", "p_s"),
    "forget": ("forget", "forgets", "p_forget", "p_f"),
}


def _fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _import(module: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise ConfigError(f"component needs the {module} package, which cannot be imported here ({exc})") from None


# ---- models.irt -> AbilityModel --------------------------------------------------------------------

class IRTAbility(GridEAP):
    """`AbilityModel` backed by a fitted `models.irt.IRT`: its population prior and ability range, and
    (through `item_params`) its calibrated bank. The per-student state stays the engine's Gaussian
    summary (EAP, SD), updated response by response on a grid over the model's quadrature range."""

    def __init__(self, model: Any, drift: float = 0.05, grid_points: int = 81) -> None:
        calibration = model.calibration_
        lo, hi = (float(x) for x in model.bounds)
        mean, sd = float(calibration.latent_mean), float(calibration.latent_sd)
        super().__init__(prior_mean=mean, prior_sd=sd, drift=drift, grid_points=grid_points,
                         grid_halfwidth=max(abs(hi - mean), abs(mean - lo)))
        self.model = model
        self.payload = model.to_dict()
        self.version = f"models.irt/{model.model}:{_fingerprint(self.payload)}:drift={self.drift:g}"

    def item_params(self) -> pl.DataFrame:
        """(item_id, a, b, c) of every usable item of the bank."""
        bank = self.model.bank_
        ok = np.asarray(bank.usable)
        return pl.DataFrame({"item_id": [str(i) for i in np.asarray(bank.item_ids)[ok]], "a": bank.a[ok],
                             "b": bank.b[ok], "c": bank.c[ok]})

    def apply_to(self, catalog: Catalog) -> Catalog:
        """`catalog` with its items' (a, b, c) taken from the bank (items the bank lacks keep theirs)."""
        params = self.item_params()
        known = params.filter(pl.col("item_id").is_in(list(catalog.item_ids)))
        if known.height < params.height:
            log.info("IRT bank: %d of %d items are not in catalog %r and are not used", params.height - known.height,
                     params.height, catalog.name)
        return catalog.with_item_params(known) if known.height else catalog

    def to_component(self) -> dict[str, Any]:
        return {"kind": "models.irt", "model": self.payload, "drift": self.drift, "grid_points": self.grid_points}


def irt_ability(model_or_payload: Any, drift: float = 0.05, grid_points: int = 81) -> IRTAbility:
    """An `IRTAbility` from a fitted `models.irt.IRT` or its `to_dict()` payload."""
    if isinstance(model_or_payload, dict):
        irt = _import("models.irt")
        try:
            model_or_payload = irt.IRT.from_dict(model_or_payload)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"models.irt component cannot be read: {exc}") from None
    if not hasattr(model_or_payload, "calibration_"):
        raise ConfigError("the IRT model is not fitted (no calibration_); fit it before using it in the engine")
    return IRTAbility(model_or_payload, drift=drift, grid_points=grid_points)


# ---- models.bkt -> SkillModel ------------------------------------------------------------------------

def _models_bkt_table(payload: Any) -> tuple[pl.DataFrame, dict[str, float]] | None:
    """The `models.bkt.BKT.to_dict()` layout: `skills` (K ids) and one list of K + 1 values per parameter
    (the last is the pooled value the model uses for skills it has not seen). Item-level guess/slip
    (KT-IDEM) are read by `_item_evidence`; group priors are not used."""
    if not isinstance(payload, dict) or payload.get("model") != "bkt" or not isinstance(payload.get("skills"), list):
        return None
    skills = [str(s) for s in payload["skills"]]
    columns = {}
    for name in PARAM_NAMES:
        values = payload.get(name)
        if not isinstance(values, list) or len(values) != len(skills) + 1:
            raise ConfigError(f"models.bkt payload: {name!r} must list {len(skills) + 1} values (one per skill + pooled)")
        columns[name] = [float(v) for v in values]
    table = pl.DataFrame({"skill_id": skills, **{k: v[:-1] for k, v in columns.items()}})
    return table, {k: v[-1] for k, v in columns.items()}


def _per_skill_table(payload: Any) -> pl.DataFrame | None:
    """Find per-skill BKT parameters in a model's `to_dict()`: a mapping skill -> {param: value} (or a list of
    records with a skill id) under any key, with parameter names as in `BKT_ALIASES`."""
    def normalize(record: dict[str, Any]) -> dict[str, float]:
        lower = {str(k).lower(): v for k, v in record.items()}
        out = {}
        for name, aliases in BKT_ALIASES.items():
            for alias in aliases:
                value = lower.get(alias)
                if isinstance(value, list) and value:  # pyBKT keeps per-class lists; take the default class
                    value = value[0]
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[name] = float(value)
                    break
        return out

    stack = [payload]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            rows = [{"skill_id": str(k), **normalize(v)} for k, v in node.items() if isinstance(v, dict)]
            if rows and all({"learn", "guess", "slip"} <= set(r) for r in rows):
                return pl.DataFrame(rows)
            stack.extend(node.values())
        elif isinstance(node, list):
            if node and all(isinstance(r, dict) for r in node):
                rows = [{"skill_id": str(r.get("skill_id", r.get("skill"))), **normalize(r)} for r in node]
                if all(r["skill_id"] != "None" and {"learn", "guess", "slip"} <= set(r) for r in rows):
                    return pl.DataFrame(rows)
            stack.extend(node)
    return None


def _item_evidence(payload: dict[str, Any], catalog: Catalog, params: BKTParams, prior_n: float) -> ItemEvidence:
    """The model's KT-IDEM table (`item_guess_slip`: skill = index into the model's skills, item id, guess,
    slip, n answers) on the catalog's (item, skill) pairs; pairs the catalog does not have are left out."""
    table = payload.get("item_guess_slip")
    if not isinstance(table, dict) or not {"skill", "item", "guess", "slip", "n"} <= set(table):
        raise ConfigError("models.bkt component: item_prior_n needs a model fitted with item_params=True whose "
                          "item_guess_slip lists skill, item, guess, slip and n (refit it with this version)")
    model_skills = [str(s) for s in payload["skills"]]
    skill_of = {s: k for k, s in enumerate(catalog.skill_ids)}
    skill = np.array([skill_of.get(model_skills[k], -1) for k in table["skill"]], dtype=np.int64)
    item = np.array([catalog._item_index.get(str(i), -1) for i in table["item"]], dtype=np.int64)  # noqa: SLF001
    ok = (skill >= 0) & (item >= 0)
    ok[ok] = catalog.item_skills[item[ok], skill[ok]]
    if not ok.all():
        log.info("BKT item table: %d of %d (skill, item) pairs are not in catalog %r and are not used",
                 int((~ok).sum()), ok.size, catalog.name)
    column = {key: np.asarray(table[key], dtype=float)[ok] for key in ("guess", "slip", "n")}
    return ItemEvidence.from_pairs(catalog.n_items, params.guess, params.slip, item[ok], skill[ok], column["guess"],
                                   column["slip"], column["n"], prior_n)


class BKTModelSkills(BKTSkillModel):
    """`SkillModel` backed by a fitted `models.bkt` model: its per-skill (prior, learn, guess, slip,
    forget) as a `BKTParams` table over the catalog's skills. Skills the model has not seen take its
    pooled parameters (models.bkt layout) or else the catalog's population priors / the defaults.
    With `item_prior_n` (a KT-IDEM model), each answer is weighed by its item's guess and slip, shrunk
    toward the skill's by `item_prior_n` answers (`engine.mastery.item_evidence`)."""

    def __init__(self, payload: dict[str, Any], catalog: Catalog, item_prior_n: float | None = None) -> None:
        native = _models_bkt_table(payload)
        table, pooled = native if native is not None else (_per_skill_table(payload), None)
        if table is None:
            raise ConfigError("cannot find per-skill BKT parameters (learn, guess, slip per skill id) in the models.bkt payload")
        ours = table.filter(pl.col("skill_id").is_in(list(catalog.skill_ids)))
        if ours.height == 0:
            raise ConfigError(f"the BKT model has no skill of catalog {catalog.name!r} (e.g. {table['skill_id'][:3].to_list()})")
        if pooled is not None:  # skills the model has not seen take its pooled parameters
            base = pl.DataFrame({"skill_id": list(catalog.skill_ids), **{k: [v] * catalog.n_skills for k, v in pooled.items()}})
        elif catalog.skill_params.height:
            base = catalog.skill_params
        else:
            base = pl.DataFrame({"skill_id": list(catalog.skill_ids)})
        missing = [c for c in PARAM_NAMES if c not in ours.columns]
        fill = base.select(["skill_id", *[c for c in missing if c in base.columns]])
        merged = ours.join(fill, on="skill_id", how="left") if missing else ours
        rest = base.filter(~pl.col("skill_id").is_in(ours["skill_id"].to_list()))
        frame = pl.concat([merged.select([c for c in ["skill_id", *PARAM_NAMES] if c in merged.columns]),
                           rest.select([c for c in ["skill_id", *PARAM_NAMES] if c in rest.columns])], how="diagonal_relaxed")
        params = BKTParams.from_frame(frame, catalog.skill_ids, source=f"models.bkt:{_fingerprint(payload)}")
        items = None if item_prior_n is None else _item_evidence(payload, catalog, params, float(item_prior_n))
        super().__init__(params, items)
        self.payload = payload
        self.item_prior_n = item_prior_n

    def to_component(self) -> dict[str, Any]:
        extra = {} if self.item_prior_n is None else {"item_prior_n": self.item_prior_n}
        return {"kind": "models.bkt", "model": self.payload, **extra}


def bkt_skills(model_or_payload: Any, catalog: Catalog, item_prior_n: float | None = None) -> BKTModelSkills:
    """A `BKTModelSkills` from a fitted `models.bkt` model (anything with `to_dict()`) or its payload;
    `item_prior_n` turns on item-level evidence (see `BKTModelSkills`)."""
    payload = model_or_payload if isinstance(model_or_payload, dict) else model_or_payload.to_dict()
    return BKTModelSkills(payload, catalog, item_prior_n)


# ---- component registry --------------------------------------------------------------------------

def _kind(spec: Any, what: str) -> str:
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ConfigError(f"{what} component must be an object with a 'kind' (got {type(spec).__name__})")
    return str(spec["kind"])


def skill_model_from_component(spec: dict[str, Any], catalog: Catalog) -> BKTSkillModel:
    kind = _kind(spec, "skill_model")
    if kind == "bkt-table":
        return BKTSkillModel(BKTParams.from_dict(spec["params"], catalog.skill_ids))
    if kind == "models.bkt":
        prior_n = spec.get("item_prior_n")
        if prior_n is not None and (isinstance(prior_n, bool) or not isinstance(prior_n, (int, float))):
            raise ConfigError(f"models.bkt component: item_prior_n must be a number or absent, got {prior_n!r}")
        return bkt_skills(spec["model"], catalog, prior_n)
    raise ConfigError(f"unknown skill_model kind {kind!r}; known: bkt-table, models.bkt")


def ability_model_from_component(spec: dict[str, Any], catalog: Catalog) -> tuple[GridEAP, Catalog]:
    """The ability model and the catalog it implies (a `models.irt` bank recalibrates the items)."""
    kind = _kind(spec, "ability_model")
    if kind == "grid-eap":
        try:
            return GridEAP(**spec.get("params", {})), catalog
        except TypeError as exc:
            raise ConfigError(f"grid-eap params: {exc}") from None
    if kind == "models.irt":
        model = irt_ability(spec["model"], drift=float(spec.get("drift", 0.05)), grid_points=int(spec.get("grid_points", 81)))
        return model, model.apply_to(catalog)
    raise ConfigError(f"unknown ability_model kind {kind!r}; known: grid-eap, models.irt")


def to_component(model: Any, what: str) -> dict[str, Any]:
    """A model's component dict; models without `to_component` cannot be stored."""
    if not hasattr(model, "to_component"):
        raise ConfigError(f"{what} {type(model).__name__} has no to_component(); wrap it in an adapter of engine.mastery.adapters")
    return model.to_component()
