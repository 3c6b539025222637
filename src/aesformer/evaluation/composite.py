"""``aesformer``: the two-stage system as one MLflow pyfunc model (thinker + editor pinned).

A version of the registered model ``aesformer`` holds copies of one ``aesthinker`` version and
one ``aeseditor`` version (their artifacts: adapters and references to the base models, a few
MB; never base weights) and plans-then-edits in ``predict``:

- input: a DataFrame column ``image`` (base64 PNG/JPEG, optionally a ``data:`` URI);
- output: one ``{"plan": str, "image": base64 PNG}`` per row.

Inputs are validated before any model runs: a value that is not a base64 image, more than
``max_image_bytes`` of encoded data or more than ``max_image_pixels`` decoded pixels is
rejected with MLflow's ``INVALID_PARAMETER_VALUE`` (the scoring server answers 400, it does
not crash). Served with ``mlflow models serve -m models:/aesformer/<N> --env-manager local
--host 127.0.0.1``.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from aesformer.config import PromoteConfig
from aesformer.evaluation.models import first_output

log = logging.getLogger(__name__)

REGISTERED_NAME = "aesformer"
CODE = Path(__file__).with_name("composite_model.py")
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
#: The union of the two models' requirements (no torchvision), pinned at registration.
REQUIREMENTS = (
    *("mlflow", "torch", "diffusers", "transformers", "peft", "accelerate", "tokenizers"),
    *("safetensors", "pillow", "pandas", "numpy", "pydantic", "pyyaml"),
)


def _invalid(message: str) -> Exception:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def checked_image(value: Any, max_bytes: int, max_pixels: int) -> str:
    """The base64 payload of ``value`` after checking type, size and that it decodes."""
    from PIL import Image

    if not isinstance(value, str) or not value:
        raise _invalid("image: expected a base64-encoded PNG or JPEG string")
    payload = value.split(",", 1)[1] if value.startswith("data:") else value
    if len(payload) * 3 // 4 > max_bytes:
        raise _invalid(f"image: {len(payload) * 3 // 4} bytes is over the limit of {max_bytes}")
    try:
        data = base64.b64decode(payload, validate=True)
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size  # header only: no decompression bomb is decoded
            if probe.format not in ("PNG", "JPEG"):
                raise _invalid(f"image: {probe.format} is not PNG or JPEG")
    except (binascii.Error, ValueError, OSError) as exc:
        raise _invalid(f"image: not a base64 PNG/JPEG ({exc.__class__.__name__})") from None
    if width * height > max_pixels:
        raise _invalid(f"image: {width}x{height} is over the limit of {max_pixels} pixels")
    return payload


class AesFormerModel(mlflow.pyfunc.PythonModel):
    """pyfunc: ``image`` (base64) → ``{"plan", "image"}`` per row."""

    thinker: Any = None
    editor: Any = None

    def load_context(self, context: Any) -> None:
        config = dict(context.model_config or {})
        self.max_bytes = int(config.get("max_image_bytes", MAX_IMAGE_BYTES))
        self.max_pixels = int(config.get("max_image_pixels", MAX_IMAGE_PIXELS))
        self.thinker = mlflow.pyfunc.load_model(context.artifacts["thinker"])
        self.editor = mlflow.pyfunc.load_model(context.artifacts["editor"])

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201 (MLflow reads hints)
        frame = pd.DataFrame(model_input) if isinstance(model_input, dict) else model_input
        if not isinstance(frame, pd.DataFrame) or "image" not in frame.columns:
            raise _invalid("model input: need an 'image' column (base64 PNG/JPEG)")
        images = [checked_image(v, self.max_bytes, self.max_pixels) for v in frame["image"]]
        outputs = []
        for image in images:
            plan = str(first_output(self.thinker.predict(pd.DataFrame({"image": [image]}))))
            edited = str(
                first_output(self.editor.predict(pd.DataFrame({"image": [image], "plan": [plan]})))
            )
            outputs.append({"plan": plan, "image": edited})
        return outputs


def signature() -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", "image")]),
        outputs=Schema([ColSpec("string", "plan"), ColSpec("string", "image")]),
    )


def register_composite(
    thinker_uri: str,
    editor_uri: str,
    client: Any,
    *,
    name: str = REGISTERED_NAME,
    max_image_bytes: int = MAX_IMAGE_BYTES,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
    promote_cfg: PromoteConfig | None = None,
) -> Any:
    """Register a new version of ``name`` pinning the versions the two URIs resolve to now
    (tags ``thinker_version`` / ``editor_version``); returns the ``ModelVersion``. Two
    ``@staging`` URIs are read as one pair (``promote_cfg``'s models and alias): a mixed pair
    left by an interrupted promotion is refused."""
    from aesformer.evaluation.promotion import resolve_pair
    from aesformer.tracking import pinned_requirements

    (t_name, t_version), (e_name, e_version) = resolve_pair(
        client, thinker_uri, editor_uri, promote_cfg or PromoteConfig()
    )
    tags = {
        "thinker": t_name,
        "thinker_version": t_version,
        "editor": e_name,
        "editor_version": e_version,
    }
    started = mlflow.active_run() is None
    if started:
        mlflow.start_run(run_name=f"register-{name}", tags={"aesformer.stage": "compose"})
    try:
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=str(CODE),
            artifacts={
                "thinker": f"models:/{t_name}/{t_version}",
                "editor": f"models:/{e_name}/{e_version}",
            },
            model_config={"max_image_bytes": max_image_bytes, "max_image_pixels": max_image_pixels},
            signature=signature(),
            pip_requirements=pinned_requirements(REQUIREMENTS),
            tags=tags,
        )
        version = mlflow.register_model(info.model_uri, name, tags=tags)
    finally:
        if started:
            mlflow.end_run()
    log.info("registered %s version %s (%s)", name, version.version, tags)
    return version
