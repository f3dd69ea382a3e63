"""Shared output helpers for CLI commands."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def _clean(value: Any) -> Any:
    """JSON has no NaN: write null instead, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def save_json(payload: dict[str, Any], out: str | None) -> str:
    """`payload` as strict JSON text, also written to `out` when given (creating folders)."""
    text = json.dumps(_clean(payload), indent=2)
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return text


def write_json(payload: dict[str, Any], out: str | None) -> None:
    """Print `payload` as JSON, and write it to `out` when given (creating folders)."""
    print(save_json(payload, out))
