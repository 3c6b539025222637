"""Seed derivation: one independent random stream per (video, purpose, item).

Video ``i`` of a corpus uses :func:`derive_seed` ``(master, i)``, so adding videos never changes
the earlier ones. Inside a video every consumer draws from its own stream (timeline, event
``k``, noise, ...), so e.g. a change in how distractors are drawn leaves the events untouched.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """Purposes of the random streams inside one video."""

    TIMELINE = 0
    EVENT = 1
    DISTRACTOR = 2
    NOISE = 3
    CHROME = 4
    FOOTAGE = 5
    """Real-footage choices of event ``k`` (backdrop photo, cut-out); only with ``real_footage``."""


def derive_seed(master: int, index: int) -> int:
    """Seed of video ``index`` of a corpus with master seed ``master`` (an unsigned 32-bit int)."""
    return int(np.random.SeedSequence([master, index]).generate_state(1, np.uint32)[0])


def stream(seed: int, purpose: Stream, *item: int) -> np.random.Generator:
    """Independent generator for ``purpose`` (and item indices) of the video seeded ``seed``."""
    return np.random.default_rng([seed, int(purpose), *item])
