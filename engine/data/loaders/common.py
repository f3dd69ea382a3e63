"""Small helpers shared by the loaders."""

from __future__ import annotations

from pathlib import Path

from engine.errors import DataValidationError, Problem


def require_file(path: Path) -> Path:
    """Return `path` if it is a readable file; otherwise a DataValidationError that says what is expected."""
    if not path.is_file():
        raise DataValidationError(
            [Problem(None, None, str(path), "file not found or unreadable; check the path and the --format")],
            source=str(path),
        )
    return path
