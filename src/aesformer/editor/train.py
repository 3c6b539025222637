"""The train step: a PEFT LoRA on the Qwen-Image transformer, flow matching on cached latents.

One optimizer step (``grad_accum`` micro-batches of ``batch_size`` pairs of one bucket):

1. a micro-batch of cached pairs: target latents ``x0`` (B, C, h, w), control latents, text
   states (padded to the longest, with a mask when lengths differ);
2. sigmas from :func:`aesformer.editor.flow.sample_sigmas` (resolution-dependent shift for the
   bucket's target token count unless ``shift`` is fixed), noise ~ N(0, I);
3. ``x_sigma = (1 - sigma) x0 + sigma noise``; the transformer sees the packed noisy target
   tokens followed by the packed control tokens (``zero_cond_t``: the control tokens get
   t = 0), per-sample ``img_shapes`` from the latent sizes, ``timestep = sigma``;
4. the prediction is sliced to the target tokens and regressed on ``v = noise - x0`` (MSE).

Determinism and resume: the data order of every epoch and the noise / sigmas / dropout of
every micro-batch are drawn from generators seeded by (seed, epoch) and (seed, step, micro,
rank), so nothing but the LoRA weights, the optimizer state and the step number needs saving.
A checkpoint ``checkpoints/checkpoint-<step>/`` holds ``adapter.safetensors`` (the LoRA
weights), ``optimizer.safetensors`` (the optimizer state, tensors + JSON metadata; no pickle)
and ``state.json`` (written last: a folder without it is incomplete and ignored). A killed run
resumed from its last checkpoint ends with the same weights and losses as an uninterrupted one
(tested). Checkpoints belong to a run key (params + base model + data); others are moved aside.

Hardware: ``accelerate`` (DDP over processes, bf16 autocast); the learning rate is set from
the step each time (linear warm-up then constant / cosine / linear decay).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from time import time
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from aesformer.config import EditorConfig
from aesformer.editor.cache import CachedPair
from aesformer.editor.flow import (
    img_shapes,
    noisy_latents,
    pack,
    sample_sigmas,
    velocity_target,
)
from aesformer.errors import ConfigError, InputError
from aesformer.fileio import atomic_path, write_text

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
RUN_KEY_FILE = "RUN_KEY"
STATE_FILE = "state.json"
ADAPTER_FILE = "adapter.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"


# --------------------------------------------------------------------------- settings checks
def check_hardware(cfg: EditorConfig) -> None:
    """Refuse switches the machine cannot honour, before any model is loaded."""
    if cfg.bf16 and not torch.cuda.is_available():
        raise ConfigError("editor.bf16: needs a CUDA device (set editor.bf16: false on CPU)")
    if cfg.optimizer == "adamw8bit":
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise ConfigError(
                "editor.optimizer: adamw8bit needs bitsandbytes, which is not installed "
                "(pip install bitsandbytes on a CUDA machine, or use adamw)"
            ) from None


# --------------------------------------------------------------------------- model
def add_lora(transformer: Any, cfg: EditorConfig) -> list[torch.nn.Parameter]:
    """Freeze ``transformer`` and add the LoRA adapter ``default``; return its parameters
    (kept in float32 even when the base weights are bf16)."""
    from peft import LoraConfig

    transformer.requires_grad_(False)
    torch.manual_seed(cfg.seed)  # LoRA A init
    try:
        transformer.add_adapter(
            LoraConfig(
                r=cfg.lora_rank,
                lora_alpha=cfg.lora_alpha,
                lora_dropout=cfg.lora_dropout,
                target_modules=list(cfg.lora_targets),
                init_lora_weights=True,
            )
        )
    except ValueError as exc:  # PEFT: target modules not found
        raise ConfigError(
            f"editor.lora_targets: {cfg.lora_targets} match no transformer module ({exc})"
        ) from None
    params = [p for p in transformer.parameters() if p.requires_grad]
    if not params:
        raise ConfigError(f"editor.lora_targets: {cfg.lora_targets} match no transformer module")
    for p in params:
        p.data = p.data.float()
    if cfg.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()  # non-reentrant: LoRA grads flow
    return params


def lora_state(transformer: Any) -> dict[str, torch.Tensor]:
    """The adapter's weights in PEFT's key format (``transformer_blocks.0.attn.to_q.lora_A.weight``)."""
    from peft.utils import get_peft_model_state_dict

    return {
        k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(transformer).items()
    }


def load_lora_state(transformer: Any, path: Path) -> None:
    from peft.utils import set_peft_model_state_dict

    state = _read_tensors(path)
    result = set_peft_model_state_dict(transformer, state)
    missing = [k for k in result.missing_keys if "lora_" in k]
    if missing or result.unexpected_keys:
        raise InputError(
            f"{path}: adapter does not fit the transformer (missing {missing[:3]}, "
            f"unexpected {list(result.unexpected_keys)[:3]})"
        )


# --------------------------------------------------------------------------- data
@dataclass
class Batch:
    target: torch.Tensor  # (B, C, h, w)
    control: torch.Tensor  # (B, C, hc, wc)
    prompt_embeds: torch.Tensor  # (B, L, D)
    prompt_mask: torch.Tensor | None  # (B, L) or None when all lengths are equal

    def to(self, device: Any, dtype: torch.dtype) -> Batch:
        return Batch(
            self.target.to(device, dtype),
            self.control.to(device, dtype),
            self.prompt_embeds.to(device, dtype),
            None if self.prompt_mask is None else self.prompt_mask.to(device),
        )


def collate(pairs: Sequence[CachedPair]) -> Batch:
    """Stack pairs of one bucket; text states are zero-padded to the longest with a mask."""
    if len({p.bucket for p in pairs}) != 1:
        raise ValueError("collate: pairs of different buckets")
    lengths = [p.prompt_embeds.shape[0] for p in pairs]
    longest = max(lengths)
    embeds = torch.zeros(len(pairs), longest, pairs[0].prompt_embeds.shape[1])
    mask = torch.zeros(len(pairs), longest, dtype=torch.long)
    for i, p in enumerate(pairs):
        embeds[i, : lengths[i]] = p.prompt_embeds.float()
        mask[i, : lengths[i]] = 1
    return Batch(
        torch.stack([p.target.float() for p in pairs]),
        torch.stack([p.control.float() for p in pairs]),
        embeds,
        None if len(set(lengths)) == 1 else mask,
    )


def epoch_batches(
    pairs: Sequence[CachedPair], batch_size: int, seed: int, epoch: int
) -> list[list[int]]:
    """Aspect-ratio bucketing: indices grouped by bucket, shuffled, cut into batches of one
    bucket (a bucket's last batch may be smaller), the batches shuffled; same (seed, epoch) →
    same order."""
    generator = torch.Generator().manual_seed(_derive(seed, "epoch", epoch))
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        groups[p.bucket].append(i)
    batches = []
    for bucket in sorted(groups):
        members = groups[bucket]
        order = torch.randperm(len(members), generator=generator).tolist()
        shuffled = [members[j] for j in order]
        batches += [shuffled[i : i + batch_size] for i in range(0, len(shuffled), batch_size)]
    order = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[j] for j in order]


def _derive(seed: int, *parts: Any) -> int:
    """A 63-bit seed from ``seed`` and ``parts`` (stable across runs and processes)."""
    text = ":".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


# --------------------------------------------------------------------------- loss
def flow_loss(
    transformer: Any,
    batch: Batch,
    sigmas: torch.Tensor,
    noise: torch.Tensor,
    scheduler_config: Any = None,
) -> torch.Tensor:
    """MSE between the transformer's velocity on the target tokens and ``noise - x0``."""
    x0 = batch.target
    b, _, h, w = x0.shape
    _, _, hc, wc = batch.control.shape
    target_tokens = pack(noisy_latents(x0, noise, sigmas))
    hidden = torch.cat([target_tokens, pack(batch.control)], dim=1)
    prediction = transformer(
        hidden_states=hidden,
        timestep=sigmas.to(hidden.dtype),
        encoder_hidden_states=batch.prompt_embeds,
        encoder_hidden_states_mask=batch.prompt_mask,
        img_shapes=[img_shapes((h, w), [(hc, wc)])] * b,
        return_dict=False,
    )[0][:, : target_tokens.shape[1]]
    target = pack(velocity_target(x0, noise))
    return torch.nn.functional.mse_loss(prediction.float(), target.float())


def micro_inputs(
    batch: Batch, cfg: EditorConfig, scheduler_config: Any, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sigmas and noise of one micro-batch, from their own generator."""
    generator = torch.Generator().manual_seed(seed)
    b, _, h, w = batch.target.shape
    sigmas = sample_sigmas(
        b,
        (h // 2) * (w // 2),
        scheduler_config,
        sampling=cfg.timestep_sampling,
        logit_mean=cfg.logit_mean,
        logit_std=cfg.logit_std,
        shift=cfg.shift,
        generator=generator,
    )
    noise = torch.randn(batch.target.shape, generator=generator)
    return sigmas, noise


@torch.no_grad()
def fixed_sigma_mse(
    transformer: Any, pairs: Sequence[CachedPair], sigmas: Sequence[float], seed: int, device: Any
) -> float:
    """Deterministic flow-matching MSE: every pair at every sigma of ``sigmas`` with fixed noise."""
    dtype = next(transformer.parameters()).dtype
    total = 0.0
    for i, pair in enumerate(pairs):
        batch = collate([pair])
        noise = torch.randn(batch.target.shape, generator=torch.Generator().manual_seed(seed + i))
        for sigma in sigmas:
            loss = flow_loss(
                transformer,
                batch.to(device, dtype),
                torch.tensor([sigma], device=device),
                noise.to(device, dtype),
            )
            total += float(loss)
    return total / (len(pairs) * len(sigmas))


def learning_rate(cfg: EditorConfig, step: int, total: int) -> float:
    """The learning rate of optimizer step ``step`` (0-based) of ``total``."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    if cfg.lr_scheduler == "constant":
        return cfg.learning_rate
    progress = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    if cfg.lr_scheduler == "cosine":
        return cfg.learning_rate * 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.learning_rate * max(0.0, 1 - progress)


def make_optimizer(cfg: EditorConfig, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    if cfg.optimizer == "adamw8bit":
        import bitsandbytes as bnb

        return bnb.optim.AdamW8bit(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)


# --------------------------------------------------------------------------- checkpoints
def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own error types
        raise InputError(f"{path}: unreadable safetensors file ({exc})") from None


def save_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> None:
    """The optimizer's state dict as safetensors: tensors by ``state.<param>.<name>``, the rest
    (numbers, param groups) as JSON metadata."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            key = f"state.{index}.{name}"
            if isinstance(value, torch.Tensor):
                tensors[key] = value.detach().cpu().contiguous()
            else:
                scalars[key] = value
    meta = {"param_groups": json.dumps(state["param_groups"]), "scalars": json.dumps(scalars)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> None:
    tensors = _read_tensors(path)
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata() or {}
    state: dict[int, dict[str, Any]] = defaultdict(dict)
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state[int(index)][name] = value
    for key, value in json.loads(meta.get("scalars", "{}")).items():
        _, index, name = key.split(".", 2)
        state[int(index)][name] = value
    try:
        groups = json.loads(meta["param_groups"])
        for loaded, current in zip(groups, optimizer.param_groups, strict=True):
            for name, value in current.items():  # JSON turned tuples (betas) into lists
                if isinstance(value, tuple) and isinstance(loaded.get(name), list):
                    loaded[name] = tuple(loaded[name])
        optimizer.load_state_dict({"state": dict(state), "param_groups": groups})
    except (KeyError, ValueError) as exc:
        raise InputError(f"{path}: optimizer state does not fit ({exc})") from None


def run_key(cfg: EditorConfig, model: str, shards: Sequence[Path]) -> str:
    """What checkpoints belong to: the training params, the base model id and the data (the
    shard names are content keys). Validation-only params do not change it."""
    training = cfg.model_dump(
        mode="json", exclude={n for n in type(cfg).model_fields if n.startswith("val")}
    )
    digest = hashlib.sha256(json.dumps(training, sort_keys=True).encode())
    digest.update(model.encode())
    for path in sorted(p.name for p in shards):
        digest.update(path.encode())
    return digest.hexdigest()[:16]


def last_checkpoint(checkpoints: Path) -> Path | None:
    """The complete ``checkpoint-<step>`` folder of the highest step, or ``None``."""
    done = [p for p in checkpoints.glob("checkpoint-*") if (p / STATE_FILE).is_file()]
    return max(done, key=_step_of, default=None)


def _step_of(path: Path) -> int:
    try:
        return int(path.name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return -1


def claim_checkpoints(out: Path, key: str, resume: bool) -> Path | None:
    """The checkpoint to resume from (``None``: start over); stamps ``checkpoints/`` with
    ``key``. Checkpoints of another key are moved to ``checkpoints.stale-<time>``."""
    checkpoints = out / CHECKPOINTS
    found = last_checkpoint(checkpoints) if resume and checkpoints.is_dir() else None
    stamp = checkpoints / RUN_KEY_FILE
    if found is not None and (not stamp.is_file() or stamp.read_text().strip() != key):
        stale = out / f"{CHECKPOINTS}.stale-{int(time())}"
        while stale.exists():
            stale = stale.with_name(stale.name + "-1")
        log.warning(
            "editor: checkpoints in %s belong to other params/data; kept as %s", checkpoints, stale
        )
        checkpoints.rename(stale)
        found = None
    if not resume and checkpoints.is_dir():
        shutil.rmtree(checkpoints)
    checkpoints.mkdir(parents=True, exist_ok=True)
    write_text(stamp, key + "\n")
    return found


def save_checkpoint(
    out: Path, step: int, transformer: Any, optimizer: Any, losses: list[float], keep: int
) -> Path:
    folder = out / CHECKPOINTS / f"checkpoint-{step}"
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / ADAPTER_FILE) as tmp:
        save_file(lora_state(transformer), str(tmp))
    save_optimizer(optimizer, folder / OPTIMIZER_FILE)
    write_text(folder / STATE_FILE, json.dumps({"step": step, "losses": losses}) + "\n")
    done = sorted(
        (p for p in (out / CHECKPOINTS).glob("checkpoint-*") if (p / STATE_FILE).is_file()),
        key=_step_of,
    )
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


# --------------------------------------------------------------------------- the loop
@dataclass
class TrainResult:
    losses: list[float]  # one per optimizer step, from step 1
    global_step: int
    resumed_from_step: int
    total_steps: int


def total_steps(cfg: EditorConfig, batches_per_epoch: int, world: int) -> int:
    if cfg.max_steps > 0:
        return cfg.max_steps
    per_step = cfg.grad_accum * world
    return max(1, math.ceil(cfg.epochs * batches_per_epoch / per_step))


def train(
    accelerator: Any,
    transformer: Any,
    params: list[torch.nn.Parameter],
    train_pairs: Sequence[CachedPair],
    cfg: EditorConfig,
    out: Path,
    key: str,
    scheduler_config: Any,
    *,
    resume: bool = True,
    on_step: Callable[[int, float], None] | None = None,
    on_validate: Callable[[int], None] | None = None,
) -> TrainResult:
    """Run the optimizer steps; checkpoints in ``out/checkpoints``; returns the losses.

    ``on_step(step, loss)`` runs after each optimizer step (and its checkpoint), on every
    process; ``on_validate(step)`` every ``val_every`` steps and at the end, main process only.
    """
    optimizer = make_optimizer(cfg, params)
    model, optimizer = accelerator.prepare(transformer, optimizer)
    world, rank = accelerator.num_processes, accelerator.process_index
    n_batches = len(epoch_batches(train_pairs, cfg.batch_size, cfg.seed, 0))
    total = total_steps(cfg, n_batches, world)

    resume_from = claim_checkpoints(out, key, resume) if accelerator.is_main_process else None
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process and resume:
        resume_from = last_checkpoint(out / CHECKPOINTS)
    losses: list[float] = []
    start = 0
    if resume_from is not None:
        load_lora_state(accelerator.unwrap_model(model), resume_from / ADAPTER_FILE)
        load_optimizer(optimizer, resume_from / OPTIMIZER_FILE)
        state = json.loads((resume_from / STATE_FILE).read_text(encoding="utf-8"))
        start, losses = int(state["step"]), list(state["losses"])
        log.info("editor: resuming from %s (step %d of %d)", resume_from, start, total)

    dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    orders: dict[int, list[list[int]]] = {}
    model.train()
    for step in range(start, total):
        lr = learning_rate(cfg, step, total)
        for group in optimizer.param_groups:
            group["lr"] = lr
        step_loss = 0.0
        for micro in range(cfg.grad_accum):
            index = (step * cfg.grad_accum + micro) * world + rank
            epoch, position = divmod(index, n_batches)
            if epoch not in orders:
                orders = {epoch: epoch_batches(train_pairs, cfg.batch_size, cfg.seed, epoch)}
            batch = collate([train_pairs[i] for i in orders[epoch][position]])
            micro_seed = _derive(cfg.seed, "micro", step, micro, rank)
            sigmas, noise = micro_inputs(batch, cfg, scheduler_config, micro_seed)
            torch.manual_seed(micro_seed)  # LoRA dropout
            device = accelerator.device
            sync = accelerator.no_sync(model) if micro < cfg.grad_accum - 1 else nullcontext()
            with sync, accelerator.autocast():
                loss = flow_loss(
                    model, batch.to(device, dtype), sigmas.to(device), noise.to(device, dtype)
                )
                accelerator.backward(loss / cfg.grad_accum)
            step_loss += float(loss.detach()) / cfg.grad_accum
        grad_norm = accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step_loss = float(
            accelerator.reduce(torch.tensor(step_loss, device=accelerator.device), "mean")
        )
        losses.append(step_loss)
        done = step + 1
        if accelerator.is_main_process:
            if done % cfg.logging_steps == 0:
                _log_step(done, step_loss, lr, float(grad_norm))
            if done % cfg.save_steps == 0 or done == total:
                save_checkpoint(
                    out,
                    done,
                    accelerator.unwrap_model(model),
                    optimizer,
                    losses,
                    cfg.save_total_limit,
                )
            if on_validate is not None and (done % cfg.val_every == 0 or done == total):
                on_validate(done)
                model.train()
        accelerator.wait_for_everyone()
        if on_step is not None:
            on_step(done, step_loss)
    return TrainResult(losses, total, start, total)


def _log_step(step: int, loss: float, lr: float, grad_norm: float) -> None:
    import mlflow

    if mlflow.active_run() is not None:
        mlflow.log_metrics(
            {"editor/loss": loss, "editor/learning_rate": lr, "editor/grad_norm": grad_norm},
            step=step,
        )
