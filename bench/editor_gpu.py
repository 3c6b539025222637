"""AesEditor at its real size on one GPU: LoRA flow-matching steps and a 40-step edit.

Builds Qwen-Image-Edit-2511's transformer (``QwenImageTransformer2DModel``, 20.4B parameters,
``zero_cond_t``) from the architecture kept in the repo
(``infra/models/qwen-image-edit-2511.transformer.config.json``; nothing is downloaded) with
random weights in bf16, adds the project's LoRA (``params/full-scale.yaml``: rank 16 on the
attention and MLP-output layers of both streams) with gradient checkpointing, and measures:

- **training**: ``--steps`` timed optimizer steps (after one warm-up step) of the stage's own
  loss (:func:`aesformer.editor.train.flow_loss`: packed noisy target + packed control tokens,
  resolution-shifted sigmas, v = noise - x0) on one pair at ``--target`` x ``--target`` px with
  a control image of the same size and ``--text-tokens`` text states; AdamW on the LoRA
  parameters (``--optimizer adamw8bit`` needs bitsandbytes); prints s/step, it/s and peak memory;
- **inference**: one ``--inference-steps``-step edit (the paper: 40) of the transformer alone
  with true CFG (two forwards per step, as the pipeline does at ``true_cfg_scale`` > 1) and the
  scheduler's Euler steps; the text encoder (Qwen2.5-VL-7B) and the VAE are not built, so
  their time and memory (~16 GiB of bf16 weights for the encoder) are not in the numbers.

    .venv/bin/python bench/editor_gpu.py [--steps 5] [--target 1024] [--text-tokens 512]
        [--inference-steps 40] [--no-cfg] [--optimizer adamw|adamw8bit] [--json OUT.json]

It refuses to run without CUDA (exit status 2). Needs ~40 GiB for the bf16 weights plus
activations: an 80 GB H100 or larger. A few minutes on one H100/H200.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "infra/models/qwen-image-edit-2511.transformer.config.json"
#: VAE down-sampling of Qwen-Image's latents (8x), then 2x2 patches.
VAE_SCALE = 8


def load_config(path: Path = CONFIG) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("_source", None)
    return data


def build_transformer(config: dict[str, Any], device: str, dtype: torch.dtype) -> Any:
    """Random-initialised transformer built directly in ``dtype`` on ``device``."""
    from diffusers import QwenImageTransformer2DModel

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = QwenImageTransformer2DModel.from_config(config)
    finally:
        torch.set_default_dtype(previous)
    return model.to(dtype)


def full_scale_settings(optimizer: str) -> Any:
    from aesformer.config import load_params

    editor = load_params(REPO / "params.yaml", profile="full-scale").editor
    return editor.model_copy(update={"optimizer": optimizer, "gradient_checkpointing": True})


def synthetic_batch(config: dict[str, Any], side: int, text_tokens: int, device: str) -> Any:
    """One pair at ``side`` x ``side`` px (target and control), ``text_tokens`` text states."""
    from aesformer.editor.train import Batch

    latent = side // VAE_SCALE
    channels = config["out_channels"]
    generator = torch.Generator().manual_seed(0)
    return Batch(
        target=torch.randn(1, channels, latent, latent, generator=generator),
        control=torch.randn(1, channels, latent, latent, generator=generator),
        prompt_embeds=torch.randn(
            1, text_tokens, config["joint_attention_dim"], generator=generator
        ),
        prompt_mask=None,
    ).to(device, torch.bfloat16)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_gib(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None


def train_steps(
    model: Any, params: list, batch: Any, cfg: Any, steps: int, device: str = "cuda"
) -> dict[str, Any]:
    from aesformer.editor.train import flow_loss, make_optimizer, micro_inputs
    from aesformer.zoo.editor import SCHEDULER_CONFIG

    optimizer = make_optimizer(cfg, params)
    model.train()
    losses = []
    for i in range(steps + 1):
        if i == 1:
            sync(device)
            started = time.perf_counter()
        sigmas, noise = micro_inputs(batch, cfg, SCHEDULER_CONFIG, seed=i)
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16):
            loss = flow_loss(model, batch, sigmas.to(device), noise.to(device, torch.bfloat16))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    sync(device)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "losses": losses}


@torch.no_grad()
def edit_steps(
    model: Any, batch: Any, steps: int, cfg_scale: float, device: str = "cuda"
) -> dict[str, Any]:
    """The pipeline's denoising loop on the transformer: Euler steps of the dynamic-shift
    schedule, two forwards per step with true CFG (the negative prompt's states are random)."""
    import numpy as np
    from diffusers import FlowMatchEulerDiscreteScheduler

    from aesformer.editor.flow import calculate_shift, img_shapes, pack
    from aesformer.zoo.editor import SCHEDULER_CONFIG

    model.eval()
    _, channels, h, w = batch.target.shape
    scheduler = FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG)
    tokens = (h // 2) * (w // 2)
    scheduler.set_timesteps(
        sigmas=np.linspace(1.0, 1 / steps, steps),
        mu=calculate_shift(tokens, scheduler.config),
        device=device,
    )
    latents = pack(torch.randn_like(batch.target))
    control = pack(batch.control)
    negative = torch.randn_like(batch.prompt_embeds[:, :8])
    shapes = [img_shapes((h, w), [(h, w)])]
    sync(device)
    started = time.perf_counter()
    autocast = torch.autocast(device.split(":")[0], dtype=torch.bfloat16)
    for t in scheduler.timesteps:
        hidden = torch.cat([latents, control], dim=1)
        timestep = (t / 1000).expand(1).to(latents.dtype)
        with autocast:
            velocity = model(
                hidden_states=hidden, timestep=timestep, encoder_hidden_states=batch.prompt_embeds,
                img_shapes=shapes, return_dict=False,
            )[0][:, :tokens]  # fmt: skip
        if cfg_scale > 1:
            with autocast:
                uncond = model(
                    hidden_states=hidden, timestep=timestep, encoder_hidden_states=negative,
                    img_shapes=shapes, return_dict=False,
                )[0][:, :tokens]  # fmt: skip
            combined = uncond + cfg_scale * (velocity - uncond)
            velocity = combined * (
                velocity.norm(dim=-1, keepdim=True) / combined.norm(dim=-1, keepdim=True)
            )
        latents = scheduler.step(velocity, t, latents, return_dict=False)[0]
    sync(device)
    return {"seconds": time.perf_counter() - started, "finite": bool(torch.isfinite(latents).all())}


def run(args: argparse.Namespace, device: str = "cuda") -> dict[str, Any]:
    from aesformer.editor.train import add_lora

    cuda = device.startswith("cuda")
    config = load_config(Path(args.config))
    cfg = full_scale_settings(args.optimizer)
    model = build_transformer(config, device, torch.bfloat16)
    params = add_lora(model, cfg)
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if cuda else device,
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in params),
        "lora_rank": cfg.lora_rank,
        "torch": torch.__version__,
        "weights_gib": torch.cuda.memory_allocated() / 2**30 if cuda else None,
    }
    batch = synthetic_batch(config, args.target, args.text_tokens, device)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trained = train_steps(model, params, batch, cfg, args.steps, device)
    result["train"] = {
        "side_px": args.target,
        "image_tokens": 2 * (args.target // VAE_SCALE // 2) ** 2,
        "text_tokens": args.text_tokens,
        "steps": args.steps,
        "optimizer": cfg.optimizer,
        "gradient_checkpointing": True,
        "seconds_per_step": trained["seconds"] / args.steps,
        "it_per_s": args.steps / trained["seconds"],
        "loss_first": trained["losses"][0],
        "loss_last": trained["losses"][-1],
        "peak_memory_gib": peak_gib(device),
    }
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    scale = 1.0 if args.no_cfg else cfg.val_true_cfg_scale
    edited = edit_steps(model, batch, args.inference_steps, scale, device)
    result["inference"] = {
        "steps": args.inference_steps,
        "true_cfg_scale": scale,
        "seconds": edited["seconds"],
        "it_per_s": args.inference_steps / edited["seconds"],
        "finite": edited["finite"],
        "peak_memory_gib": peak_gib(device),
    }
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(CONFIG), help="transformer config JSON")
    p.add_argument("--steps", type=int, default=5, help="timed LoRA optimizer steps")
    p.add_argument("--target", type=int, default=1024, help="target and control side (px)")
    p.add_argument("--text-tokens", type=int, default=512, help="text-state tokens")
    p.add_argument("--inference-steps", type=int, default=40, help="denoising steps (paper: 40)")
    p.add_argument("--no-cfg", action="store_true", help="one forward per step (no true CFG)")
    p.add_argument("--optimizer", default="adamw", choices=["adamw", "adamw8bit"])
    p.add_argument("--json", default=None, help="also write the result here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "bench/editor_gpu.py needs a CUDA GPU (it builds Qwen-Image-Edit-2511's 20.4B "
            "transformer in bf16, ~38 GiB of weights, and trains a LoRA on it): none is visible "
            "here. Run it on a GPU worker with 80 GB or more: python bench/editor_gpu.py",
            file=sys.stderr,
        )
        return 2
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
