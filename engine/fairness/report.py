"""Reports an educator can read: Markdown and self-contained HTML, rendered from an audit's JSON result.

Both renderers walk the same list of blocks built from the result (`engine.fairness.results.assemble`):
plain-language findings first, then the checks, the suppression note, and the tables and charts of the
audit (ROC curves by group with the ABROCA area shaded, calibration by group, DIF item list, exposure by
mastery band). The result holds no number about a suppressed group, so neither report can show one.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Any

from engine.fairness import svg

Block = tuple[Any, ...]


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.3g}" if 0 < abs(value) < 10 ** -digits else f"{value:.{digits}f}"


def _ci(lo: Any, hi: Any) -> str:
    return "n/a" if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)) else f"{_num(lo)} to {_num(hi)}"


SUPPRESSED = "suppressed"


def _group_table(rows: list[dict[str, Any]], with_stratum: bool, label: str = "value",
                 hidden: list[dict[str, Any]] = ()) -> Block:
    """Shown groups with their numbers, then one `suppressed` row per hidden group (no number at all)."""
    head = (["stratum"] if with_stratum else []) + ["attribute", "group", "students", label, "95% CI"]
    body = [([r.get("stratum")] if with_stratum else []) + [r["attribute"], r["group"], _num(r["n_students"]),
                                                            _num(r["value"]), _ci(r["ci_low"], r["ci_high"])] for r in rows]
    body += [([h.get("stratum")] if with_stratum else []) + [h["attribute"], h.get("group", f"{h.get('count')} group(s)"),
                                                             SUPPRESSED, SUPPRESSED, ""] for h in hidden]
    return ("table", head, body)


def _hidden(payload: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """Suppressed-group entries of one result table (to mark in its group tables)."""
    return [h for h in payload.get("suppressed_groups", []) if h.get("table") == table]


def _by_metric(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["metric"], []).append(r)
    return out


def _model_blocks(res: dict[str, Any], payload: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [("h2", "Model accuracy and calibration by group")]
    for metric, rows in _by_metric(res["by_group"]).items():
        blocks += [("h3", metric), _group_table(rows, False, hidden=_hidden(payload, "model"))]
    ident = payload["identity_predictiveness"]
    blocks += [("h2", "Identity-predictiveness test"), ("p", res["identity_finding"]),
               ("table", ["delta AUC", "95% CI", "LR statistic", "p-value", "students"],
                [[_num(ident["delta_auc"], 4), _ci(*ident["delta_auc_ci"]), _num(ident["lr_stat"], 2), _num(ident["p_value"]),
                  _num(ident["n_students"])]])]
    if res["abroca"]:
        blocks += [("h2", "ABROCA (area between ROC curves)"),
                   ("table", ["attribute", "group", "reference", "ABROCA", "95% CI", "permutation p"],
                    [[a["attribute"], a["group"], a["reference"], _num(a["abroca"]), _ci(a["ci_low"], a["ci_high"]),
                      _num(a["p_value"])] for a in res["abroca"]])]
    for attribute in dict.fromkeys(c["attribute"] for c in res["roc"]):
        curves = {c["group"]: c["tpr"] for c in res["roc"] if c["attribute"] == attribute}
        fpr = next(c["fpr"] for c in res["roc"] if c["attribute"] == attribute)
        pairs = [a for a in res["abroca"] if a["attribute"] == attribute]
        shade = (pairs[0]["group"], pairs[0]["reference"]) if pairs else None
        blocks.append(("svg", svg.roc_chart(f"ROC by {attribute}" + (" (ABROCA shaded)" if shade else ""), fpr, curves, shade)))
        rel = {c["group"]: (c["predicted"], c["observed"]) for c in res["reliability"] if c["attribute"] == attribute}
        blocks.append(("svg", svg.calibration_chart(f"Calibration by {attribute}", rel)))
    return blocks


def _dif_blocks(payload: dict[str, Any]) -> list[Block]:
    res = payload["results"]
    items = res.get("items", [])
    blocks: list[Block] = [("h2", f"Item audit (DIF, {res.get('method', 'n/a')})"),
                           ("p", f"Groups: {res['group_col']}; reference {res['reference']}; focal {', '.join(res['focal'])}. "
                                 f"Matching on the {res.get('match', 'score')}"
                                 + (f", purified in {res.get('iterations')} round(s)" if res.get("purified") else "") + ".")]
    if items and "alpha_mh" in items[0]:
        head = ["item", "focal", "alpha MH", "ETS delta", "chi2", "p", "p adjusted", "class", "review"]
        body = [[i["item_id"], i["focal"], _num(i["alpha_mh"]), _num(i["delta"]), _num(i["chi2"]), _num(i["p"]),
                 _num(i["p_adjusted"]), i["ets_class"], "withhold" if i["flag_for_review"] else ""] for i in items]
    else:
        head = ["item", "LR", "p", "p adjusted", "delta R2", "Jodoin-Gierl", "Zumbo-Thomas", "review"]
        body = [[i["item_id"], _num(i["chi2"]), _num(i["p"]), _num(i["p_adjusted"]), _num(i["delta_r2"], 4), i["jg_class"],
                 i["zt_class"], "withhold" if i["flag_for_review"] else ""] for i in items]
    blocks.append(("table", head, body))
    if res.get("skipped_columns"):
        blocks.append(("ul", [f"column {s['column']} not analysed: {s['reason']}" for s in res["skipped_columns"]]))
    return blocks


def _recommendation_blocks(res: dict[str, Any], payload: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [("h2", "Recommendations: who is offered what")]
    for family in ("exposure", "ready_not_offered", "intervention_rate", "remedial_to_advanced"):
        if family not in res:
            continue
        part = res[family]
        strata = any(r.get("stratum") for r in part["by_group"])
        for metric, rows in _by_metric(part["by_group"]).items():
            blocks += [("h3", metric.replace("_", " ")), _group_table(rows, strata, hidden=_hidden(payload, family))]
            ratios = [r for r in part["ratio_to_largest"] if r["metric"] == metric]
            if ratios:
                blocks.append(("table", (["stratum"] if strata else []) + ["attribute", "group", "reference", "ratio", "95% CI"],
                               [([r.get("stratum")] if strata else []) + [r["attribute"], r["group"], r["reference"], _num(r["value"]),
                                                                          _ci(r["ci_low"], r["ci_high"])] for r in ratios]))
            if strata and metric == "advanced_exposure":
                for attribute in dict.fromkeys(r["attribute"] for r in rows):
                    mine = [r for r in rows if r["attribute"] == attribute]
                    bands = sorted(dict.fromkeys(r["stratum"] for r in mine))
                    groups = sorted(dict.fromkeys(r["group"] for r in mine))
                    values = {(r["stratum"], r["group"]): (r["value"], r["ci_low"], r["ci_high"]) for r in mine}
                    blocks.append(("svg", svg.bar_chart(f"Advanced exposure by mastery band and {attribute}", bands, groups,
                                                        values, "share advanced")))
    for note in res.get("skipped", []):
        blocks.append(("p", f"Not computed: {note}."))
    return blocks


def _outcome_blocks(res: dict[str, Any], payload: dict[str, Any]) -> list[Block]:
    quartiles = [{**r, "attribute": "all students", "group": r["stratum"]} for r in res["gain_by_quartile"]]
    within = _hidden(payload, "gain_by_quartile")
    return [("h2", "Learning gain"), ("h3", "by group"),
            _group_table(res["gain_by_group"], False, "gain", hidden=_hidden(payload, "gain_by_group")),
            ("h3", "by prior-achievement quartile (Q1 lowest)"), _group_table(quartiles, False, "gain"),
            ("h3", "by group within quartile"), _group_table(res["gain_by_group_within_quartile"], True, "gain", hidden=within)]


def blocks(payload: dict[str, Any]) -> list[Block]:
    """The report's content, in reading order."""
    kind = payload["audit"]
    policy = payload["policy"]
    out: list[Block] = [
        ("h1", f"Fairness audit: {kind}"),
        ("p", f"Status: {payload['status']}. Policy {policy['name']} version {policy['version']}; generated "
              f"{payload['generated_at']}" + (f"; model version {payload['model_version']}" if payload.get("model_version") else "") + "."),
        ("h2", "Findings"), ("ul", payload["findings"]),
        ("h2", "Checks"),
        ("table", ["check", "attribute", "stratum", "group", "reference", "status", "value", "95% CI"],
         [[c["name"], c["attribute"] or "", c["stratum"] or "", c["group"], c["reference"] or "", c["status"], _num(c["value"]),
           _ci(*c["ci"])] for c in payload["checks"]]),
    ]
    if payload["check_notes"]:
        out.append(("ul", [f"{k}: {v}" for k, v in payload["check_notes"].items()]))
    out.append(("h2", "Suppressed groups"))
    hidden = payload["suppressed_groups"]
    if hidden:
        text = [f"{h['attribute']}" + (f" (stratum {h['stratum']})" if h.get("stratum") else "") + ": "
                + (h["group"] if "group" in h else f"{h['count']} group(s)") for h in hidden]
        out += [("p", f"Groups with fewer than {payload['min_group_size']} students are hidden, and so are enough other groups "
                      "that their numbers cannot be worked out from the totals. Hidden here:"), ("ul", text)]
    else:
        out.append(("p", "None: every group has enough students to be shown."))
    res = payload["results"]
    if kind == "model":
        out += _model_blocks(res, payload)
    elif kind == "dif":
        out += _dif_blocks(payload)
    elif kind == "recommendations":
        out += _recommendation_blocks(res, payload)
    elif kind == "outcomes":
        out += _outcome_blocks(res, payload)
    return out


def render_markdown(payload: dict[str, Any]) -> str:
    lines: list[str] = []
    for block in blocks(payload):
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            lines += ["#" * int(kind[1]) + " " + block[1], ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "ul":
            lines += [f"- {item}" for item in block[1]] + [""]
        elif kind == "table":
            head, body = block[1], block[2]
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body] + [""]
    return "\n".join(lines)


STYLE = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}"
         "th{background:#f2f2f2}.FAIL{color:#b00020;font-weight:bold}.PASS{color:#1b5e20}"
         ".INSUFFICIENT_EVIDENCE{color:#a05a00}svg{margin:4px}")


def render_html(payload: dict[str, Any]) -> str:
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Fairness audit: {escape(payload['audit'])}</title>"
             f"<style>{STYLE}</style></head><body>"]
    for block in blocks(payload):
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            parts.append(f"<{kind}>{escape(block[1])}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{escape(block[1])}</p>")
        elif kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{escape(str(i))}</li>" for i in block[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{escape(h)}</th>" for h in block[1])
            rows = "".join("<tr>" + "".join(f"<td class='{escape(str(c))}'>{escape(str(c))}</td>" for c in row) + "</tr>"
                           for row in block[2])
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "svg":
            parts.append(block[1])
    parts.append("</body></html>")
    return "".join(parts)


def write_reports(payload: dict[str, Any], html: str | Path | None = None, markdown: str | Path | None = None) -> None:
    """Write the HTML and/or Markdown report files (creating folders)."""
    for path, render in ((html, render_html), (markdown, render_markdown)):
        if path:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render(payload))
