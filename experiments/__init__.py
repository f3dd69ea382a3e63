"""Reproducible research runs and benchmarks. Nothing in engine/models/service imports this package."""
