"""Video -> split assignment: exact counts, one video per split from three videos, seeded."""

from __future__ import annotations

import pytest

from aesformer.config import Params, SplitConfig, SplitRatios, load_params
from aesformer.errors import ConfigError
from aesformer.split import SPLITS, assign_videos, split_counts

RATIOS = SplitRatios()  # 0.8 / 0.1 / 0.1


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, (0, 0, 0)),
        (1, (1, 0, 0)),
        (2, (2, 0, 0)),
        (3, (1, 1, 1)),
        (6, (4, 1, 1)),
        (10, (8, 1, 1)),
        (25, (20, 3, 2)),
        (1000, (800, 100, 100)),
    ],
)
def test_counts_are_exact(n: int, expected: tuple[int, int, int]) -> None:
    counts = split_counts(n, RATIOS)
    assert tuple(counts[s] for s in SPLITS) == expected
    assert sum(counts.values()) == n


@pytest.mark.parametrize("n", range(3, 40))
def test_every_split_gets_a_video_from_three(n: int) -> None:
    counts = split_counts(n, SplitRatios(train=0.9, val=0.05, test=0.05))
    assert min(counts.values()) >= 1 and sum(counts.values()) == n


def test_assignment_is_deterministic_and_order_free() -> None:
    ids = [f"tut_{i:04d}" for i in range(20)]
    a = assign_videos(ids, 7, RATIOS)
    assert a == assign_videos(list(reversed(ids)) + ids[:3], 7, RATIOS)
    assert set(a) == set(ids) and sorted(a.values()).count("train") == 16
    assert a != assign_videos(ids, 8, RATIOS)  # the seed matters


def test_adding_a_video_moves_few() -> None:
    ids = [f"tut_{i:04d}" for i in range(50)]
    before = assign_videos(ids, 0, RATIOS)
    after = assign_videos([*ids, "tut_0050"], 0, RATIOS)
    moved = sum(before[v] != after[v] for v in ids)
    assert moved <= 2


def test_ratios_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match="must be 1"):
        SplitRatios(train=0.7, val=0.1, test=0.1)
    with pytest.raises(ValueError):
        SplitRatios(train=1.0, val=0.0, test=0.0)


def test_params_file_has_split_and_gate_sections(tmp_path) -> None:
    params = load_params()
    assert isinstance(params.split, SplitConfig) and params.gate.hash_distance >= 0
    bad = tmp_path / "params.yaml"
    bad.write_text("split:\n  ratios: {train: 0.5, val: 0.1, test: 0.1}\n")
    with pytest.raises(ConfigError, match="split.ratios"):
        load_params(bad)
    bad.write_text("gate:\n  score_ranges: {aesthetic: [0, 1]}\n")
    with pytest.raises(ConfigError, match="gate"):
        load_params(bad)
    assert Params().gate.min_plan_format_share == 1.0
