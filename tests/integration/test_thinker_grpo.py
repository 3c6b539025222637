"""train_grpo on a tiny release: adapter saved and loadable, rewards in MLflow, resume, checks.

A real ``trl.GRPOTrainer`` on the tiny Qwen3-VL base (CPU): a 2-step SFT adapter, then GRPO
for 1 step, then resumed to 2 steps, with the offline judges (embedding + rules).
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pytest
import torch
from mlflow import MlflowClient
from pydantic import ValidationError
from safetensors.torch import load_file, save_file

from aesformer.config import GrpoConfig, RewardsConfig, SftConfig, load_params
from aesformer.errors import ConfigError
from aesformer.thinker.grpo import (
    CHECKPOINTS,
    INFO_FILE,
    SAVED_MODULES,
    build_rows,
    check_batch,
    load_policy,
    policy_reward,
    train_grpo,
)
from aesformer.thinker.sft import last_checkpoint, train_sft
from tests.unit.test_thinker_data import build_tiny_release, build_tiny_thinker
from tests.unit.test_thinker_sft import Kill

pytestmark = pytest.mark.integration


def tiny_grpo(**overrides) -> GrpoConfig:
    values = {
        "num_generations": 2,
        "batch_size": 4,
        "max_steps": 1,
        "max_completion_length": 8,
        "learning_rate": 1e-3,
        "image_max_pixels": 64 * 64,
        "save_steps": 1,
        "evidence_steps": 1,
        "eval_prompts": 1,
        "eval_samples": None,  # num_generations
        "eval_batch_size": None,  # batch_size: 2 prompts a generate call
    }
    return GrpoConfig(**(values | overrides))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("grpo")
    base = build_tiny_thinker(root / "base" / "thinker")
    release = build_tiny_release(root / "rel")
    sft = SftConfig(
        max_steps=2,
        batch_size=2,
        grad_accum=1,
        learning_rate=5e-3,
        warmup_ratio=0.0,
        image_max_pixels=64 * 64,
        save_steps=100,
        eval_max_new_tokens=8,
        eval_limit=1,
    )
    train_sft(sft, release, base, root / "sft")
    return root, base, release, root / "sft"


def test_train_grpo_saves_logs_and_resumes(setup, tmp_path):
    root, base, release, sft_dir = setup
    out = tmp_path / "grpo"
    uri = f"sqlite:///{tmp_path}/mlruns.db"
    mlflow.set_tracking_uri(uri)
    try:
        exp = mlflow.create_experiment("grpo", artifact_location=(tmp_path / "art").as_uri())
        # weight decay moves every parameter the optimizer holds, even on a zero advantage
        cfg = tiny_grpo(max_steps=2, weight_decay=0.1)
        with pytest.raises(KeyboardInterrupt), mlflow.start_run(experiment_id=exp) as run:
            train_grpo(cfg, RewardsConfig(), release, base, sft_dir, out, callbacks=[Kill(1)])
        assert last_checkpoint(out / CHECKPOINTS).name == "checkpoint-1"
        assert not (out / "adapter_model.safetensors").exists()
        with mlflow.start_run(experiment_id=exp) as run2:
            second = train_grpo(
                cfg, RewardsConfig(), release, base, sft_dir, out,
                metrics_path=tmp_path / "metrics.json",
            )  # fmt: skip
    finally:
        mlflow.set_tracking_uri(None)

    # resume continues the step count (the history of step 1 comes back from the checkpoint)
    assert second["resumed_from_step"] == 1 and second["global_step"] == 2
    assert len(second["step_rewards"]) == 2

    # the adapter (not TRL's "ref" copy) and the processor are saved, and load on the base
    assert (out / "adapter_model.safetensors").is_file() and not (out / "ref").exists()
    # LoRA trained; the full embed_tokens / lm_head copies (train_saved_modules: false) did not,
    # through the ref-adapter switches of every step and the resume
    assert changed_weights(sft_dir, out) == {"lora": True, "full": False}
    assert (out / "processor_config.json").is_file() or (out / "preprocessor_config.json").is_file()
    from aesformer.thinker.registry import load_planner

    planner = load_planner(out, base_model=str(base), max_new_tokens=4)
    text, _ = planner.plan(release / planner_image(release))
    assert isinstance(text, str)

    # the evidence numbers: JSON for dvc metrics, and in MLflow
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("reward_first_steps", "reward_last_steps", "sft_reward", "grpo_reward"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["global_step"] == 2 and metrics["evidence_steps"] == 1
    # one eval prompt: no standard error of the paired gain
    assert "reward_gain_over_sft_se" in metrics and metrics["reward_gain_over_sft_se"] is None
    assert len(second["per_prompt_rewards"]["sft"]) == len(second["per_prompt_rewards"]["grpo"])
    # max_completion_length 8 cuts every reference plan: counted (and warned about)
    assert metrics["references_over_length"] == second["train_prompts"] > 0
    assert second["reference_tokens_max"] > cfg.max_completion_length
    assert json.loads((out / INFO_FILE).read_text())["summary"]["global_step"] == 2

    client = MlflowClient(uri)
    for run_id, step in ((run.info.run_id, 1), (run2.info.run_id, 2)):
        data = client.get_run(run_id).data.metrics
        for component in ("format", "alignment", "creativity", "total"):
            assert 0.0 <= data[f"reward/{component}/mean"] <= 1.0
        assert "grpo/kl" in data and "grpo/loss" in data
        # the evidence is logged when training ends: not by the killed run
        assert ("grpo/sft_reward" in data and "grpo/grpo_reward" in data) == (step == 2)
        history = client.get_metric_history(run_id, "reward/total/mean")
        assert [m.step for m in history] == [step]


def test_grpo_trains_the_lora_only_unless_the_saved_modules_are_asked_for(setup):
    _, base, _, sft_dir = setup
    for flag in (False, True):
        model, _ = load_policy(base, sft_dir, tiny_grpo(train_saved_modules=flag))
        trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        assert any("lora_" in n for n in trainable)
        saved = [n for n in trainable if SAVED_MODULES in n]
        assert bool(saved) == flag, saved[:3]
        # the frozen copies are still the adapter's (the plan tags' rows): they are saved
        assert any(SAVED_MODULES in n for n, _ in model.named_parameters())


def changed_weights(before_dir: Path, after_dir: Path) -> dict[str, bool]:
    """Whether any LoRA / any full-module (``modules_to_save``) tensor differs between adapters."""
    before = load_file(str(before_dir / "adapter_model.safetensors"))
    after = load_file(str(after_dir / "adapter_model.safetensors"))
    assert before.keys() == after.keys()
    kinds = {
        "lora": [k for k in before if "lora_" in k],
        "full": [k for k in before if "lora_" not in k],
    }
    assert kinds["lora"] and kinds["full"]
    return {kind: any(not before[k].equal(after[k]) for k in keys) for kind, keys in kinds.items()}


def test_train_saved_modules_trains_the_full_copies_too(setup, tmp_path):
    _, base, release, sft_dir = setup
    cfg = tiny_grpo(weight_decay=0.1, train_saved_modules=True, eval_prompts=1)
    train_grpo(cfg, RewardsConfig(), release, base, sft_dir, tmp_path / "grpo")
    assert changed_weights(sft_dir, tmp_path / "grpo") == {"lora": True, "full": True}


def test_rollouts_with_the_lora_merged_are_the_rollouts_without(setup, tmp_path, monkeypatch):
    """merge_lora_for_generation is a speed-up only: same rollouts, rewards and adapter."""
    from aesformer.thinker import grpo

    _, base, release, sft_dir = setup
    merges: list[bool] = []
    real = grpo.merged_lora

    @contextmanager
    def recording(model, enabled=True):
        with real(model, enabled) as merged:
            merges.append(merged)
            yield merged

    monkeypatch.setattr(grpo, "merged_lora", recording)
    runs, seen = {}, {}
    for merge in (True, False):
        merges.clear()
        # weight decay moves the LoRA even where a group's rewards tie (zero advantage)
        cfg = tiny_grpo(max_steps=2, weight_decay=0.1, merge_lora_for_generation=merge)
        out = tmp_path / f"merge-{merge}"
        runs[merge] = train_grpo(cfg, RewardsConfig(), release, base, sft_dir, out)
        seen[merge] = list(merges)
    # 2 rollouts + the SFT and the GRPO scoring, merged only when asked
    assert seen == {True: [True] * 4, False: [False] * 4}
    assert runs[True]["step_rewards"] == runs[False]["step_rewards"]
    assert runs[True]["per_prompt_rewards"] == runs[False]["per_prompt_rewards"]
    merged = load_file(str(tmp_path / "merge-True" / "adapter_model.safetensors"))
    plain = load_file(str(tmp_path / "merge-False" / "adapter_model.safetensors"))
    assert merged.keys() == plain.keys()
    for key, tensor in plain.items():
        torch.testing.assert_close(merged[key], tensor, msg=key)
    assert changed_weights(sft_dir, tmp_path / "merge-True")["lora"]


def test_checkpoints_of_other_params_or_another_sft_adapter_are_not_resumed(setup, tmp_path):
    root, base, release, sft_dir = setup
    out = tmp_path / "grpo"
    first = train_grpo(tiny_grpo(), RewardsConfig(), release, base, sft_dir, out)
    assert first["global_step"] == 1
    again = train_grpo(tiny_grpo(learning_rate=2e-3), RewardsConfig(), release, base, sft_dir, out)
    assert again["resumed_from_step"] == 0 and again["global_step"] == 1
    (stale,) = [p for p in out.iterdir() if p.name.startswith(f"{CHECKPOINTS}.stale-")]
    assert last_checkpoint(stale).name == "checkpoint-1"
    other_sft = tmp_path / "sft2"
    shutil.copytree(sft_dir, other_sft)
    weights = load_file(other_sft / "adapter_model.safetensors")
    save_file({k: v + 0.01 for k, v in weights.items()}, other_sft / "adapter_model.safetensors")
    moved = train_grpo(
        tiny_grpo(learning_rate=2e-3), RewardsConfig(), release, base, other_sft, out
    )
    assert moved["resumed_from_step"] == 0
    assert len([p for p in out.iterdir() if p.name.startswith(f"{CHECKPOINTS}.stale-")]) >= 1


def planner_image(release: Path) -> str:
    from aesformer.thinker.data import load_examples

    return load_examples(release, "train")[0].image


def test_policies_are_scored_with_common_random_numbers_per_prompt(setup):
    """policy_reward samples fixed chunks of prompts, one generate call each, re-seeded before
    every chunk: the same policy scores the same samples, whatever ran before it, and a
    chunk's samples do not depend on the chunks before it."""
    import zlib

    import torch

    from aesformer.rewards.functions import completion_text

    def text_hash(prompts, completions, **kwargs):  # a reward that tells every text apart
        return [zlib.crc32(completion_text(c).encode()) / 2**32 for c in completions]

    _, base, release, sft_dir = setup
    cfg = tiny_grpo(max_completion_length=12, temperature=1.0, eval_prompts=None)
    model, processor = load_policy(base, sft_dir, cfg)
    rows = build_rows(release, "train", 1024, cfg.image_max_pixels, "reference_plan")[:3]

    def score(config, subset):
        return policy_reward(model, processor, subset, [text_hash], [1.0], config, "reference_plan")

    first = score(cfg, rows)  # batch 4 / 2 samples: prompts 0-1 in one call, 2 in another
    torch.rand(1000)  # whatever else drew random numbers in between
    assert score(cfg, rows) == first and len(first["per_prompt"]) == 3
    assert first["samples"] == 6.0
    assert first["reward"] == pytest.approx(sum(first["per_prompt"]) / 3)
    # the chunk that starts at prompt k draws with seed + k, whatever the chunks before it
    later = score(cfg.model_copy(update={"seed": 2}), rows[2:])
    assert later["per_prompt"] == first["per_prompt"][2:]
    # one prompt per call: each prompt's samples are its own, whatever the prompts before it
    single = cfg.model_copy(update={"eval_batch_size": 2})
    alone = score(single, rows)
    assert (
        score(single.model_copy(update={"seed": 1}), rows[1:])["per_prompt"]
        == (alone["per_prompt"][1:])
    )
    # more samples per prompt are scored as such
    assert score(cfg.model_copy(update={"eval_samples": 4}), rows[:1])["samples"] == 4.0
    # and the samples do depend on the seed (the checks above are not vacuous)
    assert score(cfg.model_copy(update={"seed": 7}), rows)["per_prompt"] != first["per_prompt"]


def test_batch_must_hold_whole_groups():
    with pytest.raises(ValidationError, match=r"not divisible by num_generations \(4\)"):
        GrpoConfig(num_generations=4, batch_size=6, grad_accum=1)
    GrpoConfig(num_generations=4, batch_size=2, grad_accum=2)  # 4 completions per step: fine
    cfg = GrpoConfig.model_construct(num_generations=5, batch_size=4, grad_accum=2)
    with pytest.raises(ConfigError, match=r"= 8 completions per step is not divisible"):
        check_batch(cfg)
    check_batch(GrpoConfig(num_generations=5, batch_size=5), processes=3)


def test_params_file_names_the_grpo_key(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("grpo:\n  num_generations: 3\n  batch_size: 8\n")
    with pytest.raises(ConfigError, match=r"params.yaml: grpo: .*num_generations \(3\)"):
        load_params(params)
