"""AesThinker stage 1(b): GRPO-A of the SFT adapter with the three rewards (docs/thinker.md#grpo).

:func:`train_grpo` is the whole stage (``aesformer grpo`` calls it inside its MLflow run):

1. load the base and the SFT adapter as a *trainable* LoRA (``PeftModel.from_pretrained(...,
   is_trainable=True)``: GRPO continues the SFT adapter, it does not start a new one); the
   processor (tokenizer with the plan tags) comes from the adapter folder; the vision tower
   stays frozen. TRL copies the adapter into a frozen ``ref`` adapter: the KL term (``beta``)
   is measured against the SFT policy, not the bare base;
2. the release's train split as GRPO rows (:func:`build_rows`): the planner prompt and the
   poor photo exactly as SFT saw them (:mod:`aesformer.thinker.data`) and the ground-truth
   plan in the column ``rewards.reference_column`` (``reference_plan``);
3. TRL ``GRPOTrainer`` with ``aesformer.rewards.build_rewards`` (format, alignment, creativity,
   weighted by ``rewards.weights``), ``report_to="none"`` and our MLflow logging: the rewards'
   :class:`~aesformer.rewards.RewardLoggingCallback` (``reward/*``, completions tables) and the
   SFT stage's step logger under ``grpo/*`` (loss, kl, learning rate, TRL's ``rewards/*``);
4. checkpoints every ``save_steps`` in ``out/checkpoints/``; with ``resume=True`` a run starts
   from the last one;
5. the ``default`` adapter, tokenizer and processor saved in ``out`` (+ ``grpo_info.json``);
6. the **evidence** (:func:`evidence`): mean weighted reward of the first and the last
   ``evidence_steps`` training steps (default: one pass over the train prompts, so both
   windows score the same prompts; :func:`evidence_window`), and the mean weighted reward of
   the SFT policy and of the GRPO policy on the same prompts, sampled the same way
   (``eval_samples`` per prompt at ``temperature``, batched into ``eval_batch_size``-completion
   ``generate`` calls, common random numbers per chunk of prompts) and scored by the same
   reward functions, with the paired standard error of the gain; written to ``metrics``
   (JSON, for ``dvc metrics``) and logged to the active MLflow run.

Multi-GPU: the same function under ``accelerate launch`` (DeepSpeed ZeRO-2 for LoRA GRPO;
``use_vllm`` for generation); see docs/thinker.md "GRPO".
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import torch
from transformers import TrainerCallback

from aesformer.config import GrpoConfig, RewardsConfig
from aesformer.errors import ConfigError, InputError
from aesformer.fileio import write_text as atomic_write_text
from aesformer.thinker.data import (
    configure_processor,
    inference_messages,
    load_examples,
    load_image,
    prompt_messages,
)
from aesformer.thinker.lm_head import compact_lm_head
from aesformer.thinker.sft import (
    VISION_PREFIX,
    MlflowStepLogger,
    check_frozen,
    claim_checkpoints,
    ensure_plan_tokens,
    mean_step_loss,
    run_key,
)
from aesformer.zoo import load_thinker, load_thinker_processor

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
INFO_FILE = "grpo_info.json"
#: The trainable adapter's name (TRL adds a frozen copy named ``ref`` for the KL term).
ADAPTER = "default"


# --------------------------------------------------------------------------- checks
def check_batch(cfg: GrpoConfig, processes: int = 1) -> None:
    """Raise :class:`ConfigError` unless the completions of one optimizer step hold whole groups.

    TRL counts completions, not prompts, in the per-device batch: ``processes × batch_size ×
    grad_accum`` completions must be a multiple of ``num_generations``.
    """
    total = processes * cfg.batch_size * cfg.grad_accum
    if total % cfg.num_generations:
        raise ConfigError(
            f"grpo: processes ({processes}) × batch_size ({cfg.batch_size}) × grad_accum "
            f"({cfg.grad_accum}) = {total} completions per step is not divisible by "
            f"num_generations ({cfg.num_generations}); the per-device batch counts completions, "
            f"not prompts (e.g. batch_size: {cfg.num_generations})"
        )


# --------------------------------------------------------------------------- data
def build_rows(
    release_dir: Path,
    split: str,
    min_pixels: int,
    max_pixels: int,
    reference_column: str = "reference_plan",
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """GRPO rows of ``split``: ``prompt`` (the user turn, text; TRL inserts the image),
    ``image`` (the resized poor photo) and ``reference_column`` (the ground-truth plan text)."""
    rows = []
    for example in load_examples(release_dir, split)[:limit]:
        image = load_image(Path(release_dir) / example.image, min_pixels, max_pixels)
        rows.append(
            {
                "prompt": prompt_messages(example.prompt),
                "image": image,
                reference_column: example.plan,
            }
        )
    if not rows:
        raise InputError(f"{release_dir}: no {split} examples for GRPO")
    return rows


def build_dataset(rows: Sequence[dict[str, Any]]) -> Any:
    from datasets import Dataset

    return Dataset.from_list(list(rows))


# --------------------------------------------------------------------------- model
#: PEFT's name part of a module trained in full beside LoRA (``modules_to_save``).
SAVED_MODULES = "modules_to_save"


def load_policy(
    base_model: str | Path, sft_adapter_dir: Path, cfg: GrpoConfig, revision: str | None = None
) -> tuple[Any, Any]:
    """``(model, processor)``: the base with the SFT adapter as a trainable LoRA."""
    from peft import PeftModel

    sft_adapter_dir = Path(sft_adapter_dir)
    if not (sft_adapter_dir / "adapter_config.json").is_file():
        raise InputError(f"{sft_adapter_dir}: no adapter_config.json (run the sft stage first)")
    processor = configure_processor(
        load_thinker_processor(sft_adapter_dir), cfg.image_min_pixels, cfg.image_max_pixels
    )
    dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    base = load_thinker(base_model, revision, dtype=dtype)
    base.set_attn_implementation(cfg.attn_implementation)
    ensure_plan_tokens(base, processor)  # the adapter's embed_tokens / lm_head need the rows
    for param in base.model.visual.parameters():
        param.requires_grad_(False)
    try:
        model = PeftModel.from_pretrained(
            base, str(sft_adapter_dir), adapter_name=ADAPTER, is_trainable=True
        )
    except (KeyError, RuntimeError, ValueError) as exc:
        raise InputError(f"{sft_adapter_dir}: adapter does not fit the base ({exc})") from None
    for name, param in model.named_parameters():  # vision never trains (deepstack included)
        if VISION_PREFIX in name:
            param.requires_grad_(False)
    if not cfg.train_saved_modules:
        freeze_saved_modules(model)
    return model, processor


def freeze_saved_modules(model: Any) -> list[str]:
    """Stop training the adapter's full module copies (``modules_to_save``); returns their names.

    PEFT turns them trainable again whenever the active adapter is set (TRL switches to its
    ``ref`` adapter and back every step; resuming loads the adapter), so the trainer calls this
    again before it builds its optimizer and before every loss (see :func:`grpo_trainer_class`).
    """
    names = []
    for name, param in model.named_parameters():
        if SAVED_MODULES in name and param.requires_grad:
            param.requires_grad_(False)
            names.append(name)
    return names


@contextmanager
def merged_lora(model: Any, enabled: bool = True) -> Iterator[bool]:
    """The active LoRA folded into the base weights while inside (for generation only).

    An unmerged LoRA linear costs three matmuls and a few elementwise ops per call instead of
    one; a tiny model decodes at the speed of its op dispatch, so rollouts and scoring samples
    generate ~1.2x faster merged (``bench/thinker_head.py``). PEFT's ``merge_adapter`` adds
    ``B @ A * scale`` to each base weight and ``unmerge_adapter`` subtracts it again, which
    is not exact in floating point (bf16 loses ~2^-9 of a weight per round trip), so the base
    weights are copied first and put back bit-exactly after: the copy is the memory cost.
    Yields whether it merged: not when ``enabled`` is false, the model has no LoRA, or its
    weights are partitioned by DeepSpeed ZeRO-3.
    """
    from peft.tuners.lora import LoraLayer
    from transformers.integrations import is_deepspeed_zero3_enabled

    layers = [m for m in model.modules() if isinstance(m, LoraLayer)] if enabled else []
    if not layers or is_deepspeed_zero3_enabled():
        yield False
        return
    saved = [
        (m.get_base_layer().weight, m.get_base_layer().weight.detach().clone()) for m in layers
    ]
    model.merge_adapter()
    try:
        yield True
    finally:
        model.unmerge_adapter()
        with torch.no_grad():
            for weight, original in saved:
                weight.copy_(original)


def grpo_trainer_class(cfg: GrpoConfig) -> type:
    """TRL's ``GRPOTrainer`` with two changes.

    - the saved modules (``embed_tokens`` / ``lm_head`` copies) stay frozen unless
      ``train_saved_modules`` (see :func:`freeze_saved_modules`);
    - transformers rollouts are generated with the LoRA merged when
      ``merge_lora_for_generation`` (:func:`merged_lora`; vLLM rollouts are untouched).
    """
    from trl import GRPOTrainer

    class AesThinkerGRPOTrainer(GRPOTrainer):
        def create_optimizer(self, model=None):  # type: ignore[no-untyped-def]
            if not cfg.train_saved_modules:
                freeze_saved_modules(self.model)  # a resumed run has just loaded the adapter
            return super().create_optimizer(model)

        def compute_loss(self, model, inputs, *args, **kwargs):  # type: ignore[no-untyped-def]
            if not cfg.train_saved_modules:
                freeze_saved_modules(model)  # after the ref adapter's forward: no wasted grads
            return super().compute_loss(model, inputs, *args, **kwargs)

        def _generate_single_turn(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            merge = cfg.merge_lora_for_generation and not self.use_vllm
            with merged_lora(self.accelerator.unwrap_model(self.model), merge):
                return super()._generate_single_turn(*args, **kwargs)

    return AesThinkerGRPOTrainer


# --------------------------------------------------------------------------- trainer
def grpo_arguments(cfg: GrpoConfig, reward_weights: Sequence[float], checkpoints: Path) -> Any:
    """TRL ``GRPOConfig`` of ``cfg`` (CPU when no CUDA device)."""
    from trl import GRPOConfig as TrlGrpoConfig

    cuda = torch.cuda.is_available()
    if cfg.bf16 and not cuda:
        raise ConfigError("grpo.bf16: needs a CUDA device (set grpo.bf16: false on CPU)")
    if cfg.use_vllm and not cuda:
        raise ConfigError("grpo.use_vllm: needs CUDA devices (set grpo.use_vllm: false on CPU)")
    vllm: dict[str, Any] = {}
    if cfg.use_vllm:
        vllm = {
            "use_vllm": True,
            "vllm_mode": cfg.vllm_mode,
            "vllm_gpu_memory_utilization": cfg.vllm_gpu_memory_utilization,
            "vllm_server_base_url": cfg.vllm_server_base_url,
        }
    return TrlGrpoConfig(
        output_dir=str(checkpoints),
        # data: rows keep their reference plan / image columns for the rewards
        remove_unused_columns=False,
        # (TRL 1.16 has no prompt truncation: image tokens are never cut)
        max_completion_length=cfg.max_completion_length,
        # GRPO
        num_generations=cfg.num_generations,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        beta=cfg.beta,
        epsilon=cfg.epsilon,
        loss_type=cfg.loss_type,
        scale_rewards=cfg.scale_rewards,
        reward_weights=list(reward_weights),
        # optimisation
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        # TRL counts micro-batches (training_step calls); ours are optimizer steps
        steps_per_generation=(cfg.steps_per_generation or 1) * cfg.grad_accum,
        num_iterations=cfg.num_iterations,
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
        **vllm,
        # checkpoints and logs
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        logging_steps=1,  # the evidence reads the reward of every step
        report_to="none",
        disable_tqdm=True,
    )


def reference_lengths(
    rows: Sequence[dict[str, Any]], tokenizer: Any, reference_column: str
) -> list[int]:
    """Tokens of each row's reference plan plus the end-of-turn token a rollout must emit."""
    return [len(tokenizer(str(row[reference_column]))["input_ids"]) + 1 for row in rows]


def check_completion_length(lengths: Sequence[int], max_completion_length: int) -> int:
    """How many reference plans do not fit in ``max_completion_length`` (logged as a warning).

    A rollout that writes such a plan faithfully is cut off: its last dimensions are missing,
    so it scores format 0 and loses alignment, and the policy is pushed towards shorter, emptier
    plans instead of better ones.
    """
    over = [n for n in lengths if n > max_completion_length]
    if over:
        log.warning(
            "grpo: %d of %d reference plans are longer than max_completion_length %d "
            "(longest %d tokens with the end token): faithful rollouts of them are cut off; "
            "raise grpo.max_completion_length",
            len(over),
            len(lengths),
            max_completion_length,
            max(over),
        )
    return len(over)


# --------------------------------------------------------------------------- evidence
def step_rewards(log_history: Sequence[dict[str, Any]]) -> list[tuple[int, float]]:
    """``(step, mean weighted reward)`` of each logged training step (TRL's ``reward``)."""
    seen: dict[int, float] = {}
    for entry in log_history:
        value = entry.get("reward")
        if isinstance(value, int | float) and math.isfinite(value) and "step" in entry:
            seen[int(entry["step"])] = float(value)
    return sorted(seen.items())


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@torch.no_grad()
def sample_completions(
    model: Any,
    processor: Any,
    images: Sequence[Any],
    prompts: Sequence[str],
    n: int,
    cfg: GrpoConfig,
) -> list[list[str]]:
    """``n`` sampled plans for each photo, decoded as TRL decodes its rollouts.

    One ``generate`` call for all the photos (left-padded, as TRL batches its rollouts): a
    small model's decoding costs per token, not per sequence, so 20 prompts in one call are
    about 3x faster than one call each on the tiny base.
    """
    tokenizer = processor.tokenizer
    inputs = processor.apply_chat_template(
        [inference_messages(image, prompt) for image, prompt in zip(images, prompts, strict=True)],
        tokenize=True,
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
        processor_kwargs={"padding": True, "padding_side": "left"},
    )
    device = next(model.parameters()).device
    inputs = {k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()}
    output = model.generate(
        **inputs,
        max_new_tokens=cfg.max_completion_length,
        do_sample=True,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        top_k=0,
        num_return_sequences=n,
        pad_token_id=tokenizer.pad_token_id,
    )
    new_tokens = output[:, inputs["input_ids"].shape[1] :]
    texts = [t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]


def scoring_samples(cfg: GrpoConfig) -> int:
    """Samples per prompt in the SFT-vs-GRPO scoring: ``eval_samples``, else ``num_generations``."""
    return cfg.eval_samples or cfg.num_generations


def scoring_chunks(cfg: GrpoConfig, prompts: int) -> list[range]:
    """The prompt ranges of the SFT-vs-GRPO scoring, one ``generate`` call each: whole
    prompts, ``eval_batch_size`` (else ``batch_size``) completions at most, at least one."""
    n = scoring_samples(cfg)
    per_call = max(1, (cfg.eval_batch_size or cfg.batch_size) // n)
    return [range(a, min(a + per_call, prompts)) for a in range(0, prompts, per_call)]


def policy_reward(
    model: Any,
    processor: Any,
    rows: Sequence[dict[str, Any]],
    reward_funcs: Sequence[Callable[..., list[float]]],
    weights: Sequence[float],
    cfg: GrpoConfig,
    reference_column: str,
) -> dict[str, Any]:
    """Mean weighted reward (and per-component means) of ``model`` on ``rows``.

    ``eval_samples`` (else ``num_generations``) samples per prompt at the training
    temperature, scored by ``reward_funcs`` with the columns TRL passes them. The prompts are
    sampled in the fixed chunks of :func:`scoring_chunks`, one ``generate`` call each, and the
    sampler is re-seeded with ``cfg.seed + k`` before the chunk that starts at prompt ``k``: two
    policies scored this way draw the same random numbers for the same prompt (common random
    numbers; torch's one-sample ``multinomial`` is an exponential race, so a token whose
    probability barely changed is drawn in both), and their per-prompt differences
    (``per_prompt``, see :func:`paired_gain`) are less noisy than the difference of two
    independent means (about half the standard error on the sample release: a flipped token
    still sends a long sample down another path).
    """
    was_training = model.training
    model.eval()
    n = scoring_samples(cfg)
    totals: list[float] = []
    per_prompt: list[float] = []
    parts: dict[str, list[float]] = {fn.__name__: [] for fn in reward_funcs}
    try:
        with merged_lora(model, cfg.merge_lora_for_generation):
            for chunk in scoring_chunks(cfg, len(rows)):
                torch.manual_seed(cfg.seed + chunk.start)
                batch = [rows[k] for k in chunk]
                samples = sample_completions(
                    model,
                    processor,
                    [row["image"] for row in batch],
                    [row["prompt"][0]["content"] for row in batch],
                    n,
                    cfg,
                )
                for row, texts in zip(batch, samples, strict=True):
                    kwargs = {
                        "prompts": [row["prompt"]] * n,
                        "completions": [[{"role": "assistant", "content": t}] for t in texts],
                        "image": [row["image"]] * n,
                        reference_column: [row[reference_column]] * n,
                    }
                    values = [fn(**kwargs) for fn in reward_funcs]
                    for fn, vals in zip(reward_funcs, values, strict=True):
                        parts[fn.__name__].extend(vals)
                    row_totals = [
                        sum(w * v[i] for w, v in zip(weights, values, strict=True))
                        for i in range(n)
                    ]
                    totals.extend(row_totals)
                    per_prompt.append(sum(row_totals) / n)
    finally:
        model.train(was_training)
    out: dict[str, Any] = {"reward": sum(totals) / len(totals), "samples": float(len(totals))}
    out.update({f"{name}": sum(v) / len(v) for name, v in parts.items()})
    out["per_prompt"] = per_prompt
    return out


def paired_gain(before: Sequence[float], after: Sequence[float]) -> tuple[float, float]:
    """``(mean, standard error)`` of the per-prompt differences ``after - before``."""
    if len(before) != len(after) or not before:
        raise ValueError("paired_gain: the same non-empty prompts are needed on both sides")
    diffs = [a - b for a, b in zip(after, before, strict=True)]
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return mean, math.nan
    return mean, statistics.stdev(diffs, mean) / math.sqrt(len(diffs))


def reward_trend(history: Sequence[tuple[int, float]]) -> tuple[float | None, float | None]:
    """``(slope, standard error)`` of the least-squares line through the per-step rewards,
    per 100 optimizer steps (``None`` below 3 steps). Every step's prompts are drawn at
    random, so prompt difficulty is noise around the line, not a trend."""
    if len(history) < 3:
        return None, None
    x = np.array([step for step, _ in history], dtype=np.float64)
    y = np.array([reward for _, reward in history], dtype=np.float64)
    dx = x - x.mean()
    sxx = float((dx**2).sum())
    if sxx == 0:
        return None, None
    slope = float((dx * (y - y.mean())).sum()) / sxx
    residual = y - y.mean() - slope * dx
    se = math.sqrt(float((residual**2).sum()) / (len(x) - 2) / sxx)
    return 100 * slope, 100 * se


def steps_per_pass(cfg: GrpoConfig, prompts: int, processes: int = 1) -> int:
    """Optimizer steps of one pass of TRL's sampler over ``prompts`` train prompts.

    A rollout batch holds ``steps_per_generation`` optimizer steps of ``processes ×
    batch_size × grad_accum`` completions, i.e. that over ``num_generations`` prompts, and is
    optimised on ``num_iterations`` times before the next one is generated. TRL's
    ``RepeatSampler`` draws a fresh permutation of the prompts for every pass and drops the
    last, incomplete rollout batch, so the first and the last pass of a run see the same
    prompts (in another order) but for the ``prompts mod rollout-batch prompts`` dropped.
    """
    per_generation = cfg.steps_per_generation or 1
    rollout_prompts = processes * cfg.batch_size * cfg.grad_accum * per_generation
    rollout_prompts //= cfg.num_generations
    return max(1, prompts // max(1, rollout_prompts)) * per_generation * cfg.num_iterations


def evidence_window(cfg: GrpoConfig, prompts: int, processes: int = 1) -> int:
    """``k`` of the first-vs-last comparison: ``evidence_steps``, else one pass over the prompts."""
    if cfg.evidence_steps is not None:
        return cfg.evidence_steps
    return steps_per_pass(cfg, prompts, processes)


def evidence(
    history: Sequence[tuple[int, float]], k: int, sft: dict[str, Any], grpo: dict[str, Any]
) -> dict[str, Any]:
    """The stage's evidence numbers (see the module docstring). The windows are the first
    and the last ``k`` optimizer *steps* (TRL logs a reward only on the steps that generate:
    every ``steps_per_generation``-th), ``k`` capped at half the steps, so they never overlap."""
    first_step = history[0][0] if history else 0
    last_step = history[-1][0] if history else 0
    k = max(1, min(k, (last_step - first_step + 1) // 2 or 1))
    first = _mean([r for step, r in history if step < first_step + k])
    last = _mean([r for step, r in history if step > last_step - k])
    sft, grpo = dict(sft), dict(grpo)
    per_prompt = {"sft": sft.pop("per_prompt", None), "grpo": grpo.pop("per_prompt", None)}
    gain_se = math.nan
    if per_prompt["sft"] and per_prompt["grpo"]:
        _, gain_se = paired_gain(per_prompt["sft"], per_prompt["grpo"])
    slope, slope_se = reward_trend(history)
    return {
        "evidence_steps": k,
        "reward_trend_per_100_steps": slope,
        "reward_trend_per_100_steps_se": slope_se,
        "reward_first_steps": first,
        "reward_last_steps": last,
        "reward_gain": (last - first) if first is not None and last is not None else None,
        "sft_reward": sft["reward"],
        "grpo_reward": grpo["reward"],
        "reward_gain_over_sft": grpo["reward"] - sft["reward"],
        "reward_gain_over_sft_se": None if math.isnan(gain_se) else gain_se,
        "sft": sft,
        "grpo": grpo,
        "per_prompt_rewards": per_prompt,
    }


# --------------------------------------------------------------------------- the stage
def train_grpo(
    cfg: GrpoConfig,
    rewards_cfg: RewardsConfig,
    release_dir: Path,
    base_model: str | Path,
    sft_adapter_dir: Path,
    out: Path,
    metrics_path: Path | None = None,
    resume: bool = True,
    *,
    revision: str | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> dict[str, Any]:
    """Train GRPO-A from the SFT adapter into ``out``; return the summary (with the evidence).

    ``out`` receives the adapter (``adapter_config.json``, ``adapter_model.safetensors``), the
    tokenizer and processor files, ``grpo_info.json`` and ``checkpoints/``. ``metrics_path``
    (JSON) gets the evidence numbers; they are also logged to the active MLflow run, if any.
    """
    from aesformer.rewards import RewardLoggingCallback, RewardStats, build_rewards

    release_dir, out, sft_adapter_dir = Path(release_dir), Path(out), Path(sft_adapter_dir)
    checkpoints = out / CHECKPOINTS
    started = perf_counter()
    check_batch(cfg)
    torch.manual_seed(cfg.seed)

    stats = RewardStats()
    funcs, weights = build_rewards(rewards_cfg, stats, group_size=cfg.num_generations)
    judges = {"alignment": funcs[1].judge, "creativity": funcs[2].judge}  # type: ignore[attr-defined]
    eval_funcs, _ = build_rewards(
        rewards_cfg, RewardStats(), group_size=cfg.num_generations, judges=judges, load=False
    )
    model, processor = load_policy(base_model, sft_adapter_dir, cfg, revision)
    rows = build_rows(
        release_dir,
        "train",
        cfg.image_min_pixels,
        cfg.image_max_pixels,
        rewards_cfg.reference_column,
        cfg.train_limit,
    )
    eval_rows = rows[: cfg.eval_prompts]
    log.info("grpo: %d train prompts, %d for the SFT/GRPO comparison", len(rows), len(eval_rows))
    ref_lengths = reference_lengths(rows, processor.tokenizer, rewards_cfg.reference_column)
    over_length = check_completion_length(ref_lengths, cfg.max_completion_length)

    mark = perf_counter()
    sft_reward = policy_reward(
        model, processor, eval_rows, eval_funcs, weights, cfg, rewards_cfg.reference_column
    )
    eval_seconds = perf_counter() - mark

    trainer = grpo_trainer_class(cfg)(
        model=model,
        processing_class=processor,
        reward_funcs=funcs,
        args=grpo_arguments(cfg, weights, checkpoints),
        train_dataset=build_dataset(rows),
        callbacks=[
            RewardLoggingCallback(stats, table_rows=rewards_cfg.table_rows),
            MlflowStepLogger(prefix="grpo/"),
            *callbacks,
        ],
    )
    check_frozen(trainer.model)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)

    key = run_key(
        cfg, base_model, revision, release_dir, [sft_adapter_dir / "adapter_model.safetensors"]
    )
    resume_from = claim_checkpoints(out, key, resume, "grpo")
    mark = perf_counter()
    with compact_lm_head():  # only the plan tokens through the LM head on CPU too
        result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    train_seconds = perf_counter() - mark

    policy = trainer.accelerator.unwrap_model(trainer.model)
    mark = perf_counter()
    grpo_reward = policy_reward(
        policy, processor, eval_rows, eval_funcs, weights, cfg, rewards_cfg.reference_column
    )
    eval_seconds += perf_counter() - mark

    history = step_rewards(trainer.state.log_history)
    window = evidence_window(cfg, len(rows), trainer.accelerator.num_processes)
    proof = evidence(history, window, sft_reward, grpo_reward)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    kls = [e["kl"] for e in trainer.state.log_history if "kl" in e]
    summary: dict[str, Any] = {
        "train_prompts": len(rows),
        "eval_prompts": len(eval_rows),
        "eval_samples": scoring_samples(cfg),
        "trainable_parameters": trainable,
        "global_step": trainer.state.global_step,
        "resumed_from_step": int(resume_from.name.rsplit("-", 1)[1]) if resume_from else 0,
        "train_loss": mean_step_loss(trainer.state.log_history, result.training_loss),
        "final_kl": float(kls[-1]) if kls else None,
        "final_loss": float(losses[-1]) if losses else None,
        "step_rewards": [r for _, r in history],
        "judge_failures": float(sum(stats.failures_total.values())),
        "reference_tokens_max": max(ref_lengths),
        "references_over_length": over_length,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        **proof,
    }
    if trainer.is_world_process_zero():
        out.mkdir(parents=True, exist_ok=True)
        policy.save_pretrained(str(out), selected_adapters=[ADAPTER])  # not TRL's "ref" copy
        processor.save_pretrained(str(out))
        summary["seconds"] = perf_counter() - started
        info = {
            "base_model": str(base_model),
            "revision": revision,
            "sft_adapter": str(sft_adapter_dir),
            "release": str(release_dir),
            "summary": summary,
        }
        atomic_write_text(out / INFO_FILE, json.dumps(info, indent=2, sort_keys=True) + "\n")
        if metrics_path is not None:
            write_metrics(summary, Path(metrics_path))
        _log_to_mlflow(summary)
    return summary


METRIC_KEYS = (
    "global_step",
    "evidence_steps",
    "reward_first_steps",
    "reward_last_steps",
    "reward_gain",
    "reward_trend_per_100_steps",
    "reward_trend_per_100_steps_se",
    "sft_reward",
    "grpo_reward",
    "reward_gain_over_sft",
    "reward_gain_over_sft_se",
    "final_kl",
    "train_loss",
    "judge_failures",
    "references_over_length",
)


def write_metrics(summary: dict[str, Any], path: Path) -> dict[str, Any]:
    """The ``dvc metrics`` file: the evidence numbers (+ per-component means of both policies)."""
    data: dict[str, Any] = {key: summary.get(key) for key in METRIC_KEYS}
    data["sft"] = summary["sft"]
    data["grpo"] = summary["grpo"]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data


def _log_to_mlflow(summary: dict[str, Any]) -> None:
    import mlflow

    if mlflow.active_run() is None:
        return
    numbers = {
        f"grpo/{k}": float(v)
        for k, v in summary.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }
    for policy in ("sft", "grpo"):
        numbers.update({f"grpo/eval/{policy}/{k}": float(v) for k, v in summary[policy].items()})
    mlflow.log_metrics(numbers)
