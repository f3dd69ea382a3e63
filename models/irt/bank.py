"""`ItemBank`: calibrated item parameters (a, b, c) with standard errors, keyed by item id.

Missing values (items that could not be estimated, or SEs of fixed parameters) are NaN in memory and
null in JSON. `from_records` checks a JSON item list thoroughly so a malformed calibration file fails
with a message naming the entry and the field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from models.irt.data import lookup

PARAMETERS = ("a", "b", "c")
ERRORS = ("se_a", "se_b", "se_c")


def _number(value: Any, where: str, field: str, required: bool) -> float:
    if value is None:
        if required:
            raise ValueError(f"{where}: {field!r} is required and must be a number, got null")
        return float("nan")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: {field!r} must be a number or null, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ItemBank:
    """Item parameters, each array shape (I,); `item_ids` are unique strings."""

    item_ids: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    se_a: np.ndarray
    se_b: np.ndarray
    se_c: np.ndarray

    def __post_init__(self) -> None:
        ids = np.asarray(self.item_ids).astype(str).astype(object)
        object.__setattr__(self, "item_ids", ids)
        for name in PARAMETERS + ERRORS:
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != ids.shape:
                raise ValueError(f"ItemBank.{name} has shape {arr.shape}, expected {ids.shape} (one per item)")
            object.__setattr__(self, name, arr)
        if len(set(ids)) != len(ids):
            dup = pl.Series(ids.astype(str)).value_counts().filter(pl.col("count") > 1)[:, 0].to_list()[:5]
            raise ValueError(f"item ids must be unique; repeated: {dup}")
        usable = np.isfinite(self.a) & np.isfinite(self.b) & np.isfinite(self.c)
        if np.any(usable & ((self.c < 0) | (self.c >= 1))):
            raise ValueError("every c (lower asymptote) must lie in [0, 1)")

    @classmethod
    def from_arrays(
        cls, item_ids: Sequence | np.ndarray, a: Sequence | np.ndarray, b: Sequence | np.ndarray, c: Sequence | np.ndarray | float = 0.0
    ) -> ItemBank:
        """A bank without standard errors (e.g. published or simulated parameters)."""
        n = len(item_ids)
        nan = np.full(n, np.nan)
        return cls(np.asarray(item_ids), np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                   np.broadcast_to(np.asarray(c, dtype=float), (n,)).copy(), nan, nan.copy(), nan.copy())

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def usable(self) -> np.ndarray:
        """Items with finite a, b and c (the others could not be estimated), shape (I,) bool."""
        return np.isfinite(self.a) & np.isfinite(self.b) & np.isfinite(self.c)

    def codes(self, item_ids: Sequence | np.ndarray | pl.Series) -> np.ndarray:
        """Position of each given id in the bank, -1 when the bank does not hold it: shape (R,)."""
        return lookup(item_ids, self.item_ids, "item_id")

    def default_item(self) -> tuple[float, float, float]:
        """(mean a, mean b, mean c) over usable items: the stand-in for an item the bank has not seen."""
        ok = self.usable
        if not ok.any():
            raise ValueError("the item bank has no usable items (every item lacks a, b or c)")
        return float(self.a[ok].mean()), float(self.b[ok].mean()), float(self.c[ok].mean())

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per item: item_id, a, b, c, se_a, se_b, se_c (NaN -> None)."""
        columns = {name: getattr(self, name).tolist() for name in PARAMETERS + ERRORS}
        return [
            {"item_id": item, **{k: (None if not math.isfinite(v[i]) else v[i]) for k, v in columns.items()}}
            for i, item in enumerate(self.item_ids.tolist())
        ]

    @classmethod
    def from_records(cls, items: Any) -> ItemBank:
        """Rebuild from `to_records()` output; ValueError naming the first bad entry and field."""
        if not isinstance(items, list) or not items:
            raise ValueError(f"'items' must be a non-empty list of item objects, got {type(items).__name__}")
        ids: list[str] = []
        values: dict[str, list[float]] = {k: [] for k in PARAMETERS + ERRORS}
        for i, entry in enumerate(items):
            where = f"items[{i}]"
            if not isinstance(entry, dict):
                raise ValueError(f"{where}: each item must be an object with item_id, a, b, c; got {entry!r}")
            item_id = entry.get("item_id")
            if not isinstance(item_id, (str, int)) or isinstance(item_id, bool) or str(item_id).strip() == "":
                raise ValueError(f"{where}: 'item_id' must be a non-empty string, got {item_id!r}")
            ids.append(str(item_id))
            for field in PARAMETERS:
                if field not in entry:
                    raise ValueError(f"{where} ({item_id}): field {field!r} is missing")
                values[field].append(_number(entry[field], f"{where} ({item_id})", field, required=False))
            for field in ERRORS:
                values[field].append(_number(entry.get(field), f"{where} ({item_id})", field, required=False))
        return cls(np.asarray(ids, dtype=object), *(np.asarray(values[k]) for k in PARAMETERS + ERRORS))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready {"items": [...]} (the same item list a calibration file carries)."""
        return {"items": self.to_records()}

    @classmethod
    def from_dict(cls, payload: Any) -> ItemBank:
        """From `to_dict()` output or a calibration file (anything with an "items" list)."""
        if not isinstance(payload, dict) or "items" not in payload:
            raise ValueError("an item bank must be a JSON object with an 'items' list")
        return cls.from_records(payload["items"])
