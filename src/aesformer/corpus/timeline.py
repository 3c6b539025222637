"""The edit of one video: which segments follow each other, how long, joined by which transition.

Pure planning, no pixels. A video is a sequence of *blocks* (an event = its viewfinder segment
then, after a hard cut, its finished-photo segment; or a distractor segment), and consecutive
segments are joined by exactly one :class:`Transition`: a ``cut`` (zero frames) or a fade of
``n_frames`` frames (``crossfade``, or ``fade_black`` through black) that belongs to neither
segment. Frame ``i`` is shown at time ``i / fps``; intervals are ``[start, end)`` in frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from aesformer.config import CorpusConfig

SegmentKind = Literal["viewfinder", "good", "title_card", "broll", "before_after"]
TransitionKind = Literal["cut", "crossfade", "fade_black"]
DISTRACTOR_KINDS: tuple[SegmentKind, ...] = ("title_card", "broll", "before_after")

DISTRACTOR_SECONDS: dict[str, tuple[float, float]] = {
    "title_card": (1.5, 2.5),
    "broll": (2.0, 3.5),
    "before_after": (2.0, 3.0),
}
TRANSITION_WEIGHTS: dict[TransitionKind, float] = {"cut": 0.4, "crossfade": 0.3, "fade_black": 0.3}
DISTRACTOR_PROBABILITY = 0.7
"""Chance of a b-roll shot, and separately of a before/after comparison, in a video."""
MIN_VIEWFINDER_FRAMES = 3
MIN_FADE_FRAMES = 2


@dataclass(frozen=True)
class Segment:
    """A run of frames with one content. ``event``: the event shown (for ``before_after``: the
    event whose photos are compared), else ``None``."""

    kind: SegmentKind
    start: int
    n_frames: int
    event: int | None = None

    @property
    def end(self) -> int:
        return self.start + self.n_frames


@dataclass(frozen=True)
class Transition:
    """How two consecutive segments are joined; a ``cut`` has ``n_frames == 0``."""

    kind: TransitionKind
    start: int
    n_frames: int

    @property
    def end(self) -> int:
        return self.start + self.n_frames


@dataclass(frozen=True)
class Timeline:
    """Segments in playback order and the ``len(segments) - 1`` transitions between them."""

    fps: int
    segments: tuple[Segment, ...]
    transitions: tuple[Transition, ...]

    @property
    def n_frames(self) -> int:
        return self.segments[-1].end

    @property
    def n_events(self) -> int:
        return sum(s.kind == "viewfinder" for s in self.segments)

    def event_segment(self, kind: SegmentKind, event: int) -> Segment:
        """The ``viewfinder`` or ``good`` segment of ``event``."""
        return next(s for s in self.segments if s.kind == kind and s.event == event)

    def around(self, segment: Segment) -> tuple[Transition | None, Transition | None]:
        """Transitions before and after ``segment`` (``None`` at the video's start/end)."""
        i = self.segments.index(segment)
        return (
            self.transitions[i - 1] if i > 0 else None,
            self.transitions[i] if i < len(self.transitions) else None,
        )


def frames(seconds: float, fps: int, minimum: int = 1) -> int:
    """Whole number of frames closest to ``seconds`` (at least ``minimum``)."""
    return max(minimum, round(seconds * fps))


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


Block = list[tuple[SegmentKind, int | None]]


def _blocks(
    rng: np.random.Generator, n_events: int, distractors: bool, second_broll: bool = False
) -> list[Block]:
    """Order of the content: a title card, the events, a b-roll shot anywhere after the title,
    a before/after comparison right after the event it compares; with ``second_broll`` (real
    footage: b-roll and presenter clips) maybe one more b-roll shot, never between an event
    and its comparison."""
    blocks: list[Block] = [[("viewfinder", e), ("good", e)] for e in range(n_events)]
    if not distractors:
        return blocks
    if rng.random() < DISTRACTOR_PROBABILITY:
        blocks.insert(int(rng.integers(len(blocks) + 1)), [("broll", None)])
    if rng.random() < DISTRACTOR_PROBABILITY:
        event = int(rng.integers(n_events))
        at = next(i for i, b in enumerate(blocks) if b[0] == ("viewfinder", event))
        blocks.insert(at + 1, [("before_after", event)])
    if second_broll and rng.random() < DISTRACTOR_PROBABILITY:
        free = [
            i
            for i in range(len(blocks) + 1)
            if i == len(blocks) or blocks[i][0][0] != "before_after"
        ]
        blocks.insert(free[int(rng.integers(len(free)))], [("broll", None)])
    blocks.insert(0, [("title_card", None)])
    return blocks


def _segment_frames(
    rng: np.random.Generator, kind: SegmentKind, cfg: CorpusConfig, fps: int
) -> int:
    if kind == "viewfinder":
        return frames(_uniform(rng, cfg.viewfinder_seconds), fps, MIN_VIEWFINDER_FRAMES)
    if kind == "good":
        return frames(_uniform(rng, cfg.good_hold_seconds), fps)
    return frames(_uniform(rng, DISTRACTOR_SECONDS[kind]), fps)


def _transition(rng: np.random.Generator, cfg: CorpusConfig, fps: int, start: int) -> Transition:
    kinds = list(TRANSITION_WEIGHTS)
    kind = kinds[int(rng.choice(len(kinds), p=list(TRANSITION_WEIGHTS.values())))]
    if kind == "cut":
        return Transition("cut", start, 0)
    return Transition(
        kind, start, frames(_uniform(rng, cfg.transition_seconds), fps, MIN_FADE_FRAMES)
    )


def plan_timeline(rng: np.random.Generator, cfg: CorpusConfig, fps: int, n_events: int) -> Timeline:
    """Draw the edit of a video with ``n_events`` events (distractors per ``cfg.distractors``;
    ``cfg.real_footage`` adds the chance of a second b-roll/presenter shot)."""
    segments: list[Segment] = []
    transitions: list[Transition] = []
    cursor = 0
    for block in _blocks(rng, n_events, cfg.distractors, cfg.real_footage):
        for i, (kind, event) in enumerate(block):
            if segments:
                # inside an event (viewfinder -> finished photo) the edit is always a hard cut
                t = Transition("cut", cursor, 0) if i > 0 else _transition(rng, cfg, fps, cursor)
                transitions.append(t)
                cursor = t.end
            seg = Segment(kind, cursor, _segment_frames(rng, kind, cfg, fps), event)
            segments.append(seg)
            cursor = seg.end
    return Timeline(fps=fps, segments=tuple(segments), transitions=tuple(transitions))
