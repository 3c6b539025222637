"""The composite `aesformer` model: registered from a thinker and an editor version, loaded
in-process, and served by `mlflow models serve` on 127.0.0.1 (a real HTTP round trip)."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from PIL import Image

from aesformer.config import EditorConfig, SftConfig
from aesformer.editor.registry import register_editor
from aesformer.editor.stage import INFO_FILE, load_pipeline, save_adapter
from aesformer.editor.train import add_lora
from aesformer.evaluation.composite import register_composite
from aesformer.thinker.registry import register_thinker
from aesformer.thinker.sft import train_sft
from aesformer.tracking import use_tracking_uri
from tests.editor_factory import photo, tiny_editor_base
from tests.servers import free_port, process, wait_until
from tests.unit.test_thinker_data import build_tiny_release, build_tiny_thinker

pytestmark = pytest.mark.integration


def png64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    uri = f"sqlite:///{root}/mlruns.db"
    use_tracking_uri(uri)
    exp = mlflow.create_experiment("serving", artifact_location=(root / "art").as_uri())
    base = build_tiny_thinker(root / "base" / "thinker")
    release = build_tiny_release(root / "rel")
    sft = SftConfig(max_steps=2, batch_size=2, grad_accum=1, image_max_pixels=64 * 64,
                    save_steps=100, eval_max_new_tokens=8, eval_limit=1)  # fmt: skip
    train_sft(sft, release, base, root / "sft")
    cfg = EditorConfig(target_area=64 * 64, val_inference_steps=2)
    pipe = load_pipeline(tiny_editor_base(), None, cfg)
    with torch.no_grad():
        for p in add_lora(pipe.transformer, cfg):
            p.add_(0.05)
    save_adapter(pipe, root / "editor")
    info = {
        "base_model": str(tiny_editor_base()),
        "revision": None,
        "sizes": {"target_area": 64 * 64, "control_area": 4096, "text_image_area": 4096},
        "inference": {"steps": 2, "true_cfg_scale": 1.0, "negative_prompt": " ", "seed": 1234},
    }
    (root / "editor" / INFO_FILE).write_text(json.dumps(info))
    try:
        with mlflow.start_run(experiment_id=exp):
            register_thinker(root / "sft", base, "sft", "1.0.0", root=root, max_new_tokens=16)
            register_editor(root / "editor", tiny_editor_base(), "1.0.0", root=root)
        client = MlflowClient(uri)
        client.set_registered_model_alias("aesthinker", "staging", "1")
        with mlflow.start_run(experiment_id=exp):
            version = register_composite(
                "models:/aesthinker@staging", "models:/aeseditor/1", client
            )
    finally:
        mlflow.set_tracking_uri(None)
    return root, uri, version


def test_composite_pins_versions_and_plans_then_edits(registry):
    _, uri, version = registry
    assert version.tags["thinker_version"] == "1" and version.tags["editor_version"] == "1"
    use_tracking_uri(uri)
    try:
        model = mlflow.pyfunc.load_model(f"models:/aesformer/{version.version}")
    finally:
        mlflow.set_tracking_uri(None)
    (out,) = model.predict(pd.DataFrame({"image": [png64(photo((96, 64), 0))]}))
    assert isinstance(out["plan"], str)
    edited = Image.open(io.BytesIO(base64.b64decode(out["image"])))
    assert edited.size == (64, 64)
    for bad, match in (
        ("not base64!", "not a base64 PNG/JPEG"),
        (png64(Image.new("RGB", (8000, 6000))), "over the limit of 40000000 pixels"),
        (12, "Incompatible input types"),  # the signature refuses it first
    ):
        with pytest.raises(MlflowException, match=match):
            model.predict(pd.DataFrame({"image": [bad]}))


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_mlflow_models_serve_answers_on_loopback(registry):
    root, uri, version = registry
    port = free_port()
    cmd = [
        sys.executable, "-m", "mlflow", "models", "serve",
        "-m", f"models:/aesformer/{version.version}",
        "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = root / "serve.log"
    env = {  # the server execs uvicorn from PATH: the venv's bin first
        "MLFLOW_TRACKING_URI": uri,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    with process(cmd, log, env=env) as proc:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as r:  # noqa: S310
                return r.status == 200

        wait_until(ready, 180, "mlflow models serve", proc, log)
        image = png64(photo((96, 64), 1))
        status, body = post(
            f"{url}/invocations", {"dataframe_split": {"columns": ["image"], "data": [[image]]}}
        )
        assert status == 200, body
        (out,) = body["predictions"]
        edited = Image.open(io.BytesIO(base64.b64decode(out["image"])))
        assert edited.size == (64, 64) and isinstance(out["plan"], str)
        huge = png64(Image.new("RGB", (8000, 6000)))
        status, body = post(
            f"{url}/invocations", {"dataframe_split": {"columns": ["image"], "data": [[huge]]}}
        )
        assert status == 400 and "over the limit" in body.get("message", "")
        for bad in ("not base64!", 12, None):  # not an image, the wrong type, nothing
            status, body = post(
                f"{url}/invocations", {"dataframe_split": {"columns": ["image"], "data": [[bad]]}}
            )
            assert 400 <= status < 500, (bad, status, body)
        status, body = post(f"{url}/invocations", {"dataframe_split": {"columns": ["photo"]}})
        assert 400 <= status < 500, body  # a body that is not the signature's
        assert proc.poll() is None  # still serving
