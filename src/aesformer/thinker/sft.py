"""AesThinker stage 1(a): LoRA SFT of the Qwen3-VL thinker on the release's Stage1_a data.

:func:`train_sft` is the whole stage (``aesformer sft`` calls it inside its MLflow run):

1. load the base (tiny folder or hub id), make sure the 14 plan tags are single tokens (never
   shrinking the embedding matrix), set the attention kernel;
2. the train split as TRL prompt/completion rows with images (:mod:`aesformer.thinker.data`);
3. TRL ``SFTTrainer`` with a PEFT LoRA on the language model's linear layers only, the
   vision tower and its mergers (deepstack included) frozen, ``embed_tokens``/``lm_head``
   trained in full (``modules_to_save``: the rows of the plan tags are learnt), loss on the
   completion (the plan) only, no truncation (``max_length=None``);
4. checkpoints every ``save_steps`` in ``out/checkpoints/``; with ``resume=True`` a run starts
   from the last one (a killed run continues where it stopped: optimizer, scheduler, RNG and
   data position are restored);
5. the adapter, tokenizer and processor config saved in ``out`` (+ ``sft_info.json``: the
   base model reference, the numbers);
6. greedy plans on val scored by :func:`aesformer.thinker.evaluate.plan_metrics`, written to
   ``metrics`` (JSON, for ``dvc metrics``) and logged to the active MLflow run.

Multi-GPU: the same function under ``accelerate launch`` (DeepSpeed ZeRO-2/3 configs in
``infra/``); see docs/thinker.md "Full-scale launch".
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from time import perf_counter, time
from typing import Any

import torch
from pydantic import BaseModel
from transformers import TrainerCallback

from aesformer.config import SftConfig
from aesformer.errors import ConfigError
from aesformer.fileio import write_text as atomic_write_text
from aesformer.thinker.data import (
    build_dataset,
    configure_processor,
    load_examples,
    load_image,
)
from aesformer.thinker.evaluate import generate_plan, plan_metrics
from aesformer.thinker.lm_head import compact_lm_head
from aesformer.zoo import add_plan_tags, load_thinker, load_thinker_processor

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
RUN_KEY_FILE = "RUN_KEY"  # in checkpoints/: which params, base and data the checkpoints belong to
INFO_FILE = "sft_info.json"
TRAINER_STATE = "trainer_state.json"  # transformers writes it last into each checkpoint folder
#: Parameter-name fragments of the vision tower (patch embedding, blocks, merger, deepstack mergers).
VISION_PREFIX = "visual."


# --------------------------------------------------------------------------- model pieces
def lora_target_regex(targets: Sequence[str]) -> str:
    """A PEFT ``target_modules`` regex (full match) for ``targets`` inside the language model.

    Qwen3-VL's vision blocks use ``attn.qkv``/``attn.proj``/``mlp.linear_fc*`` and its mergers
    ``linear_fc*``, so ``q_proj`` & co. could only match the language model anyway; the
    ``language_model`` anchor makes that explicit and keeps a renamed vision layer out.
    """
    names = "|".join(re.escape(t) for t in targets)
    return rf".*\.language_model\..*\.({names})"


def lora_config(cfg: SftConfig) -> Any:
    """The PEFT ``LoraConfig`` of ``cfg`` (LoRA on the language model, full embed/lm_head)."""
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_rank,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=lora_target_regex(cfg.lora_targets),
        modules_to_save=list(cfg.modules_to_save) or None,
        bias="none",
        task_type="CAUSAL_LM",
    )


def ensure_plan_tokens(model: Any, processor: Any) -> int:
    """Add the plan tags (no-op when present) and grow, never shrink, the embeddings.

    Qwen's embedding matrix has more rows than ``len(tokenizer)`` (151936 vs 151669 + 14 tags),
    so ``resize_token_embeddings(len(tokenizer))`` would *shrink* it; only resize when the
    tokenizer outgrows it. Returns the number of tags added.
    """
    before = len(processor.tokenizer)
    add_plan_tags(processor.tokenizer)
    added = len(processor.tokenizer) - before
    rows = model.get_input_embeddings().weight.shape[0]
    if len(processor.tokenizer) > rows:
        model.resize_token_embeddings(len(processor.tokenizer), pad_to_multiple_of=64)
    return added


def trainable_parameter_names(model: Any) -> list[str]:
    return [name for name, p in model.named_parameters() if p.requires_grad]


def check_frozen(model: Any) -> None:
    """Raise if any vision parameter (tower, merger, deepstack mergers) is trainable."""
    leaking = [n for n in trainable_parameter_names(model) if VISION_PREFIX in n]
    if leaking:
        raise ConfigError(f"sft: vision parameters would be trained: {leaking[:5]}")


def load_base(base_model: str | Path, revision: str | None, cfg: SftConfig) -> Any:
    dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    model = load_thinker(base_model, revision, dtype=dtype)
    model.set_attn_implementation(cfg.attn_implementation)
    for param in model.model.visual.parameters():  # PEFT freezes them too; be explicit
        param.requires_grad_(False)
    return model


def load_processor(base_model: str | Path, revision: str | None, cfg: SftConfig) -> Any:
    processor = load_thinker_processor(base_model, revision)
    return configure_processor(processor, cfg.image_min_pixels, cfg.image_max_pixels)


# --------------------------------------------------------------------------- callbacks
class MlflowStepLogger(TrainerCallback):
    """Log the trainer's numbers (loss, learning rate, grad norm, epoch) to the active MLflow run
    at each logging step, from the main process only, under ``sft/<name>``.

    Why not ``report_to=["mlflow"]``: transformers' integration opens or nests runs of its own
    and logs every TrainingArguments field as a param; the stage already has its run (opened by
    ``tracking.stage_run``, with the lineage tags) and its params (the ``sft`` section).
    """

    def __init__(self, prefix: str = "sft/") -> None:
        self.prefix = prefix

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        import mlflow

        if mlflow.active_run() is None:
            return
        numbers = {
            f"{self.prefix}{k}": float(v)
            for k, v in logs.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        }
        if numbers:
            mlflow.log_metrics(numbers, step=state.global_step)


# --------------------------------------------------------------------------- the stage
def sft_arguments(cfg: SftConfig, checkpoints: Path) -> Any:
    """TRL ``SFTConfig`` of ``cfg`` (CPU when no CUDA device)."""
    from trl import SFTConfig

    cuda = torch.cuda.is_available()
    if cfg.bf16 and not cuda:
        raise ConfigError("sft.bf16: needs a CUDA device (set sft.bf16: false on CPU)")
    return SFTConfig(
        output_dir=str(checkpoints),
        # data: prompt/completion rows with images, prepared on the fly by TRL's vision collator
        max_length=None,
        completion_only_loss=True,
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        # optimisation
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio,  # a float in [0, 1) is a share of the steps
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        seed=cfg.seed,
        data_seed=cfg.seed,
        # hardware
        use_cpu=not cuda,
        bf16=cfg.bf16,
        gradient_checkpointing=cfg.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        deepspeed=cfg.deepspeed,
        dataloader_num_workers=0,
        # checkpoints and logs
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        logging_steps=cfg.logging_steps,
        report_to="none",
        disable_tqdm=True,
    )


def run_key(
    cfg: BaseModel,
    base_model: str | Path,
    revision: str | None,
    release_dir: Path,
    extra_files: Sequence[Path] = (),
) -> str:
    """Fingerprint of what a checkpoint belongs to: the params, the base model reference, the
    release's manifest and ``extra_files`` (grpo: the SFT adapter it starts from). A
    checkpoint is resumed only under the same key."""
    digest = hashlib.sha256()
    digest.update(cfg.model_dump_json().encode())
    digest.update(f"\0{base_model}\0{revision}\0".encode())
    for path in (Path(release_dir) / "manifest.parquet", *extra_files):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def claim_checkpoints(out: Path, key: str, resume: bool, stage: str) -> Path | None:
    """The checkpoint to resume from in ``out/checkpoints``, or ``None``; stamps the folder
    with ``key``. Checkpoints of another key (other params, base or data) are not resumed:
    they are moved aside to ``checkpoints.stale-<time>``, never deleted."""
    checkpoints = out / CHECKPOINTS
    resume_from = last_checkpoint(checkpoints) if resume else None
    stamp = checkpoints / RUN_KEY_FILE
    if resume_from is not None and (not stamp.is_file() or stamp.read_text().strip() != key):
        stale = out / f"{CHECKPOINTS}.stale-{int(time())}"
        while stale.exists():  # two in one second
            stale = stale.with_name(stale.name + "-1")
        log.warning(
            "%s: checkpoints in %s come from other params, base or data: not resumed (kept as %s)",
            stage,
            checkpoints,
            stale,
        )
        checkpoints.rename(stale)
        resume_from = None
    checkpoints.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key + "\n", encoding="utf-8")
    if resume_from is not None:
        log.info("%s: resuming from %s", stage, resume_from)
    return resume_from


def mean_step_loss(log_history: list[dict[str, Any]], fallback: float) -> float:
    """Mean training loss over every logged step of the run, ``fallback`` when none was logged.

    A resumed run's history comes back from its checkpoint, so this covers the whole run; the
    trainer's own ``training_loss`` covers only the steps of this process, and is 0 for a run
    re-started at its last checkpoint (e.g. by ``dvc repro`` after an unrelated code change).
    """
    losses = [
        float(e["loss"])
        for e in log_history
        if isinstance(e.get("loss"), int | float) and math.isfinite(e["loss"])
    ]
    return sum(losses) / len(losses) if losses else float(fallback)


def last_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete ``checkpoint-<step>`` folder, or ``None``.

    The trainer writes ``trainer_state.json`` last (after the weights, optimizer, scheduler and
    RNG states) and not atomically: a folder whose state file is missing or does not parse was
    cut short by a kill and is skipped (transformers' ``get_last_checkpoint`` would pick it).
    """
    if not checkpoints.is_dir():
        return None
    steps = []
    for folder in checkpoints.glob("checkpoint-*"):
        step = folder.name.rsplit("-", 1)[1]
        if folder.is_dir() and step.isdigit():
            steps.append((int(step), folder))
    for _, folder in sorted(steps, reverse=True):
        try:
            json.loads((folder / TRAINER_STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("%s is incomplete (no readable %s): not resumed", folder, TRAINER_STATE)
            continue
        return folder
    return None


def evaluate_split(
    model: Any,
    processor: Any,
    release_dir: Path,
    cfg: SftConfig,
    split: str = "val",
) -> tuple[dict[str, float], list[dict[str, str]]]:
    """Greedy plans for ``split`` and their :func:`plan_metrics`; also the samples."""
    examples = load_examples(release_dir, split)[: cfg.eval_limit]
    model.eval()
    predicted = []
    for example in examples:
        image = load_image(
            Path(release_dir) / example.image, cfg.image_min_pixels, cfg.image_max_pixels
        )
        predicted.append(
            generate_plan(model, processor, image, example.prompt, cfg.eval_max_new_tokens)
        )
    metrics = plan_metrics(predicted, [e.plan for e in examples])
    samples = [
        {"image": e.name, "plan": p, "reference": e.plan}
        for e, p in zip(examples, predicted, strict=True)
    ]
    return metrics, samples


def train_sft(
    cfg: SftConfig,
    release_dir: Path,
    base_model: str | Path,
    out: Path,
    resume: bool = True,
    *,
    revision: str | None = None,
    metrics: Path | None = None,
    eval_split: str = "val",
    callbacks: Sequence[TrainerCallback] = (),
) -> dict[str, Any]:
    """Train the SFT adapter into ``out``; evaluate on ``eval_split``; return the summary.

    ``out`` receives the adapter (``adapter_config.json``, ``adapter_model.safetensors``), the
    tokenizer and processor files, ``sft_info.json`` and ``checkpoints/``. ``metrics`` (JSON)
    gets ``final_loss``, ``format_validity``, ``alignment``, ``action_exact``. Numbers are also
    logged to the active MLflow run, if any (per step by :class:`MlflowStepLogger`).
    """
    from trl import SFTTrainer

    release_dir, out = Path(release_dir), Path(out)
    checkpoints = out / CHECKPOINTS
    started = perf_counter()
    torch.manual_seed(cfg.seed)

    # the arguments first: under ZeRO-3 they register the DeepSpeed config that makes
    # from_pretrained partition the weights while loading (zero.Init)
    args = sft_arguments(cfg, checkpoints)
    processor = load_processor(base_model, revision, cfg)
    model = load_base(base_model, revision, cfg)
    tags_added = ensure_plan_tokens(model, processor)
    train, counts = build_dataset(
        release_dir,
        "train",
        processor,
        cfg.image_min_pixels,
        cfg.image_max_pixels,
        cfg.cutoff_tokens,
    )
    log.info(
        "sft: %d train examples (%d dropped > %d tokens, longest %d)",
        counts["examples"],
        counts["dropped_too_long"],
        cfg.cutoff_tokens,
        counts["max_tokens"],
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        processing_class=processor,
        peft_config=lora_config(cfg),
        callbacks=[MlflowStepLogger(), *callbacks],
    )
    check_frozen(trainer.model)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())

    resume_from = claim_checkpoints(
        out, run_key(cfg, base_model, revision, release_dir), resume, "sft"
    )
    mark = perf_counter()
    with compact_lm_head():  # only the plan tokens through the LM head on CPU too
        result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    train_seconds = perf_counter() - mark

    trainer.save_model(str(out))  # adapter only (+ embed_tokens / lm_head copies); ZeRO-3 aware
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    summary: dict[str, Any] = {
        "train_examples": counts["examples"],
        "dropped_too_long": counts["dropped_too_long"],
        "max_tokens": counts["max_tokens"],
        "plan_tags_added": tags_added,
        "trainable_parameters": trainable,
        "parameters": total,
        "global_step": trainer.state.global_step,
        "resumed_from_step": _step_of(resume_from),
        "train_loss": mean_step_loss(trainer.state.log_history, result.training_loss),
        "first_loss": float(losses[0]) if losses else None,
        "final_loss": float(losses[-1]) if losses else None,
        "train_seconds": train_seconds,
    }
    # every rank generates (under ZeRO-3 the weights are sharded and generate() runs in lockstep,
    # synced_gpus); only the main process writes files and logs
    eval_metrics, samples = evaluate_split(trainer.model, processor, release_dir, cfg, eval_split)
    summary.update({f"{eval_split}_{k}": v for k, v in eval_metrics.items()})
    summary["seconds"] = perf_counter() - started
    if trainer.is_world_process_zero():
        processor.save_pretrained(str(out))
        info = {
            "base_model": str(base_model),
            "revision": revision,
            "release": str(release_dir),
            "eval_split": eval_split,
            "samples": samples,
            "summary": summary,
        }
        atomic_write_text(out / INFO_FILE, json.dumps(info, indent=2, sort_keys=True) + "\n")
        if metrics is not None:
            write_metrics(summary, eval_split, Path(metrics))
        _log_to_mlflow(summary, samples)
    return summary


def _step_of(checkpoint: Path | None) -> int:
    return int(checkpoint.name.rsplit("-", 1)[1]) if checkpoint is not None else 0


def write_metrics(summary: dict[str, Any], split: str, path: Path) -> dict[str, Any]:
    """The ``dvc metrics`` file: final loss and the plan metrics on ``split``."""
    data = {
        "final_loss": summary["final_loss"],
        "train_loss": summary["train_loss"],
        "global_step": summary["global_step"],
        split: {
            key: summary[f"{split}_{key}"]
            for key in ("format_validity", "alignment", "action_exact", "examples")
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data


def _log_to_mlflow(summary: dict[str, Any], samples: list[dict[str, str]]) -> None:
    import mlflow

    if mlflow.active_run() is None:
        return
    mlflow.log_metrics(
        {
            k: float(v)
            for k, v in summary.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
    )
    mlflow.log_table(
        {key: [s[key] for s in samples] for key in ("image", "plan", "reference")},
        artifact_file="sft/val_plans.json",
    )
