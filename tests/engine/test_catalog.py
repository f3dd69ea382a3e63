"""Catalog: bundle formats, validation (cycles, dangling references, vocabularies), graph arrays, demo bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.catalog import DEMO_CATALOG_PATH, build_catalog, demo_catalog, load_catalog, read_bundle
from engine.catalog.synthetic import synthetic_bundle, write_generated_tables
from engine.errors import DataValidationError, NotFoundError

SKILLS = [
    {"skill_id": "a", "name": "Adding", "prerequisites": []},
    {"skill_id": "b", "name": "Borrowing", "prerequisites": ["a"]},
    {"skill_id": "c", "name": "Carrying", "prerequisites": ["a"]},
    {"skill_id": "d", "name": "Dividing", "prerequisites": ["b", "c"]},
]
ITEMS = [
    {"item_id": "i1", "skill_ids": ["a"], "a": 1.2, "b": -1.0},
    {"item_id": "i2", "skill_ids": ["b"], "a": 0.8, "b": 0.0, "c": 0.2},
    {"item_id": "i3", "skill_ids": ["c", "d"], "a": 1.0, "b": 0.5},
    {"item_id": "i4", "skill_ids": ["d"], "a": 1.5, "b": 1.0},
]
RESOURCES = [
    {"resource_id": "r1", "kind": "video", "skill_ids": ["a"], "level": "core", "tier": 1, "minutes": 5.0},
    {"resource_id": "r2", "kind": "worked_example", "skill_ids": ["d", "b", "c"], "level": "remedial", "tier": 1, "minutes": 10.0},
    {"resource_id": "r3", "kind": "enrichment_project", "skill_ids": ["b", "d"], "level": "advanced", "tier": 1, "minutes": 30.0},
]
INTERVENTIONS = [
    {"intervention_id": "g", "kind": "small_group", "tier": 2, "capacity_per_week": 6, "minutes": 30.0},
]


def write_json_bundle(path: Path, skills=SKILLS, items=ITEMS, resources=RESOURCES) -> Path:
    path.write_text(json.dumps({"name": "tiny", "version": "3", "skills": skills, "items": items,
                                "resources": resources, "interventions": INTERVENTIONS}))
    return path


def write_toml_bundle(path: Path) -> Path:
    def value(v):
        if isinstance(v, list):
            return "[" + ", ".join(f'"{x}"' for x in v) + "]"
        return f'"{v}"' if isinstance(v, str) else repr(v)

    lines = ['name = "tiny"', 'version = "3"']
    for table, rows in (("skills", SKILLS), ("items", ITEMS), ("resources", RESOURCES), ("interventions", INTERVENTIONS)):
        for row in rows:
            lines.append(f"[[{table}]]")
            lines += [f"{k} = {value(v)}" for k, v in row.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_csv_bundle(folder: Path) -> Path:
    folder.mkdir()
    for table, rows in (("skills", SKILLS), ("items", ITEMS), ("resources", RESOURCES), ("interventions", INTERVENTIONS)):
        frame = pl.from_dicts(rows, infer_schema_length=None)
        frame = frame.with_columns([pl.col(c).list.join(";") for c, t in frame.schema.items() if isinstance(t, pl.List)])
        frame.write_csv(folder / f"{table}.csv")
    (folder / "catalog.toml").write_text('name = "tiny"\nversion = "3"\n')
    return folder


def test_the_three_formats_give_the_same_catalog(tmp_path: Path) -> None:
    cats = [load_catalog(write_json_bundle(tmp_path / "c.json")), load_catalog(write_toml_bundle(tmp_path / "c.toml")),
            load_catalog(write_csv_bundle(tmp_path / "csv"))]
    for cat in cats:
        assert (cat.name, cat.version, cat.skill_ids) == ("tiny", "3", ("a", "b", "c", "d"))
        assert cat.item_skills.tolist() == cats[0].item_skills.tolist()
        assert np.allclose(cat.item_a, [1.2, 0.8, 1.0, 1.5]) and np.allclose(cat.item_c, [0.0, 0.2, 0.0, 0.0])
        assert cat.resource_skill.tolist() == [0, 3, 1]  # the first listed skill is the primary one
        assert cat.interventions["capacity_per_week"].to_list() == [6]


def test_a_csv_bundle_as_spreadsheets_save_it_gives_the_same_catalog(tmp_path: Path) -> None:
    """Semicolon-separated (a comma-decimal locale's CSV), headers in another case, cells padded with spaces, blank
    lines: the same catalog as the plain CSV bundle (each of these stopped the build before)."""
    plain = load_catalog(write_csv_bundle(tmp_path / "plain"))
    messy = write_csv_bundle(tmp_path / "messy")
    for table in ("skills", "items", "resources", "interventions"):
        frame = pl.read_csv(messy / f"{table}.csv", infer_schema=False)
        frame = frame.rename({c: c.upper() if c.endswith("_id") else c for c in frame.columns})
        frame = frame.with_columns(pl.col(c).str.replace(r"^(.+)$", " ${1} ") for c in frame.columns)
        frame.write_csv(messy / f"{table}.csv", separator=";" if table != "skills" else ",")
        with (messy / f"{table}.csv").open("a") as handle:
            handle.write("\n" + (";" if table != "skills" else ",") * (frame.width - 1) + "\n\n")
    got = load_catalog(messy)
    assert got.skill_ids == plain.skill_ids and got.item_ids == plain.item_ids
    assert got.item_skills.tolist() == plain.item_skills.tolist() and np.allclose(got.item_a, plain.item_a)
    assert got.graph.direct.tolist() == plain.graph.direct.tolist()
    assert got.resource_skill.tolist() == plain.resource_skill.tolist()


def test_a_list_cell_with_another_separator_is_told_how_lists_are_written(tmp_path: Path) -> None:
    skills = [dict(s) for s in SKILLS]
    skills[3]["prerequisites"] = ["b|c"]
    items = [dict(i) for i in ITEMS]
    items[2]["skill_ids"] = ["c,d"]
    with pytest.raises(DataValidationError) as err:
        load_catalog(write_json_bundle(tmp_path / "c.json", skills=skills, items=items))
    text = str(err.value)
    assert "unknown prerequisite 'b|c'; list cells are separated by ';': write 'b;c'" in text
    assert "refers to unknown skill 'c,d'; list cells are separated by ';': write 'c;d'" in text


def test_graph_arrays_match_the_hand_drawn_graph(tmp_path: Path) -> None:
    cat = load_catalog(write_json_bundle(tmp_path / "c.json"))
    g = cat.graph
    assert g.depth.tolist() == [0, 1, 1, 2]
    assert g.ancestors[3].tolist() == [True, True, True, False]  # d needs b, c and through them a
    assert g.direct[3].tolist() == [False, True, True, False]
    position = {int(s): i for i, s in enumerate(g.order)}
    for s, p in zip(*np.nonzero(g.direct)):
        assert position[int(p)] < position[int(s)]
    assert cat.items_by_skill.tolist() == [[0], [1], [2], [3]]  # by primary (first) skill: i3 belongs to c, not d


def test_items_without_irt_parameters_get_defaults_and_a_note(tmp_path: Path) -> None:
    items = [{"item_id": "x", "skill_ids": ["a"]}, {"item_id": "y", "skill_ids": ["b"], "a": 2.0, "b": 1.0}]
    cat = load_catalog(write_json_bundle(tmp_path / "c.json", items=items))
    assert cat.item_a.tolist() == [1.0, 2.0] and cat.item_b.tolist() == [0.0, 1.0]
    assert any("a=1.0 for 1 item" in n for n in cat.notes)


def test_descriptive_columns_left_out_get_defaults_and_a_note(tmp_path: Path) -> None:
    """A skill without a name is called by its id, a resource without a tier is tier 1 and one without minutes has
    none, in a CSV bundle (columns absent) and a JSON one (a value missing on some rows); the set survives the round
    trip through the served document; a tier outside 1-3 is still an error."""
    from engine.runtime.catalogs import catalog_from_dict, catalog_to_dict

    folder = write_csv_bundle(tmp_path / "csv")
    pl.read_csv(folder / "skills.csv").drop("name").write_csv(folder / "skills.csv")
    pl.read_csv(folder / "resources.csv").drop("tier", "minutes").write_csv(folder / "resources.csv")
    cat = load_catalog(folder)
    assert cat.skill_names == ("a", "b", "c", "d")
    assert cat.resources["tier"].to_list() == [1, 1, 1] and np.isnan(cat.resource_minutes).all()
    assert any("name = skill id for 4 skill(s)" in n and "tier = 1 for 3 resource(s)" in n for n in cat.notes)
    again = catalog_from_dict(catalog_to_dict(cat), source="round trip")
    assert again.skill_names == cat.skill_names and again.resources["tier"].to_list() == [1, 1, 1]
    skills = [SKILLS[0], {k: v for k, v in SKILLS[1].items() if k != "name"}, *SKILLS[2:]]
    resources = [RESOURCES[0], {k: v for k, v in RESOURCES[1].items() if k != "tier"}, RESOURCES[2]]
    cat = load_catalog(write_json_bundle(tmp_path / "c.json", skills=skills, resources=resources))
    assert cat.skill_names == ("Adding", "b", "Carrying", "Dividing")
    assert cat.resources["tier"].to_list() == [1, 1, 1] and cat.resource_minutes.tolist() == [5.0, 10.0, 30.0]
    bad = [RESOURCES[0], {**RESOURCES[1], "tier": 4}, RESOURCES[2]]
    with pytest.raises(DataValidationError) as info:
        load_catalog(write_json_bundle(tmp_path / "bad.json", resources=bad))
    assert [(p.row, p.column) for p in info.value.problems] == [(2, "tier")]


def test_a_cycle_is_an_error_naming_every_skill_on_it(tmp_path: Path) -> None:
    skills = [dict(s) for s in SKILLS]
    skills[0] = {"skill_id": "a", "name": "Adding", "prerequisites": ["d"]}  # a -> d -> b -> a
    with pytest.raises(DataValidationError) as err:
        load_catalog(write_json_bundle(tmp_path / "c.json", skills=skills))
    text = str(err.value)
    assert "cycle" in text and all(f"'{s}'" in text for s in ("a", "b", "d"))


def test_dangling_and_self_references_are_named(tmp_path: Path) -> None:
    skills = [dict(s) for s in SKILLS]
    skills[1] = {"skill_id": "b", "name": "Borrowing", "prerequisites": ["a", "zeta"]}
    skills[2] = {"skill_id": "c", "name": "Carrying", "prerequisites": ["c"]}
    with pytest.raises(DataValidationError) as err:
        load_catalog(write_json_bundle(tmp_path / "c.json", skills=skills))
    text = str(err.value)
    assert "skill 'b' has unknown prerequisite 'zeta'" in text
    assert "skill 'c' lists itself" in text


def test_every_cross_table_problem_is_listed_at_once(tmp_path: Path) -> None:
    items = ITEMS + [{"item_id": "i9", "skill_ids": ["nope"], "a": -1.0, "b": 0.0}]
    resources = RESOURCES + [{"resource_id": "r9", "kind": "podcast", "skill_ids": ["a"], "level": "core", "tier": 1, "minutes": 5.0}]
    with pytest.raises(DataValidationError) as err:
        load_catalog(write_json_bundle(tmp_path / "c.json", items=items, resources=resources))
    text = str(err.value)
    assert "unknown skill 'nope'" in text and "'podcast'" in text and "discrimination a must be > 0" in text


def test_schema_problems_name_row_and_column(tmp_path: Path) -> None:
    resources = [dict(RESOURCES[0], level="expert", minutes=-3.0)]
    with pytest.raises(DataValidationError) as err:
        load_catalog(write_json_bundle(tmp_path / "c.json", resources=resources))
    text = str(err.value)
    assert "row 1, column 'level'" in text and "row 1, column 'minutes'" in text


def test_missing_catalog_and_unknown_ids_are_clear(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="catalog not found"):
        load_catalog(tmp_path / "none")
    cat = load_catalog(write_json_bundle(tmp_path / "c.json"))
    with pytest.raises(NotFoundError, match="unknown skill 'zz'"):
        cat.skill_index("zz")
    with pytest.raises(NotFoundError, match="unknown resource"):
        cat.resource_index("zz")


def test_calibrated_item_parameters_replace_the_catalog_ones(tmp_path: Path) -> None:
    cat = load_catalog(write_json_bundle(tmp_path / "c.json"))
    new = cat.with_item_params(pl.DataFrame({"item_id": ["i2"], "a": [2.5], "b": [-0.5]}))
    assert new.item_a.tolist() == [1.2, 2.5, 1.0, 1.5] and new.item_b[1] == -0.5 and new.item_c[1] == 0.2
    with pytest.raises(NotFoundError):
        cat.with_item_params(pl.DataFrame({"item_id": ["ghost"], "a": [1.0], "b": [0.0]}))


def test_demo_catalog_uses_real_skill_names_and_is_complete(shared_data: Path) -> None:
    cat = demo_catalog()
    public = {}
    for line in (shared_data / "assistments09_skill_names.tsv").read_text().splitlines():
        sid, name = line.split("\t", 1)
        public[int(sid)] = name.strip().strip('"')
    assert 25 <= cat.n_skills <= 40
    for row in cat.skills.iter_rows(named=True):
        assert public[row["assistments_id"]] == row["name"]
    assert set(cat.resource_level.tolist()) == {0, 1, 2}  # remedial, core and advanced all present
    assert (cat.items_by_skill >= 0).sum(axis=1).min() >= 5  # every skill has items
    assert set(cat.interventions["kind"].to_list()) == {"small_group", "individual_tutoring", "teacher_conference"}
    assert cat.skill_params.height == cat.n_skills


def test_demo_generated_tables_are_reproducible(tmp_path: Path) -> None:
    copy = tmp_path / "demo"
    shutil.copytree(DEMO_CATALOG_PATH, copy)
    write_generated_tables(copy)
    for name in ("items.csv", "resources.csv", "skill_params.csv"):
        assert (copy / name).read_text() == (DEMO_CATALOG_PATH / name).read_text()


def test_synthetic_catalog_of_a_thousand_items_builds() -> None:
    cat = build_catalog(synthetic_bundle(n_skills=100, items_per_skill=10, seed=3))
    assert cat.n_items == 1000 and cat.n_resources == 600
    assert read_bundle(DEMO_CATALOG_PATH).name == "demo-middle-school-maths"
