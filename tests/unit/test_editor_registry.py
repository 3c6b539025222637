"""The aeseditor registry entry: adapter-only models-from-code pyfunc, round trip via SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from aesformer.config import EditorConfig
from aesformer.editor.registry import (
    LORA_FILE,
    decode_image,
    edit_with,
    encode_png,
    load_editor,
    pip_requirements,
    register_editor,
)
from aesformer.editor.stage import INFO_FILE, load_pipeline, save_adapter
from aesformer.editor.train import add_lora
from aesformer.errors import InputError
from tests.editor_factory import PLAN, photo, tiny_editor_base

pytestmark = pytest.mark.unit

CFG = EditorConfig(target_area=96 * 96, val_inference_steps=2)


@pytest.fixture(scope="module")
def adapter(tmp_path_factory) -> Path:
    """A LoRA with non-zero weights saved as the stage saves it, with its editor_info.json."""
    out = tmp_path_factory.mktemp("editor-adapter")
    pipe = load_pipeline(tiny_editor_base(), None, CFG)
    with torch.no_grad():
        for p in add_lora(pipe.transformer, CFG):
            p.add_(0.05)
    save_adapter(pipe, out)
    info = {
        "base_model": str(tiny_editor_base()),
        "revision": None,
        "sizes": {"target_area": CFG.target_area, "control_area": 4096, "text_image_area": 4096},
        "inference": {"steps": 2, "true_cfg_scale": 1.0, "negative_prompt": " ", "seed": 1234},
    }
    (out / INFO_FILE).write_text(json.dumps(info))
    return out


def test_load_editor_edits_at_the_trained_size_and_the_lora_changes_the_output(adapter) -> None:
    editor = load_editor(adapter)
    image = photo((200, 100), 0)
    out = editor.edit(image, PLAN)
    assert out.size == (128, 64)  # 2:1 at 96² area
    assert editor.edit(image, PLAN, (64, 64)).size == (64, 64)
    editor.pipe.disable_lora()
    bare = editor.edit(image, PLAN)
    assert bare.tobytes() != out.tobytes()


def test_adapter_that_does_not_fit_is_refused(adapter, tmp_path) -> None:
    (tmp_path / "broken").mkdir()
    weights = load_file(adapter / LORA_FILE)
    renamed = {k.replace("transformer_blocks", "blocks"): v for k, v in weights.items()}
    save_file(renamed, tmp_path / "broken" / LORA_FILE)
    (tmp_path / "broken" / INFO_FILE).write_text((adapter / INFO_FILE).read_text())
    with pytest.raises(InputError, match="does not fit"):
        load_editor(tmp_path / "broken")
    with pytest.raises(InputError, match="not an editor adapter folder"):
        load_editor(tmp_path, base_model=str(tiny_editor_base()))


def test_decode_image_and_requirements(tmp_path) -> None:
    image = photo((40, 30), 2)
    image.save(tmp_path / "a.png")
    text = encode_png(image)
    for value in (str(tmp_path / "a.png"), text, f"data:image/png;base64,{text}"):
        assert decode_image(value).size == (40, 30)
    with pytest.raises(InputError):
        decode_image("not-a-file-nor-base64!")
    pins = pip_requirements()
    assert not [p for p in pins if p.startswith("torchvision")]
    assert any(p.startswith("diffusers==") for p in pins)


def test_register_load_edit_round_trip(adapter, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (adapter / "checkpoints" / "checkpoint-2").mkdir(parents=True, exist_ok=True)
    (adapter / "checkpoints" / "checkpoint-2" / "optimizer.safetensors").write_bytes(b"state")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns.db'}")
    experiment = mlflow.create_experiment("reg", artifact_location=(tmp_path / "art").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        version = register_editor(
            adapter,
            str(tiny_editor_base()),
            "1.0.0",
            git_commit="abc123",
            metrics={"val_ssim": 0.5},
        )
    assert str(version.version) == "1"
    tags = mlflow.tracking.MlflowClient().get_model_version("aeseditor", "1").tags
    assert tags["stage"] == "editor" and tags["release_version"] == "1.0.0"
    assert tags["git.commit"] == "abc123" and tags["metric.val_ssim"] == "0.5"
    assert tags["base_model"] == str(tiny_editor_base())

    local = Path(mlflow.artifacts.download_artifacts("models:/aeseditor/1"))
    logged = sorted(p.name for p in local.rglob("*") if p.is_file() and "adapter" in p.parts)
    assert logged == sorted(
        [LORA_FILE, INFO_FILE]
    )  # the adapter only: no base weights, no checkpoints
    assert [p.name for p in local.rglob("*.safetensors")] == [LORA_FILE]
    assert "torchvision" not in (local / "requirements.txt").read_text()
    assert (local / "python_model.pkl").exists() is False  # models-from-code, nothing pickled

    model = mlflow.pyfunc.load_model("models:/aeseditor/1")
    photo((200, 100), 3).save(tmp_path / "photo.png")
    out = model.predict(pd.DataFrame({"image": [str(tmp_path / "photo.png")], "plan": [PLAN]}))
    assert decode_image(out[0]).size == (128, 64)
    sized = model.predict(
        pd.DataFrame(
            {
                "image": [encode_png(photo((64, 64), 4))],
                "plan": [PLAN],
                "width": [96],
                "height": [32],
            }
        )
    )
    assert decode_image(sized[0]).size == (96, 32)
    assert edit_with(model, photo((64, 64), 5), PLAN).size == (96, 96)
