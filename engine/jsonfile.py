"""Read a JSON document a user pointed us at, with the errors every command gives for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import DataError, EquilearnError, NotFoundError


def read_json(path: str | Path, what: str, error: type[EquilearnError] = DataError, hint: str = "") -> Any:
    """The parsed document; NotFoundError ("<what> <path> not found") when absent, `error` (with `hint`,
    the fix) when not JSON."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"{what} {file} not found")
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise error(f"{file}: not valid JSON ({exc})" + (f"; {hint}" if hint else "")) from None
