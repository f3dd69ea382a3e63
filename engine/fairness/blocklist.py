"""Items to withhold from serving: the hand-off from the item (DIF) audit to the catalog and recommender.

An item whose differential functioning is large (ETS class C for Mantel-Haenszel, Jodoin-Gierl class C
for logistic regression) is flagged `flag_for_review`. Until a person has reviewed it, the recommender
should not serve it. The recommender already takes such a list: `RecommenderConfig.blocked_items`
(engine/recommend/config.py), so the hook is

    from engine.fairness.blocklist import blocked_items
    config = RecommenderConfig.from_dict({**settings, "blocked_items": blocked_items(dif_json_1, dif_json_2)})

or, from the command line, `equilearn audit dif ... --blocked-out blocked.json`, which writes
`{"blocked_items": [...], "reasons": {item_id: [...]}}`; its `blocked_items` list drops into the
recommender settings as it is. Several audits (one per group column) are merged by union: an item
flagged for any group is withheld.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.errors import ConfigError
from engine.fairness.dif import DifResult
from engine.fairness.item_audit import ItemAudit

Source = DifResult | ItemAudit | Mapping[str, Any]


def _flagged_items(source: Source) -> list[dict[str, Any]]:
    """The item rows of one DIF result (object or JSON payload) that are flagged for review."""
    if isinstance(source, ItemAudit):
        source = source.result if source.result is not None else {"items": []}
    if isinstance(source, DifResult):
        rows = [i.to_dict() for i in source.items]
        method, group_col = source.method, None
    elif isinstance(source, Mapping):
        if source.get("audit") not in (None, "dif") or "items" not in source and "results" not in source:
            raise ConfigError("not an item (DIF) audit result: expected the JSON of `equilearn audit dif` "
                              f"(audit = 'dif'), got audit = {source.get('audit')!r}")
        body = source.get("results", source)
        rows = list(source.get("items", body.get("items", [])))
        method, group_col = body.get("method"), body.get("group_col")
    else:
        raise ConfigError(f"cannot read flagged items from {type(source).__name__}")
    out = []
    for row in rows:
        if row.get("flag_for_review"):
            out.append({"item_id": str(row["item_id"]), "method": method, "group_col": group_col,
                        "focal": row.get("focal"), "reference": row.get("reference"),
                        "class": row.get("ets_class") or row.get("jg_class"),
                        "delta": row.get("delta"), "delta_r2": row.get("delta_r2"), "p_adjusted": row.get("p_adjusted")})
    return out


def blocked_items(*sources: Source | Iterable[Source]) -> list[str]:
    """Sorted ids of every item flagged for review in any of the given DIF results (union)."""
    return sorted({row["item_id"] for source in _flatten(sources) for row in _flagged_items(source)})


def blocklist_document(*sources: Source | Iterable[Source]) -> dict[str, Any]:
    """`{"blocked_items": [...], "reasons": {item_id: [why, ...]}}`, JSON-ready, for the catalog/recommender."""
    reasons: dict[str, list[dict[str, Any]]] = {}
    for source in _flatten(sources):
        for row in _flagged_items(source):
            reasons.setdefault(row["item_id"], []).append({k: v for k, v in row.items() if k != "item_id" and v is not None})
    return {"blocked_items": sorted(reasons), "reasons": {k: reasons[k] for k in sorted(reasons)},
            "note": "withhold these items from serving until a person has reviewed them (DIF class C)"}


def _flatten(sources: tuple[Any, ...]) -> list[Source]:
    out: list[Source] = []
    for s in sources:
        if isinstance(s, (DifResult, ItemAudit, Mapping)):
            out.append(s)
        else:
            out.extend(s)
    return out
