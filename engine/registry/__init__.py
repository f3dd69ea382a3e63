"""MLflow registry of served model sets: register, alias, record audits, promote (gated), load by alias.

    from engine.registry import register_model_set, record_audit, promote, load_model_set
    ms = register_model_set("equilearn", {"kt": {...}, "irt": {...}}, data_fingerprint="sha256:...")
    record_audit("equilearn", ms.version, audit_json)       # the JSON written by `equilearn audit ...`
    promote("equilearn", ms.version, alias="champion")      # refused unless the audit status is PASS
    model_set, warning = load_model_set("equilearn", "champion")

MLflow is imported only when one of these functions runs (it takes seconds to import).
"""

from engine.registry.model_set import ModelSet, content_sha256
from engine.registry.registry import (
    alias_version,
    get_model_set,
    list_model_sets,
    load_model_set,
    promote,
    record_audit,
    register_model_set,
    set_alias,
)

__all__ = ["ModelSet", "alias_version", "content_sha256", "get_model_set", "list_model_sets", "load_model_set", "promote",
           "record_audit", "register_model_set", "set_alias"]
