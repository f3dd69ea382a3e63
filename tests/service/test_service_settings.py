"""Service settings: defaults under EQUILEARN_HOME, and a clear error naming a bad variable."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from engine.runtime import load_service_settings


def test_service_settings_defaults(tmp_path):
    s = load_service_settings({"EQUILEARN_HOME": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'equilearn.db'}"
    assert (s.model_set, s.model_alias, s.require_passing_audit, s.max_batch) == ("equilearn", "champion", True, 1000)
    assert s.model_set_file is None and s.catalog_file.is_relative_to(tmp_path.resolve())
    assert (s.compute_threads, s.key_cache_seconds) == (0, 5.0)
    off = load_service_settings({"EQUILEARN_HOME": str(tmp_path), "EQUILEARN_KEY_CACHE_SECONDS": "0"})
    assert off.key_cache_seconds == 0.0


@pytest.mark.parametrize("var,value", [("EQUILEARN_REQUIRE_PASSING_AUDIT", "maybe"), ("EQUILEARN_MAX_BATCH", "0"), ("EQUILEARN_MAX_BATCH", "1001"),
                                       ("EQUILEARN_MAX_BODY_BYTES", "lots"), ("EQUILEARN_COMPUTE_THREADS", "-1"),
                                       ("EQUILEARN_KEY_CACHE_SECONDS", "-1"), ("EQUILEARN_KEY_CACHE_SECONDS", "nan")])
def test_service_settings_bad_values_name_the_variable(tmp_path, var, value):
    with pytest.raises(ConfigError, match=var):
        load_service_settings({"EQUILEARN_HOME": str(tmp_path), var: value})
