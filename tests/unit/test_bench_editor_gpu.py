"""bench/editor_gpu.py: the kept config is the 20.4B 2511 transformer; CPU refusal; code path.

The benchmark itself needs a GPU. Here its functions run on the tiny base's transformer config
on the CPU (LoRA steps and a CFG edit loop in bf16 autocast), so a broken path fails here."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from tests.editor_factory import tiny_editor_base

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def load_bench():
    spec = importlib.util.spec_from_file_location("editor_gpu", REPO / "bench/editor_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kept_config_is_the_20b_zero_cond_t_transformer() -> None:
    from diffusers import QwenImageTransformer2DModel

    config = load_bench().load_config()
    with torch.device("meta"):
        model = QwenImageTransformer2DModel.from_config(config)
    assert sum(p.numel() for p in model.parameters()) == 20_430_401_088
    assert model.config.zero_cond_t is True and model.config.num_layers == 60
    assert load_bench().full_scale_settings("adamw").lora_rank == 16


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_refuses_without_cuda(capsys) -> None:
    assert load_bench().main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def test_the_measured_code_path_runs_on_the_tiny_architecture(tmp_path) -> None:
    bench = load_bench()
    config = json.loads((tiny_editor_base() / "transformer/config.json").read_text())
    (tmp_path / "tiny.json").write_text(json.dumps(config))
    args = bench.parser().parse_args(
        [
            *["--config", str(tmp_path / "tiny.json"), "--steps", "2", "--target", "64"],
            *["--text-tokens", "8", "--inference-steps", "3"],
        ]
    )
    result = bench.run(args, device="cpu")
    assert result["train"]["image_tokens"] == 32 and result["train"]["steps"] == 2
    assert result["train"]["seconds_per_step"] > 0 and len(result) >= 6
    assert result["inference"]["finite"] and result["inference"]["true_cfg_scale"] == 4.0
