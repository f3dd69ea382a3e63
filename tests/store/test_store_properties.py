"""Property: any sequence of batches with retries and repeats stores each event once, gives every event id
one `seq` forever, and leaves each state equal to a fold of that student's log in log order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.store import Event, Store

from .conftest import count_apply  # noqa: TID252

POOL = [Event(f"e{i}", f"s{i % 3}", f"i{i % 4}", (i % 5) / 4) for i in range(12)]

batches = st.lists(st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=6), min_size=1, max_size=6)


@settings(max_examples=30, deadline=None)
@given(batches)
def test_any_sequence_of_batches_is_exactly_once(plan: list[list[int]]) -> None:
    with Store.open("sqlite://") as store:  # in memory: a fresh database per example
        seq_of: dict[str, int] = {}
        for positions in plan:
            ids = [POOL[p].event_id for p in positions]
            new = set(ids) - set(seq_of)
            result = store.ingest([POOL[p] for p in positions], count_apply)
            for r in result.results:
                assert seq_of.setdefault(r.event_id, r.seq) == r.seq
            # stored exactly at the first occurrence of each id never seen before; duplicate everywhere else
            first = {i: ids.index(i) for i in new}
            assert [r.status for r in result.results] == [
                "stored" if ids[k] in new and first[ids[k]] == k else "duplicate" for k in range(len(ids))]
        sent = {POOL[p].event_id for positions in plan for p in positions}
        log = store.events_frame()
        assert sorted(log["event_id"].to_list()) == sorted(sent)
        for sid in log["student_id"].unique().to_list():
            mine = log.filter(log["student_id"] == sid)
            assert store.get_state(sid).state == {"ids": mine["event_id"].to_list(), "total": mine["correct"].sum()}
