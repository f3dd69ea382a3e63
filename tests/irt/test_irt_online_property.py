"""Property test: for any items and answers, one-at-a-time online updates give the batch EAP, and a
right answer never lowers the EAP while a wrong one never raises it (a > 0)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.irt import ItemBank, OnlineAbility, eap

ITEM = st.tuples(st.floats(0.2, 3.0), st.floats(-3.0, 3.0), st.floats(0.0, 0.4), st.integers(0, 1))


@settings(max_examples=60, deadline=None)
@given(st.lists(ITEM, min_size=1, max_size=25))
def test_irt_online_updates_equal_batch_eap(responses: list[tuple[float, float, float, int]]) -> None:
    a, b, c, y = (np.array(v) for v in zip(*responses))
    online = OnlineAbility()
    state = online.initial_state()
    for k in range(len(a)):
        before = online.summary(state)[0]
        state = online.update(state, a[k], b[k], c[k], int(y[k]))
        after = online.summary(state)[0]
        assert (after >= before - 1e-9) if y[k] else (after <= before + 1e-9)
    bank = ItemBank.from_arrays(np.arange(len(a)).astype(str), a, b, c)
    batch = eap(bank, np.zeros(len(a), dtype=np.int64), np.arange(len(a)), y)
    mean, sd = online.summary(state)
    assert abs(mean - batch.theta[0]) < 1e-8 and abs(sd - batch.se[0]) < 1e-8
