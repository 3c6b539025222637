"""AesEditor in the MLflow model registry: an adapter-only pyfunc model and its loader.

Registered model ``aeseditor``: one version per ``editor`` stage run. A version holds **the
LoRA adapter only** (artifact ``adapter``: ``pytorch_lora_weights.safetensors`` +
``editor_info.json``) and a *reference* to the base pipeline in its ``model_config``
(``base_model``: a hub id or a folder, ``revision``), never a copy of the base weights. The
model is logged as code (MLflow models-from-code: :mod:`aesformer.editor.pyfunc_model`), not
pickled. Tags: ``stage``, ``release_version``, ``git.commit``, ``base_model``, ``metric.*``.

Use::

    version = register_editor("models/editor", "models/base/editor", "1.0.0")
    model = mlflow.pyfunc.load_model(f"models:/aeseditor/{version.version}")
    out = model.predict(pd.DataFrame({"image": ["photo.png"], "plan": [plan_text]}))
    # out: one base64 PNG per row, at the configured target size (or the row's width/height)

    editor = load_editor("models/editor")                      # without MLflow
    image = editor.edit(Image.open("photo.png"), plan_text)    # a PIL image

``image`` holds a file path or a base64-encoded image (PNG/JPEG, optionally a
``data:image/...;base64,`` prefix). Sizes, steps and CFG come from ``editor_info.json`` (the
params the adapter was trained and validated with). The logged environment pins torch,
diffusers, transformers, peft and friends, and no torchvision; the serving environment also
needs this package (``aesformer``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from PIL import Image

from aesformer.config import EditorConfig
from aesformer.editor.data import fit_area
from aesformer.errors import InputError
from aesformer.imagecodec import decode_image, encode_png

log = logging.getLogger(__name__)

REGISTERED_NAME = "aeseditor"
ADAPTER_ARTIFACT = "adapter"
LORA_FILE = "pytorch_lora_weights.safetensors"
INFO_FILE = "editor_info.json"
#: Overrides the base model reference at load time (a moved folder, a local hub mirror).
BASE_OVERRIDE_ENV = "AESEDITOR_BASE_MODEL"
#: The models-from-code file logged as the pyfunc's code.
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
REQUIREMENTS = (
    "mlflow",
    "torch",
    "diffusers",
    "transformers",
    "peft",
    "accelerate",
    "tokenizers",
    "safetensors",
    "pillow",
    "pandas",
    "numpy",
    "pydantic",
    "pyyaml",
)


# --------------------------------------------------------------------------- images
# --------------------------------------------------------------------------- editor
def read_info(adapter_dir: Path) -> dict[str, Any]:
    path = adapter_dir / INFO_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable ({exc})") from None


def settings_from_info(info: dict[str, Any]) -> EditorConfig:
    """The sizes and inference settings recorded at training time (defaults where absent)."""
    sizes, inference = info.get("sizes", {}), info.get("inference", {})
    values = {
        "target_area": sizes.get("target_area"),
        "control_area": sizes.get("control_area"),
        "text_image_area": sizes.get("text_image_area"),
        "val_inference_steps": inference.get("steps"),
        "val_true_cfg_scale": inference.get("true_cfg_scale"),
        "val_negative_prompt": inference.get("negative_prompt"),
        "val_seed": inference.get("seed"),
    }
    return EditorConfig(**{k: v for k, v in values.items() if v is not None})


def load_lora(pipe: Any, adapter_dir: Path) -> int:
    """Load the adapter into ``pipe`` and check every LoRA tensor of the file landed in the
    transformer; returns the number of LoRA tensors."""
    from peft.utils import get_peft_model_state_dict
    from safetensors import safe_open

    weights = adapter_dir / LORA_FILE
    if not weights.is_file():
        raise InputError(f"{adapter_dir}: no {LORA_FILE} (not an editor adapter folder)")
    with safe_open(str(weights), framework="pt") as handle:
        saved = {k.removeprefix("transformer.") for k in handle.keys()}  # noqa: SIM118
    try:
        pipe.load_lora_weights(str(adapter_dir), weight_name=LORA_FILE, adapter_name="default")
    except (ValueError, RuntimeError, KeyError) as exc:
        raise InputError(f"{weights}: adapter does not fit the base model ({exc})") from None
    loaded = set(get_peft_model_state_dict(pipe.transformer, adapter_name="default"))
    loaded = {k.replace(".default", "") for k in loaded}
    missing = sorted(saved - loaded)
    if not saved or missing:
        raise InputError(
            f"{weights}: adapter does not fit the base model ({len(missing)} of {len(saved)} "
            f"tensors not loaded, e.g. {missing[:2]})"
        )
    return len(saved)


@dataclass
class Editor:
    """A loaded editor (base pipeline + LoRA) that edits photos following plans."""

    pipe: Any
    settings: EditorConfig

    def output_size(self, image: Image.Image) -> tuple[int, int]:
        """The default output size: the photo's aspect at the trained target area."""
        return fit_area(image.width, image.height, self.settings.target_area)

    def edit(
        self,
        image: Any,
        plan: str,
        size: tuple[int, int] | None = None,
        *,
        steps: int | None = None,
        seed: int | None = None,
    ) -> Image.Image:
        from aesformer.editor.validate import edit

        picture = decode_image(image)
        return edit(
            self.pipe,
            picture,
            plan,
            size or self.output_size(picture),
            self.settings,
            steps=steps,
            seed=seed,
        )


def load_editor(
    adapter_dir: Path | str, base_model: str | None = None, revision: str | None = None
) -> Editor:
    """Base pipeline + adapter. The base defaults to ``$AESEDITOR_BASE_MODEL``, else ``base_model``,
    else the reference recorded in ``editor_info.json``."""
    import torch

    from aesformer.zoo import load_editor_pipeline

    adapter_dir = Path(adapter_dir)
    info = read_info(adapter_dir)
    base = os.environ.get(BASE_OVERRIDE_ENV) or base_model or info.get("base_model")
    if not base:
        raise InputError(f"{adapter_dir}: no base model reference; pass base_model")
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    pipe = load_editor_pipeline(base, revision or info.get("revision"), dtype=dtype)
    if torch.cuda.is_available():
        pipe.to("cuda")
    pipe.set_progress_bar_config(disable=True)
    load_lora(pipe, adapter_dir)
    return Editor(pipe, settings_from_info(info))


# --------------------------------------------------------------------------- pyfunc
class AesEditorModel(mlflow.pyfunc.PythonModel):
    """pyfunc: a DataFrame with ``image`` and ``plan`` (optional ``width``/``height``) → one
    base64 PNG per row."""

    # MLflow derives a schema from predict's type hints when the class is defined (every
    # import, every load) and warns when they are not `list[...]`; ours is the signature
    # logged with the model, and predict checks its input itself
    _skip_type_hint_validation = True

    editor: Editor | None = None

    def load_context(self, context: Any) -> None:
        config = dict(context.model_config or {})
        self.editor = load_editor(
            context.artifacts[ADAPTER_ARTIFACT], config.get("base_model"), config.get("revision")
        )

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201 (MLflow reads hints)
        if self.editor is None:
            raise RuntimeError("AesEditorModel.predict before load_context")
        frame = pd.DataFrame(model_input) if isinstance(model_input, dict) else model_input
        if not isinstance(frame, pd.DataFrame) or not {"image", "plan"} <= set(frame.columns):
            raise InputError("model input: need 'image' (path or base64) and 'plan' columns")
        outputs = []
        for row in frame.to_dict("records"):
            size = None
            if pd.notna(row.get("width")) and pd.notna(row.get("height")):
                size = (int(row["width"]), int(row["height"]))
            outputs.append(encode_png(self.editor.edit(row["image"], str(row["plan"]), size)))
        return outputs


def edit_with(model: Any, image: Any, plan: str) -> Image.Image:
    """One edit from a loaded pyfunc model or an :class:`Editor`."""
    if isinstance(model, Editor):
        return model.edit(image, plan)
    picture = image if isinstance(image, str) else encode_png(decode_image(image))
    out = model.predict(pd.DataFrame({"image": [picture], "plan": [plan]}))
    first = out.iloc[0, 0] if isinstance(out, pd.DataFrame) else out[0]
    return decode_image(str(first))


# --------------------------------------------------------------------------- register
def pip_requirements() -> list[str]:
    """``REQUIREMENTS`` pinned to the installed versions (no torchvision)."""
    from aesformer.tracking import pinned_requirements

    return pinned_requirements(REQUIREMENTS)


def signature() -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema(
            [
                ColSpec("string", "image"),
                ColSpec("string", "plan"),
                ColSpec("long", "width", required=False),
                ColSpec("long", "height", required=False),
            ]
        ),
        outputs=Schema([ColSpec("string")]),
    )


def _base_reference(base_model: str | Path) -> str:
    path = Path(base_model)
    return str(path.resolve()) if path.exists() else str(base_model)


def register_editor(
    adapter_dir: Path | str,
    base_model_ref: str | Path,
    release_version: str | None,
    *,
    revision: str | None = None,
    name: str = REGISTERED_NAME,
    git_commit: str | None = None,
    root: Path | None = None,
    metrics: dict[str, float] | None = None,
) -> Any:
    """Log the adapter as a models-from-code pyfunc (in the active run, or a new one) and
    register it as a new version of ``name``; returns the ``ModelVersion``."""
    from aesformer.tracking import git_info

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / LORA_FILE).is_file():
        raise InputError(f"{adapter_dir}: no {LORA_FILE} (train the editor stage first)")
    commit = git_commit or git_info(Path(root or Path.cwd())).get("git.commit", "unknown")
    tags = {
        "stage": "editor",
        "release_version": release_version or "unreleased",
        "git.commit": commit,
        "base_model": str(base_model_ref),
    }
    tags.update({f"metric.{k}": str(v) for k, v in (metrics or {}).items()})
    config = {"base_model": _base_reference(base_model_ref), "revision": revision}
    started = mlflow.active_run() is None
    if started:
        mlflow.start_run(run_name=f"register-{name}", tags={"aesformer.stage": "editor"})
    try:
        with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
            warnings.simplefilter("ignore", UserWarning)
            staged = Path(tmp) / ADAPTER_ARTIFACT
            staged.mkdir()
            for file in (LORA_FILE, INFO_FILE):  # the adapter only: no checkpoints, no cache
                if (adapter_dir / file).is_file():
                    shutil.copy2(adapter_dir / file, staged / file)
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(PYFUNC_CODE),
                artifacts={ADAPTER_ARTIFACT: str(staged)},
                model_config=config,
                signature=signature(),
                pip_requirements=pip_requirements(),
                tags=tags,
            )
        version = mlflow.register_model(info.model_uri, name, tags=tags)
    finally:
        if started:
            mlflow.end_run()
    log.info("registered %s version %s", name, version.version)
    return version
