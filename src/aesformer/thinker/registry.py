"""AesThinker in the MLflow model registry: an adapter-only pyfunc model and its loader.

Registered model ``aesthinker``: one version per training stage run (``sft``, later ``grpo``).
A version holds **the adapter only** (artifact ``adapter``: PEFT files + tokenizer + processor
config + ``sft_info.json`` or ``grpo_info.json``) and a *reference* to the base model in its ``model_config``
(``base_model``: a hub id or a folder, ``revision``), never a copy of the base weights. Tags:
``stage``, ``release_version``, ``git.commit``, ``base_model``. Aliases (``champion`` ...) are
the eval stage's decision, not set here.

Use::

    version = register_thinker("models/thinker/sft", "models/base/thinker", "sft", "1.0.0")
    model = mlflow.pyfunc.load_model(f"models:/aesthinker/{version.version}")
    model.predict(pd.DataFrame({"image": ["photo.png"]}))        # -> ["(1) Aspect Ratio: ..."]

    planner = load_planner("models/thinker/sft")                 # without MLflow
    text, plan = planner.plan("photo.png")                        # plan: aesformer.plans.Plan | None

The ``image`` column holds a file path or a base64-encoded image (PNG/JPEG, with or without a
``data:image/...;base64,`` prefix). The logged environment pins torch, transformers, peft and
friends, and no torchvision (the processors are image-only, :mod:`aesformer.zoo.processors`);
the serving environment also needs this package (``aesformer``) installed.
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

from aesformer.errors import InputError
from aesformer.imagecodec import decode_image, encode_png
from aesformer.plans import PLANNER_INSTRUCTION, Plan, parse

log = logging.getLogger(__name__)

REGISTERED_NAME = "aesthinker"
ADAPTER_ARTIFACT = "adapter"
#: Environment variable that overrides the base model reference at load time (a moved folder,
#: a local mirror of the hub id).
BASE_OVERRIDE_ENV = "AESTHINKER_BASE_MODEL"
#: What the logged environment installs (versions pinned to this environment's at log time).
REQUIREMENTS = (
    "mlflow",
    "torch",
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
    "diffusers",  # aesformer.zoo imports the editor loaders at package import
)
ADAPTER_KEY_MARKERS = ("lora_", "modules_to_save")


# --------------------------------------------------------------------------- planner
def load_adapter(base: Any, adapter_dir: Path) -> Any:
    """Wrap ``base`` with the PEFT adapter in ``adapter_dir`` for inference.

    Raises :class:`InputError` when adapter keys are missing or unexpected (e.g. an adapter
    saved with another transformers layout, ``model.language_model.*`` in v5) instead of
    silently running the base model.
    """
    from peft import PeftConfig, PeftModel
    from peft.auto import MODEL_TYPE_TO_PEFT_MODEL_MAPPING

    config = PeftConfig.from_pretrained(str(adapter_dir))
    config.inference_mode = True
    cls = MODEL_TYPE_TO_PEFT_MODEL_MAPPING.get(config.task_type, PeftModel)
    model = cls(base, config, "default")
    try:
        result = model.load_adapter(str(adapter_dir), "default", is_trainable=False)
    except (KeyError, RuntimeError) as exc:  # a missing modules_to_save key, a shape mismatch
        raise InputError(f"{adapter_dir}: adapter does not fit the base model ({exc})") from None
    missing = [k for k in result.missing_keys if any(m in k for m in ADAPTER_KEY_MARKERS)]
    unexpected = list(result.unexpected_keys)
    if missing or unexpected:
        raise InputError(
            f"{adapter_dir}: adapter does not fit the base model "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return model.eval()


@dataclass
class Planner:
    """A loaded thinker (base + adapter) that writes plans for photos."""

    model: Any
    processor: Any
    prompt: str = PLANNER_INSTRUCTION
    min_pixels: int = 32 * 32
    max_pixels: int = 1024 * 1024
    max_new_tokens: int = 512

    def plan(self, image: Any) -> tuple[str, Plan | None]:
        """The plan text for ``image`` (path, base64, bytes or PIL) and its parsed
        :class:`~aesformer.plans.Plan` (``None`` when the text is not a well-formed plan)."""
        from aesformer.thinker.data import fit_size
        from aesformer.thinker.evaluate import generate_plan

        picture = decode_image(image)
        size = fit_size(picture.width, picture.height, self.min_pixels, self.max_pixels)
        if size != picture.size:
            picture = picture.resize(size, Image.Resampling.BICUBIC)
        text = generate_plan(self.model, self.processor, picture, self.prompt, self.max_new_tokens)
        return text, parse(text).plan


INFO_FILES = ("grpo_info.json", "sft_info.json")  # written by the grpo / sft stages


def _info(adapter_dir: Path) -> dict[str, Any]:
    for name in INFO_FILES:
        path = adapter_dir / name
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return {}


def load_planner(
    adapter_dir: Path | str,
    base_model: str | None = None,
    revision: str | None = None,
    *,
    max_new_tokens: int = 512,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    prompt: str = PLANNER_INSTRUCTION,
) -> Planner:
    """Load base + adapter. The base defaults to ``$AESTHINKER_BASE_MODEL``, else the reference
    recorded in the adapter folder (``grpo_info.json`` / ``sft_info.json``, then
    ``adapter_config.json``)."""
    from aesformer.thinker.data import configure_processor
    from aesformer.zoo.thinker import load_thinker, load_thinker_processor

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise InputError(f"{adapter_dir}: no adapter_config.json (not an adapter folder)")
    info = _info(adapter_dir)
    base = os.environ.get(BASE_OVERRIDE_ENV) or base_model or info.get("base_model")
    if not base:
        config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
        base = config.get("base_model_name_or_path")
    if not base:
        raise InputError(f"{adapter_dir}: no base model reference; pass base_model")
    size = _processor_size(adapter_dir)
    min_pixels = min_pixels or size.get("shortest_edge") or 32 * 32
    max_pixels = max_pixels or size.get("longest_edge") or 1024 * 1024
    processor = load_thinker_processor(adapter_dir)  # tokenizer with the plan tags, processor
    configure_processor(processor, min_pixels, max_pixels)
    model = load_adapter(load_thinker(base, revision or info.get("revision")), adapter_dir)
    return Planner(model, processor, prompt, min_pixels, max_pixels, max_new_tokens)


def _processor_size(adapter_dir: Path) -> dict[str, int]:
    for name in ("processor_config.json", "preprocessor_config.json"):
        path = adapter_dir / name
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            size = data.get("image_processor", data).get("size") or {}
            return {k: v for k, v in size.items() if isinstance(v, int)}
    return {}


# --------------------------------------------------------------------------- pyfunc
class AesThinkerModel(mlflow.pyfunc.PythonModel):
    """pyfunc: a DataFrame with an ``image`` column → one plan text per row.

    ``model_config``: ``base_model`` (hub id or folder; ``$AESTHINKER_BASE_MODEL`` overrides),
    ``revision``, ``max_new_tokens``; artifact ``adapter``: the adapter folder.
    """

    # MLflow derives a schema from predict's type hints when the class is defined (every
    # import, every load) and warns when they are not `list[...]`; ours is the signature
    # logged with the model, and predict checks its input itself
    _skip_type_hint_validation = True

    planner: Planner | None = None

    def load_context(self, context: Any) -> None:
        config = dict(context.model_config or {})
        self.planner = load_planner(
            context.artifacts[ADAPTER_ARTIFACT],
            config.get("base_model"),
            config.get("revision"),
            max_new_tokens=int(config.get("max_new_tokens", 512)),
        )

    def predict(
        self, context: Any, model_input: Any, params: dict[str, Any] | None = None
    ) -> list[str]:
        if self.planner is None:
            raise RuntimeError("AesThinkerModel.predict before load_context")
        if isinstance(model_input, pd.DataFrame):
            if "image" not in model_input.columns:
                raise InputError("model input: need an 'image' column (path or base64 image)")
            images = list(model_input["image"])
        elif isinstance(model_input, dict):
            images = list(model_input["image"])
        else:
            images = list(model_input)
        return [self.planner.plan(image)[0] for image in images]


def plan(model: Any, image: Any) -> tuple[str, Plan | None]:
    """One plan from a loaded pyfunc model (``mlflow.pyfunc.load_model``) or a :class:`Planner`."""
    if isinstance(model, Planner):
        return model.plan(image)
    texts = model.predict(
        pd.DataFrame(
            {"image": [image if isinstance(image, str) else encode_png(decode_image(image))]}
        )
    )
    text = str(texts[0] if not isinstance(texts, pd.DataFrame) else texts.iloc[0, 0])
    return text, parse(text).plan


# --------------------------------------------------------------------------- register
def pip_requirements() -> list[str]:
    """``REQUIREMENTS`` pinned to the installed versions; torchvision is deliberately absent."""
    from aesformer.tracking import pinned_requirements

    return pinned_requirements(REQUIREMENTS)


def signature() -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", "image")]), outputs=Schema([ColSpec("string")])
    )


def example_input(image: Image.Image | None = None) -> pd.DataFrame:
    """A one-row input example: a small base64 PNG (a grey gradient unless ``image`` given)."""
    if image is None:
        image = Image.linear_gradient("L").resize((64, 64)).convert("RGB")
    return pd.DataFrame({"image": [encode_png(image)]})


def _base_reference(base_model: str | Path) -> str:
    """A local folder becomes an absolute path (the reference must not depend on the cwd);
    a hub id stays as it is."""
    path = Path(base_model)
    return str(path.resolve()) if path.exists() else str(base_model)


def register_thinker(
    adapter_dir: Path | str,
    base_model_ref: str | Path,
    stage: str,
    release_version: str | None,
    *,
    revision: str | None = None,
    name: str = REGISTERED_NAME,
    git_commit: str | None = None,
    root: Path | None = None,
    metrics: dict[str, float] | None = None,
    max_new_tokens: int = 512,
    input_image: Image.Image | None = None,
) -> Any:
    """Log the adapter as a pyfunc model (in the active MLflow run, or a new one) and register
    it as a new version of ``name``; returns the ``ModelVersion``.

    ``git_commit`` defaults to the commit of ``root`` (the cwd). ``metrics`` (e.g. the val
    format validity) become ``metric.<key>`` tags of the version, for the eval stage's gate.
    """
    from aesformer.tracking import git_info

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise InputError(f"{adapter_dir}: no adapter_config.json (train the stage first)")
    commit = git_commit or git_info(Path(root or Path.cwd())).get("git.commit", "unknown")
    tags = {
        "stage": stage,
        "release_version": release_version or "unreleased",
        "git.commit": commit,
        "base_model": str(base_model_ref),
    }
    tags.update({f"metric.{k}": str(v) for k, v in (metrics or {}).items()})
    config = {
        "base_model": _base_reference(base_model_ref),
        "revision": revision,
        "max_new_tokens": max_new_tokens,
        "stage": stage,
    }
    started = mlflow.active_run() is None
    if started:
        mlflow.start_run(run_name=f"register-{name}-{stage}", tags={"aesformer.stage": stage})
    try:
        with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
            warnings.simplefilter("ignore", UserWarning)  # pip/conda environment inference hints
            # the adapter only: training checkpoints (optimizer state) stay out of the registry
            staged = Path(tmp) / "adapter"
            shutil.copytree(adapter_dir, staged, ignore=shutil.ignore_patterns("checkpoints*"))
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=AesThinkerModel(),
                artifacts={ADAPTER_ARTIFACT: str(staged)},
                model_config=config,
                signature=signature(),
                input_example=example_input(input_image),
                pip_requirements=pip_requirements(),
                tags=tags,
            )
        version = mlflow.register_model(info.model_uri, name, tags=tags)
    finally:
        if started:
            mlflow.end_run()
    log.info("registered %s version %s (%s)", name, version.version, stage)
    return version
