"""The train step: loss on a fixed batch, bucketing, checkpoints and exact resume, switches."""

from __future__ import annotations

import sys

import pytest
import torch
from diffusers import QwenImageTransformer2DModel

from aesformer.config import EditorConfig
from aesformer.editor.cache import build_cache, load_shard, model_id
from aesformer.editor.stage import load_pipeline, make_accelerator
from aesformer.editor.train import (
    CHECKPOINTS,
    add_lora,
    check_hardware,
    claim_checkpoints,
    collate,
    epoch_batches,
    flow_loss,
    learning_rate,
    load_optimizer,
    lora_state,
    micro_inputs,
    save_optimizer,
    train,
)
from aesformer.errors import ConfigError
from aesformer.zoo.editor import SCHEDULER_CONFIG
from tests.editor_factory import make_release, tiny_editor_base

pytestmark = pytest.mark.unit

CFG = EditorConfig()


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("editor-train")
    release = make_release(root / "release", train=4, val=1)
    pipe = load_pipeline(tiny_editor_base(), None, CFG)
    result = build_cache(pipe, CFG, release, root / "cache", model_id(tiny_editor_base(), None))
    return [load_shard(p) for p in result.shards["train"]]


def fresh_transformer(cfg: EditorConfig = CFG):
    transformer = QwenImageTransformer2DModel.from_pretrained(tiny_editor_base() / "transformer")
    return transformer, add_lora(transformer, cfg)


def test_loss_decreases_on_one_fixed_batch_and_only_lora_moves(pairs) -> None:
    transformer, params = fresh_transformer()
    frozen = {n: p.detach().clone() for n, p in transformer.named_parameters() if "lora" not in n}
    batch = collate([pairs[0]])
    sigmas, noise = micro_inputs(batch, CFG, SCHEDULER_CONFIG, seed=0)
    optimizer = torch.optim.AdamW(params, lr=5e-3)
    losses = []
    for _ in range(15):
        loss = flow_loss(transformer, batch, sigmas, noise)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0]
    assert all(torch.equal(p, frozen[n]) for n, p in transformer.named_parameters() if n in frozen)
    assert any(
        float(v.abs().sum()) > 0 for k, v in lora_state(transformer).items() if "lora_B" in k
    )


def test_fresh_lora_is_the_base_model_and_the_target_is_noise_minus_x0(pairs) -> None:
    """LoRA B starts at zero: the loss equals the bare transformer's MSE against noise - x0."""
    base = QwenImageTransformer2DModel.from_pretrained(tiny_editor_base() / "transformer")
    transformer, _ = fresh_transformer()
    batch = collate([pairs[1]])
    sigmas, noise = micro_inputs(batch, CFG, SCHEDULER_CONFIG, seed=3)
    from aesformer.editor.flow import img_shapes, noisy_latents, pack

    _, _, h, w = batch.target.shape
    tokens = pack(noisy_latents(batch.target, noise, sigmas))
    with torch.no_grad():
        out = base(
            hidden_states=torch.cat([tokens, pack(batch.control)], 1),
            timestep=sigmas,
            encoder_hidden_states=batch.prompt_embeds,
            img_shapes=[img_shapes((h, w), [tuple(batch.control.shape[2:])])],
            return_dict=False,
        )[0][:, : tokens.shape[1]]
        expected = torch.mean((out - pack(noise - batch.target)) ** 2)
        assert float(flow_loss(transformer, batch, sigmas, noise)) == pytest.approx(
            float(expected), rel=1e-5
        )


def test_gradient_checkpointing_gives_the_same_loss_and_lora_gradients(pairs) -> None:
    batch = collate([pairs[0]])
    sigmas, noise = micro_inputs(batch, CFG, SCHEDULER_CONFIG, seed=1)
    grads = []
    for checkpointing in (False, True):
        transformer, params = fresh_transformer(
            CFG.model_copy(update={"gradient_checkpointing": checkpointing})
        )
        transformer.train()
        with torch.no_grad():  # make LoRA B non-zero so that A gets a gradient too
            for p in params:
                p.add_(0.01)
        flow_loss(transformer, batch, sigmas, noise).backward()
        # the last block's text-stream output is unused by the model: its LoRA gets no gradient
        grads.append(
            torch.cat(
                [torch.zeros(p.numel()) if p.grad is None else p.grad.flatten() for p in params]
            )
        )
    assert float(grads[1].abs().sum()) > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_bucketing_keeps_one_bucket_per_batch_and_covers_each_pair_once(pairs) -> None:
    batches = epoch_batches(pairs, 2, seed=0, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(len(pairs)))
    assert all(len({pairs[i].bucket for i in b}) == 1 for b in batches)
    assert len({pairs[i].bucket for i in range(len(pairs))}) == 2
    assert epoch_batches(pairs, 2, 0, 0) == batches
    orders = {str(epoch_batches(pairs, 1, 0, e)) for e in range(6)}
    assert len(orders) > 1  # reshuffled each epoch


def _run(pairs, out, cfg, on_step=None):
    transformer, params = fresh_transformer(cfg)
    result = train(
        make_accelerator(cfg), transformer, params, pairs, cfg, out, "key", SCHEDULER_CONFIG,
        on_step=on_step,
    )  # fmt: skip
    return result, lora_state(transformer)


def test_a_killed_run_resumes_to_the_same_losses_and_weights(pairs, tmp_path) -> None:
    cfg = CFG.model_copy(update={"max_steps": 4, "save_steps": 2, "grad_accum": 2, "batch_size": 2})
    whole, whole_weights = _run(pairs, tmp_path / "a", cfg)

    class Killed(Exception):
        pass

    def kill(step: int, loss: float) -> None:
        if step == 3:  # after the step-2 checkpoint; step 3's work is lost
            raise Killed

    with pytest.raises(Killed):
        _run(pairs, tmp_path / "b", cfg, on_step=kill)
    assert sorted(p.name for p in (tmp_path / "b" / CHECKPOINTS).glob("checkpoint-*")) == [
        "checkpoint-2"
    ]
    resumed, resumed_weights = _run(pairs, tmp_path / "b", cfg)
    assert resumed.resumed_from_step == 2
    assert resumed.losses == whole.losses
    assert len(whole.losses) == 4
    assert resumed_weights.keys() == whole_weights.keys()
    assert all(torch.equal(resumed_weights[k], whole_weights[k]) for k in whole_weights)


def test_checkpoints_of_another_run_key_are_moved_aside(tmp_path) -> None:
    (tmp_path / CHECKPOINTS / "checkpoint-4").mkdir(parents=True)
    (tmp_path / CHECKPOINTS / "checkpoint-4" / "state.json").write_text("{}")
    (tmp_path / CHECKPOINTS / "RUN_KEY").write_text("old\n")
    assert claim_checkpoints(tmp_path, "new", resume=True) is None
    assert list(tmp_path.glob("checkpoints.stale-*/checkpoint-4"))
    assert (tmp_path / CHECKPOINTS / "RUN_KEY").read_text() == "new\n"
    (tmp_path / CHECKPOINTS / "checkpoint-6").mkdir()
    (tmp_path / CHECKPOINTS / "checkpoint-6" / "state.json").write_text("{}")
    assert claim_checkpoints(tmp_path, "new", resume=True).name == "checkpoint-6"


def test_optimizer_state_round_trips_through_safetensors(tmp_path) -> None:
    params = [torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(4))]
    optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    sum(p.sum() for p in params).backward()
    optimizer.step()
    save_optimizer(optimizer, tmp_path / "opt.safetensors")
    other = torch.optim.AdamW(params, lr=5.0)
    load_optimizer(other, tmp_path / "opt.safetensors")
    a, b = optimizer.state_dict(), other.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for i in a["state"]:
        for name, value in a["state"][i].items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(b["state"][i][name]))


def test_switches_the_machine_cannot_honour_are_refused(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import raises ImportError
    with pytest.raises(ConfigError, match="adamw8bit needs bitsandbytes"):
        check_hardware(CFG.model_copy(update={"optimizer": "adamw8bit"}))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="editor.bf16: needs a CUDA device"):
            check_hardware(CFG.model_copy(update={"bf16": True}))
    with pytest.raises(ConfigError, match="match no transformer module"):
        fresh_transformer(CFG.model_copy(update={"lora_targets": ["nothing_here"]}))


def test_learning_rate_schedule() -> None:
    cfg = CFG.model_copy(update={"learning_rate": 1.0, "warmup_steps": 2, "lr_scheduler": "cosine"})
    assert [learning_rate(cfg, s, 10) for s in (0, 1)] == [0.5, 1.0]
    assert learning_rate(cfg, 2, 10) == pytest.approx(1.0)
    assert learning_rate(cfg, 10, 10) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate(CFG, 7, 10) == CFG.learning_rate


def test_a_bf16_base_trains_its_float32_lora(pairs) -> None:
    """The full-scale layout (bf16 weights, float32 LoRA) runs forward and backward."""
    transformer = QwenImageTransformer2DModel.from_pretrained(
        tiny_editor_base() / "transformer", torch_dtype=torch.bfloat16
    )
    params = add_lora(transformer, CFG)
    assert {p.dtype for p in params} == {torch.float32}
    assert next(transformer.parameters()).dtype == torch.bfloat16
    batch = collate([pairs[0]]).to("cpu", torch.bfloat16)
    sigmas, noise = micro_inputs(batch, CFG, SCHEDULER_CONFIG, seed=2)
    loss = flow_loss(transformer, batch, sigmas, noise.to(torch.bfloat16))
    loss.backward()
    assert torch.isfinite(loss) and any(
        p.grad is not None and p.grad.abs().sum() > 0 for p in params
    )
