"""`ModelSet`: what the service serves, as one registered MLflow model version.

A model set bundles the JSON parameters of each part (e.g. `irt`, `kt`, `recommender`) with the
fingerprint of the data it was trained on and the code version that trained it. It is plain JSON, so it
can be stored, diffed and loaded without pickles.

Its *content hash* (`content_sha256`) identifies what is served, whatever the name, version or source:
the sha256 of the canonical JSON (sorted keys, no whitespace, UTF-8, no NaN) of every component except
`build`. `build` is metadata the service ignores (when and how long a build ran, the options, the log's
location, diagnostics) and would give the same served parameters a new hash at every build; the data the
set was fitted on is identified separately by its data fingerprint. Audits record this hash and the
service serves a set only when its own audit table holds a PASS for it (docs/service.md, "The audit gate").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ConfigError

FORMAT = "equilearn-model-set"
FORMAT_VERSION = 1
METADATA_COMPONENTS = ("build",)  # left out of the content hash (module docstring)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8; NaN or infinity is an error (they are not JSON)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model-set components are not plain JSON ({exc}); store arrays as lists, NaN as null") from None


def content_sha256(components: dict[str, Any]) -> str:
    """The 64 hex digits of the sha256 of the set's canonical components, `build` left out (module docstring)."""
    served = {k: v for k, v in (components or {}).items() if k not in METADATA_COMPONENTS}
    return hashlib.sha256(canonical_json(served)).hexdigest()


@dataclass(frozen=True)
class ModelSet:
    """One registered model-set version. `version` is MLflow's version number as text ("1", "2", ...)."""

    name: str
    version: str
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_fingerprint: str = ""
    code_version: str = ""
    audit_status: str | None = None

    @property
    def content_sha256(self) -> str:
        return content_sha256(self.components)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "version": self.version,
            "components": self.components,
            "data_fingerprint": self.data_fingerprint,
            "code_version": self.code_version,
            "audit_status": self.audit_status,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> ModelSet:
        if payload.get("format", FORMAT) != FORMAT or payload.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
            raise ConfigError(f"not a model set of format {FORMAT} v{FORMAT_VERSION}: "
                              f"format={payload.get('format')!r}, format_version={payload.get('format_version')!r}")
        missing = [k for k in ("name", "components") if k not in payload]
        if missing:
            raise ConfigError(f"model set is missing key(s): {', '.join(missing)}")
        return cls(
            name=str(payload["name"]),
            version=str(payload.get("version") or ""),  # unknown until registered
            components=check_components(payload["components"]),
            data_fingerprint=str(payload.get("data_fingerprint") or ""),
            code_version=str(payload.get("code_version") or ""),
            audit_status=payload.get("audit_status"),
        )


def check_components(components: Any) -> dict[str, dict[str, Any]]:
    """Every component must be a JSON object; the error names the first one that is not."""
    if not isinstance(components, dict):
        raise ConfigError(f"components must be a mapping of name -> JSON object, got {type(components).__name__}")
    for key, value in components.items():
        if not isinstance(value, dict):
            raise ConfigError(f"component {key!r} must be a JSON object (a model's to_dict()), got {type(value).__name__}")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"component {key!r} is not plain JSON ({exc}); store arrays as lists, NaN as null") from None
    return dict(components)
