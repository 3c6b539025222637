"""TRL reward functions of GRPO-A: ``format``, ``alignment``, ``creativity``.

Each is called by ``trl.GRPOTrainer`` (1.16, ``_calculate_rewards``) on the completions of the
local batch as ``fn(prompts=..., completions=..., completion_ids=..., **columns)`` where
``columns`` holds every dataset column except ``prompt`` (one value per completion: the row is
repeated for each of its ``num_generations`` completions, consecutively) plus
``trainer_state``, ``log_extra`` and ``log_metric``. Prompts and completions are strings, or
conversational message lists (``[{"role": "assistant", "content": "..."}]``) when the dataset
is conversational; for image datasets the prompt messages carry the image parts. Each function
returns one float per completion; TRL logs them as ``rewards/<name>/mean`` and sums them with
``reward_weights`` (from ``rewards.weights``).

A judge failure (:class:`~aesformer.rewards.judges.JudgeError`, or any exception a judge lets
through) gives reward 0.0 for that completion and is counted in :class:`RewardStats`; it never
stops training.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aesformer.config import RewardsConfig
from aesformer.plans import Plan, format_ok, render
from aesformer.rewards.judges import Judge, JudgeError
from aesformer.rewards.rubrics import AlignmentRequest, CreativityRequest

log = logging.getLogger("aesformer.rewards")

RewardFunc = Callable[..., list[float]]
COMPONENTS: tuple[str, ...] = ("format", "alignment", "creativity")
#: Failures logged with their message before the rest are only counted.
WARN_FIRST = 5


# --------------------------------------------------------------------------- inputs
def message_text(content: Any) -> str:
    """The text of a message's ``content`` (a string or a list of parts; images skipped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def completion_text(completion: Any) -> str:
    """A completion as text: a string, or the assistant messages of a conversational one."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(
            message_text(m.get("content"))
            for m in completion
            if isinstance(m, dict) and m.get("role", "assistant") == "assistant"
        )
    return ""


def prompt_text(prompt: Any) -> str:
    """A prompt as text (conversational: the messages' text parts, one per line)."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n".join(message_text(m.get("content")) for m in prompt if isinstance(m, dict))
    return ""


def prompt_images(prompt: Any) -> list[Any]:
    """The images inside a conversational prompt's content parts."""
    images: list[Any] = []
    if isinstance(prompt, list):
        for message in prompt:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list):
                images.extend(
                    p["image"]
                    for p in content
                    if isinstance(p, dict)
                    and p.get("type") == "image"
                    and p.get("image") is not None
                )
    return images


def sample_images(index: int, prompts: Sequence[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    """The photo(s) of completion ``index``: column ``images``/``image``, else the prompt's."""
    if kwargs.get("images") is not None:
        value = kwargs["images"][index]
        return [] if value is None else list(value) if isinstance(value, list | tuple) else [value]
    if kwargs.get("image") is not None:
        value = kwargs["image"][index]
        return [] if value is None else [value]
    return prompt_images(prompts[index])


def reference_text(value: Any) -> str:
    """A ground-truth plan as plan text: text as is, a mapping or :class:`Plan` rendered."""
    if isinstance(value, Plan):
        return render(value)
    if isinstance(value, Mapping):
        return render(Plan.from_dict(value))
    if isinstance(value, str):
        return value
    raise JudgeError(f"unusable reference plan of type {type(value).__name__}")


def group_ids(
    prompts: Sequence[Any], kwargs: Mapping[str, Any], group_size: int | None, reference_column: str
) -> list[int]:
    """The group of each completion: runs of consecutive completions of the same prompt.

    TRL repeats each prompt ``num_generations`` times consecutively; a run of equal (prompt
    text, reference plan) is one group, cut every ``group_size`` completions so two identical
    neighbouring rows do not merge. A group split across processes is seen here in part.
    """
    refs = kwargs.get(reference_column)
    keys = [
        (prompt_text(p), repr(refs[i]) if refs is not None else "") for i, p in enumerate(prompts)
    ]
    ids: list[int] = []
    current, run = -1, 0
    for i, key in enumerate(keys):
        if i == 0 or key != keys[i - 1] or (group_size and run >= group_size):
            current, run = current + 1, 0
        ids.append(current)
        run += 1
    return ids


# --------------------------------------------------------------------------- stats
def _std(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


@dataclass
class _Batch:
    prompts: list[str]
    completions: list[str]
    groups: list[int]
    values: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class RewardStats:
    """What the reward functions saw since the last :meth:`flush` (one process's share).

    The reward functions :meth:`record` their values per call; a call for a component already
    recorded in the open batch opens the next batch. :meth:`flush` returns the step's metrics
    (per component: mean, mean within-group std, failures) and rows for the completions table,
    then clears; ``failures_total`` keeps counting for the whole run.
    """

    weights: dict[str, float] = field(default_factory=dict)
    batches: list[_Batch] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    failures_total: Counter[str] = field(default_factory=Counter)
    failure_kinds: Counter[str] = field(default_factory=Counter)

    def record(
        self,
        component: str,
        values: Sequence[float],
        *,
        prompts: Sequence[str],
        completions: Sequence[str],
        groups: Sequence[int],
        failures: int = 0,
    ) -> None:
        batch = self.batches[-1] if self.batches else None
        if batch is None or component in batch.values or len(batch.completions) != len(values):
            batch = _Batch(list(prompts), list(completions), list(groups))
            self.batches.append(batch)
        batch.values[component] = [float(v) for v in values]
        self.failures[component] += failures
        self.failures_total[component] += failures

    def note_failure(self, component: str, exc: BaseException) -> None:
        """Count the kind of one failure (the count itself comes with :meth:`record`)."""
        kind = "judge_error" if isinstance(exc, JudgeError) else type(exc).__name__
        self.failure_kinds[f"{component}/{kind}"] += 1
        if sum(self.failure_kinds.values()) <= WARN_FIRST:
            log.warning("rewards: %s judge failed (reward 0): %s", component, exc)

    def _totals(self, batch: _Batch) -> list[float] | None:
        if not self.weights or any(c not in batch.values for c in self.weights):
            return None
        n = len(batch.completions)
        return [sum(w * batch.values[c][i] for c, w in self.weights.items()) for i in range(n)]

    def summary(self) -> dict[str, float]:
        """The metrics of the open step (without clearing): see docs/thinker.md."""
        metrics: dict[str, float] = {}
        series: dict[str, list[tuple[list[float], list[int]]]] = defaultdict(list)
        for batch in self.batches:
            for component, values in batch.values.items():
                series[component].append((values, batch.groups))
            totals = self._totals(batch)
            if totals is not None:
                series["total"].append((totals, batch.groups))
        for name, parts in series.items():
            flat = [v for values, _ in parts for v in values]
            spreads = []
            for values, groups in parts:
                by_group: dict[int, list[float]] = defaultdict(list)
                for v, g in zip(values, groups, strict=True):
                    by_group[g].append(v)
                spreads.extend(_std(vs) for vs in by_group.values() if len(vs) > 1)
            metrics[f"reward/{name}/mean"] = sum(flat) / len(flat) if flat else 0.0
            if spreads:
                metrics[f"reward/{name}/group_std"] = sum(spreads) / len(spreads)
                metrics[f"reward/{name}/frac_zero_std_groups"] = sum(
                    s < 1e-9 for s in spreads
                ) / len(spreads)
        for component in {*self.failures, *self.failures_total}:
            metrics[f"reward/{component}/failures"] = float(self.failures[component])
            metrics[f"reward/{component}/failures_total"] = float(self.failures_total[component])
        return metrics

    def rows(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Completions of the open step as table rows (prompt, completion, group, rewards)."""
        out: list[dict[str, Any]] = []
        for batch in self.batches:
            totals = self._totals(batch)
            for i, completion in enumerate(batch.completions):
                row: dict[str, Any] = {
                    "prompt": batch.prompts[i],
                    "completion": completion,
                    "group": batch.groups[i],
                }
                for component in COMPONENTS:
                    if component in batch.values:
                        row[component] = batch.values[component][i]
                if totals is not None:
                    row["reward"] = totals[i]
                out.append(row)
                if limit is not None and len(out) >= limit:
                    return out
        return out

    def flush(self, limit: int | None = None) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """``(metrics, table rows)`` of the step; clears the step (not ``failures_total``)."""
        result = (self.summary(), self.rows(limit))
        self.batches.clear()
        self.failures.clear()
        return result

    @property
    def pending(self) -> bool:
        return bool(self.batches) or any(self.failures.values())


# --------------------------------------------------------------------------- the rewards
def format_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 when the completion is a well-formed seven-dimension plan (``plans.format_ok``)."""
    return [1.0 if format_ok(completion_text(c)) else 0.0 for c in completions]


def _named(fn: RewardFunc, name: str) -> RewardFunc:
    fn.__name__ = name  # TRL names the reward (rewards/<name>/mean) after __name__
    fn.__qualname__ = name
    return fn


def with_stats(
    fn: RewardFunc,
    stats: RewardStats,
    name: str,
    *,
    reference_column: str = "reference_plan",
    group_size: int | None = None,
) -> RewardFunc:
    """``fn`` (a judge-free reward such as :func:`format_reward`) recording into ``stats``."""

    def reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        values = fn(prompts=prompts, completions=completions, **kwargs)
        stats.record(
            name,
            values,
            prompts=[prompt_text(p) for p in prompts],
            completions=[completion_text(c) for c in completions],
            groups=group_ids(prompts, kwargs, group_size, reference_column),
        )
        return values

    return _named(reward, name)


def _score_all(
    judge: Judge,
    items: list[tuple[list[Any], str] | BaseException],
    component: str,
    stats: RewardStats | None,
) -> tuple[list[float], int]:
    """Score every ``(images, prompt)``; a failure (or a failed input) scores 0 and is counted."""
    values = [0.0] * len(items)
    failures = 0
    todo = [i for i, item in enumerate(items) if not isinstance(item, BaseException)]
    results: list[Any]
    batch = getattr(judge, "score_batch", None)
    if batch is not None and todo:
        try:
            results = list(batch([items[i] for i in todo]))
        except Exception as exc:  # a judge must never stop training
            results = [exc] * len(todo)
    else:
        results = []
        for i in todo:
            images, prompt = items[i]  # type: ignore[misc]
            try:
                results.append(judge.score(images, prompt))
            except Exception as exc:  # a judge must never stop training
                results.append(exc)
    outcome: dict[int, Any] = dict(zip(todo, results, strict=True))
    for i, item in enumerate(items):
        result = item if isinstance(item, BaseException) else outcome[i]
        if isinstance(result, BaseException):
            failures += 1
            if stats is not None:
                stats.note_failure(component, result)
            else:
                log.warning("rewards: %s judge failed (reward 0): %s", component, result)
            continue
        try:
            value = float(result)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            failures += 1
            error = JudgeError(f"unusable score {result!r}")
            if stats is not None:
                stats.note_failure(component, error)
            else:
                log.warning("rewards: %s judge failed (reward 0): %s", component, error)
            continue
        values[i] = min(1.0, max(0.0, value))
    return values, failures


def alignment_reward(
    judge: Judge,
    *,
    stats: RewardStats | None = None,
    reference_column: str = "reference_plan",
    group_size: int | None = None,
) -> RewardFunc:
    """Agreement of each completion with its row's ground-truth plan, scored by ``judge``.

    The judge gets the alignment rubric prompt (:class:`AlignmentRequest`) and no image.
    The ground truth comes from the dataset column ``reference_column`` (plan text, or a
    ``{dimension: action}`` mapping).
    """

    def alignment(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        refs = kwargs.get(reference_column)
        texts = [completion_text(c) for c in completions]
        items: list[tuple[list[Any], str] | BaseException] = []
        for i, text in enumerate(texts):
            try:
                if refs is None:
                    raise JudgeError(f"dataset column {reference_column!r} is missing")
                items.append(([], AlignmentRequest(text, reference_text(refs[i])).prompt()))
            except Exception as exc:  # a bad row scores 0, counted
                items.append(exc)
        values, failures = _score_all(judge, items, "alignment", stats)
        if stats is not None:
            stats.record(
                "alignment",
                values,
                prompts=[prompt_text(p) for p in prompts],
                completions=texts,
                groups=group_ids(prompts, kwargs, group_size, reference_column),
                failures=failures,
            )
        return values

    alignment.judge = judge  # type: ignore[attr-defined]
    return _named(alignment, "alignment")


def creativity_reward(
    judge: Judge,
    *,
    stats: RewardStats | None = None,
    group_size: int | None = None,
    reference_column: str = "reference_plan",
    use_group: bool | None = None,
) -> RewardFunc:
    """Specificity and executability of each completion's edits for its photo, by ``judge``.

    The judge gets the row's photo(s) and the creativity rubric prompt
    (:class:`CreativityRequest`). With ``use_group`` (default: the judge's ``uses_group``,
    true for the rules judge) the prompt also lists the other completions of the same group,
    for the novelty bonus.
    """
    group_aware = getattr(judge, "uses_group", False) if use_group is None else use_group

    def creativity(
        prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float]:
        texts = [completion_text(c) for c in completions]
        groups = group_ids(prompts, kwargs, group_size, reference_column)
        members: dict[int, list[int]] = defaultdict(list)
        for i, g in enumerate(groups):
            members[g].append(i)
        items: list[tuple[list[Any], str] | BaseException] = []
        for i, text in enumerate(texts):
            others = tuple(texts[j] for j in members[groups[i]] if j != i) if group_aware else ()
            try:
                items.append(
                    (sample_images(i, prompts, kwargs), CreativityRequest(text, others).prompt())
                )
            except Exception as exc:  # a bad row scores 0, counted
                items.append(exc)
        values, failures = _score_all(judge, items, "creativity", stats)
        if stats is not None:
            stats.record(
                "creativity",
                values,
                prompts=[prompt_text(p) for p in prompts],
                completions=texts,
                groups=groups,
                failures=failures,
            )
        return values

    creativity.judge = judge  # type: ignore[attr-defined]
    return _named(creativity, "creativity")


# --------------------------------------------------------------------------- assembly
def build_judge(cfg: RewardsConfig, component: str) -> Judge:
    """The judge of ``component`` (``alignment`` or ``creativity``) as configured (not loaded)."""
    from aesformer.rewards.embedding import EmbeddingJudge
    from aesformer.rewards.judges import (
        LogitJudge,
        OpenAICompatibleTransport,
        TransformersTransport,
    )
    from aesformer.rewards.rules import RulesJudge

    kind = {"alignment": cfg.alignment_judge, "creativity": cfg.creativity_judge}[component]
    if kind == "embedding":
        return EmbeddingJudge(cfg.embedding_model, device=cfg.embedding_device)
    if kind == "rules":
        return RulesJudge(cfg.rules)
    logit = cfg.logit
    transport = (
        OpenAICompatibleTransport(logit.openai)
        if logit.transport == "openai"
        else TransformersTransport(
            logit.model_path, device=logit.device, dtype=logit.dtype, batch_size=logit.batch_size
        )
    )
    return LogitJudge(transport, max_image_side=logit.max_image_side)


def build_rewards(
    cfg: RewardsConfig,
    stats: RewardStats,
    *,
    group_size: int | None = None,
    judges: Mapping[str, Judge] | None = None,
    load: bool = True,
) -> tuple[list[RewardFunc], list[float]]:
    """``(reward_funcs, reward_weights)`` for ``GRPOTrainer``, in the order format, alignment,
    creativity; ``stats.weights`` is set to the same weights.

    ``judges`` overrides the configured judges per component (e.g. one loaded logit judge shared
    by both); two configured logit judges share one instance. With ``load`` the judges load
    their models now, so a wrong path or package fails the stage before training starts
    (later failures only zero the affected rewards).
    """
    judges = dict(judges or {})
    both_logit = cfg.alignment_judge == "logit" and cfg.creativity_judge == "logit"
    if both_logit and not judges:
        judges["alignment"] = judges["creativity"] = build_judge(cfg, "alignment")  # one model
    for component in ("alignment", "creativity"):
        judges.setdefault(component, build_judge(cfg, component))
        setup = getattr(judges[component], "setup", None)
        if load and setup is not None:
            setup()
    weights = cfg.weights.model_dump()
    stats.weights = {c: float(weights[c]) for c in COMPONENTS}
    funcs = [
        with_stats(
            format_reward,
            stats,
            "format",
            reference_column=cfg.reference_column,
            group_size=group_size,
        ),
        alignment_reward(
            judges["alignment"],
            stats=stats,
            reference_column=cfg.reference_column,
            group_size=group_size,
        ),
        creativity_reward(
            judges["creativity"],
            stats=stats,
            group_size=group_size,
            reference_column=cfg.reference_column,
        ),
    ]
    return funcs, [stats.weights[c] for c in COMPONENTS]
