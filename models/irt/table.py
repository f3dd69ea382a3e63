"""`item_table`: a calibrated bank as one polars table in the input's item order, with standard errors.

The researcher's view mirt gives with `coef(fit, IRTpars = TRUE, SE = TRUE)`: one row per item, the
parameters the model estimates and their standard errors, in the traditional metric
P = c + (1 - c) / (1 + exp(-a (theta - b))). A parameter the model fixes is left out (Rasch: a = 1,
c = 0; 1PL and 2PL: c = 0); an item that could not be estimated, or an SE that was not computed, is null.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from models.irt.bank import ItemBank

COLUMNS = {"rasch": ("b",), "1pl": ("a", "b"), "2pl": ("a", "b"), "3pl": ("a", "b", "c")}


def item_table(bank: ItemBank, model: str, item_order: Sequence[str] | None = None) -> pl.DataFrame:
    """Columns `item`, the estimated parameters (a, b, c), then their `se_` columns; rows in `item_order` (default:
    the bank's order). Items of `item_order` the bank lacks (no response at all) get null parameters."""
    if model not in COLUMNS:
        raise ValueError(f"unknown IRT model {model!r}; choose one of {', '.join(COLUMNS)}")
    order = [str(i) for i in (item_order if item_order is not None else bank.item_ids)]
    pos = bank.codes(np.asarray(order, dtype=object))
    found = pos >= 0

    def column(values: np.ndarray) -> np.ndarray:
        return np.where(found, values[np.maximum(pos, 0)], np.nan)

    data: dict[str, pl.Series] = {"item": pl.Series("item", order, dtype=pl.Utf8)}
    for key in [*COLUMNS[model], *(f"se_{name}" for name in COLUMNS[model])]:
        data[key] = pl.Series(key, column(getattr(bank, key)), dtype=pl.Float64, nan_to_null=True)
    return pl.DataFrame(data)
