"""The aesthinker registry entry: adapter-only pyfunc, base by reference, round trip via SQLite."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest
from PIL import Image

from aesformer.errors import InputError
from aesformer.thinker.registry import (
    decode_image,
    encode_png,
    load_planner,
    pip_requirements,
    plan,
    register_thinker,
)
from tests.unit.test_thinker_data import build_tiny_thinker


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_tiny_thinker(tmp_path_factory.mktemp("base") / "thinker")


@pytest.fixture(scope="module")
def adapter(base, tmp_path_factory):
    """An untrained adapter folder laid out as train_sft saves it (no training needed here)."""
    from peft import get_peft_model

    from aesformer.config import SftConfig
    from aesformer.thinker.data import configure_processor
    from aesformer.thinker.sft import lora_config
    from aesformer.zoo import load_thinker, load_thinker_processor

    out = tmp_path_factory.mktemp("sft")
    model = get_peft_model(load_thinker(base), lora_config(SftConfig()))
    model.save_pretrained(out)
    configure_processor(load_thinker_processor(base), 32 * 32, 64 * 64).save_pretrained(out)
    (out / "sft_info.json").write_text(json.dumps({"base_model": str(base)}))
    return out


def test_decode_image_from_path_base64_and_data_uri(tmp_path):
    image = Image.new("RGB", (40, 30), (200, 10, 10))
    image.save(tmp_path / "a.png")
    text = encode_png(image)
    for value in (str(tmp_path / "a.png"), text, f"data:image/png;base64,{text}"):
        assert decode_image(value).size == (40, 30)
    with pytest.raises(InputError):
        decode_image("not-a-file-nor-base64!")


def test_requirements_pin_versions_without_torchvision():
    pins = pip_requirements()
    assert not [p for p in pins if p.startswith("torchvision")]
    assert any(p.startswith("torch==") and "+" not in p for p in pins)
    assert any(p.startswith("peft==") for p in pins)


def test_planner_plans_without_mlflow(adapter):
    planner = load_planner(adapter, max_new_tokens=4)
    assert (planner.min_pixels, planner.max_pixels) == (32 * 32, 64 * 64)
    text, parsed = planner.plan(Image.new("RGB", (100, 70)))
    assert isinstance(text, str) and parsed is None  # an untrained base writes no plan


def test_adapter_that_does_not_fit_is_refused(adapter, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken"
    shutil.copytree(adapter, broken)
    weights = load_file(broken / "adapter_model.safetensors")
    renamed = {k.replace("language_model.", "text_model."): v for k, v in weights.items()}
    save_file(renamed, broken / "adapter_model.safetensors")
    with pytest.raises(InputError, match="does not fit"):
        load_planner(broken)


@pytest.mark.parametrize("module", ["aesformer.thinker.registry", "aesformer.editor.registry"])
def test_defining_the_pyfunc_classes_raises_no_mlflow_type_hint_warning(module):
    """MLflow inspects ``predict``'s hints when the class is defined (each import, each load)
    and warns about them (``Any`` is no schema; no hints: "add type hints"); the signature
    logged with the model is the schema."""
    import subprocess
    import sys

    probe = f"import warnings; warnings.simplefilter('always'); import {module}"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "type hint" not in done.stderr.lower(), done.stderr


def test_register_load_predict_round_trip(adapter, base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (adapter / "checkpoints" / "checkpoint-2").mkdir(parents=True, exist_ok=True)
    (adapter / "checkpoints" / "checkpoint-2" / "optimizer.pt").write_bytes(b"state")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns.db'}")
    experiment = mlflow.create_experiment("reg", artifact_location=(tmp_path / "art").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        version = register_thinker(
            adapter,
            str(base),
            "sft",
            "1.0.0",
            git_commit="abc123",
            metrics={"val_format_validity": 1.0},
            max_new_tokens=4,
        )
    assert str(version.version) == "1"
    client = mlflow.tracking.MlflowClient()
    tags = client.get_model_version("aesthinker", "1").tags
    assert tags["stage"] == "sft" and tags["release_version"] == "1.0.0"
    assert tags["git.commit"] == "abc123" and tags["metric.val_format_validity"] == "1.0"

    model = mlflow.pyfunc.load_model("models:/aesthinker/1")
    local = mlflow.artifacts.download_artifacts("models:/aesthinker/1")
    logged = list((tmp_path / "art").rglob("*.safetensors")) + list(
        __import__("pathlib").Path(local).rglob("*.safetensors")
    )
    assert logged and all(p.name == "adapter_model.safetensors" for p in logged)  # no base copy
    requirements = (__import__("pathlib").Path(local) / "requirements.txt").read_text()
    assert "torchvision" not in requirements
    assert not list(__import__("pathlib").Path(local).rglob("optimizer.pt"))  # no checkpoints
    assert model.metadata.get_input_schema().input_names() == ["image"]

    Image.new("RGB", (90, 60), (10, 120, 200)).save(tmp_path / "photo.png")
    out = model.predict(pd.DataFrame({"image": [str(tmp_path / "photo.png")]}))
    assert len(out) == 1 and isinstance(out[0], str)
    text, parsed = plan(model, Image.new("RGB", (64, 64)))
    assert isinstance(text, str) and parsed is None

    with mlflow.start_run(experiment_id=experiment):
        again = register_thinker(
            adapter, str(base), "grpo", None, git_commit="def", max_new_tokens=4
        )
    assert str(again.version) == "2"
    assert client.get_model_version("aesthinker", "2").tags["release_version"] == "unreleased"
