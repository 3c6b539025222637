"""infra/: the DeepSpeed JSONs and accelerate configs of the full-scale SFT launch."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import REPO


@pytest.mark.parametrize("stage", [2, 3])
def test_deepspeed_configs_take_sizes_from_the_trainer(stage):
    config = json.loads((REPO / f"infra/deepspeed/zero{stage}.json").read_text())
    assert config["zero_optimization"]["stage"] == stage
    for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps"):
        assert config[key] == "auto"
    assert config["bf16"]["enabled"] == "auto"
    if stage == 3:  # else the saved LoRA adapter can be empty
        assert config["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True


@pytest.mark.parametrize("stage", [2, 3])
def test_accelerate_configs_point_at_the_deepspeed_json(stage):
    config = yaml.safe_load((REPO / f"infra/accelerate/zero{stage}.yaml").read_text())
    assert config["distributed_type"] == "DEEPSPEED"
    assert (REPO / config["deepspeed_config"]["deepspeed_config_file"]).is_file()
    assert config["deepspeed_config"]["zero3_init_flag"] is (stage == 3)


def test_cpu_config_is_single_process():
    config = yaml.safe_load((REPO / "infra/accelerate/cpu.yaml").read_text())
    assert config["use_cpu"] is True and config["num_processes"] == 1
