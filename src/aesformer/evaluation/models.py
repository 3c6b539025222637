"""The registered models as the benchmark sees them: through their MLflow pyfunc interface.

The eval stage never imports the thinker's or the editor's package: it loads the registered
models (``models:/aesthinker@latest``, ``models:/aeseditor/3``, ...) with
``mlflow.pyfunc.load_model`` and speaks their documented signatures:

- ``aesthinker``: a DataFrame column ``image`` (path or base64) → one plan text per row;
- ``aeseditor``: columns ``image`` (path or base64) and ``plan`` → one base64 PNG per row.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import numpy as np

from aesformer.errors import InputError

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")


def parse_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/name/3`` → ``(name, "3", None)``; ``models:/name@alias`` → ``(name, None, alias)``."""
    found = _URI.match(uri)
    if not found:
        raise InputError(
            f"{uri}: not a registered model URI (models:/<name>/<version> or @<alias>)"
        )
    return found["name"], found["version"], found["alias"]


def resolve_version(client: Any, uri: str) -> tuple[str, str]:
    """``(name, version)`` a model URI points at now (aliases and ``@latest`` resolved)."""
    from mlflow.exceptions import MlflowException

    name, version, alias = parse_uri(uri)
    try:
        if version is not None:
            return name, str(client.get_model_version(name, version).version)
        if alias == "latest":
            versions = client.search_model_versions(f"name = '{name}'")
            if not versions:
                raise InputError(f"{uri}: model {name} has no versions (train it first)")
            return name, str(max(int(v.version) for v in versions))
        return name, str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        raise InputError(f"{uri}: not in the registry ({exc.message})") from exc


def png_base64(image_bgr: np.ndarray) -> str:
    import cv2

    ok, data = cv2.imencode(".png", image_bgr)
    if not ok:
        raise ValueError("cannot encode the image as PNG")
    return base64.b64encode(data.tobytes()).decode("ascii")


def bgr_from_base64(text: str) -> np.ndarray:
    import cv2

    payload = text.split(",", 1)[1] if text.startswith("data:") else text
    image = cv2.imdecode(np.frombuffer(base64.b64decode(payload), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("the editor returned something that is not an image")
    return image


def first_output(output: Any) -> Any:
    """The first prediction of a pyfunc model's output (a list, Series or DataFrame)."""
    import pandas as pd

    if isinstance(output, pd.DataFrame):
        return output.iloc[0, 0]
    if isinstance(output, pd.Series):
        return output.iloc[0]
    return output[0]


class PyfuncPlanner:
    """``plan(image_path) -> str`` over a loaded ``aesthinker`` pyfunc model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def plan(self, image_path: Path) -> str:
        import pandas as pd

        return str(first_output(self.model.predict(pd.DataFrame({"image": [str(image_path)]}))))


class PyfuncEditor:
    """``edit(image_bgr, instruction) -> image_bgr`` over a loaded ``aeseditor`` pyfunc model
    (output at the editor's trained size; the metrics resize where they compare)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def edit(self, image: np.ndarray, instruction: str) -> np.ndarray:
        import pandas as pd

        frame = pd.DataFrame({"image": [png_base64(image)], "plan": [instruction]})
        return bgr_from_base64(str(first_output(self.model.predict(frame))))


def load_pyfunc(uri: str) -> Any:
    """Load a registered model (the tracking URI must be set, see tracking.use_tracking_uri)."""
    import mlflow

    return mlflow.pyfunc.load_model(uri)
