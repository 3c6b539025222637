"""bench/thinker_gpu.py: the kept config is Qwen3-VL-8B's; the CPU refusal; the code path.

The benchmark itself needs a GPU. Here the same functions run on the tiny base's config on
the CPU (a forward/backward/step and a sampled generation), so a broken code path fails here,
not on a rented GPU.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from tests.unit.test_thinker_data import build_tiny_thinker

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def load_bench():
    spec = importlib.util.spec_from_file_location("thinker_gpu", REPO / "bench/thinker_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kept_config_is_the_8b_architecture():
    bench = load_bench()
    config = bench.load_config()
    from transformers import Qwen3VLForConditionalGeneration

    with torch.device("meta"):
        model = Qwen3VLForConditionalGeneration(config)
    total = sum(p.numel() for p in model.parameters())
    assert 8.70e9 < total < 8.85e9  # Qwen3-VL-8B-Instruct: 8.77B parameters
    assert config.text_config.num_hidden_layers == 36 and config.vision_config.depth == 27
    # a 1024x1024 image -> 64x64 patches -> 1024 tokens after 2x2 merging
    assert bench.image_side(config, 1024 * 1024) == 64


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_refuses_without_cuda(capsys):
    assert load_bench().main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def test_the_measured_code_path_runs_on_the_tiny_architecture(tmp_path):
    bench = load_bench()
    base = build_tiny_thinker(tmp_path / "thinker")
    config = json.loads((base / "config.json").read_text())
    (tmp_path / "tiny.json").write_text(json.dumps(config))
    args = bench.parser().parse_args(
        [
            *["--config", str(tmp_path / "tiny.json"), "--steps", "2", "--batch", "2"],
            *["--seq", "48", "--image-pixels", str(64 * 64), "--prompts", "2", "--group", "2"],
            *["--new-tokens", "5", "--prompt-text-tokens", "8", "--peak-tflops", "1"],
        ]
    )
    result = bench.run(args, device="cpu")
    assert 0 < result["trainable_parameters"] < result["parameters"]
    sft = result["sft"]
    assert sft["image_tokens"] == 4 and sft["tokens_per_s"] > 0 and sft["seconds_per_step"] > 0
    assert all(torch.isfinite(torch.tensor([sft["loss_first"], sft["loss_last"]])))
    gen = result["grpo_generation"]
    assert gen["generated_tokens"] == 2 * 2 * 5 and gen["generated_tokens_per_s"] > 0
    assert sft["mfu"] > 0  # with --peak-tflops given
