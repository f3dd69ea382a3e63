"""Mastery state: one student (`MasteryState`) or many in arrays (`MasteryBatch`, students x skills).

Per student: IRT ability (EAP `theta`, posterior SD `theta_sd`); per skill: P(learned) as of the last
practice (`p_learned`), evidence counts (responses that touched the skill) and last-practice time
(days, NaN = never or unknown); plus the time of the student's first response (`first_time`, from
which skills never practised here are taken to age) and `responses_since_progress` (responses since a
skill last crossed the mastery threshold) for stall detection; and, where a learning law is served, the
evidence on the student's learning pace relative to the population's (`pace_score`, `pace_info`: score and
information of its estimate, see `MasteryEngine`); per skill, `taught`: P(learned) was raised by a resource covering
the skill since its last answer (`MasteryEngine.learn_from_resources`), so the recommender waits for an answer before
moving on, and `p_answered`: P(learned) moved by the answers alone (what resources taught left out), on which the
reported mastered flag rests (`MasteryEngine.claimed`). No demographic field exists here, by design.
Serialized as versioned JSON keyed by skill id, so a state survives catalog reordering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import ConfigError, NotFoundError

STATE_FORMAT = "equilearn-mastery-state"
STATE_FORMAT_VERSION = 1


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


@dataclass
class MasteryState:
    """One student's mastery; arrays are (S,) aligned with the catalog's skill ids."""

    student_id: str
    theta: float
    theta_sd: float
    p_learned: np.ndarray
    evidence: np.ndarray
    last_practice: np.ndarray
    n_responses: int = 0
    last_time: float = math.nan
    responses_since_progress: int = 0
    first_time: float = math.nan
    skill_theta: np.ndarray | None = None  # (S,) per-skill ability mean (NaN: not practised, the general theta applies)
    skill_var: np.ndarray | None = None  # (S,) its posterior variance (NaN: not practised)
    pace_score: float = 0.0  # evidence on the learning pace relative to the population's (score, information)
    pace_info: float = 0.0
    taught: np.ndarray | None = None  # (S,) bool: raised by a resource since the skill's last answer
    p_answered: np.ndarray | None = None  # (S,) P(learned) moved by answers only (None: p_learned's values)

    def __post_init__(self) -> None:
        n = self.p_learned.shape[0]
        if self.p_answered is None:
            self.p_answered = np.array(self.p_learned, dtype=float, copy=True)
        if self.skill_theta is None:
            self.skill_theta = np.full(n, np.nan)
        if self.skill_var is None:
            self.skill_var = np.full(n, np.nan)
        if self.taught is None:
            self.taught = np.zeros(n, dtype=bool)

    def to_dict(self, skill_ids: tuple[str, ...]) -> dict[str, Any]:
        """Versioned JSON-ready dict; skills are keyed by id."""
        return {
            "format": STATE_FORMAT, "format_version": STATE_FORMAT_VERSION, "student_id": self.student_id,
            "theta": float(self.theta), "theta_sd": float(self.theta_sd), "n_responses": int(self.n_responses),
            "last_time": _num(self.last_time), "first_time": _num(self.first_time),
            "responses_since_progress": int(self.responses_since_progress),
            "pace_score": float(self.pace_score), "pace_info": float(self.pace_info),
            "skills": {
                s: {"p_learned": float(self.p_learned[i]), "evidence": int(self.evidence[i]),
                    "last_practice": _num(float(self.last_practice[i])), "theta": _num(float(self.skill_theta[i])),
                    "theta_var": _num(float(self.skill_var[i])), **({"taught": True} if self.taught[i] else {}),
                    **({"p_answered": float(self.p_answered[i])} if self.p_answered[i] != self.p_learned[i] else {})}
                for i, s in enumerate(skill_ids)
            },
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any], skill_ids: tuple[str, ...], prior: np.ndarray) -> MasteryState:
        """Rebuild a state for `skill_ids`; skills the payload lacks (new in the catalog) start at `prior`."""
        if payload.get("format") != STATE_FORMAT or payload.get("format_version") != STATE_FORMAT_VERSION:
            raise ConfigError(f"not a {STATE_FORMAT} v{STATE_FORMAT_VERSION} payload (got {payload.get('format')!r})")
        skills = payload.get("skills", {})
        unknown = sorted(set(skills) - set(skill_ids))
        if unknown:
            raise NotFoundError(f"state of {payload.get('student_id')!r} has skills not in the catalog: {', '.join(unknown[:5])}")
        n = len(skill_ids)
        p, ev, last = np.array(prior, dtype=float, copy=True), np.zeros(n, dtype=np.int64), np.full(n, np.nan)
        th, var, taught = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=bool)
        answered = p.copy()
        if skills:  # one row per skill the payload has; taught absent (states written before it): not taught;
            # p_answered absent: no resource moved it apart; None -> NaN
            index = {s: i for i, s in enumerate(skill_ids)}
            cols = np.array([index[s] for s in skills])
            cells = np.array([(v["p_learned"], v["evidence"], v.get("last_practice"), v.get("theta"), v.get("theta_var"),
                               bool(v.get("taught", False)), v.get("p_answered", v["p_learned"])) for v in skills.values()],
                             dtype=float)
            p[cols], ev[cols], last[cols], th[cols], var[cols] = cells[:, 0], cells[:, 1], cells[:, 2], cells[:, 3], cells[:, 4]
            taught[cols], answered[cols] = cells[:, 5] != 0, cells[:, 6]
        lt, ft = payload.get("last_time"), payload.get("first_time")
        return cls(str(payload["student_id"]), float(payload["theta"]), float(payload["theta_sd"]), p, ev, last,
                   int(payload.get("n_responses", 0)), math.nan if lt is None else float(lt),
                   int(payload.get("responses_since_progress", 0)), math.nan if ft is None else float(ft), th, var,
                   float(payload.get("pace_score", 0.0)), float(payload.get("pace_info", 0.0)), taught, answered)


@dataclass
class MasteryBatch:
    """Many students' mastery in arrays: (N,) per student and (N, S) per student and skill."""

    student_ids: list[str]
    theta: np.ndarray
    theta_sd: np.ndarray
    p_learned: np.ndarray
    evidence: np.ndarray
    last_practice: np.ndarray
    n_responses: np.ndarray
    last_time: np.ndarray
    responses_since_progress: np.ndarray
    first_time: np.ndarray
    skill_theta: np.ndarray | None = None  # (N, S) per-skill ability mean, NaN where not practised
    skill_var: np.ndarray | None = None  # (N, S) its variance, NaN where not practised
    pace_score: np.ndarray | None = None  # (N,) learning-pace evidence (score, information), 0 = none yet
    pace_info: np.ndarray | None = None
    taught: np.ndarray | None = None  # (N, S) bool: raised by a resource since the skill's last answer
    p_answered: np.ndarray | None = None  # (N, S) P(learned) moved by answers only (None: p_learned's values)

    def __post_init__(self) -> None:
        if self.p_answered is None:
            self.p_answered = np.array(self.p_learned, dtype=float, copy=True)
        if self.taught is None:
            self.taught = np.zeros(self.p_learned.shape, dtype=bool)
        if self.skill_theta is None:
            self.skill_theta = np.full(self.p_learned.shape, np.nan)
        if self.skill_var is None:
            self.skill_var = np.full(self.p_learned.shape, np.nan)
        if self.pace_score is None:
            self.pace_score = np.zeros(self.p_learned.shape[0])
        if self.pace_info is None:
            self.pace_info = np.zeros(self.p_learned.shape[0])

    def __len__(self) -> int:
        return len(self.student_ids)

    def rows(self, rows: np.ndarray) -> MasteryBatch:
        """The sub-batch of `rows` (indices or a bool mask), as copies."""
        idx = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=np.int64)
        return MasteryBatch([self.student_ids[i] for i in idx], *(getattr(self, name)[idx] for name in _ARRAYS))

    @classmethod
    def stack(cls, states: list[MasteryState]) -> MasteryBatch:
        return cls(
            [s.student_id for s in states],
            np.array([s.theta for s in states], dtype=float),
            np.array([s.theta_sd for s in states], dtype=float),
            np.stack([s.p_learned for s in states]).astype(float),
            np.stack([s.evidence for s in states]).astype(np.int64),
            np.stack([s.last_practice for s in states]).astype(float),
            np.array([s.n_responses for s in states], dtype=np.int64),
            np.array([s.last_time for s in states], dtype=float),
            np.array([s.responses_since_progress for s in states], dtype=np.int64),
            np.array([s.first_time for s in states], dtype=float),
            np.stack([s.skill_theta for s in states]).astype(float),
            np.stack([s.skill_var for s in states]).astype(float),
            np.array([s.pace_score for s in states], dtype=float),
            np.array([s.pace_info for s in states], dtype=float),
            np.stack([s.taught for s in states]).astype(bool),
            np.stack([s.p_answered for s in states]).astype(float),
        )

    def state(self, row: int) -> MasteryState:
        """A copy of one student's state."""
        return MasteryState(
            self.student_ids[row], float(self.theta[row]), float(self.theta_sd[row]), self.p_learned[row].copy(),
            self.evidence[row].copy(), self.last_practice[row].copy(), int(self.n_responses[row]),
            float(self.last_time[row]), int(self.responses_since_progress[row]), float(self.first_time[row]),
            self.skill_theta[row].copy(), self.skill_var[row].copy(), float(self.pace_score[row]), float(self.pace_info[row]),
            self.taught[row].copy(), self.p_answered[row].copy(),
        )

    def row_of(self, student_id: str) -> int:
        try:
            return self.student_ids.index(student_id)
        except ValueError:
            raise NotFoundError(f"unknown student {student_id!r} ({len(self.student_ids)} students in this batch)") from None


_ARRAYS = ("theta", "theta_sd", "p_learned", "evidence", "last_practice", "n_responses", "last_time",
           "responses_since_progress", "first_time", "skill_theta", "skill_var", "pace_score", "pace_info", "taught",
           "p_answered")
