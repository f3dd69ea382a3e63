"""Equilearn as a policy, reached only through the documented HTTP routes (docs/service.md).

Each step: ``GET /v1/students/{id}/recommendations?k=5`` for every student (a few requests in flight),
the student answers the ``item_id`` of the first recommendation (resources teach nothing of their own in
this world, so the resource is shown but only its paired item counts), then one ``POST /v1/events``
batch with every student's answer. At the end ``GET /v1/students/{id}/mastery`` reads the ``mastered``
flags. Anything an outside platform would trip over is counted in ``Friction``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import numpy as np

from experiments.outside_check.pipeline import step_time
from experiments.outside_check.world import World


@dataclass
class Friction:
    """What went wrong or was surprising over HTTP, counted by kind, with one example of each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def note(self, kind: str, example: str = "") -> None:
        self.counts[kind] += 1
        self.examples.setdefault(kind, example[:300])


@dataclass
class ServedStats:
    """What the service recommended first, counted over all students and steps."""

    level: Counter = field(default_factory=Counter)
    kind: Counter = field(default_factory=Counter)
    placement_steps: int = 0
    steps: int = 0
    fallback_steps: int = 0
    audit_status: Counter = field(default_factory=Counter)
    latency_ms: list[float] = field(default_factory=list)
    cold_start_with_item: int = 0  # brand-new students (first request) whose answer held a usable item
    cold_start_total: int = 0


class EquilearnOverHTTP:
    """The running service as a ``Policy``: one recommendation request per student per step."""

    name = "equilearn"

    def __init__(self, world: World, student_ids: list[str], base_url: str, key: str, start: datetime,
                 seed: int, k: int = 5, concurrency: int = 4) -> None:
        self.world, self.ids, self.start, self.k = world, student_ids, start, k
        self.listed = np.full((len(student_ids), k), -1)  # world items of each student's last list (`Policy`)
        self.rng = np.random.default_rng(seed)
        self.friction, self.stats = Friction(), ServedStats()
        self._limit = concurrency
        self._loop = asyncio.new_event_loop()
        self._client = httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": key}, timeout=60)

    # -- the Policy protocol -------------------------------------------------------------------
    def choose(self, step: int) -> np.ndarray:
        answers = self._run(self._get_all([f"/v1/students/{sid}/recommendations?k={self.k}" for sid in self.ids]))
        fallbacks_before = self.stats.fallback_steps
        items = np.array([self._pick(body) for body in answers])
        self.listed = np.array([self._listed(body) for body in answers])
        if step == 0:
            self.stats.cold_start_total += len(self.ids)
            self.stats.cold_start_with_item += len(self.ids) - (self.stats.fallback_steps - fallbacks_before)
        return items

    def observe(self, step: int, items: np.ndarray, correct: np.ndarray) -> None:
        stamp = step_time(self.start, step)
        events = [{"event_id": f"{sid}-{step}", "student_id": sid, "item_id": self.world.item_ids[i],
                   "correct": int(c), "timestamp": stamp} for sid, i, c in zip(self.ids, items, correct)]
        for first in range(0, len(events), 1000):  # the documented batch cap
            self._run(self._post("/v1/events", {"events": events[first:first + 1000]}))

    # -- the end-of-run read ---------------------------------------------------------------------
    def mastered_flags(self) -> np.ndarray:
        """(S, K) the service's ``mastered`` flag per student and skill (False where unreadable)."""
        flags = np.zeros((len(self.ids), self.world.n_skills), dtype=bool)
        column = {sid: k for k, sid in enumerate(self.world.skill_ids)}
        bodies = self._run(self._get_all([f"/v1/students/{sid}/mastery" for sid in self.ids]))
        for row, body in enumerate(bodies):
            for skill in (body or {}).get("skills", []):
                if "mastered" not in skill:
                    self.friction.note("mastery skill without `mastered` field", str(skill))
                elif skill.get("skill_id") in column:
                    flags[row, column[skill["skill_id"]]] = bool(skill["mastered"])
        return flags

    def close(self) -> None:
        self._run(self._client.aclose())
        self._loop.close()

    # -- internals ----------------------------------------------------------------------------------
    def _run(self, coroutine):  # noqa: ANN001, ANN202 - a thin bridge to one event loop
        return self._loop.run_until_complete(coroutine)

    async def _get_all(self, paths: list[str]) -> list[dict | None]:
        limit = asyncio.Semaphore(self._limit)

        async def one(path: str) -> dict | None:
            async with limit:
                return await self._request("GET", path)

        return await asyncio.gather(*(one(p) for p in paths))

    async def _post(self, path: str, body: dict) -> dict | None:
        return await self._request("POST", path, json=body)

    async def _request(self, method: str, path: str, **kwargs: object) -> dict | None:
        """One request, retried on 503/429 (documented as transient, with Retry-After) up to 5 times."""
        for attempt in range(5):
            loop = asyncio.get_running_loop()
            began = loop.time()
            try:
                answer = await self._client.request(method, path, **kwargs)
            except httpx.HTTPError as error:
                self.friction.note(f"{method} transport error", repr(error))
                await asyncio.sleep(0.5 * (attempt + 1))
                continue
            if method == "GET" and "recommendations" in path:
                self.stats.latency_ms.append(1000 * (loop.time() - began))
            if answer.status_code in (429, 503):
                self.friction.note(f"{method} {answer.status_code}", answer.text)
                await asyncio.sleep(float(answer.headers.get("Retry-After", 1)))
                continue
            if answer.status_code >= 400:
                self.friction.note(f"{method} {path.split('/')[2]} {answer.status_code}", answer.text)
                return None
            return answer.json()
        return None

    def _listed(self, body: dict | None) -> list[int]:
        """The world item index of every recommendation in the answer, in order, padded with -1 to k."""
        recs = (body or {}).get("recommendations") or []
        known = [self.world.item_index[r["item_id"]] for r in recs if r.get("item_id") in self.world.item_index]
        return (known + [-1] * self.k)[:self.k]

    def _pick(self, body: dict | None) -> int:
        """The first recommendation's item; a random item (counted) if the answer has none usable."""
        self.stats.steps += 1
        if body is not None:
            model_set = body.get("model_set") or {}
            self.stats.audit_status[model_set.get("audit_status")] += 1
            if model_set.get("warning"):
                self.friction.note("model_set.warning in a recommendation", str(model_set["warning"]))
            recs = body.get("recommendations") or []
            if not recs:
                self.friction.note("200 with an empty recommendation list", str(body)[:300])
            for position, rec in enumerate(recs):
                item = rec.get("item_id")
                if item is None:
                    self.friction.note("recommendation without item_id", str(rec)[:300])
                    continue
                if item not in self.world.item_index:
                    self.friction.note("recommended item not in our catalog", item)
                    continue
                if position > 0:
                    self.friction.note("first recommendation unusable, took a later one")
                self.stats.level[rec.get("level")] += 1
                self.stats.kind[rec.get("kind")] += 1
                if "placement" in str(rec.get("reason", "")).lower():
                    self.stats.placement_steps += 1
                return self.world.item_index[item]
        self.stats.fallback_steps += 1
        return int(self.rng.integers(0, self.world.n_items))
