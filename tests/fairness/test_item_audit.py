"""Item audit on a table: item columns, reference choice, suppression of a small focal group, errors."""

from __future__ import annotations

import polars as pl
import pytest

from engine.errors import ConfigError, DataValidationError
from engine.fairness.gate import INSUFFICIENT, load_policy
from engine.fairness.item_audit import audit_items
from engine.fairness.results import assemble


@pytest.fixture(scope="module")
def table(verbal_path) -> pl.DataFrame:
    return pl.read_csv(verbal_path, separator="\t")


def test_everyone_else_as_reference_equals_the_other_gender(table: pl.DataFrame) -> None:
    rest = audit_items(table, "Gender", "1")
    named = audit_items(table, "Gender", "1", reference="0")
    assert rest.reference == "rest" and len(rest.result.items) == 24
    assert [i.chi2 for i in rest.result.items] == pytest.approx([i.chi2 for i in named.result.items])
    assert rest.skipped_columns == [{"column": "Anger", "reason": "values other than 0/1 (not a dichotomous item)"}]


def test_a_small_focal_group_is_not_analysed_and_its_size_is_not_revealed(table: pl.DataFrame) -> None:
    group = pl.when(pl.int_range(pl.len()) < 6).then(pl.lit("x")).otherwise(pl.col("Gender").cast(pl.Utf8))
    three = table.with_columns(group.alias("Gender"))
    audit = audit_items(three, "Gender", ["1", "x"], reference="0")
    # x alone hidden would be the table's size minus the reference and group 1: group 1 is hidden with it
    assert audit.suppressed_groups == ["1", "x"] and audit.excluded_students == 0 and audit.result is None
    payload = assemble(audit, load_policy())
    rows = {c["group"]: c["status"] for c in payload["checks"]}
    assert not rows and payload["check_notes"]["dif_c_items"].startswith("only suppressed groups")
    assert payload["status"] == INSUFFICIENT
    only_small = audit_items(three, "Gender", "x", reference="0")
    assert only_small.result is None
    assert assemble(only_small, load_policy())["status"] == INSUFFICIENT


def test_bad_group_choices_are_explained(table: pl.DataFrame) -> None:
    with pytest.raises(ConfigError, match="'2'"):
        audit_items(table, "Gender", "2")
    with pytest.raises(ConfigError, match="'Sex'"):
        audit_items(table, "Sex", "1")
    with pytest.raises(DataValidationError, match="single value"):
        audit_items(table.with_columns(pl.lit(1).alias("Gender")), "Gender", "1")
    with pytest.raises(ConfigError, match="'S9DoCurse'"):
        audit_items(table, "Gender", "1", items=["S1DoCurse", "S9DoCurse"])
