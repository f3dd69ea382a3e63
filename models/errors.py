"""One exception tree for the whole project, defined at the bottom layer so that `models/` can raise it
without importing the engine; `engine.errors` re-exports it and is the name to use above `models/`.

Data errors carry every problem found (row, column, value, hint) so a user can fix a file in one pass;
the service maps them to 4xx responses with the same text.
"""

from __future__ import annotations

from dataclasses import dataclass


class EquilearnError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(EquilearnError):
    """A setting, config key or command-line option is wrong; the message names it."""


class NotFoundError(EquilearnError):
    """A named thing (file, student, model, audit) does not exist."""


class DataError(EquilearnError):
    """Input data cannot be used as given."""


@dataclass(frozen=True)
class Problem:
    """One problem in a table: `row` is 1-based over data rows (None for whole-table problems)."""

    row: int | None
    column: str | None
    value: object
    hint: str
    count: int = 1  # how many rows share this problem when they are reported as one line

    def __str__(self) -> str:
        where = "table" if self.row is None else f"row {self.row}"
        col = f", column {self.column!r}" if self.column else ""
        val = "" if self.value is None else f", value {self.value!r}"
        more = f" (and {self.count - 1} more rows like it)" if self.count > 1 else ""
        return f"{where}{col}{val}: {self.hint}{more}"


class DataValidationError(DataError):
    """Every problem found in a table, listed at once."""

    max_listed = 50

    def __init__(self, problems: list[Problem], source: str = "data") -> None:
        self.problems = list(problems)
        self.source = source
        lines = [str(p) for p in self.problems[: self.max_listed]]
        hidden = len(self.problems) - len(lines)
        if hidden > 0:
            lines.append(f"... and {hidden} more problems")
        total_rows = sum(p.count for p in self.problems)
        head = f"{source}: {len(self.problems)} problem(s) affecting {total_rows} row(s)"
        super().__init__(head + "\n  " + "\n  ".join(lines))


class ConflictError(EquilearnError):
    """A write clashes with what is stored (an event id reused with other content, a stale state version)."""


class AuthError(EquilearnError):
    """No usable credential: an API key that is missing, malformed, unknown or revoked (HTTP 401)."""


class PermissionDeniedError(EquilearnError):
    """A valid credential without the scope an action needs (HTTP 403)."""


class UnavailableError(EquilearnError):
    """A backing service (the database) is busy or unreachable; the same request may succeed later (HTTP 503)."""


class AuditGateError(ConfigError):
    """A model version's fairness audit did not pass (or is missing), so it may not be promoted or served."""
