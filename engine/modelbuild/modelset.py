"""`build_model_set`: every served component fitted from one response log against one catalog.

    model_set, diagnostics = build_model_set(catalog, responses, predictor="auto", seed=0)
    write_model_set_file(path, model_set)            # what EQUILEARN_MODEL_SET_FILE serves
    register_built_set("equilearn", model_set)       # a new MLflow version (promote it after its audit)

Steps: check the log against the catalog (`data.prepare_log`); with held-out students (a seeded 20 %
split by student), fit bank + skill model on the rest, replay the held-out students' responses in order
and score every `irt_weight` of the blend (`predictor.py`); choose the weight (`auto`: highest AUC); replay
them again per forgetting stability and keep the one with the smallest log-loss (`forgetting.py`), then
per weight of each item's own guess and slip (`item_evidence.py`), with the skills following the general ability
or not (`sharing.py`), per slope of the general ability's shift of an unanswered skill (`ability_link.py`); fit bank and
skill model again on every student; assemble the components (layout in docs/service.md, "Model sets built from a log"):

- `mastery`: `MasteryEngine.to_components()`: `models.irt` item bank (2PL by default, priors on a and b),
  `models.bkt` skill model (KT-IDEM fitted with a forget term that is then set to 0: `fit_components`; with
  the chosen `item_prior_n`), settings with the chosen `irt_weight`, `stability_days`, `share_general` and
  `ability_slope`;
- `recommender`: `RecommenderConfig().to_dict()` (the defaults);
- `catalog`: the catalog as a one-document bundle, so a server serves it without an upload;
- `policy_learning`: what the recommender learns from outcomes (`engine.recommend.learning.fit_from_log`,
  when that module exists);
- `build`: metadata: options, data fingerprint, the predictor's and the forgetting's choice with their
  held-out figures, the items whose answers follow another skill better than their tag (`item_tags.py`; reported,
  and retagged only with `apply_item_tags`), diagnostics, seconds per stage. The service ignores it.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import importlib.util
import math
import time
from datetime import datetime, timezone
from typing import Any

import numpy as np
import polars as pl

from engine.modelbuild.ability_link import AbilityLinkChoice, choose_ability_slope
from engine.modelbuild.bank import (MIN_RESPONSES, PRIOR_A, PRIOR_B, BankFit, calibration_answers, fit_bank, served_ability,
                                    uncalibrated_note)
from engine.modelbuild.data import PreparedLog, prepare_log
from engine.modelbuild.diagnostics import Diagnostics
from engine.modelbuild.fitting import LOCAL, Fitter
from engine.modelbuild.forgetting import ForgettingChoice, choose_stability
from engine.modelbuild.item_tags import check_item_tags
from engine.modelbuild.guessing import AUTO, NULL_MODEL, GuessingChoice, choose_irt_model, fixed
from engine.modelbuild.item_evidence import ItemEvidenceChoice, choose_prior_n
from engine.modelbuild.predictor import PREDICTORS, WEIGHTS, HeldOut, choose_weight, sequential_predictions
from engine.modelbuild.sharing import SharingChoice, choose_sharing
from engine.catalog import Catalog
from engine.errors import ConfigError, DataError
from engine.evaluation.splits import split_students
from engine.mastery import MasteryConfig, MasteryEngine
from engine.mastery.adapters import bkt_skills
from engine.recommend import RecommenderConfig
from engine.recommend.outcomes import measure_effectiveness
from engine.registry.model_set import content_sha256
from engine.runtime.catalogs import catalog_from_dict, catalog_to_dict
from engine.runtime.modelset import NOT_AUDITED, LocalModelSet, build_policy


BUILD_FORMAT = "equilearn-build"
BUILD_FORMAT_VERSION = 1
SERVED = ("mastery", "recommender", "catalog", "policy_learning", "resource_effectiveness")  # what the service reads


@dataclasses.dataclass(frozen=True)
class Fitted:
    """Bank, skill model and the engine over them, for one set of students; seconds per fit."""

    bank: BankFit
    skills: Any  # models.bkt.BKT
    engine: MasteryEngine
    seconds: dict[str, float]
    bank_note: str | None = None  # which answers the bank was calibrated on, when the log marks steered ones


def fit_components(catalog: Catalog, responses: pl.DataFrame, *, irt_model: str, min_item_responses: int,
                   prior_a: tuple[float, float], prior_b: tuple[float, float], irt_weight: float, seed: int,
                   standard_errors: str = "auto", fit: Fitter = LOCAL, stability_days: float | None = None,
                   item_prior_n: float | None = None, share_general: bool = False,
                   mastery_success: float | None = None, claim_stability_days: float | None = None,
                   ability_slope: float | None = None) -> Fitted:
    """Item bank + BKT on `responses` (prepared: catalog items, catalog skill_ids), as an engine (the bank on the answers
    the adaptive policy did not choose, when the log marks them: `bank.calibration_answers`); the BKT
    has a guess and slip per (skill, item) (KT-IDEM), weighed in by `item_prior_n` (None: per skill only;
    `engine.mastery.item_evidence`). `fit` runs the two fits (`engine.modelbuild.fitting`: in this process by
    default); `stability_days` the forgetting to serve (None: the engine's default), `claim_stability_days` the one
    the reported mastered flag assumes (None: the same; `ForgettingChoice.claim_stability_days`); `share_general` whether the
    practised skills follow the general ability (`engine.modelbuild.sharing`); `mastery_success` the success rate
    on a skill's typical item that the platform counts as mastered (None: the engine's default, 0.8); `ability_slope` how
    far the general ability shifts an unanswered skill's starting P(learned) (`engine.modelbuild.ability_link`; None: the
    engine's default).

    The BKT is fitted with a forget probability per skill and served without it (`without_forgetting`). Fitted
    without one on a log whose students forget, EM reads every lost skill as a slip (in the suite's forgetful BKT
    world the slips came out at 0.15 against the world's 0.10) and the learn rates low, which blunts what each
    answer says; the forget term keeps guess, slip and learn for what they are. Serving it as well would count
    forgetting twice: the engine forgets by time (`MasteryConfig.stability_days`, measured on held-out students)."""
    from models.bkt import BKT  # noqa: PLC0415 - numba kernels load on first use

    t0 = time.perf_counter()
    calibrated_on, bank_note = calibration_answers(responses, min_item_responses)
    bank = fit_bank(catalog, calibrated_on, irt_model, min_item_responses, prior_a, prior_b, standard_errors, fit)
    t1 = time.perf_counter()
    try:
        skills = without_forgetting(fit(BKT(item_params=True, forgets=True, random_state=seed), responses))
    except ValueError as exc:
        raise DataError(f"skill model (BKT) cannot be fitted: {exc}") from None
    t2 = time.perf_counter()
    ability, served = served_ability(bank, catalog)  # the bank's (a, b, c) for the items it holds, as from_components does
    chosen = {} if stability_days is None else {"stability_days": float(stability_days)}
    if claim_stability_days is not None:
        chosen["claim_stability_days"] = float(claim_stability_days)
    if mastery_success is not None:
        chosen["mastery_success"] = float(mastery_success)
    if ability_slope is not None:
        chosen["ability_slope"] = float(ability_slope)
    engine = MasteryEngine(served, bkt_skills(skills, served, item_prior_n), ability,
                           MasteryConfig(irt_weight=irt_weight, share_general=share_general, **chosen))
    return Fitted(bank, skills, engine, {"bank": round(t1 - t0, 3), "skills": round(t2 - t1, 3)}, bank_note)


def without_forgetting(skills: Any) -> Any:
    """A copy of a fitted `models.bkt.BKT` whose per-opportunity forget probabilities are 0 (the engine forgets by
    time instead; `fit_components`). Everything else it learned is kept."""
    served = copy.copy(skills)
    served.forget_ = np.zeros_like(skills.forget_)
    return served


def _policy_learning_component(engine: MasteryEngine, responses: pl.DataFrame,
                               notes: list[str]) -> dict[str, Any] | None:
    """What the recommender learns from outcomes (`engine.recommend.learning.fit_from_log(engine, responses)`,
    a JSON object), or None while that module does not exist; `notes` receives its notes for the diagnostics."""
    if importlib.util.find_spec("engine.recommend.learning") is None:
        return None
    module = importlib.import_module("engine.recommend.learning")
    fit = getattr(module, "fit_from_log", None)
    if fit is None:
        return None
    component = fit(engine, responses, notes=notes)
    if component is not None and not isinstance(component, dict):
        raise ConfigError(f"engine.recommend.learning.fit_from_log returned {type(component).__name__}, not a JSON object")
    return component


@dataclasses.dataclass(frozen=True)
class HeldOutFit:
    """The held-out students' sequential predictions, the engine fitted without them, and their responses."""

    predictions: HeldOut
    engine: MasteryEngine
    responses: pl.DataFrame
    info: dict[str, Any]


def _split(prepared: PreparedLog, fraction: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """(training, held-out) responses, split by student (None with --test-fraction 0)."""
    if fraction <= 0:
        return None
    train, test = split_students(prepared.responses, fraction, seed)
    if train.height == 0:
        raise DataError("the log has too few students to hold some out; use --test-fraction 0 with a fixed --predictor")
    return train, test


def _held_out(catalog: Catalog, split: tuple[pl.DataFrame, pl.DataFrame], fraction: float, seed: int,
              opts: dict[str, Any], seconds: dict[str, float], fit: Fitter = LOCAL) -> HeldOutFit:
    train, test = split
    fitted = fit_components(catalog, train, irt_weight=0.5, seed=seed, standard_errors="none", fit=fit, **opts)
    t0 = time.perf_counter()
    held = sequential_predictions(fitted.engine, test)
    seconds.update({f"held_out_{k}": v for k, v in fitted.seconds.items()})
    seconds["held_out_replay"] = round(time.perf_counter() - t0, 3)
    info = {"n_students": held.n_students, "n_responses": int(held.y.size), "fraction": fraction, "seed": seed}
    return HeldOutFit(held, fitted.engine, test, info)


def _guessing(catalog: Catalog, split: tuple[pl.DataFrame, pl.DataFrame] | None, irt_model: str, seed: int,
              bank_options: dict[str, Any], fit: Fitter) -> GuessingChoice:
    """The bank's model: the caller's, or with `auto` measured on the held-out students (engine.modelbuild.guessing), on
    the answers the bank is calibrated on (`bank.calibration_answers`)."""
    if irt_model != AUTO:
        return fixed(irt_model)
    if split is None:
        return GuessingChoice(NULL_MODEL, {}, "no held-out students (--test-fraction 0): 2PL, as assumed without evidence")
    train, held_out = split
    return choose_irt_model(catalog, calibration_answers(train, bank_options["min_responses"])[0],
                            calibration_answers(held_out, 1)[0], bank_options, fit, seed)


def _forgetting(held: HeldOutFit | None, weight: float) -> ForgettingChoice:
    """The forgetting to serve, measured on the held-out students (engine.modelbuild.forgetting)."""
    if held is None:
        return ForgettingChoice(None, {}, "no held-out students (--test-fraction 0): the engine's default is kept")
    return choose_stability(held.engine, held.responses, weight)


def _item_evidence(held: HeldOutFit | None, forgetting: ForgettingChoice) -> ItemEvidenceChoice:
    """How much each item's own guess and slip count, measured on the held-out students with the served
    forgetting (engine.modelbuild.item_evidence; the score is the skill model's, so the blend weight does not enter)."""
    if held is None:
        return ItemEvidenceChoice(None, {}, "no held-out students (--test-fraction 0): answers are weighed by skill")
    engine = held.engine
    if forgetting.stability_days is not None:
        engine = MasteryEngine(engine.catalog, engine.skill_model, engine.ability_model,
                               dataclasses.replace(engine.config, stability_days=forgetting.stability_days))
    return choose_prior_n(engine, held.responses)


def _sharing(held: HeldOutFit | None, weight: float, forgetting: ForgettingChoice, items: ItemEvidenceChoice,
             fixed: bool | None) -> SharingChoice:
    """Whether the practised skills follow the general ability: `fixed` when given, else measured on the held-out
    students with the served blend, forgetting and item evidence (engine.modelbuild.sharing)."""
    if fixed is not None:
        return SharingChoice(fixed, {}, "fixed by the caller")
    if held is None:
        return SharingChoice(False, {}, "no held-out students (--test-fraction 0): the engine's default (off) is kept")
    return choose_sharing(held.engine, held.responses, weight, forgetting.stability_days, items.prior_n)


def _ability_link(held: HeldOutFit | None, forgetting: ForgettingChoice, items: ItemEvidenceChoice,
                  sharing: SharingChoice) -> AbilityLinkChoice:
    """How far the general ability shifts an unanswered skill's starting P(learned), measured on the held-out students
    with the choices made before it (engine.modelbuild.ability_link)."""
    if held is None:
        return AbilityLinkChoice(None, {}, "no held-out students (--test-fraction 0): the engine's default is kept")
    return choose_ability_slope(held.engine, held.responses, forgetting.stability_days, items.prior_n,
                                sharing.share_general)


def _version(components: dict[str, Any]) -> str:
    """`build-` + the first 12 hex digits of the set's content hash (`engine.registry.model_set.content_sha256`:
    every component but the `build` metadata), so the version names exactly what its audits are bound to."""
    return "build-" + content_sha256(components)[:12]


def _code_version() -> str:
    from engine.registry.store import code_version  # noqa: PLC0415 - no MLflow import behind it

    return code_version()


def build_model_set(catalog: Catalog, responses: pl.DataFrame, *, predictor: str = "auto", seed: int = 0,
                    test_fraction: float = 0.2, irt_model: str = AUTO, min_item_responses: int = MIN_RESPONSES,
                    prior_a: tuple[float, float] = PRIOR_A, prior_b: tuple[float, float] = PRIOR_B,
                    ignore_unknown_items: bool = False, name: str = "equilearn",
                    source: str = "responses", fit: Fitter = LOCAL,
                    share_general: bool | None = None, mastery_success: float | None = None,
                    served_outcomes: pl.DataFrame | None = None,
                    ability_share: float = 0.0, apply_item_tags: bool = False) -> tuple[LocalModelSet, Diagnostics]:
    """Fit every served component from `responses` (canonical log) against `catalog` (module docstring).

    Returns the model set (name, version `build-<sha256 of the served components>`, components, data
    fingerprint, code version, audit status NOT_AUDITED) and its diagnostics. `predictor`: `auto` (choose
    `irt_weight` in WEIGHTS by held-out AUC), `bkt` (0), `blend` (0.5) or `irt` (1). `fit` runs the item bank's
    and the skill model's fits (`engine.modelbuild.fitting`; e.g. `engine.distributed.kt.RayFitter` for Ray,
    the same components); everything else runs here. `share_general`: None measures on the held-out students
    whether the practised skills should follow the general ability (`engine.modelbuild.sharing`); True or False
    fixes it. `mastery_success`: the success rate on a skill's typical item that the platform counts as mastered
    (the mastered flag, and the skills the recommender moves on from; None keeps the engine's 0.8): a platform's
    definition, not something a log can measure. `ability_share`: the served recommender's `ability_share` (its
    reading of mastery on practised skills; 0, the skill model alone): also the platform's call, since a log's
    answers do not say whether its learners keep improving past what a skill model calls learned (docs/engine.md,
    "Two views of mastery"). `served_outcomes` (`engine.recommend.outcomes.follow_up_outcomes` rows, e.g. `read_store_outcomes`):
    what followed each resource the service served; each resource's measured value becomes the component
    `resource_effectiveness`, which the served recommender starts from. The items whose answers follow another skill
    than their tag (`item_tags.check_item_tags`) are reported; with `apply_item_tags` they are retagged to that skill
    before anything is fitted, and the set's catalog carries the new tags (`Catalog.retagged`)."""
    if predictor not in PREDICTORS:
        raise ConfigError(f"--predictor must be one of {', '.join(PREDICTORS)}, got {predictor!r}")
    if not 0 <= test_fraction < 1:
        raise ConfigError(f"--test-fraction must be in [0, 1), got {test_fraction}")
    if mastery_success is not None and not 0.5 <= mastery_success < 1:
        raise ConfigError(f"--mastery-success must be in [0.5, 1) (the success rate on a skill's typical item that counts "
                          f"as mastered; default 0.8), got {mastery_success}")
    recommender = RecommenderConfig(ability_share=ability_share)  # checks the share before the fits run
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(stage: str, start: float) -> float:
        now = time.perf_counter()
        seconds[stage] = round(now - start, 3)
        return now

    prepared = prepare_log(catalog, responses, ignore_unknown_items)
    tags = check_item_tags(prepared.responses, catalog)
    if apply_item_tags and tags.flagged:  # every fit below on the tags the answers show
        catalog = catalog.retagged({f.item_id: f.suggested for f in tags.flagged})
        prepared = prepare_log(catalog, responses, ignore_unknown_items)
    t = lap("prepare", t0)
    bank_options = {"min_responses": min_item_responses, "prior_a": prior_a, "prior_b": prior_b}
    split = _split(prepared, test_fraction, seed)
    guessing = _guessing(catalog, split, irt_model, seed, bank_options, fit)
    t = lap("irt_model", t)
    opts = {"irt_model": guessing.irt_model, "min_item_responses": min_item_responses, "prior_a": prior_a,
            "prior_b": prior_b}
    held = _held_out(catalog, split, test_fraction, seed, opts, seconds, fit) if split is not None else None
    held_info = held.info if held is not None else None
    t = lap("held_out", t)
    weight, figures = choose_weight(predictor, held.predictions if held is not None else None)
    forgetting = _forgetting(held, weight)
    t = lap("forgetting", t)
    items = _item_evidence(held, forgetting)
    t = lap("item_evidence", t)
    sharing = _sharing(held, weight, forgetting, items, share_general)
    t = lap("share_general", t)
    link = _ability_link(held, forgetting, items, sharing)
    t = lap("ability_slope", t)
    fitted = fit_components(catalog, prepared.responses, irt_weight=weight, seed=seed, fit=fit,
                            stability_days=forgetting.stability_days, claim_stability_days=forgetting.claim_stability_days,
                            item_prior_n=items.prior_n,
                            share_general=sharing.share_general, mastery_success=mastery_success,
                            ability_slope=link.ability_slope, **opts)
    seconds.update({f"fit_{k}": v for k, v in fitted.seconds.items()})
    t = lap("fit", t)
    learning_notes: list[str] = []
    learning = _policy_learning_component(fitted.engine, prepared.responses, learning_notes)
    t = lap("policy_learning", t)
    learning_notes.append(tags.note() + (" (applied: the set's catalog carries the suggested tags)"
                                          if apply_item_tags and tags.flagged else ""))

    components: dict[str, Any] = {
        "mastery": fitted.engine.to_components(),
        "recommender": recommender.to_dict(),
        "catalog": catalog_to_dict(catalog),
    }
    if learning is not None:
        components["policy_learning"] = learning
    measured = None if served_outcomes is None else measure_effectiveness(catalog.resource_ids, served_outcomes)
    if measured is not None and measured.outcomes:
        components["resource_effectiveness"] = measured.effectiveness.to_dict()
    check_servable(components)
    lap("check", t)
    rows = [{"irt_weight": w, **figures[w]} for w in WEIGHTS] if figures else []
    predictor_info = {
        "choice": predictor, "irt_weight": weight, "auc": figures[weight]["auc"] if figures else None,
        "weights": rows, "held_out": held_info,
        "rule": "auto: the irt_weight of " + ", ".join(f"{w:g}" for w in WEIGHTS) + " with the highest held-out AUC "
                "(ties to the smaller weight); bkt = 0, blend = 0.5, irt = 1",
    }
    diagnostics = _diagnostics(catalog, prepared, fitted, min_item_responses, guessing, predictor_info, learning,
                               forgetting, items, sharing, link, learning_notes)
    components["build"] = {
        "format": BUILD_FORMAT, "format_version": BUILD_FORMAT_VERSION,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "options": {"predictor": predictor, "seed": seed, "test_fraction": test_fraction, **opts,
                    "mastery_success": fitted.engine.config.mastery_success, "ability_share": ability_share,
                    "ignore_unknown_items": ignore_unknown_items, "apply_item_tags": apply_item_tags, "source": source,
                    "engine": fit.engine},
        "data": {"fingerprint": prepared.fingerprint(), "n_rows": prepared.n_rows_in,
                 "n_responses": prepared.responses.height},
        "predictor": predictor_info,
        "forgetting": forgetting.to_dict(),
        "item_evidence": items.to_dict(),
        "share_general": sharing.to_dict(),
        "ability_slope": link.to_dict(),
        "irt_model": guessing.to_dict(),
        "item_tags": {**tags.to_dict(), "applied": bool(apply_item_tags and tags.flagged)},
        **({"resource_effectiveness": measured.summary()} if measured is not None else {}),
        "diagnostics": diagnostics.to_dict(),
        "seconds": seconds,
    }
    seconds["total"] = round(time.perf_counter() - t0, 3)
    model_set = LocalModelSet(name, _version(components), components, components["build"]["data"]["fingerprint"],
                              _code_version(), NOT_AUDITED)
    return model_set, diagnostics


def check_servable(components: dict[str, Any]) -> None:
    """Build the service's policy from the components exactly as the server will (the set's own catalog,
    checked against its models), so a set that would not load is never written."""
    catalog = catalog_from_dict(components["catalog"], source="built model-set catalog")
    build_policy(catalog, components, own_catalog=True)


# Fewer students than this in the log and the build says so: in the outside check's world (three worlds pooled,
# experiments/results/outside_variants.md) sets built from 100 or more students left no prior-achievement quartile
# below the mastery-gated curriculum beyond the noise; from 60 students the top quartile gained 0.010 less.
SMALL_LOG_STUDENTS = 100


def repeated_answers(responses: pl.DataFrame) -> str | None:
    """A note when answers repeat an earlier one exactly (same student, item, time and score), or None. They are kept
    (a platform may log a quick second attempt so), but a log exported or concatenated twice shows up here, and fitted
    as it is it counts every answer twice: the note names how many and the first of them."""
    if "timestamp" not in responses.columns:
        return None
    key = pl.struct("student_id", "item_id", "timestamp", "correct")
    repeated = responses.filter(pl.col("timestamp").is_not_null() & ~key.is_first_distinct())
    if repeated.height == 0:
        return None
    first = repeated.row(0, named=True)
    return (f"{repeated.height} answer(s) ({repeated.height / responses.height:.1%} of the log) repeat an earlier answer "
            f"exactly: same student, item, time and score (first: student {first['student_id']!r}, item "
            f"{first['item_id']!r} at {first['timestamp']}); kept as answers, but if the log was exported or joined twice, "
            "remove the duplicates and build again")


def _diagnostics(catalog: Catalog, prepared: PreparedLog, fitted: Fitted, min_item_responses: int,
                 guessing: GuessingChoice, predictor_info: dict[str, Any], learning: dict[str, Any] | None,
                 forgetting: ForgettingChoice, items: ItemEvidenceChoice, sharing: SharingChoice, link: AbilityLinkChoice,
                 learning_notes: list[str]) -> Diagnostics:
    bank = fitted.bank
    n_of = dict(bank.counts.iter_rows())
    low = []
    for item in bank.low_data:
        i = catalog.item_index(item)
        low.append({"item_id": item, "n": int(n_of[item]), "a": float(catalog.item_a[i]), "b": float(catalog.item_b[i]),
                    "c": float(catalog.item_c[i])})
    seen = set(fitted.skills.skills_)
    notes = [f"catalog: {note}" for note in catalog.notes]  # defaults the catalog filled in, said once more here
    if guessing.logloss:
        tried = ", ".join(f"{m} {v:.4f}" for m, v in guessing.logloss.items())
        notes.append(f"item bank measured on the held-out students: {guessing.irt_model.upper()} (held-out log-loss of "
                     f"the IRT predictions: {tried}); {guessing.reason}")
    if fitted.bank_note is not None:
        notes.append(fitted.bank_note)
    if (uncalibrated := uncalibrated_note(bank, min_item_responses)) is not None:
        notes.append(uncalibrated)
    notes.extend(learning_notes)
    if prepared.n_unknown_resource_rows:
        notes.append(f"kept {prepared.n_unknown_resource_rows:,} answers without their resource_id: they name "
                     f"{len(prepared.unknown_resources)} resource(s) not in the catalog (--ignore-unknown-items): "
                     f"{', '.join(prepared.unknown_resources[:5])}")
    if (repeats := repeated_answers(prepared.responses)) is not None:
        notes.append(repeats)
    n_students = int(prepared.responses["student_id"].n_unique())
    if n_students < SMALL_LOG_STUDENTS:
        notes.append(f"a small log: {n_students} students (fewer than {SMALL_LOG_STUDENTS}); in the outside check's world a set "
                     "built from 60 students taught the strongest students less than a mastery-gated curriculum did "
                     "(docs/service.md, \"How large a log\"): build again once more students have answered")
    if learning is None:
        notes.append("no policy_learning component: engine.recommend.learning.fit_from_log is not available in this "
                     "installation")
    if forgetting.stability_days is None:
        notes.append(f"forgetting not measured ({forgetting.reason}): {fitted.engine.config.stability_days:g} days")
    else:
        tried = ", ".join(f"{days:g} d {loss:.4f}" for days, loss in forgetting.logloss.items())
        claim = forgetting.claim_stability_days
        notes.append(f"forgetting measured on the held-out students: stability {forgetting.stability_days:g} days "
                     f"(held-out log-loss: {tried})" + ("" if claim is None else
                     f"; the mastered flag assumes {claim:g} days, shorter beyond one SE of the noise"))
    if items.logloss:
        tried = ", ".join(f"{'skill only' if math.isinf(n) else f'{n:g}'} {loss:.4f}" for n, loss in items.logloss.items())
        chosen = "skill parameters only" if items.prior_n is None else f"item guess/slip shrunk by {items.prior_n:g} answers"
        notes.append(f"answer evidence measured on the held-out students: {chosen} (held-out log-loss by prior_n: {tried})")
    if sharing.logloss:
        tried = ", ".join(f"{'on' if on else 'off'} {loss:.4f}" for on, loss in sharing.logloss.items())
        notes.append(f"practised skills {'follow' if sharing.share_general else 'do not follow'} the general ability, "
                     f"measured on the held-out students (held-out log-loss: {tried})")
    notes.append(link.note(fitted.engine.config.ability_slope))
    return Diagnostics(
        catalog=f"{catalog.name!r} v{catalog.version}", n_rows_in=prepared.n_rows_in, n_responses=prepared.responses.height,
        n_students=n_students, n_unknown_rows=prepared.n_unknown_rows,
        unknown_items=list(prepared.unknown_items), irt_model=guessing.irt_model, min_item_responses=min_item_responses,
        n_items=catalog.n_items, n_calibrated=len(bank.calibrated), low_data_items=low, absent_items=list(bank.absent),
        inestimable_items=list(bank.inestimable), n_skills=catalog.n_skills,
        skills_without_evidence=[s for s in catalog.skill_ids if s not in seen],
        sparse_skills=[str(s) for s in getattr(fitted.skills, "sparse_skills_", [])], predictor=predictor_info, notes=notes,
    )


def diagnostics_of(model_set: Any) -> Diagnostics | None:
    """The diagnostics a built set carries (None for a set not made by `build_model_set`)."""
    build = (getattr(model_set, "components", None) or {}).get("build")
    if not isinstance(build, dict) or build.get("format") != BUILD_FORMAT:
        return None
    return Diagnostics.from_dict({**build["diagnostics"], "predictor": build["predictor"]})


def register_built_set(name: str, model_set: LocalModelSet, settings: Any = None) -> Any:
    """Register the set as a new version of `name` in MLflow (`engine.registry`); returns the `ModelSet`."""
    from engine.registry import register_model_set  # noqa: PLC0415 - MLflow is slow to import

    build = model_set.components.get("build", {})
    params = {"build": {"options": build.get("options", {}), "predictor": build.get("predictor", {}).get("choice"),
                        "irt_weight": build.get("predictor", {}).get("irt_weight")}}
    return register_model_set(name, model_set.components, model_set.data_fingerprint or "", settings, params=params)
