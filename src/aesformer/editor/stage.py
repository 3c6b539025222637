"""Stage ``editor``: cache, train, validate, save (``aesformer editor`` runs it in its MLflow run).

:func:`train_editor` is the whole stage:

1. refuse switches the machine cannot honour (bf16 without CUDA, adamw8bit without
   bitsandbytes) before loading anything;
2. load the base pipeline (tiny folder or hub id; safetensors only) and build the cache
   (:mod:`aesformer.editor.cache`): frozen VAE latents and text states of every train/val pair;
3. add the LoRA to the transformer, measure the deterministic val flow-matching MSE, train
   (:mod:`aesformer.editor.train`; checkpoints, resume), validating every ``val_every`` steps
   (:mod:`aesformer.editor.validate`: grids to MLflow);
4. save the adapter in ``out`` (``pytorch_lora_weights.safetensors``, diffusers' LoRA format
   with the PEFT config as metadata, loadable by ``pipe.load_lora_weights(out)``) and
   ``editor_info.json`` (base model reference, sizes, numbers), write the metrics JSON.

Multi-GPU: the same function under ``accelerate launch`` (docs/editor.md "Full-scale launch").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

import torch

from aesformer.config import EditorConfig
from aesformer.editor.cache import build_cache, load_shard, model_id
from aesformer.editor.train import (
    add_lora,
    check_hardware,
    fixed_sigma_mse,
    lora_state,
    run_key,
    train,
)
from aesformer.editor.validate import validate
from aesformer.fileio import write_text

log = logging.getLogger(__name__)

INFO_FILE = "editor_info.json"
LORA_FILE = "pytorch_lora_weights.safetensors"


def make_accelerator(cfg: EditorConfig) -> Any:
    """DDP over the processes of ``accelerate launch`` (one on a plain run), bf16 autocast.

    ``find_unused_parameters``: the last block's text-stream output is not used by the model,
    so the LoRA on its text projections gets no gradient, which DDP otherwise refuses.
    """
    from accelerate import Accelerator, DistributedDataParallelKwargs

    return Accelerator(
        mixed_precision="bf16" if cfg.bf16 else "no",
        cpu=not torch.cuda.is_available(),
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


def load_pipeline(base_model: str | Path, revision: str | None, cfg: EditorConfig) -> Any:
    from aesformer.zoo import load_editor_pipeline

    dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    pipe = load_editor_pipeline(base_model, revision, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def train_editor(
    cfg: EditorConfig,
    release_dir: Path,
    base_model: str | Path,
    out: Path,
    cache_dir: Path,
    *,
    revision: str | None = None,
    metrics: Path | None = None,
    resume: bool = True,
    on_step: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """Cache, train and validate the editor LoRA into ``out``; return the summary."""
    check_hardware(cfg)
    threads = torch.get_num_threads()
    if cfg.cpu_threads is not None and not torch.cuda.is_available():
        torch.set_num_threads(cfg.cpu_threads)
    try:
        return _train_editor(
            cfg, release_dir, base_model, out, cache_dir, revision, metrics, resume, on_step
        )
    finally:
        torch.set_num_threads(threads)


def _train_editor(
    cfg: EditorConfig,
    release_dir: Path,
    base_model: str | Path,
    out: Path,
    cache_dir: Path,
    revision: str | None,
    metrics: Path | None,
    resume: bool,
    on_step: Callable[[int, float], None] | None,
) -> dict[str, Any]:
    started = perf_counter()
    release_dir, out, cache_dir = Path(release_dir), Path(out), Path(cache_dir)
    accelerator = make_accelerator(cfg)
    device = accelerator.device
    pipe = load_pipeline(base_model, revision, cfg)
    pipe.to(device)
    model = model_id(base_model, revision)
    with accelerator.main_process_first():
        cache = build_cache(pipe, cfg, release_dir, cache_dir, model)
    train_pairs = [load_shard(p) for p in cache.shards["train"]]
    val_pairs = [load_shard(p) for p in cache.shards["val"]]
    frozen = (pipe.text_encoder, pipe.vae)
    if device.type == "cuda":  # only the transformer trains: park the frozen encoders
        for module in frozen:
            module.to("cpu")

    transformer = pipe.transformer
    params = add_lora(transformer, cfg)
    trainable = sum(p.numel() for p in params)
    val_mse_before = fixed_sigma_mse(transformer, val_pairs, cfg.val_sigmas, cfg.val_seed, device)
    history: list[dict[str, float]] = []

    def on_validate(step: int) -> None:
        if device.type == "cuda":
            for module in frozen:
                module.to(device)
        transformer.eval()
        result = validate(pipe, val_pairs, release_dir, cfg)
        result.metrics["val_mse"] = fixed_sigma_mse(
            transformer, val_pairs, cfg.val_sigmas, cfg.val_seed, device
        )
        history.append({"step": step, **result.metrics})
        _log_validation(step, result)
        if device.type == "cuda":
            for module in frozen:
                module.to("cpu")

    mark = perf_counter()
    trained = train(
        accelerator,
        transformer,
        params,
        train_pairs,
        cfg,
        out,
        run_key(cfg, model, cache.shards["train"]),
        pipe.scheduler.config,
        resume=resume,
        on_step=on_step,
        on_validate=on_validate,
    )
    train_seconds = perf_counter() - mark
    if not history and accelerator.is_main_process:  # resumed after the last step: validate now
        on_validate(trained.global_step)

    k = min(cfg.evidence_steps, max(1, len(trained.losses) // 2))
    losses = trained.losses
    summary: dict[str, Any] = {
        **cache.summary(),
        "trainable_parameters": trainable,
        "global_step": trained.global_step,
        "resumed_from_step": trained.resumed_from_step,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "loss_first_k": sum(losses[:k]) / k if losses else None,
        "loss_last_k": sum(losses[-k:]) / k if losses else None,
        "evidence_k": k,
        "val_mse_before": val_mse_before,
        **({key: v for key, v in history[-1].items() if key != "step"} if history else {}),
        "train_seconds": train_seconds,
    }
    summary["seconds"] = perf_counter() - started
    if accelerator.is_main_process:
        save_adapter(pipe, out)
        info = {
            "base_model": str(base_model),
            "revision": revision,
            "release": str(release_dir),
            "sizes": {
                "target_area": cfg.target_area,
                "control_area": cfg.control_area,
                "text_image_area": cfg.text_image_area,
            },
            "inference": {
                "steps": cfg.val_inference_steps,
                "true_cfg_scale": cfg.val_true_cfg_scale,
                "negative_prompt": cfg.val_negative_prompt,
                "seed": cfg.val_seed,
            },
            "cache_failed": cache.failed,
            "losses": losses,
            "validation": history,
            "summary": summary,
        }
        write_text(out / INFO_FILE, json.dumps(info, indent=2, sort_keys=True) + "\n")
        if metrics is not None:
            write_metrics(summary, Path(metrics))
    accelerator.wait_for_everyone()
    return summary


def save_adapter(pipe: Any, out: Path) -> Path:
    """The LoRA in diffusers' format (``transformer.``-prefixed keys, PEFT config as metadata)."""
    transformer = pipe.transformer
    config = transformer.peft_config["default"].to_dict()
    config = {k: sorted(v) if isinstance(v, set) else v for k, v in config.items()}
    out.mkdir(parents=True, exist_ok=True)
    type(pipe).save_lora_weights(
        str(out),
        transformer_lora_layers=lora_state(transformer),
        transformer_lora_adapter_metadata=config,
        safe_serialization=True,
    )
    return out / LORA_FILE


def write_metrics(summary: dict[str, Any], path: Path) -> dict[str, Any]:
    """The ``dvc metrics`` file: loss evidence and the val numbers."""
    data = {
        "final_loss": summary["final_loss"],
        "loss_first_k": summary["loss_first_k"],
        "loss_last_k": summary["loss_last_k"],
        "global_step": summary["global_step"],
        "val": {
            "mse_before": summary["val_mse_before"],
            "mse_after": summary.get("val_mse"),
            "ssim": summary.get("val_ssim"),
            "mae": summary.get("val_mae"),
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data


def _log_validation(step: int, result: Any) -> None:
    import mlflow

    if mlflow.active_run() is None:
        return
    mlflow.log_metrics({f"editor/{k}": v for k, v in result.metrics.items()}, step=step)
    mlflow.log_image(result.grid, f"editor/val/step-{step:06d}.png")
