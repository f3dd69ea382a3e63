"""The small ROC / calibration panels of the report (engine/fairness/svg.py): where the points land.

The second mutation pass (docs/mutation_fairness_evaluation.md) found the panels' coordinate mapping (`_sx`, `_sy`)
untested: a mutant that mirrors every plotted point survived, as did one that drops the calibration panel's grey
overall curve. The truth used here is the panel's own frame and arithmetic done by hand: a panel is `SMALL` = 210 px
square with a frame from x = 30 to 204 (width 174) and y = 22 to 174 (height 152); the unit square of the data maps
onto that frame, x growing to the right and y growing upwards (SVG y runs downwards), so

    data (x, y)  ->  pixel (30 + 174 x, 174 - 152 y)

e.g. (0, 0) -> (30, 174), the frame's lower left corner; (1, 1) -> (204, 22), its upper right corner;
(0.25, 0.5) -> (73.5, 98); (0.5, 0.75) -> (117, 60); (0.2, 0.3) -> (64.8, 128.4); (0.6, 0.7) -> (134.4, 67.6).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from engine.fairness import svg

NS = "{http://www.w3.org/2000/svg}"
INK, GREY = "#1d3f8f", "#6b6b6b"


def _parse(text: str) -> ET.Element:
    root = ET.fromstring(text)
    # nothing but elements: no stray text between or after them
    assert not (root.text or "").strip()
    for element in root.iter():
        assert not (element.tail or "").strip(), element.tail
    return root


def _frame(root: ET.Element) -> tuple[float, float, float, float]:
    rect = root.find(NS + "rect")
    x, y, w, h = (float(rect.get(k)) for k in ("x", "y", "width", "height"))
    return x, y, x + w, y + h       # left, top, right, bottom


def _pairs(points: str) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in p.split(",")) for p in points.split(" ")]  # type: ignore[misc]


def _polylines(root: ET.Element, stroke: str) -> list[ET.Element]:
    return [p for p in root.iter(NS + "polyline") if p.get("stroke") == stroke]


def test_the_frame_is_where_the_unit_square_goes() -> None:
    root = _parse(svg.calibration_panel("g", [0.5], [0.5]))
    assert root.get("width") == root.get("height") == str(svg.SMALL) == "210"
    assert _frame(root) == (30.0, 22.0, 204.0, 174.0)
    assert (svg._sx(0), svg._sy(0)) == (30, 174)          # lower left corner of the frame
    assert (svg._sx(1), svg._sy(1)) == (204, 22)          # upper right corner
    assert svg._sx(0.25) == pytest.approx(73.5) and svg._sy(0.5) == pytest.approx(98.0)
    assert svg._sx(0.5) == pytest.approx(117.0) and svg._sy(0.75) == pytest.approx(60.0)


def test_calibration_panel_plots_each_bin_at_its_pixel_not_mirrored() -> None:
    predicted, observed = [0.0, 0.25, 0.5, 1.0], [0.0, 0.5, 0.75, 1.0]
    root = _parse(svg.calibration_panel("girls", predicted, observed))
    left, top, right, bottom = _frame(root)
    dots = [(float(c.get("cx")), float(c.get("cy"))) for c in root.iter(NS + "circle")]
    assert dots == [(30.0, 174.0), (73.5, 98.0), (117.0, 60.0), (204.0, 22.0)]
    assert dots[0] == (left, bottom) and dots[-1] == (right, top)
    # orientation: a higher predicted chance is further right, a higher observed success is higher up
    assert [x for x, _ in dots] == sorted(x for x, _ in dots)
    assert [y for _, y in dots] == sorted((y for _, y in dots), reverse=True)
    assert all(c.get("fill") == INK for c in root.iter(NS + "circle"))
    # the blue line joins the dots in order
    (line,) = _polylines(root, INK)
    assert _pairs(line.get("points")) == dots
    # the diagonal (perfect calibration) from the lower left to the upper right corner
    diagonal = root.find(NS + "line")
    assert tuple(float(diagonal.get(k)) for k in ("x1", "y1", "x2", "y2")) == (left, bottom, right, top)
    assert not _polylines(root, GREY)                     # no overall curve asked for


def test_calibration_panel_draws_the_overall_curve_in_grey_and_two_bins_as_a_line() -> None:
    root = _parse(svg.calibration_panel("girls", [0.25, 0.5], [0.5, 0.75], overall=([0.2, 0.6], [0.3, 0.7])))
    (grey,) = _polylines(root, GREY)
    assert _pairs(grey.get("points")) == [(64.8, 128.4), (134.4, 67.6)]
    assert grey.get("stroke-dasharray") == "4 2"
    (blue,) = _polylines(root, INK)
    assert _pairs(blue.get("points")) == [(73.5, 98.0), (117.0, 60.0)]
    texts = [t.text for t in root.iter(NS + "text")]
    assert "predicted chance of success" in texts and "observed success" in texts


def test_calibration_panel_with_one_bin_has_a_dot_and_an_overall_curve_of_one_point_is_not_drawn() -> None:
    root = _parse(svg.calibration_panel("g", [0.5], [0.25], overall=([0.5], [0.5])))
    assert [(float(c.get("cx")), float(c.get("cy"))) for c in root.iter(NS + "circle")] == [(117.0, 136.0)]
    assert not _polylines(root, GREY) and not _polylines(root, INK)     # a line needs two points
    assert root.find(NS + "line") is not None


def test_roc_panel_curves_area_and_reference_name() -> None:
    fpr, tpr, reference = [0.0, 0.5, 1.0], [0.0, 0.75, 1.0], [0.0, 0.5, 1.0]
    title = "students whose first language is not English"   # 44 characters
    root = _parse(svg.roc_panel(title, fpr, tpr, reference, "students with English at home, the largest"))
    left, top, right, bottom = _frame(root)
    blue, grey = [(30.0, 174.0), (117.0, 60.0), (204.0, 22.0)], [(30.0, 174.0), (117.0, 98.0), (204.0, 22.0)]
    (line,) = _polylines(root, INK)
    assert _pairs(line.get("points")) == blue
    (ref,) = _polylines(root, GREY)
    assert _pairs(ref.get("points")) == grey and ref.get("stroke-dasharray") == "4 2"
    # the ABROCA area: along the group's curve, back along the reference's
    assert _pairs(root.find(NS + "polygon").get("points")) == blue + grey[::-1]
    diagonal = root.find(NS + "line")
    assert tuple(float(diagonal.get(k)) for k in ("x1", "y1", "x2", "y2")) == (left, bottom, right, top)
    # the reference's name, cut to 22 characters, in grey inside the frame near its lower right corner
    (name,) = [t for t in root.iter(NS + "text") if t.get("fill") == GREY]
    assert name.text == "grey: students with English "
    x, y = float(name.get("x")), float(name.get("y"))
    assert (left + right) / 2 < x <= right and (top + bottom) / 2 < y <= bottom
    # the full title for screen readers, cut to 34 characters on the panel; the axis labels centred on their axes
    assert root.find(NS + "title").text == title
    texts = {t.text: t for t in root.iter(NS + "text")}
    assert title[:34] in texts and title not in texts
    assert float(texts["false positive rate"].get("x")) == (svg.SMALL + 30) / 2 == 120.0
    assert float(texts["false positive rate"].get("y")) == svg.SMALL - 4
    ylabel = texts["true positive rate"]
    assert float(ylabel.get("y")) == svg.SMALL / 2
    # turned upright about its own anchor, so it stays beside the y axis (not rotated about another point)
    assert ylabel.get("transform") == f"rotate(-90 {ylabel.get('x')} {ylabel.get('y')})" == "rotate(-90 9 105.0)"


def test_roc_panel_of_the_reference_group_has_no_grey_curve_area_or_name() -> None:
    root = _parse(svg.roc_panel("M (reference)", [0.0, 1.0], [0.0, 1.0], None, None))
    assert root.find(NS + "polygon") is None and not _polylines(root, GREY)
    assert not [t for t in root.iter(NS + "text") if t.get("fill") == GREY]
    (line,) = _polylines(root, INK)
    assert _pairs(line.get("points")) == [(30.0, 174.0), (204.0, 22.0)]
