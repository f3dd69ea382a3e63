"""Catalog: skills with a prerequisite graph, items with IRT parameters, resources, interventions.

`load_catalog(path)` reads a TOML/JSON/CSV bundle (see `bundle.py`) and validates it; `demo_catalog()`
loads the shipped middle-school maths bundle.
"""

from engine.catalog.bundle import RawBundle, read_bundle
from engine.catalog.catalog import DEMO_CATALOG_PATH, Catalog, build_catalog, demo_catalog, load_catalog
from engine.catalog.schema import INTERVENTION_KINDS, LEVELS, RESOURCE_KINDS

__all__ = [
    "Catalog", "DEMO_CATALOG_PATH", "INTERVENTION_KINDS", "LEVELS", "RESOURCE_KINDS", "RawBundle",
    "build_catalog", "demo_catalog", "load_catalog", "read_bundle",
]
