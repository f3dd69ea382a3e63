"""The demo school fills on any day of the week: its school days, and so the states its lists are drawn from,
depend on the date it is filled, so a fixed sweep of dates tests what the session fixture meets only on the
day it runs (a crash in the list's propensities once showed on some dates only: with the fix of 53f8757 undone,
3 of these 7 dates fail). The sizes are the session fixture's (tests/web/conftest.py). Expected counts by hand:
students x school days x answers per day, and one served list per student and school day."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.web.conftest import school_env

MONDAY = datetime(2026, 11, 30, 7, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("offset_days", range(7))
def test_the_demo_school_fills_on_every_day_of_the_week(tmp_path: Path, offset_days: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.runtime import Runtime, load_service_settings
    from engine.runtime.demo_school import fill_demo_school

    env = school_env(tmp_path / "home")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime = Runtime.open(load_service_settings({**os.environ, **env}))
    try:
        today = MONDAY + timedelta(days=offset_days, hours=3 * offset_days)
        out = fill_demo_school(runtime, students=28, weeks=2, steps_per_day=5, today=today)
    finally:
        runtime.close()
    assert out["filled"] and out["students"] == 28
    assert out["events"] == 28 * 10 * 5  # ten school days (two weeks), five answers a day
    assert out["served_lists"] == 28 * 10
