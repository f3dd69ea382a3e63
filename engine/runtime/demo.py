"""The demo model set: responses simulated on the demo catalog, a 2PL IRT bank calibrated on them, and
the catalog's BKT priors; registered in MLflow (alias `champion`) or written as a local model-set file.

Used by `equilearn demo-serve` (the end of `make run`). The simulation is the 2PL with the catalog's own
item parameters and abilities N(0, 1), so the calibrated bank can be compared with the truth.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import polars as pl

from engine.catalog import Catalog, demo_catalog
from engine.config import load_settings
from engine.mastery import MasteryEngine
from engine.mastery.adapters import irt_ability
from engine.runtime.modelset import LocalModelSet, write_model_set_file

log = logging.getLogger(__name__)


def simulate_responses(catalog: Catalog, n_students: int = 800, per_student: int = 48, seed: int = 7) -> pl.DataFrame:
    """Dichotomous responses from the 2PL/3PL with the catalog's (a, b, c), abilities N(0, 1)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n_students)
    rows = np.repeat(np.arange(n_students), per_student)
    items = np.concatenate([rng.choice(catalog.n_items, per_student, replace=False) for _ in range(n_students)])
    a, b, c = catalog.item_a[items], catalog.item_b[items], catalog.item_c[items]
    p = c + (1 - c) / (1 + np.exp(-a * (theta[rows] - b)))
    return pl.DataFrame({"student_id": [f"demo-{r}" for r in rows], "item_id": [catalog.item_ids[i] for i in items],
                         "correct": (rng.random(rows.size) < p).astype(float)})


def demo_engine(catalog: Catalog | None = None, seed: int = 7) -> tuple[MasteryEngine, str]:
    """(mastery engine, data fingerprint): a 2PL bank calibrated on simulated demo responses + the catalog's BKT priors."""
    from models.irt import IRT  # noqa: PLC0415

    catalog = catalog or demo_catalog()
    responses = simulate_responses(catalog, seed=seed)
    irt = IRT(model="2pl", prior_a=(0.0, 0.5), prior_b=(0.0, 2.0), n_points=31).fit(responses)  # weak priors keep sparse items finite
    digest = hashlib.sha256(responses.write_csv().encode()).hexdigest()[:16]
    return MasteryEngine(catalog, ability_model=irt_ability(irt)), f"sha256:{digest}"


def prepare_demo_model_set(home: Path, name: str = "equilearn", alias: str = "champion",
                           database_url: str | None = None) -> str:
    """Train, audit and register the demo model set; returns where it went ("registry ..." or the file path)
    and the audit's verdict.

    Before the alias is set, the set gets the pre-deployment audit of `equilearn model audit`
    (`engine.fairness.predeployment`; the learner suite is left out so that `make run` starts quickly): its
    recommender with this mastery engine runs on simulated learners and its offers are gated. The verdict is
    recorded in the service's audit table (`database_url`, default the configured store) bound to the set's
    content hash, which is what lets the service serve it; the alias is set only on a PASS. Without a
    registry the set is written to `home/model_set.json`, audited and recorded the same way.
    """
    from engine.fairness.predeployment import AuditOptions, audit_model_set  # noqa: PLC0415
    from engine.store import Store  # noqa: PLC0415

    engine, fingerprint = demo_engine()
    components = {"mastery": engine.to_components()}
    options = AuditOptions(suite_students=0)

    def record(model_set: object) -> dict:
        report = audit_model_set(model_set, options=options)
        with (Store.open(database_url) if database_url else Store.open(settings=load_settings())) as store:
            store.record_audit(f"{model_set.name}/{model_set.version}", report["status"], report,  # type: ignore[attr-defined]
                               by="make run (demo)", content_sha256=report["content_sha256"], data_sha256=fingerprint)
        return report

    try:
        from engine.registry import record_audit, register_model_set, set_alias  # noqa: PLC0415

        ms = register_model_set(name, components, data_fingerprint=fingerprint)
    except Exception as exc:  # noqa: BLE001 - the demo still serves, from a file
        log.warning("registry unavailable (%s); writing a local model-set file", exc)
        path = home / "model_set.json"
        local = LocalModelSet(name, "demo-1", components, fingerprint, "demo", None)
        write_model_set_file(path, local)
        report = record(local)
        return f"local file {path}; pre-deployment audit (simulated learners): {report['status']}"
    report = record(ms)
    record_audit(name, ms.version, report)  # MLflow's tags, for `equilearn model list` and the UI (not the gate)
    if report["status"] == "PASS":
        set_alias(name, ms.version, alias)
    return (f"MLflow registry: {name} v{ms.version}{f' @{alias}' if report['status'] == 'PASS' else ' (not promoted)'}; "
            f"pre-deployment audit (simulated learners), recorded for content sha256:{report['content_sha256'][:12]}: "
            f"{report['status']}")
