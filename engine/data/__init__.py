"""Canonical data model, validation and loaders for public formats."""

from engine.data.dataset import Dataset, DropReport, canonical_responses
from engine.data.loaders import FORMATS, load
from engine.data.validate import find_problems, validate

__all__ = ["Dataset", "DropReport", "FORMATS", "canonical_responses", "find_problems", "load", "validate"]
