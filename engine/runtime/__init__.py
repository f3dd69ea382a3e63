"""Application layer: wires catalog + model set + mastery engine + recommender + store for the service.

The HTTP service (`service/`) only parses requests, checks scopes and maps errors; every decision lives
here (or below), so the same operations are usable from Python and the CLI.
"""

from engine.runtime.runtime import Runtime
from engine.runtime.settings import ServiceSettings, load_service_settings

__all__ = ["Runtime", "ServiceSettings", "load_service_settings"]
