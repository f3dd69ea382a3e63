"""MLflow models-from-code entry: a model set loaded from its JSON `model_set` artifact (no pickle)."""

from mlflow.models import set_model

from engine.registry.pyfunc import ModelSetPyfunc

set_model(ModelSetPyfunc())
