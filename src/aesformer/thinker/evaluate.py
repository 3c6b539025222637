"""Plans from a thinker (greedy generation) and how they compare with the reference plans.

Metrics (``plan_metrics``), per example then averaged over the examples:

- ``format_validity``: :func:`aesformer.plans.format_ok` of the generated text (the format
  reward's strict check: seven headers in order, each with its tagged action, nothing else);
- ``alignment``: share of the seven dimensions where the generated plan and the reference agree
  on *whether* to change that dimension (both ``No change needed``, or both an action). A
  dimension the generated text does not contain counts as a disagreement. This is a cheap,
  deterministic stand-in for the paper's judge-based alignment reward (a VLM scoring how well
  the plan matches the reference's intent), which the rewards package provides;
- ``action_exact``: share of dimensions whose action equals the reference's (case- and
  whitespace-insensitive), a stricter lexical measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from aesformer.plans import DIMENSION_KEYS, NO_CHANGE, parse
from aesformer.thinker.data import inference_messages


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _changes(action: str) -> bool:
    return _norm(action) != _norm(NO_CHANGE)


def alignment(predicted: str, reference: str) -> float:
    """Share of dimensions where changed / no-change agrees (see the module docstring)."""
    pred, ref = parse(predicted).actions, parse(reference).actions
    agree = sum(
        1
        for key in DIMENSION_KEYS
        if key in pred and key in ref and _changes(pred[key]) == _changes(ref[key])
    )
    return agree / len(DIMENSION_KEYS)


def action_exact(predicted: str, reference: str) -> float:
    """Share of dimensions whose action equals the reference's (normalised text)."""
    pred, ref = parse(predicted).actions, parse(reference).actions
    same = sum(
        1
        for key in DIMENSION_KEYS
        if key in pred and key in ref and _norm(pred[key]) == _norm(ref[key])
    )
    return same / len(DIMENSION_KEYS)


def plan_metrics(predicted: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ``format_validity``, ``alignment`` and ``action_exact`` over the examples."""
    if len(predicted) != len(references) or not predicted:
        raise ValueError("need as many predicted plans as references, at least one")
    n = len(predicted)
    return {
        "format_validity": sum(parse(p).ok for p in predicted) / n,
        "alignment": sum(alignment(p, r) for p, r in zip(predicted, references, strict=True)) / n,
        "action_exact": sum(action_exact(p, r) for p, r in zip(predicted, references, strict=True))
        / n,
        "examples": n,
    }


@torch.no_grad()
def generate_plan(model: Any, processor: Any, image: Any, prompt: str, max_new_tokens: int) -> str:
    """Greedy plan text for one (already resized) image; special tokens dropped, tags kept."""
    inputs = processor.apply_chat_template(
        inference_messages(image, prompt),
        tokenize=True,
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
    )
    device = next(model.parameters()).device
    inputs = {k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()}
    output = model.generate(
        **inputs,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=processor.tokenizer.pad_token_id,
    )
    new_tokens = output[0, inputs["input_ids"].shape[1] :]
    return processor.tokenizer.decode(new_tokens, skip_special_tokens=True).strip()
