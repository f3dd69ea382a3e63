"""What a results table must say beside its numbers: which published figure a row is comparable with
(and a footnote where none is), and how a model's configuration was chosen (on validation students).

Used by the experiment runner and by experiments/bench_kt.py, so that every KT table says it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def published_cells(models: Sequence[str], published: Mapping[str, str], notes: Mapping[str, str],
                    first_note: int = 1) -> tuple[dict[str, str], list[str]]:
    """The "comparable published AUC" cell per model and the numbered footnotes below the table.

    A model with a note gets "see note n" in its cell (after the published text when it has one); notes
    are numbered from `first_note` (for a table assembled from several parts)."""
    cells: dict[str, str] = {}
    footnotes: list[str] = []
    for name in models:
        text = published.get(name, "")
        if name in notes:
            number = first_note + len(footnotes)
            footnotes.append(f"{number}. `{name}`: {notes[name]}")
            text = f"{text} (note {number})" if text else f"none: see note {number}"
        cells[name] = text
    return cells, footnotes


def describe_candidate(config: Mapping[str, Any]) -> str:
    """A stacked-model configuration in words: recency rates and scopes, and sub-models when they are set."""
    decays = [float(r) for r in config.get("decays", [])]
    if decays:
        scopes = "total, item and per-skill" if config.get("skill_recency", True) else "total and item"
        text = f"recency r = {', '.join(f'{r:g}' for r in decays)} ({scopes})"
    else:
        text = "no recency"
    if "submodels" in config:
        text += f", sub-models {', '.join(config['submodels']) or 'none'}"
    return text


def selection_lines(selections: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One paragraph per model whose configuration was chosen on validation students (its `selection_`)."""
    out = []
    for name, s in selections.items():
        scores = "; ".join(
            f"{describe_candidate(c)} {'n/a' if auc is None else f'{auc:.4f}'}{' (chosen)' if i == s['chosen'] else ''}"
            for i, (c, auc) in enumerate(zip(s["candidates"], s["validation_auc"])))
        out.append(
            f"`{name}`: configuration chosen on validation students, never on the test split: "
            f"{s['validation_fraction']:.0%} of the training students ({s['validation_students']} students, "
            f"{s['validation_responses']} responses; seed {s['seed']}) held out, each candidate fitted on the other "
            f"{s['fit_students']} and scored there, the chosen one refitted on all training students, then the test "
            f"split scored once. Validation AUC of the candidates (each: the Best-LR features and the sub-models' "
            f"out-of-fold logits, plus): {scores}.")
    return out
