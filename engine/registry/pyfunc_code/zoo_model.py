"""MLflow models-from-code entry: a zoo model loaded from its JSON `params` artifact (no pickle)."""

from mlflow.models import set_model

from engine.registry.pyfunc import ZooPyfunc

set_model(ZooPyfunc())
