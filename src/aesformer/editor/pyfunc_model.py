"""The code MLflow logs for ``aeseditor`` (models-from-code): the model object, nothing pickled.

:func:`aesformer.editor.registry.register_editor` passes this file as ``python_model``; loading
the model runs it and takes the object given to ``set_model``.
"""

from mlflow.models import set_model

from aesformer.editor.registry import AesEditorModel

set_model(AesEditorModel())
