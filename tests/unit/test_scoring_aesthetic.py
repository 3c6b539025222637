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


def test_qalign_needs_explicit_remote_code_opt_in(tmp_path):
    with pytest.raises(ScorerUnavailable, match="trust_remote_code"):
        get_scorer("qalign", str(tmp_path))


def test_laion_scorer_loads_safetensors_only(tmp_path):
    """A tiny random CLIP vision tower + linear head in the released layout score an image."""
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    cfg = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
        projection_dim=16,
    )
    CLIPVisionModelWithProjection(cfg).save_pretrained(tmp_path / "clip")
    from transformers import CLIPImageProcessor

    CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(tmp_path / "clip")
    with pytest.raises(ScorerUnavailable, match="head.safetensors"):
        get_scorer("laion", str(tmp_path))
    (tmp_path / "head.pt").write_bytes(b"pickle is never loaded")
    save_file(
        {"weight": torch.ones(1, 16), "bias": torch.tensor([5.0])}, tmp_path / "head.safetensors"
    )
    get_scorer.cache_clear()
    scorer = get_scorer("laion", str(tmp_path))
    image = make_event(seed=0, size=(64, 48)).photos.good
    out = scorer(image)
    # unit-norm embedding . ones + 5: within 5 ± sqrt(16)
    assert out["aesthetic"] == out["laion_aesthetic"] and 1.0 <= out["aesthetic"] <= 9.0
    assert get_scorer("laion", str(tmp_path)) is scorer  # built once per process
