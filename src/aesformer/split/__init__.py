"""The ``split`` stage: train / val / test by video, deterministic by seed (docs/datasets.md)."""

from aesformer.split.assign import SPLITS, assign_videos, split_counts
from aesformer.split.stage import STAGE, Reason, run

__all__ = ["SPLITS", "STAGE", "Reason", "assign_videos", "run", "split_counts"]
