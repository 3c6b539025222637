"""train_sft on a tiny release: what is trained, what is saved, MLflow curves, resume."""

from __future__ import annotations

import json

import mlflow
import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from aesformer.config import SftConfig
from aesformer.thinker.sft import (
    CHECKPOINTS,
    check_frozen,
    last_checkpoint,
    lora_config,
    lora_target_regex,
    train_sft,
    trainable_parameter_names,
)
from tests.unit.test_thinker_data import build_tiny_release, build_tiny_thinker

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def tiny_cfg(**overrides) -> SftConfig:
    values = {
        "max_steps": 3,
        "batch_size": 2,
        "grad_accum": 1,
        "learning_rate": 5e-3,
        "warmup_ratio": 0.0,
        "lora_dropout": 0.0,
        "image_max_pixels": 64 * 64,
        "save_steps": 2,
        "eval_max_new_tokens": 8,
        "attn_implementation": "sdpa",
    }
    return SftConfig(**(values | overrides))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_tiny_thinker(tmp_path_factory.mktemp("base") / "thinker")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return build_tiny_release(tmp_path_factory.mktemp("rel"))


def test_lora_regex_matches_language_linear_layers_only():
    import re

    pattern = re.compile(lora_target_regex(TARGETS))
    assert pattern.fullmatch("model.language_model.layers.0.self_attn.q_proj")
    assert pattern.fullmatch("model.language_model.layers.11.mlp.down_proj")
    assert not pattern.fullmatch("model.visual.blocks.0.attn.qkv")
    assert not pattern.fullmatch("model.visual.deepstack_merger_list.0.linear_fc1")
    assert not pattern.fullmatch("model.language_model.layers.0.self_attn.q_norm")


def test_trainable_parameters_lora_embeddings_head_not_vision(base):
    from peft import get_peft_model

    from aesformer.zoo import load_thinker

    model = get_peft_model(load_thinker(base), lora_config(tiny_cfg()))
    names = trainable_parameter_names(model)
    check_frozen(model)
    assert not [n for n in names if "visual" in n]  # tower, merger, deepstack mergers
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert any("deepstack_merger_list" in n for n in frozen)
    assert any("visual.merger" in n for n in frozen)
    for layer in range(2):
        for target in TARGETS:
            assert any(f"layers.{layer}." in n and f"{target}.lora_A" in n for n in names)
            assert any(f"layers.{layer}." in n and f"{target}.lora_B" in n for n in names)
    assert any("embed_tokens.modules_to_save" in n for n in names)
    assert any("lm_head.modules_to_save" in n for n in names)
    assert all("lora_" in n or "modules_to_save" in n for n in names)


def test_train_saves_adapter_metrics_and_mlflow_curves(base, release, tmp_path):
    out, metrics = tmp_path / "sft", tmp_path / "reports" / "sft.json"
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns.db'}")
    experiment = mlflow.create_experiment("t", artifact_location=(tmp_path / "art").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        summary = train_sft(tiny_cfg(), release, str(base), out, metrics=metrics)
    assert summary["global_step"] == 3 and summary["resumed_from_step"] == 0
    assert summary["train_examples"] == 4 and summary["plan_tags_added"] == 0
    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "processor_config.json",
        "chat_template.jinja",
        "sft_info.json",
    ):
        assert (out / name).is_file(), name
    weights = load_file(out / "adapter_model.safetensors")
    assert not [k for k in weights if "visual" in k]
    assert any("embed_tokens" in k for k in weights) and any("lm_head" in k for k in weights)
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b)  # B starts at zero: it learnt
    data = json.loads(metrics.read_text())
    assert set(data["val"]) == {"format_validity", "alignment", "action_exact", "examples"}
    assert data["val"]["examples"] == 2 and data["global_step"] == 3
    info = json.loads((out / "sft_info.json").read_text())
    assert info["base_model"] == str(base) and len(info["samples"]) == 2
    client = mlflow.tracking.MlflowClient()
    history = client.get_metric_history(run.info.run_id, "sft/loss")
    assert [m.step for m in history] == [1, 2, 3]
    assert client.get_metric_history(run.info.run_id, "sft/learning_rate")
    assert "val_format_validity" in client.get_run(run.info.run_id).data.metrics


class Kill(TrainerCallback):
    """Simulates a killed job: raises right after the checkpoint of ``step`` is written."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt(f"killed after checkpoint {self.step}")


def test_killed_run_resumes_from_last_checkpoint(base, release, tmp_path):
    cfg = tiny_cfg(max_steps=4, save_steps=2)
    full = train_sft(cfg, release, str(base), tmp_path / "full")

    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        train_sft(cfg, release, str(base), out, callbacks=[Kill(2)])
    assert last_checkpoint(out / CHECKPOINTS).name == "checkpoint-2"
    assert not (out / "adapter_model.safetensors").exists()

    resumed = train_sft(cfg, release, str(base), out)
    assert resumed["resumed_from_step"] == 2 and resumed["global_step"] == 4
    assert last_checkpoint(out / CHECKPOINTS).name == "checkpoint-4"
    a = load_file(tmp_path / "full" / "adapter_model.safetensors")
    b = load_file(out / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
    assert resumed["final_loss"] == pytest.approx(full["final_loss"], rel=1e-4)
    assert resumed["train_loss"] == pytest.approx(full["train_loss"], rel=1e-3)
    # run again on the finished output (dvc repro after an unrelated change): resumed at the
    # last step, nothing trained, the run's loss still reported (not the trainer's 0.0)
    again = train_sft(cfg, release, str(base), out)
    assert again["resumed_from_step"] == again["global_step"] == 4
    assert (
        again["train_loss"] == pytest.approx(full["train_loss"], rel=1e-3)
        and full["train_loss"] > 0
    )
    # other params: the checkpoints are not resumed, they are kept aside
    other = train_sft(tiny_cfg(max_steps=2, save_steps=2), release, str(base), out)
    assert other["resumed_from_step"] == 0 and other["global_step"] == 2
    (stale,) = [p for p in out.iterdir() if p.name.startswith(f"{CHECKPOINTS}.stale-")]
    assert last_checkpoint(stale).name == "checkpoint-4"


def test_bf16_without_cuda_is_a_config_error(base, release, tmp_path):
    from aesformer.errors import ConfigError

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ConfigError, match="bf16"):
        train_sft(tiny_cfg(bf16=True), release, str(base), tmp_path / "x")
