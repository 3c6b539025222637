"""AesThinker at its real size on one GPU: LoRA SFT steps and GRPO rollout generation.

Builds Qwen3-VL-8B-Instruct's architecture from its published config, kept in the repo
(``infra/models/qwen3-vl-8b-instruct.config.json``; nothing is downloaded), with random
weights in bf16, wraps it with the project's own LoRA config (``params/full-scale.yaml``:
rank 8 on the language model's linear layers, vision tower frozen) and measures, at the
paper's sizes:

- **SFT**: optimizer steps of batch ``--batch`` (the paper: 2 per GPU) of ``--seq`` tokens
  (the paper's cutoff: 2048), each sequence holding one 1024x1024 image (1024 image tokens
  after 2x2 merging), gradient checkpointing on, AdamW on the LoRA parameters; prints training
  tokens/s, peak memory and MFU;
- **GRPO rollouts**: ``model.generate`` (HF, no vLLM) of ``--prompts`` prompts x ``--group``
  samples (the paper: 5) of exactly ``--new-tokens`` tokens (the paper: 1024) at temperature
  1.0; prints generated tokens/s and peak memory.

MFU = achieved model FLOP/s / the GPU's dense bf16 peak. Model FLOPs per trained token are
counted as 4 x N (forward 2N + backward through activations 2N; the frozen weights get no
weight gradient, LoRA's are negligible), N = the parameters a token passes through (the
language model, embeddings excluded); the vision tower's FLOPs, attention's quadratic term and
the recomputation of gradient checkpointing are not counted, so MFU is a lower bound.

    .venv/bin/python bench/thinker_gpu.py [--steps 5] [--batch 2] [--seq 2048]
        [--prompts 8] [--group 5] [--new-tokens 1024] [--attn sdpa|flash_attention_2]
        [--peak-tflops 989] [--json OUT.json]

It refuses to run without CUDA (exit status 2). About 3-5 minutes on one H100/H200.
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
CONFIG = REPO / "infra/models/qwen3-vl-8b-instruct.config.json"
#: Dense bf16 tensor-core peaks (TFLOP/s, no sparsity) by device-name fragment.
PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "H100": 756.0,
    "A100": 312.0,
    "L40S": 362.0,
    "B200": 2250.0,
}


def load_config(path: Path = CONFIG) -> Any:
    from transformers import Qwen3VLConfig

    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("_source", None)
    return Qwen3VLConfig.from_dict(data)


def build_model(config: Any, device: str, dtype: torch.dtype, attn: str) -> Any:
    """Random-initialised Qwen3-VL of ``config`` on ``device``, vision tower frozen."""
    from transformers import Qwen3VLForConditionalGeneration

    config._attn_implementation = attn
    with torch.device(device):
        model = Qwen3VLForConditionalGeneration(config).to(dtype)
    for param in model.model.visual.parameters():
        param.requires_grad_(False)
    return model


def with_lora(model: Any) -> Any:
    """The project's SFT LoRA (full-scale params) on ``model``; vision stays frozen."""
    from peft import get_peft_model

    from aesformer.config import load_params
    from aesformer.thinker.sft import check_frozen, lora_config

    sft = load_params(REPO / "params.yaml", profile="full-scale").sft
    sft = sft.model_copy(update={"modules_to_save": []})  # tags not added: no new rows to train
    peft_model = get_peft_model(model, lora_config(sft))
    check_frozen(peft_model)
    return peft_model


def image_side(config: Any, pixels: int) -> int:
    """Grid side (patches) of a square image of ``pixels`` area, a multiple of the merge size."""
    vision = config.vision_config
    side = int(pixels**0.5) // vision.patch_size
    return max(vision.spatial_merge_size, side - side % vision.spatial_merge_size)


def synthetic_batch(
    config: Any, batch: int, seq: int, image_pixels: int, device: str, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """``batch`` sequences of ``seq`` tokens, each with one square image of ``image_pixels``:
    the input layout the Qwen3-VL processor produces (vision start, image pads, vision end)."""
    vision = config.vision_config
    grid = image_side(config, image_pixels)
    image_tokens = grid * grid // vision.spatial_merge_size**2
    if image_tokens + 8 > seq:
        raise ValueError(f"--seq {seq} cannot hold an image of {image_tokens} tokens")
    generator = torch.Generator().manual_seed(0)
    vocab = config.text_config.vocab_size
    special = torch.tensor(
        [config.image_token_id, config.video_token_id, config.vision_start_token_id,
         config.vision_end_token_id]
    )  # fmt: skip
    ids = torch.randint(
        min(1000, vocab // 4), min(vocab, 150000), (batch, seq), generator=generator
    )
    ids[torch.isin(ids, special)] = min(1000, vocab // 4)  # plain text tokens only
    ids[:, 4] = config.vision_start_token_id
    ids[:, 5 : 5 + image_tokens] = config.image_token_id
    ids[:, 5 + image_tokens] = config.vision_end_token_id
    labels = ids.clone()
    labels[:, : 6 + image_tokens] = -100  # loss on the answer only, as the SFT collator does
    patch_dim = vision.in_channels * vision.temporal_patch_size * vision.patch_size**2
    pixels = torch.randn(batch * grid * grid, patch_dim, generator=generator)
    return {
        "input_ids": ids.to(device),
        "attention_mask": torch.ones_like(ids).to(device),
        # 0 text, 1 image (as the processor returns it): M-RoPE needs it
        "mm_token_type_ids": (ids == config.image_token_id).long().to(device),
        "labels": labels.to(device),
        "pixel_values": pixels.to(device, dtype),
        "image_grid_thw": torch.tensor([[1, grid, grid]] * batch, device=device),
    }


def language_parameters(model: Any) -> int:
    """N for the FLOP count: language-model weights a token passes through (no embeddings)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    text = base.model.language_model
    layers = sum(p.numel() for p in text.layers.parameters())
    return layers + base.lm_head.weight.numel()


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def sft_steps(model: Any, batch: dict[str, torch.Tensor], steps: int, device: str) -> dict:
    """Warm-up step, then ``steps`` timed optimizer steps; returns seconds and losses."""
    model.train()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    losses = []
    for i in range(steps + 1):
        if i == 1:
            sync(device)
            started = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    sync(device)
    seconds = time.perf_counter() - started
    tokens = steps * batch["input_ids"].numel()
    return {"seconds": seconds, "tokens": tokens, "losses": losses}


def rollouts(
    model: Any, batch: dict[str, torch.Tensor], group: int, new_tokens: int, device: str
) -> dict:
    """GRPO's generation: each prompt sampled ``group`` times, exactly ``new_tokens`` each."""
    model.eval()
    prompt_len = batch["input_ids"].shape[1]
    inputs = {
        "input_ids": batch["input_ids"].repeat_interleave(group, 0),
        "attention_mask": batch["attention_mask"].repeat_interleave(group, 0),
        "mm_token_type_ids": batch["mm_token_type_ids"].repeat_interleave(group, 0),
        "image_grid_thw": batch["image_grid_thw"].repeat_interleave(group, 0),
    }
    # pixel_values rows are per image in batch order: repeat each image's rows ``group`` times
    per_image = batch["pixel_values"].shape[0] // batch["input_ids"].shape[0]
    chunks = batch["pixel_values"].split(per_image)
    inputs["pixel_values"] = torch.cat([c for c in chunks for _ in range(group)])
    sync(device)
    started = time.perf_counter()
    with torch.no_grad():
        out = model.generate(
            **inputs,
            do_sample=True,
            temperature=1.0,
            top_p=1.0,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
        )
    sync(device)
    seconds = time.perf_counter() - started
    generated = (out.shape[1] - prompt_len) * out.shape[0]
    return {"seconds": seconds, "tokens": generated, "sequences": out.shape[0]}


def peak_tflops(name: str, override: float | None) -> float | None:
    if override:
        return override
    for fragment, value in PEAK_TFLOPS.items():
        if fragment in name:
            return value
    return None


def run(args: argparse.Namespace, device: str = "cuda") -> dict[str, Any]:
    dtype = torch.bfloat16
    config = load_config(Path(args.config))
    model = with_lora(build_model(config, device, dtype, args.attn))
    n_lang = language_parameters(model)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    result: dict[str, Any] = {
        "device": name,
        "parameters": total,
        "trainable_parameters": trainable,
        "language_parameters": n_lang,
        "attn_implementation": args.attn,
        "torch": torch.__version__,
    }

    batch = synthetic_batch(config, args.batch, args.seq, args.image_pixels, device, dtype)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    sft = sft_steps(model, batch, args.steps, device)
    tokens_per_s = sft["tokens"] / sft["seconds"]
    result["sft"] = {
        "batch": args.batch,
        "seq_tokens": args.seq,
        "image_tokens": image_side(config, args.image_pixels) ** 2 // 4,
        "steps": args.steps,
        "seconds_per_step": sft["seconds"] / args.steps,
        "tokens_per_s": tokens_per_s,
        "loss_first": sft["losses"][0],
        "loss_last": sft["losses"][-1],
    }
    peak = peak_tflops(name, args.peak_tflops)
    if peak:
        result["sft"]["mfu"] = 4 * n_lang * tokens_per_s / (peak * 1e12)
        result["peak_tflops"] = peak
    if device.startswith("cuda"):
        result["sft"]["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()

    prompt_seq = image_side(config, args.image_pixels) ** 2 // 4 + args.prompt_text_tokens
    prompts = synthetic_batch(config, args.prompts, prompt_seq, args.image_pixels, device, dtype)
    gen = rollouts(model, prompts, args.group, args.new_tokens, device)
    result["grpo_generation"] = {
        "prompts": args.prompts,
        "group": args.group,
        "prompt_tokens": prompt_seq,
        "new_tokens": args.new_tokens,
        "seconds": gen["seconds"],
        "generated_tokens": gen["tokens"],
        "generated_tokens_per_s": gen["tokens"] / gen["seconds"],
    }
    if device.startswith("cuda"):
        result["grpo_generation"]["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(CONFIG), help="Qwen3-VL config JSON")
    p.add_argument("--steps", type=int, default=5, help="timed SFT optimizer steps")
    p.add_argument("--batch", type=int, default=2, help="SFT sequences per step (paper: 2)")
    p.add_argument("--seq", type=int, default=2048, help="SFT sequence tokens (paper: 2048)")
    p.add_argument("--image-pixels", type=int, default=1024 * 1024, help="image area (paper)")
    p.add_argument("--prompts", type=int, default=8, help="GRPO prompts per generate call")
    p.add_argument("--group", type=int, default=5, help="samples per prompt (paper: 5)")
    p.add_argument("--new-tokens", type=int, default=1024, help="tokens per rollout (paper)")
    p.add_argument("--prompt-text-tokens", type=int, default=96, help="prompt text tokens")
    p.add_argument("--attn", default="sdpa", help="sdpa | flash_attention_2 | eager")
    p.add_argument("--peak-tflops", type=float, default=None, help="GPU bf16 peak for MFU")
    p.add_argument("--json", default=None, help="also write the result here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "bench/thinker_gpu.py needs a CUDA GPU (it builds the 8.8B Qwen3-VL in bf16, "
            "~17 GiB of weights, and trains it): none is visible here. Run it on a GPU worker: "
            "python bench/thinker_gpu.py",
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
