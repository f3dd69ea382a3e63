"""The running service's half of learning each resource's value: the answer that follows a list it served.

In process the policy observes every step's outcome (`EquilearnPolicy.observe`); the service sees a list it
served and, later, events. Per student this process keeps the newest list it served (what each offered item's
entry was: its resource and `item_p`, the item's predicted success when served) until the student's next stored
answer: if that answer is on an offered item, answer minus `item_p` is the entry's outcome, the rule
`engine.recommend.outcomes` applies to the durable logs at the next build. A placement list, or a list with
nothing to measure, leaves nothing pending. Only lists this process served and answers it stored count here;
every load of the policy recounts the lists served since its set was built from the durable logs
(`Runtime._recount_follow_ups`), so another process's outcomes and those before a restart are counted there.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from engine.store.records import Event


class FollowUps:
    """Lists served and not answered yet, per student: offered item -> (resource id, item_p). Thread-safe."""

    def __init__(self) -> None:
        self._pending: dict[str, dict[str, tuple[str, float]]] = {}
        self._lock = threading.Lock()

    def served(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Served-log rows just written (`engine.store.served.served_row`): each becomes its student's pending list."""
        with self._lock:
            for row in rows:
                entries: dict[str, tuple[str, float]] = {}
                if not (row.get("context") or {}).get("placement"):
                    for item in sorted(row["items"], key=lambda i: i.get("rank") or 0):
                        if item.get("item_p") is not None and item.get("item_id") and item.get("resource_id"):
                            entries.setdefault(item["item_id"], (item["resource_id"], float(item["item_p"])))
                if entries:
                    self._pending[row["student_id"]] = entries
                else:
                    self._pending.pop(row["student_id"], None)

    def answered(self, events: Sequence[Event], stored: Sequence[bool]) -> list[tuple[str, float]]:
        """(resource id, answer - item_p) for each newly `stored` event that is its student's first answer after their
        pending list and on an item it offered (the higher-ranked entry's); any stored answer ends the list's wait."""
        out = []
        with self._lock:
            for event, new in zip(events, stored, strict=True):
                entries = self._pending.pop(event.student_id, None) if new else None
                if entries and event.item_id in entries:
                    resource, p = entries[event.item_id]
                    out.append((resource, min(max(float(event.correct) - p, -1.0), 1.0)))
        return out

    def __len__(self) -> int:
        return len(self._pending)
