"""`Recommender`: candidates -> scores -> re-rank -> top k, each with components, reason, versions, propensity.

`recommend(state, k)` serves one student (the service, the CLI); `choose_batch(batch, k)` runs the
same policy over many students at once (the simulator). Inputs are mastery states, the catalog, teacher
constraints and time: no function here accepts a demographic attribute.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from engine.catalog import Catalog
from engine.catalog.schema import ADVANCED, LEVELS, RESOURCE_KINDS
from engine.errors import ConfigError, DataError
from engine.mastery import MasteryBatch, MasteryEngine, MasteryState
from engine.recommend.config import COMPONENTS, RecommenderConfig
from engine.recommend.constraints import ResolvedConstraints, TeacherConstraints, resolve
from engine.recommend.effectiveness import ResourceEffectiveness
from engine.recommend.explain import reason
from engine.recommend.learning import DifficultyProgress
from engine.recommend.placement import (PLACEMENT_SD, PLACEMENT_WEIGHTS, Placement, ReadyPlace, choose_placement,
                                        entry_resources, needs_placement, placement_reason)
from engine.recommend.ready import became_ready_at
from engine.recommend.scoring import ResourceGeometry, Scored, remedial_closed, score_resources
from engine.recommend.selection import Selection, select


@dataclass(frozen=True)
class Recommendation:
    """One recommended resource with the next item to practise on its skill."""

    rank: int
    resource_id: str
    title: str
    kind: str
    level: str
    skill_ids: tuple[str, ...]
    item_id: str | None
    score: float
    components: dict[str, float]
    weights: dict[str, float]
    reason: str
    propensity: float
    item_propensity: float
    model_versions: dict[str, str]
    placement: bool = False  # a placement question (cold start: the student's level is not known yet)
    item_p: float | None = None  # the item's predicted success for the student when served (before the resource)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (strict JSON: a propensity that could not be estimated is null, never NaN)."""
        return {"rank": self.rank, "resource_id": self.resource_id, "title": self.title, "kind": self.kind,
                "level": self.level, "skill_ids": list(self.skill_ids), "item_id": self.item_id,
                "score": _finite(self.score), "components": {k: _finite(v) for k, v in self.components.items()},
                "weights": {k: _finite(v) for k, v in self.weights.items()}, "reason": self.reason, "propensity": _finite(self.propensity),
                "item_propensity": _finite(self.item_propensity), "model_versions": dict(self.model_versions),
                "placement": self.placement, "item_p": None if self.item_p is None else _finite(self.item_p)}


_THREAD = threading.local()


def thread_rng() -> np.random.Generator:
    """This thread's generator, seeded from the OS once (seeding a new one costs about 0.1 ms a call)."""
    rng = getattr(_THREAD, "rng", None)
    if rng is None:
        rng = _THREAD.rng = np.random.default_rng()
    return rng


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass(frozen=True)
class BatchChoice:
    """(N, k) chosen resource and paired item indices (-1 = none), with the selection details and the
    (N, R) advanced-ready mask (students ready for each advanced resource)."""

    resources: np.ndarray
    items: np.ndarray
    item_p_correct: np.ndarray
    selection: Selection
    advanced_ready: np.ndarray


def _check_k(k: int) -> None:
    if not isinstance(k, (int, np.integer)) or k <= 0:
        raise ConfigError(f"k must be a positive integer (how many recommendations), got {k!r}")


class Recommender:
    """The equilearn policy over one catalog and mastery engine."""

    def __init__(self, engine: MasteryEngine | Catalog, config: RecommenderConfig | MasteryEngine | None = None,
                 effectiveness: ResourceEffectiveness | RecommenderConfig | dict | None = None, *,
                 resource_effectiveness: ResourceEffectiveness | None = None,
                 progress: DifficultyProgress | None = None) -> None:
        """`Recommender(engine, config=None, effectiveness=None)`; `Recommender(catalog, engine, config)` is
        accepted too (the catalog must be the engine's). `config` may be a `RecommenderConfig` or its dict."""
        if isinstance(engine, Catalog):
            catalog, engine, config, effectiveness = engine, config, effectiveness, resource_effectiveness  # type: ignore[assignment]
            if not isinstance(engine, MasteryEngine):
                raise ConfigError("Recommender(catalog, engine, config): the second argument must be a MasteryEngine")
            if catalog is not engine.catalog and (catalog.name, catalog.version, catalog.resource_ids, catalog.item_ids) != (
                    engine.catalog.name, engine.catalog.version, engine.catalog.resource_ids, engine.catalog.item_ids):
                raise ConfigError(f"catalog {catalog.name!r} is not the mastery engine's catalog {engine.catalog.name!r}")
        elif resource_effectiveness is not None:
            effectiveness = resource_effectiveness
        if not isinstance(engine, MasteryEngine):
            raise ConfigError(f"Recommender needs a MasteryEngine, got {type(engine).__name__}")
        if isinstance(config, dict):
            config = RecommenderConfig.from_dict(config)
        self.engine = engine
        self.catalog = engine.catalog
        self.config = config or RecommenderConfig()
        self.effectiveness = effectiveness or ResourceEffectiveness(self.catalog.resource_ids)
        if not isinstance(self.effectiveness, ResourceEffectiveness) or self.effectiveness.resource_ids != self.catalog.resource_ids:
            raise ConfigError("resource effectiveness must be a ResourceEffectiveness built for this catalog's resource ids")
        self.progress = progress if progress is not None else DifficultyProgress()
        readiness = self.progress.skill_readiness
        if readiness is not None and readiness.shape != (self.catalog.n_skills,):
            raise ConfigError(f"policy learning skill_readiness has {readiness.size} values for the {self.catalog.n_skills} "
                              f"skills of catalog {self.catalog.name!r}; build the model set with this catalog")
        self.geometry = ResourceGeometry.of(self.catalog)
        res = self.catalog.resources
        titles = res["title"].to_list() if "title" in res.columns else [None] * res.height
        self._titles = [str(t or r) for t, r in zip(titles, self.catalog.resource_ids)]
        self._resource_skill_ids = [tuple(x) for x in res["skill_ids"].to_list()]
        self._resources_allowed = np.ones(self.catalog.n_resources, dtype=bool)
        if self.config.blocked_resources:
            self._resources_allowed[self.catalog.resource_indices(self.config.blocked_resources)] = False
        self._entry = entry_resources(self.catalog, self._resources_allowed)  # a placement question's fallback resources
        self._items_allowed: np.ndarray | None = None
        if self.config.blocked_items:
            self._items_allowed = np.ones(self.catalog.n_items, dtype=bool)
            self._items_allowed[[self.catalog.item_index(i) for i in self.config.blocked_items]] = False

    def versions(self) -> dict[str, str]:
        return {**self.engine.versions(), "recommender": self.config.version}

    def _score(self, batch: MasteryBatch, now: float | np.ndarray | None, constraints: TeacherConstraints | None,
               rng: np.random.Generator) -> tuple[Scored, np.ndarray, object]:
        resolved = resolve(constraints, self.catalog, self._resources_allowed, self._items_allowed)
        scored = score_resources(self.engine, batch, now, self.config, self.geometry, resolved, rng, self.progress)
        w = self.config.weights
        base = sum(w[name] * value for name, value in scored.components.items())
        return scored, base, resolved

    def choose_batch(self, batch: MasteryBatch, k: int = 1, *, now: float | np.ndarray | None = None,
                     constraints: TeacherConstraints | None = None, rng: np.random.Generator | None = None,
                     propensity_draws: int = 0, placement_sd: float | None = PLACEMENT_SD) -> BatchChoice:
        """The policy for every student of `batch` at once (propensities only when `propensity_draws` > 0;
        placement rows always carry theirs). Rows in placement (`placement.needs_placement`) get placement questions."""
        _check_k(k)
        rng = rng if rng is not None else thread_rng()
        place = needs_placement(batch, placement_sd)
        if place.any():
            return self._choose_batch_placement(batch, place, k, now, constraints, rng, propensity_draws, placement_sd)
        scored, base, resolved = self._score(batch, now, constraints, rng)
        sel = select(base, scored.candidates, scored.advanced_ready, self.catalog, self.config, self.effectiveness,
                     k, resolved.pinned, rng, draws=propensity_draws, ready_weight=scored.ready_weight,
                     ready_due=scored.ready_due)
        safe = np.maximum(sel.resources, 0)
        rows = np.arange(len(batch))[:, None]
        skill = scored.target[rows, safe]
        items = np.where(sel.resources >= 0, scored.items.item[rows, skill], -1)
        p_item = np.where(sel.resources >= 0, scored.items.p_correct[rows, skill], np.nan)
        return BatchChoice(sel.resources, items, p_item, sel, scored.advanced_ready)

    def recommend(self, state: MasteryState, k: int = 5, *, now: float | None = None,
                  constraints: TeacherConstraints | None = None, rng: np.random.Generator | None = None,
                  placement_sd: float | None = PLACEMENT_SD) -> list[Recommendation]:
        """Top-k recommendations for one student, each explained (see `Recommendation`); placement questions
        while the student is in placement (`placement.needs_placement`; `placement_sd=None`: never)."""
        _check_k(k)
        if not isinstance(state, MasteryState) or state.p_learned.shape != (self.catalog.n_skills,):
            raise DataError(f"expected a MasteryState over the {self.catalog.n_skills} skills of catalog {self.catalog.name!r} "
                            "(build it with MasteryEngine.new_state or state_from_dict)")
        rng = rng if rng is not None else thread_rng()
        batch = MasteryBatch.stack([state])
        if needs_placement(batch, placement_sd)[0]:
            return self._placement_list(state, batch, k, now, constraints, rng)
        scored, base, resolved = self._score(batch, now, constraints, rng)
        sel = select(base, scored.candidates, scored.advanced_ready, self.catalog, self.config, self.effectiveness,
                     k, resolved.pinned, rng, draws=self.config.propensity_draws, ready_weight=scored.ready_weight,
                     ready_due=scored.ready_due)
        return self._explain(state, now, scored, sel, resolved)

    def recommend_dicts(self, state: MasteryState | dict, k: int = 5, *, now: float | None = None,
                        constraints: TeacherConstraints | dict | None = None, seed: int | None = None) -> list[dict[str, object]]:
        """`recommend` with JSON in and out: `state` may be `MasteryEngine.state_to_dict` output, `constraints`
        a `TeacherConstraints.to_dict()`-style dict; the seed makes the random choices repeatable."""
        if isinstance(state, dict):
            state = self.engine.state_from_dict(state)
        if isinstance(constraints, dict):
            constraints = TeacherConstraints.from_dict(constraints)
        recs = self.recommend(state, k, now=now, constraints=constraints, rng=np.random.default_rng(seed))
        return [r.to_dict() for r in recs]

    def _value(self, resource: int) -> float:
        """What `resource` teaches relative to its level's average step, as measured from the build's log (1: unmeasured)."""
        values = self.progress.resource_multipliers(self.catalog.resource_ids)
        return 1.0 if values is None else float(values[resource])

    def _explain(self, state: MasteryState, now: float | None, scored: Scored, sel: Selection, resolved) -> list[Recommendation]:
        cat, w = self.catalog, dict(self.config.weights)
        versions = self.versions()
        p = scored.status.p[0].tolist()
        out: list[Recommendation] = []
        for j, r in enumerate(sel.resources[0].tolist()):
            if r < 0:
                break
            skill = int(cat.resource_skill[r])
            target = int(scored.target[0, r])
            comps = {name: float(scored.components[name][0, r]) for name in scored.components}
            comps["diversity"] = float(sel.diversity[0, j])
            comps["exploration"] = float(sel.exploration[0, j])
            comps = {name: comps[name] for name in COMPONENTS}
            item = int(scored.items.item[0, target])
            item_p = float(scored.items.p_correct[0, target]) if item >= 0 else None
            text = reason(
                cat, r, p, float(scored.status.p_now[0, skill]), float(state.last_practice[skill]), now, comps, w,
                pinned=bool(sel.pinned[0, j]), assigned=None if resolved.assigned is None else bool(resolved.assigned[skill]),
                on_fringe=bool(scored.status.fringe[0, skill]), guaranteed_advanced=bool(sel.guaranteed_advanced[0, j]),
                kept_for_ready_skill=sel.kept_for_ready_skill is not None and bool(sel.kept_for_ready_skill[0, j]),
                item_p=item_p, uses=int(self.effectiveness.count[r]), value=self._value(r),
            )
            out.append(Recommendation(
                rank=j + 1, resource_id=cat.resource_ids[r], title=self._titles[r],
                kind=RESOURCE_KINDS[cat.resource_kind[r]], level=LEVELS[cat.resource_level[r]],
                skill_ids=self._resource_skill_ids[r],
                item_id=cat.item_ids[item] if item >= 0 else None, score=float(sel.scores[0, j]), components=comps,
                weights=w, reason=text, propensity=float(sel.propensity[0, j]),
                item_propensity=float(scored.items.propensity[0, target]) if item >= 0 else math.nan,
                model_versions=versions, item_p=item_p,
            ))
        return out

    # ---- placement (cold start): rows whose level is not known yet get placement questions (placement.py) ----
    def _placement(self, batch: MasteryBatch, k: int, now: float | np.ndarray | None, constraints: TeacherConstraints | None,
                   rng: np.random.Generator) -> tuple[Placement, ResolvedConstraints, Scored]:
        """The placement questions, each with the resource of its skill that the policy expects to teach most, and the
        policy's ready-skill draw in the last place of a list of k >= 3 among the skills the student's answers unlocked
        (`placement.ReadyPlace`); the policy's scoring is returned for the explanation."""
        resolved = resolve(constraints, self.catalog, self._resources_allowed, self._items_allowed)
        ready_place = None
        unlocked = None if k < 3 or self.config.ready_skill_slots < 1 else \
            np.isfinite(became_ready_at(batch.last_practice, self.geometry.direct_pairs))  # by practice here
        unlocked = unlocked if unlocked is not None and unlocked.any() else None  # (a new student has unlocked nothing)
        scored = score_resources(self.engine, batch, now, self.config, self.geometry, resolved, rng, self.progress)
        if unlocked is not None:
            rows = np.arange(len(batch))[:, None]
            ready_place = ReadyPlace(np.where(unlocked[:, self.catalog.resource_skill], scored.ready_weight, 0.0),
                                     scored.items.item[rows, scored.target], scored.items.propensity[rows, scored.target],
                                     scored.ready_due)
        advanced = self.catalog.resource_level == ADVANCED
        showable = resolved.allowed[None, :] & (~advanced[None, :] | scored.advanced_ready)  # advanced at readiness only
        showable &= ~remedial_closed(scored.status.p, self.catalog, self.config)
        teaches = np.where(showable, scored.gain_before_item, -np.inf)
        pl = choose_placement(self.engine, batch, k, rng=rng, constraints=resolved, randomesque=self.config.randomesque,
                              now=now, ready_place=ready_place, teaches=teaches, p_start=scored.status.p_start,
                              information=scored.item_information,
                              entry=self._entry if np.array_equal(resolved.allowed, self._resources_allowed) else None)
        return pl, resolved, scored

    def _choose_batch_placement(self, batch: MasteryBatch, place: np.ndarray, k: int, now: float | np.ndarray | None,
                                constraints: TeacherConstraints | None, rng: np.random.Generator, draws: int,
                                placement_sd: float | None) -> BatchChoice:
        """`choose_batch` with the `place` (N,) rows given placement questions and the others the policy's choice."""
        def part(rows: np.ndarray) -> float | np.ndarray | None:
            return now[rows] if isinstance(now, np.ndarray) and now.ndim == 1 else now

        pl, _, _ = self._placement(batch.rows(place), k, part(place), constraints, rng)
        none = np.where(pl.resources >= 0, 0.0, np.nan)  # placement has no diversity penalty and no exploration draw
        parts = {"resources": pl.resources, "items": pl.items, "p": pl.p_correct, "scores": pl.information, "diversity": none,
                 "exploration": none, "propensity": pl.propensity, "pinned": pl.pinned, "guaranteed": np.zeros_like(pl.pinned),
                 "kept": pl.ready}
        out = {name: np.empty((len(batch), k), dtype=value.dtype) for name, value in parts.items()}
        for name, value in parts.items():
            out[name][place] = value
        ready = np.zeros((len(batch), self.catalog.n_resources), dtype=bool)
        rest = ~place
        if rest.any():
            other = self.choose_batch(batch.rows(rest), k, now=part(rest), constraints=constraints, rng=rng,
                                      propensity_draws=draws, placement_sd=placement_sd)
            sel = other.selection
            theirs = {"resources": other.resources, "items": other.items, "p": other.item_p_correct, "scores": sel.scores,
                      "diversity": sel.diversity, "exploration": sel.exploration, "propensity": sel.propensity,
                      "pinned": sel.pinned, "guaranteed": sel.guaranteed_advanced,
                      "kept": sel.kept_for_ready_skill if sel.kept_for_ready_skill is not None else np.zeros_like(sel.pinned)}
            for name, value in theirs.items():
                out[name][rest] = value
            ready[rest] = other.advanced_ready
        selection = Selection(out["resources"], out["scores"], out["diversity"], out["exploration"], out["propensity"],
                              out["pinned"], out["guaranteed"], out["kept"])
        return BatchChoice(out["resources"], out["items"], out["p"], selection, ready)

    def _placement_list(self, state: MasteryState, batch: MasteryBatch, k: int, now: float | None,
                        constraints: TeacherConstraints | None, rng: np.random.Generator) -> list[Recommendation]:
        """`recommend` for a student in placement: the placement questions (and a ready skill's place), explained."""
        pl, resolved, scored = self._placement(batch, k, now, constraints, rng)
        cat, versions, weights = self.catalog, self.versions(), dict(PLACEMENT_WEIGHTS)
        out: list[Recommendation] = []
        for j, r in enumerate(pl.resources[0].tolist()):
            if r < 0:
                break
            skill, item = int(pl.skills[0, j]), int(pl.items[0, j])
            assigned = None if resolved.assigned is None else bool(resolved.assigned[skill])
            ready = bool(pl.ready[0, j])
            comps = {name: 0.0 for name in COMPONENTS}
            if ready:  # the policy's own components for a ready skill's place
                comps.update({name: float(values[0, r]) for name, values in scored.components.items()})
            comps["information"], comps["readiness"] = float(pl.information[0, j]), float(pl.readiness[0, j])
            teaches = not ready and not bool(pl.pinned[0, j])
            if teaches:  # the resource beside the question: what it is expected to teach (weight 0 in a placement score)
                comps["gain"] = float(scored.gain_before_item[0, r])
            item_p = float(pl.p_correct[0, j]) if ready and item >= 0 else None  # placement questions: none (schemas)
            if ready:
                text = reason(cat, r, scored.status.p[0].tolist(), float(scored.status.p_now[0, skill]),
                              float(state.last_practice[skill]), now, comps, weights, pinned=False, assigned=assigned,
                              on_fringe=bool(scored.status.fringe[0, skill]), guaranteed_advanced=False, item_p=item_p,
                              uses=int(self.effectiveness.count[r]), kept_for_ready_skill=True, value=self._value(r))
            else:
                text = placement_reason(cat, skill, state.n_responses, pinned=bool(pl.pinned[0, j]), assigned=assigned,
                                        teaches=teaches)
            out.append(Recommendation(
                rank=j + 1, resource_id=cat.resource_ids[r], title=self._titles[r], kind=RESOURCE_KINDS[cat.resource_kind[r]],
                level=LEVELS[cat.resource_level[r]], skill_ids=self._resource_skill_ids[r],
                item_id=cat.item_ids[item] if item >= 0 else None, score=float(pl.information[0, j]), components=comps,
                weights=weights, reason=text, propensity=float(pl.propensity[0, j]),
                item_propensity=float(pl.item_propensity[0, j]), model_versions=versions, placement=not ready, item_p=item_p,
            ))
        return out
