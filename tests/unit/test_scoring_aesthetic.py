"""Aesthetic scorer dispatch: transparent default; learned scorers need weights."""

from __future__ import annotations

import pytest

from aesformer.corpus import make_event
from aesformer.scoring.aesthetic import PhotographicScorer, ScorerUnavailable, get_scorer

pytestmark = pytest.mark.unit


def test_photographic_scores_good_above_poor_on_average():
    good, poor = 0.0, 0.0
    for seed in range(4):
        ev = make_event(seed=seed, size=(320, 180))
        good += get_scorer("photographic")(ev.photos.good)["aesthetic"]
        poor += get_scorer("photographic")(ev.photos.poor)["aesthetic"]
    assert 0 <= poor < good <= 4


def test_parts_are_reported():
    out = PhotographicScorer()(make_event(seed=0, size=(320, 180)).photos.good)
    assert {"aesthetic", "aesthetic_thirds", "aesthetic_level", "horizon_tilt_deg"} <= set(out)


@pytest.mark.parametrize("name", ["laion", "qalign"])
def test_learned_scorers_need_weights(name, tmp_path):
    with pytest.raises(ScorerUnavailable):
        get_scorer(name, None)
    with pytest.raises(ScorerUnavailable):
        get_scorer(name, str(tmp_path / "missing"))


def test_unknown_scorer():
    with pytest.raises(ValueError, match="unknown aesthetic scorer"):
        get_scorer("artimuse")
