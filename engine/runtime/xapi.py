"""xAPI statements -> events. Only what a response needs is read; anything unusable is listed per statement.

- student id: `actor.account.name` (preferred: an opaque platform id), else `actor.openid`, else
  `actor.mbox_sha1sum`, else `actor.mbox` (an e-mail address is stored as given: prefer accounts);
- verb: must be `answered` (`http://adlnet.gov/expapi/verbs/answered`, or any IRI ending in `/answered`);
- item id: `object.id` when it is a catalog item id, else the last path segment of that IRI;
- score: `result.score.scaled` when present (must lie in [0, 1]: a negative scaled score has no meaning
  for a response), else `result.success` (true = 1, false = 0);
- event id: the statement `id`; timestamp: `timestamp` (ISO 8601) when present;
- resource: the context extension `RESOURCE_EXTENSION` (a catalog resource id, or an IRI whose last path segment is
  one), the resource the student used just before answering; absent: none or not known.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from engine.errors import DataValidationError, Problem
from engine.store.records import Event
from engine.store.types import as_utc

ANSWERED = "http://adlnet.gov/expapi/verbs/answered"
RESOURCE_EXTENSION = "https://equilearn.dev/xapi/extensions/resource"


def _student(actor: Any) -> str | None:
    if not isinstance(actor, dict):
        return None
    account = actor.get("account")
    if isinstance(account, dict) and isinstance(account.get("name"), str) and account["name"]:
        return account["name"]
    for key in ("openid", "mbox_sha1sum", "mbox"):
        if isinstance(actor.get(key), str) and actor[key]:
            return actor[key]
    return None


def _item(obj: Any, known: Callable[[str], bool]) -> str | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
        return None
    iri = obj["id"]
    if known(iri):
        return iri
    tail = iri.rstrip("/").rsplit("/", 1)[-1]
    return tail or None


def _resource(context: Any, known: Callable[[str], bool]) -> tuple[str | None, str | None]:
    """The resource named in `context.extensions[RESOURCE_EXTENSION]` (None: not given; a catalog id as given, else
    an IRI's last path segment) and what is wrong with it."""
    extensions = context.get("extensions") if isinstance(context, dict) else None
    if not isinstance(extensions, dict) or extensions.get(RESOURCE_EXTENSION) is None:
        return None, None
    value = extensions[RESOURCE_EXTENSION]
    if not isinstance(value, str) or not value.strip("/"):
        return None, f"context.extensions[{RESOURCE_EXTENSION!r}] must be a resource id (or IRI) as text"
    return (value if known(value) else value.rstrip("/").rsplit("/", 1)[-1]), None


def _score(result: Any) -> tuple[float | None, str | None]:
    if not isinstance(result, dict):
        return None, "result is missing: give result.score.scaled (0..1) or result.success"
    score = result.get("score")
    if isinstance(score, dict) and "scaled" in score:
        v = score["scaled"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:  # no float(): a huge int overflows it
            shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."
            return None, f"result.score.scaled must be a number in [0, 1], got {shown}"
        return float(v), None
    if isinstance(result.get("success"), bool):
        return 1.0 if result["success"] else 0.0, None
    return None, "result has neither score.scaled nor a true/false success"


def _timestamp(value: Any) -> tuple[datetime | None, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, "timestamp must be an ISO 8601 string"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None, f"timestamp {value[:64]!r} is not ISO 8601"
    try:
        as_utc(parsed)
    except OverflowError:
        return None, (f"timestamp {value[:64]!r} is outside 0001-01-01 to 9999-12-31 once converted to UTC; "
                      "send the time in UTC (Z) or fix its offset")
    return parsed, None


def statements_to_events(statements: Sequence[Any], known_item: Callable[[str], bool],
                         known_resource: Callable[[str], bool]) -> list[Event]:
    """Events for the statements, or a `DataValidationError` listing every unusable one (row = position, 1-based)."""
    events: list[Event] = []
    problems: list[Problem] = []
    for row, st in enumerate(statements, start=1):
        if not isinstance(st, dict):
            problems.append(Problem(row, None, None, "a statement must be a JSON object"))
            continue
        sid = st.get("id")
        if not isinstance(sid, str) or not sid:
            problems.append(Problem(row, "id", sid, "statement id is required (it makes a retry idempotent)"))
        verb = st.get("verb", {}).get("id") if isinstance(st.get("verb"), dict) else None
        if not isinstance(verb, str) or not (verb == ANSWERED or verb.endswith("/answered")):
            problems.append(Problem(row, "verb.id", verb, f"only the verb {ANSWERED} is a response"))
        student = _student(st.get("actor"))
        if student is None:
            problems.append(Problem(row, "actor", None, "actor needs account.name (or openid / mbox)"))
        item = _item(st.get("object"), known_item)
        if item is None:
            problems.append(Problem(row, "object.id", None, "object.id (the item's IRI or id) is required"))
        correct, why = _score(st.get("result"))
        if why:
            problems.append(Problem(row, "result", None, why))
        ts, why_ts = _timestamp(st.get("timestamp"))
        if why_ts:
            problems.append(Problem(row, "timestamp", st.get("timestamp"), why_ts))
        resource, why_resource = _resource(st.get("context"), known_resource)
        if why_resource:
            problems.append(Problem(row, "context.extensions", None, why_resource))
        if isinstance(sid, str) and sid and student and item and correct is not None and not why_ts and not why_resource:
            events.append(Event(sid, student, item, correct, ts, "xapi", st, resource))
    if problems:
        raise DataValidationError(problems, source="xAPI statements")
    return events
