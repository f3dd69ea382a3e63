"""Progress bars for the long commands (`kt evaluate`, `kt fit`, `irt calibrate`, `simulate`, `audit model`,
`demo`): a bar on stderr with what is running, done/total, rate and ETA (rich), shown only when stderr is a
terminal; elsewhere (pipes, CI, tests) nothing is drawn and the bar's notes go to the log (`-v` shows them).

    with progress_bar("simulate", total=runs * steps, unit="step") as bar:
        compare_policies(..., on_step=bar.step)          # one step done; its label becomes the description
    with progress_bar("kt evaluate") as bar:
        evaluate(..., progress=bar.update)               # progress(done, total, text) from the engine

The engine never imports this module: it takes plain callables (`progress(done, total, text)`,
`on_step(label)`, `callback(n)`), so library use stays silent. rich is imported only when a bar is drawn.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

log = logging.getLogger(__name__)


def wanted(stream: TextIO | None = None) -> bool:
    """Draw a bar only on a terminal (`TERM=dumb` counts as none)."""
    import os

    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


class Bar:
    """One task's progress. Without a terminal every method is a cheap no-op apart from `note` (logged)."""

    def __init__(self, description: str, total: float | None, unit: str, live: Any = None) -> None:
        self.description, self.total, self.unit = description, total, unit
        self.completed = 0.0
        self._live = live  # (rich Progress, task id) or None
        self._task = live.add_task(description, total=total, unit=unit) if live is not None else None

    def _refresh(self, **fields: Any) -> None:
        if self._live is not None:
            self._live.update(self._task, **fields)

    def advance(self, n: float = 1, text: str | None = None) -> None:
        """`n` more units done; `text` (what runs now) replaces the description."""
        self.completed += n
        if text is not None:
            self.description = text
        self._refresh(completed=self.completed, **({"description": text} if text is not None else {}))

    def step(self, text: str | None = None) -> None:
        """One unit done (the `on_step(label)` protocol)."""
        self.advance(1, text)

    def update(self, done: float, total: float | None = None, text: str | None = None) -> None:
        """Absolute progress (the `progress(done, total, text)` protocol): `done` of `total` units, `text` running."""
        self.completed = done
        fields: dict[str, Any] = {"completed": done}
        if total is not None:
            self.total = fields["total"] = total
        if text is not None:
            self.description = fields["description"] = text
        self._refresh(**fields)

    def count(self, n: float) -> None:
        """`n` units done so far (the `callback(n)` protocol of the models' iteration loops)."""
        self.update(n)

    def describe(self, text: str) -> None:
        self.description = text
        self._refresh(description=text)

    def note(self, text: str) -> None:
        """A line worth keeping (e.g. a finished run): printed above the bar, or logged at INFO without one."""
        if self._live is not None:
            self._live.console.print(text, highlight=False, markup=False)
        else:
            log.info("%s", text)

    def finish(self) -> None:
        """Mark the task complete (a loop that stopped early, e.g. EM converging before max_iter)."""
        if self.total is not None and self.completed < self.total:
            self.update(self.total)


def fit_with_progress(model: Any, responses: Any, description: str) -> Any:
    """`model.fit(responses)` under a bar: counted when the model's fit reports its iterations (an optional
    `callback(done, total)`, e.g. IRT's EM steps, the stacked model's sub-model fits), else a pulsing bar with
    the elapsed time (a fit that is one compiled or scikit-learn call has nothing to count)."""
    import inspect  # noqa: PLC0415

    with progress_bar(description, unit="step") as bar:
        if "callback" in inspect.signature(model.fit).parameters:
            result = model.fit(responses, callback=lambda done, total: bar.update(done, total))
            bar.finish()
            return result
        return model.fit(responses)


def _rich_progress(stream: TextIO) -> Any:
    from rich.console import Console  # noqa: PLC0415 - only when a bar is drawn
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Column  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    class RateColumn(ProgressColumn):
        """Units per second (or seconds per unit when slower than one a second)."""

        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            unit = task.fields.get("unit", "step")
            if not speed:
                return Text(f"? {unit}/s", style="progress.data.speed")
            text = f"{speed:.1f} {unit}/s" if speed >= 1 else f"{1 / speed:.1f} s/{unit}"
            return Text(text, style="progress.data.speed")

    description = TextColumn("[progress.description]{task.description}",
                             table_column=Column(max_width=36, no_wrap=True, overflow="ellipsis"))
    return Progress(
        SpinnerColumn(), description, BarColumn(bar_width=24), MofNCompleteColumn(),
        RateColumn(table_column=Column(no_wrap=True)), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=Console(file=stream), redirect_stdout=False, redirect_stderr=stream is sys.stderr, speed_estimate_period=60.0,
    )


@contextmanager
def progress_bar(description: str, total: float | None = None, unit: str = "step", *,
                 enabled: bool | None = None, stream: TextIO | None = None) -> Iterator[Bar]:
    """A bar for one piece of work on stderr (see the module docstring); `enabled=None`: only on a terminal.
    `total=None` draws a pulsing bar (elapsed time, no ETA) until `update` gives a total."""
    stream = sys.stderr if stream is None else stream
    if not (wanted(stream) if enabled is None else enabled):
        yield Bar(description, total, unit)
        return
    live = _rich_progress(stream)
    with live:
        yield Bar(description, total, unit, live)
