"""Packaged gate policies (TOML): `default.toml` is used when no --policy is given."""
