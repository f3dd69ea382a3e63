"""Models-from-code entry files for MLflow (each is executed by MLflow when a model is loaded)."""
