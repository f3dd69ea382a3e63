"""equilearn engine: the domain (data, mastery, recommender, fairness, store, registry, simulator)."""

__version__ = "0.1.0"
