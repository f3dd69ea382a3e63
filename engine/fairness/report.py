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

from engine.fairness import explain, svg
from engine.fairness.recommendation_audit import ONCE_READY

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
        meaning = explain.METRIC_WORDS.get(metric)
        blocks += [("h3", f"{metric}: {meaning}" if meaning else metric), _group_table(rows, False, hidden=_hidden(payload, "model"))]
    split = res.get("calibration_by_split")
    if split is not None:
        hidden = split["suppressed_cells"]
        blocks += [("h3", f"mean_residual by {split['column']}"),
                   ("p", "The mean residual again, inside each value of the column: observed minus predicted success. Where "
                         "a group is over-estimated, this says whether on a student's first answer on a skill (the cold "
                         "start, which rests on the general ability and the population's prior) or on skills already "
                         "practised. Described here, not gated." +
                         (" Cells below the minimum group size, not shown: " +
                          ", ".join(f"{n} in {value}" for value, n in hidden.items()) + "." if hidden else "")),
                   _group_table([*split["overall"], *split["by_group"]], True)]
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
        curves = {c["group"]: (c["fpr"], c["tpr"]) for c in res["roc"] if c["attribute"] == attribute}
        pairs = {a["group"]: a for a in res["abroca"] if a["attribute"] == attribute}
        reference = next((a["reference"] for a in pairs.values()), None)
        ref_tpr = curves.get(reference, (None, None))[1] if reference else None
        panels = []
        for group, (fpr, tpr) in curves.items():
            area = pairs.get(group)
            label = f"{group}" + (f": ABROCA {_num(area['abroca'])}" if area else " (reference)" if group == reference else "")
            panels.append(svg.roc_panel(label, fpr, tpr, ref_tpr if group != reference else None,
                                        reference if group != reference else None))
        blocks += [("h3", f"ROC curves by {attribute}, one panel per group"),
                   ("p", "Each panel shows one group's ROC curve (blue) over the largest group's (grey, dashed); the shaded "
                         "area between them is ABROCA. Curves that lie on top of each other mean the model ranks right and "
                         "wrong answers equally well in both groups."),
                   ("svgs", panels)]
        rel = [c for c in res["reliability"] if c["attribute"] == attribute]
        blocks += [("h3", f"Calibration by {attribute}, one panel per group"),
                   ("p", "Each dot is a bin of answers: the model's average predicted chance of success (across) against "
                         "the share that were right (up). On the dashed diagonal the predictions are honest; below it the "
                         "model over-estimates the group, above it under-estimates it."),
                   ("svgs", [svg.calibration_panel(c["group"], c["predicted"], c["observed"]) for c in rel])]
    return blocks


def _dif_groups(payload: dict[str, Any]) -> str:
    """The focal groups of the DIF block, e.g. `focal A, C; 2 group(s) hidden`: the shown ones, and the hidden ones
    named only when the policy lets the assembled `suppressed_groups` list name them. A name of a hidden group in
    `results` (as results written before it stopped holding them did) is never printed from there."""
    res = payload["results"]
    entries = res.get("suppressed_groups", [])
    named = [e for e in entries if isinstance(e, str)]
    hidden = len(named) + sum(int(e.get("count", 0)) for e in entries if isinstance(e, dict))
    shown = [f for f in res["focal"] if f not in named]
    text = f"focal {', '.join(shown)}" if shown else "no focal group shown"
    if not hidden:
        return text
    labels = [h["group"] for h in payload.get("suppressed_groups", []) if h.get("table") == "dif" and "group" in h]
    return text + (f"; hidden: {', '.join(labels)}" if len(labels) == hidden else f"; {hidden} group(s) hidden")


def _dif_blocks(payload: dict[str, Any]) -> list[Block]:
    res = payload["results"]
    items = res.get("items", [])
    blocks: list[Block] = [("h2", f"Item audit (DIF, {res.get('method', 'n/a')})"),
                           ("p", f"Groups: {res['group_col']}; reference {res['reference']}; {_dif_groups(payload)}. "
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
    for family in ("exposure", "ready_not_offered", "intervention_rate", "remedial_to_advanced", ONCE_READY):
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


KIND_WORDS = {
    "model": "a prediction model: how accurate and how honest its predictions are for each student group",
    "dif": "the questions: whether each works the same for students of equal ability in every group (differential item functioning)",
    "recommendations": "the recommendations served: who is offered what, compared at equal readiness",
    "outcomes": "learning outcomes: whether every group, and every prior-achievement quartile, learns",
}
STATUS_WORDS = {"PASS": "pass", "FAIL": "FAIL", "INSUFFICIENT_EVIDENCE": "not enough evidence"}


def _audited(payload: dict[str, Any]) -> list[list[str]]:
    """The 'what was audited' table: audit, model, data, outcome, split, groups, policy, date."""
    data = payload.get("data") or {}
    kind = payload["audit"]
    students = data.get("n_students", data.get("students"))
    rows_n = data.get("n_rows", data.get("n_test"))
    source = data.get("path") or data.get("source") or "as given"
    if data.get("format"):
        source += f" ({data['format']} format)"
    if students is not None:
        source += f"; {students:,} students" if isinstance(students, int) else f"; {students} students"
    if rows_n is not None and kind == "model":
        source += f", {rows_n:,} predicted answers" if isinstance(rows_n, int) else ""
    model = data.get("model") or payload.get("model_version") or "not named"
    if payload.get("model_version") and data.get("model") and payload["model_version"] != data["model"]:
        model += f" (model set {payload['model_version']})"
    outcome = data.get("outcome") or {"model": "the answer's score as given (1 = right)",
                                      "dif": "right or wrong on each question, students matched on their total score",
                                      "recommendations": "what each served list held, by mastery band when served",
                                      "outcomes": "gain = post - pre per student"}[kind]
    if data.get("split"):
        split = f"{data['split']}"
        if data.get("n_train") is not None:
            split += f": fitted on {data['n_train']:,} answers of other students, audited on {data.get('n_test', 0):,} held-out answers"
    else:
        split = "none: the data were audited as given" if kind != "model" else "none given: predictions audited as supplied"
    groups = data.get("groups") or data.get("group") or (payload.get("results") or {}).get("group_col") or "see the tables"
    policy = payload["policy"]
    return [["Audited", KIND_WORDS[kind]], ["Model", model], ["Data", source], ["Outcome", outcome], ["Split", split],
            ["Groups", str(groups)],
            ["Policy", f"{policy['name']} version {policy['version']}; groups under {payload['min_group_size']} students hidden"],
            ["Generated", str(payload["generated_at"])]]


def _verdict(status: str, explained: list[dict[str, Any]]) -> str:
    fails = sum(c["counts"]["FAIL"] for c in explained)
    undecided = sum(c["counts"]["INSUFFICIENT_EVIDENCE"] for c in explained)
    checks_failing = sum(1 for c in explained if c["status"] == "FAIL")
    if status == "PASS":
        return "PASS: every check of the policy is met for every group shown."
    if status == "FAIL":
        return (f"FAIL: {fails} comparison(s) in {checks_failing} check(s) are clearly outside the policy's bounds. "
                "A model set with this result is not served while the gate is on.")
    no_data = [c["description"] for c in explained if not c["rows"]]
    why = f"{undecided} comparison(s) could not be decided with these students" if undecided else "some checks had nothing to test"
    return (f"NOT ENOUGH EVIDENCE: nothing fails, but {why}"
            + (f" (no usable data for: {'; '.join(no_data)})" if no_data else "")
            + ". Under the policy the burden of proof is on the model, so this is not a pass.")


def _affected_lines(who: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = []
    for r in who["failing"]:
        lines.append(f"Fails: {explain.where(r)}: {_num(r['value'])}, interval {_ci(*r['ci'])}; the policy asks "
                     f"{r['bound_text']} ({r['check']}).")
    for r in who["undecided"][:8]:
        settle = (f"about {r['more']:,} more students in this group would settle it" if r.get("more") is not None
                  else "more students alone may not settle it (the estimate sits on the bound)" if r.get("value") is not None
                  else r.get("reason") or "it could not be estimated")
        lines.append(f"Undecided: {explain.where(r)}: {_num(r['value'])}, interval {_ci(*(r.get('ci') or [None, None]))}; "
                     f"the policy asks {r['bound_text']} ({r['check']}); {settle}.")
    if len(who["undecided"]) > 8:
        lines.append(f"... and {len(who['undecided']) - 8} more undecided comparisons (under each check below).")
    return lines or ["No group: every comparison passes."]


TODO = {
    "model": "Do not serve the model as it is. Look at the failing groups' calibration and ROC panels below: recalibrate "
             "for them or retrain with inputs that explain their outcomes, then audit again on students the model has not seen.",
    "dif": "Withhold the class C questions from recommendations (`equilearn audit dif ... --blocked-out blocked.json`, "
           "then RecommenderConfig.blocked_items), have them reviewed for wording and context, and audit again.",
    "recommendations": "Find out why the failing groups are offered less (or more) at equal readiness: the recommender's "
                       "readiness inputs, teacher constraints, content gaps; fix, then audit the served log again.",
    "outcomes": "Find out why these groups do not grow: look at what they were offered and at stalled students (MTSS); "
                "audit the recommendations too.",
}


def _todo(status: str, kind: str, who: dict[str, list[dict[str, Any]]]) -> list[str]:
    if status == "FAIL":
        return [TODO[kind]]
    if status == "INSUFFICIENT_EVIDENCE":
        closest = next((r for r in who["undecided"] if r.get("more") is not None), None)
        first = ("Collect more data before relying on the result"
                 + (f": the closest undecided comparison ({explain.where(closest)}) needs about {closest['more']:,} more "
                    "students in that group, if its estimate holds" if closest else "") + ".")
        return [first, "Meanwhile treat the result as not passed: record it (POST /v1/audits) so the history shows it, and "
                       "audit again when the data have grown."]
    return ["Nothing to fix. Record the result with the model set (POST /v1/audits, or --store) and audit again when "
            "the model, the data or the population change."]


def _check_blocks(explained: list[dict[str, Any]]) -> list[Block]:
    out: list[Block] = []
    for c in explained:
        counts = c["counts"]
        summary = (f"Each comparison's value is {c['meaning']}; the policy asks for {c['bound_text']}. "
                   f"{counts['PASS']} pass, {counts['FAIL']} fail, {counts['INSUFFICIENT_EVIDENCE']} undecided.")
        if c.get("note"):
            summary += f" Note: {c['note']}."
        out += [("h3", f"{STATUS_WORDS.get(c['status'], c['status'])}: {c['description']}"), ("p", summary)]
        head = ["comparison", "value", "95% interval", "result", "students to settle it"]

        def row(r: dict[str, Any]) -> list[str]:
            settle = ("" if r.get("status") != "INSUFFICIENT_EVIDENCE" else
                      f"about {r['n_needed']:,} (now {r['n_students']:,})" if r.get("n_needed") is not None and r.get("n_students") is not None
                      else r.get("reason") or "n/a")
            return [explain.where(r), _num(r["value"]), _ci(*(r.get("ci") or [None, None])),
                    STATUS_WORDS.get(r["status"], r["status"]), settle]
        open_rows = [row(r) for r in c["rows"] if r.get("status") != "PASS"]
        if open_rows:
            out.append(("table", head, open_rows))
        if counts["PASS"] and len(c["rows"]) > len(open_rows):
            out.append(("details", f"All {len(c['rows'])} comparisons of this check", ("table", head, [row(r) for r in c["rows"]])))
    return out


def blocks(payload: dict[str, Any]) -> list[Block]:
    """The report's content, in reading order: what was audited, the verdict, who is affected and what to do;
    then the findings, each check in plain words, the suppressed groups and the audit's tables and charts."""
    kind = payload["audit"]
    explained = explain.explain(payload["checks"], payload["check_status"], payload["check_notes"],
                                payload.get("policy_checks") or [], payload.get("alpha", 0.05), payload.get("confidence", 0.95))
    who = explain.affected(explained)
    out: list[Block] = [
        ("h1", f"Fairness audit: {kind}"),
        ("h2", "What was audited"), ("table", ["", ""], _audited(payload)),
        ("h2", "Verdict"), ("verdict", payload["status"], _verdict(payload["status"], explained)),
        ("h2", "Who is affected"), ("ul", _affected_lines(who)),
        ("h2", "What to do"), ("ul", _todo(payload["status"], kind, who)),
        ("h2", "Findings"), ("ul", payload["findings"]),
        ("h2", "Checks"),
        ("p", "Every check of the policy, in its own words. A comparison passes when its whole confidence interval is on "
              "the right side of the bound, fails when it is wholly on the wrong side, and is undecided otherwise; with "
              "many comparisons at once each must clear a stricter bar (the policy's multiple-comparison correction), "
              "which the number of students needed to settle it includes."),
    ]
    out += _check_blocks(explained)
    out.append(("h2", "Suppressed groups"))
    hidden = payload["suppressed_groups"]
    if hidden:
        text = [f"{h['attribute']}" + (f" (stratum {h['stratum']})" if h.get("stratum") else "") + ": "
                + (h["group"] if "group" in h else f"{h['count']} group(s)") for h in hidden]
        out += [("p", f"Groups with fewer than {payload['min_group_size']} students are hidden, and so are enough other groups "
                      "that no hidden number is a shown total minus shown groups. Hidden here:"), ("ul", text)]
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
        if block[0] == "details":
            lines += [f"**{block[1]}**", ""]
            block = block[2]
        elif block[0] == "verdict":
            block = ("p", f"**{block[2]}**")
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


STYLE = ("body{font-family:system-ui,sans-serif;max-width:1020px;margin:2em auto;color:#222;line-height:1.45}"
         ".multiples{display:flex;flex-wrap:wrap;gap:6px}.verdict{font-weight:bold;padding:8px 12px;border-left:6px solid #777;"
         "background:#f4f6f9}.verdict.PASS{border-color:#1b5e20}.verdict.FAIL{border-color:#b00020}"
         ".verdict.INSUFFICIENT_EVIDENCE{border-color:#8a4b00}details{margin:0 0 1em}summary{cursor:pointer;color:#0b57d0}"
         "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}"
         "th{background:#f2f2f2}.FAIL{color:#b00020;font-weight:bold}.PASS{color:#1b5e20}"
         ".INSUFFICIENT_EVIDENCE{color:#a05a00}svg{margin:4px}")


def render_html(payload: dict[str, Any]) -> str:
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Fairness audit: {escape(payload['audit'])}</title>"
             f"<style>{STYLE}</style></head><body>"]
    for block in blocks(payload):
        kind = block[0]
        if kind == "details":
            parts.append(f"<details><summary>{escape(block[1])}</summary>")
            block, kind, closing = block[2], block[2][0], "</details>"
        else:
            closing = ""
        if kind == "verdict":
            parts.append(f"<p class='verdict {escape(block[1])}'>{escape(block[2])}</p>")
        elif kind == "svgs":
            parts.append("<div class='multiples'>" + "".join(block[1]) + "</div>")
        elif kind in ("h1", "h2", "h3"):
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
        parts.append(closing)
    parts.append("</body></html>")
    return "".join(parts)


def write_reports(payload: dict[str, Any], html: str | Path | None = None, markdown: str | Path | None = None) -> None:
    """Write the HTML and/or Markdown report files (creating folders)."""
    for path, render in ((html, render_html), (markdown, render_markdown)):
        if path:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render(payload))
