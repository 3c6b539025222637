"""TRL's fused LM head, made to project only the tokens that carry a label on CPU too.

TRL (1.16) replaces the model's forward, in both ``SFTTrainer`` and ``GRPOTrainer``, with a
chunked LM-head log-prob kernel (``trl.trainer.utils.add_fused_lm_head``: the ``[N, vocab]``
logits are never materialised). On CUDA/XPU it projects only the positions whose label is not
``-100``; on any other device it projects *every* position and zeroes the masked ones
afterwards, so that the tile shapes stay fixed for ahead-of-time compilers (Neuron). Nothing
is compiled on CPU, and an AesThinker training sequence is mostly prompt: ~430 prompt and image
tokens before a ~200-token plan, all masked. So two thirds of the head's forward and of its
recomputing backward were thrown away there: 59 % of an SFT step and ~35 % of a GRPO step on
the tiny base (profiled; ``bench/thinker_head.py`` measures both side by side).

:func:`compact_lm_head` makes TRL's choice (the module-level ``_use_triton`` that
``trl.trainer.utils`` reads for exactly this, once per forward) true for CPU tensors while it
is active. The kernel itself keeps its torch fallback: ``trl.kernels.chunked_logprob`` holds
its own reference to the unpatched function. The log-probs, the loss and the gradients are the
same (``tests/unit/test_thinker_lm_head.py`` compares them); only the projected rows differ.
If TRL no longer has that function the context changes nothing and says so once in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

#: Devices on which TRL projects every position although nothing needs fixed shapes.
COMPACT_DEVICES = frozenset({"cpu"})
_warned = False


@contextmanager
def compact_lm_head() -> Iterator[bool]:
    """While active, TRL's fused LM head projects only labelled positions on CPU as well.

    Yields whether the patch is in place (False when this TRL has no such switch). Re-entrant:
    an inner context leaves the outer one's patch alone.
    """
    global _warned
    from trl.trainer import utils as trl_utils

    original = getattr(trl_utils, "_use_triton", None)
    if not callable(original):
        if not _warned:
            log.warning(
                "trl.trainer.utils has no _use_triton: the fused LM head scores every position "
                "on CPU (correct, slower; see aesformer.thinker.lm_head)"
            )
            _warned = True
        yield False
        return
    if getattr(original, "_aesformer_compact", False):  # an outer context patched it
        yield True
        return

    def compact_on(device: Any) -> bool:
        return bool(original(device)) or getattr(device, "type", None) in COMPACT_DEVICES

    compact_on._aesformer_compact = True  # type: ignore[attr-defined]
    trl_utils._use_triton = compact_on
    try:
        yield True
    finally:
        trl_utils._use_triton = original
