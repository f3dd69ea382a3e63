"""HTTP layer (FastAPI). No domain logic of its own."""
