"""The code MLflow logs for ``aesformer`` (models-from-code): the model object, nothing pickled.

:func:`aesformer.evaluation.composite.register_composite` passes this file as
``python_model``; loading the model runs it and takes the object given to ``set_model``.
"""

from mlflow.models import set_model

from aesformer.evaluation.composite import AesFormerModel

set_model(AesFormerModel())
