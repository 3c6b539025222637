"""Aesthetic scorer dispatch: transparent default; learned scorers need weights."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from aesformer.corpus import make_event
from aesformer.scoring.aesthetic import (
    ArtiMuseScorer,
    PhotographicScorer,
    ScorerUnavailable,
    artimuse_pixels,
    get_scorer,
)

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


@pytest.mark.parametrize("name", ["laion", "qalign", "artimuse"])
def test_learned_scorers_need_weights(name, tmp_path):
    with pytest.raises(ScorerUnavailable):
        get_scorer(name, None)
    with pytest.raises(ScorerUnavailable):
        get_scorer(name, str(tmp_path / "missing"))


def test_unknown_scorer():
    with pytest.raises(ValueError, match="unknown aesthetic scorer"):
        get_scorer("nima")


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


# ------------------------------------------------------------------ ArtiMuse (adaptor only)
# The real checkpoint (InternVL3-8B) was never run here; a stand-in ``artimuse`` package with
# the authors' import path and ``score`` signature checks what the adaptor passes and returns.
STAND_IN = """
    import torch

    CALLS = []


    class Loaded:
        def eval(self):
            return self

        def to(self, device):
            CALLS.append(("to", device))
            return self

        def score(self, device, tokenizer, pixel_values, generation_config):
            assert tuple(pixel_values.shape) == (1, 3, 448, 448)
            assert tokenizer == "tokenizer"
            assert generation_config["do_sample"] is False
            generation_config["eos_token_id"] = 2  # the real score() writes into it
            CALLS.append(("score", device, pixel_values.dtype))
            return 50.0 + 10.0 * float(pixel_values.float().mean())


    class InternVLChatModel:
        @classmethod
        def from_pretrained(cls, path, **kwargs):
            CALLS.append(("from_pretrained", str(path), kwargs))
            return Loaded()
"""


@pytest.fixture
def artimuse_code(tmp_path, monkeypatch):
    """A stand-in for the authors' ``src/`` on ``sys.path``; returns its modeling module."""
    package = tmp_path / "src" / "artimuse" / "internvl" / "model" / "internvl_chat"
    package.mkdir(parents=True)
    for folder in [package, *package.parents][:4]:
        (folder / "__init__.py").write_text("")
    (package / "modeling_artimuse.py").write_text(textwrap.dedent(STAND_IN))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    for name in [n for n in sys.modules if n.split(".")[0] == "artimuse"]:
        monkeypatch.delitem(sys.modules, name)
    tokenizers = []

    def tokenizer(path, **kwargs):
        tokenizers.append((str(path), kwargs))
        return "tokenizer"

    import transformers

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", tokenizer)
    get_scorer.cache_clear()
    yield package / "modeling_artimuse.py", tokenizers
    get_scorer.cache_clear()
    for name in [n for n in sys.modules if n.split(".")[0] == "artimuse"]:
        del sys.modules[name]


def test_artimuse_pixels_match_the_authors_transform():
    image = np.zeros((300, 200, 3), np.uint8)
    image[:] = (128, 0, 255)  # BGR: blue 128, green 0, red 255
    pixels = artimuse_pixels(image)
    assert pixels.shape == (1, 3, 448, 448) and pixels.dtype == np.float32
    expected = [(1.0 - 0.485) / 0.229, (0.0 - 0.456) / 0.224, (128 / 255 - 0.406) / 0.225]
    assert pixels[0, :, 200, 100] == pytest.approx(expected, abs=1e-5)
    ramp = np.tile(np.arange(0, 256, 4, dtype=np.uint8)[None, :, None], (32, 1, 3))
    row = artimuse_pixels(ramp)[0, 0, 5]  # a horizontal ramp stays increasing after bicubic
    assert np.all(np.diff(row) >= -1e-6) and row[0] < row[-1]


def test_artimuse_needs_the_explicit_remote_code_opt_in(tmp_path):
    get_scorer.cache_clear()
    with pytest.raises(ScorerUnavailable, match="trust_remote_code_for.*thunderbolt215"):
        get_scorer("artimuse", str(tmp_path))
    with pytest.raises(ScorerUnavailable, match="trust_remote_code_for"):  # not the same string
        get_scorer("artimuse", str(tmp_path), str(tmp_path) + "/")


def test_artimuse_without_its_code_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "artimuse", None)  # not importable
    get_scorer.cache_clear()
    with pytest.raises(ScorerUnavailable, match="clone https://github.com/thunderbolt215/ArtiMuse"):
        get_scorer("artimuse", str(tmp_path), str(tmp_path))


def test_artimuse_code_with_a_missing_dependency_names_it(tmp_path, artimuse_code):
    modeling, _ = artimuse_code
    modeling.write_text("import a_dependency_not_installed_here\n")
    with pytest.raises(ScorerUnavailable, match="a_dependency_not_installed_here"):
        ArtiMuseScorer(tmp_path, trust_remote_code=True)


def test_artimuse_scorer_end_to_end_with_a_stand_in_model(tmp_path, artimuse_code):
    import torch

    _, tokenizers = artimuse_code
    weights = tmp_path / "ArtiMuse"
    weights.mkdir()
    scorer = get_scorer("artimuse", str(weights), str(weights))
    from artimuse.internvl.model.internvl_chat import modeling_artimuse as stand_in

    image = make_event(seed=0, size=(320, 180)).photos.good
    out = scorer(image)
    pixels = torch.from_numpy(artimuse_pixels(image))
    expected = 50.0 + 10.0 * float(pixels.mean())
    assert out == {"aesthetic": pytest.approx(expected), "artimuse_aesthetic": out["aesthetic"]}
    assert scorer(image) == out  # deterministic; a fresh generation config each call
    load = next(c for c in stand_in.CALLS if c[0] == "from_pretrained")
    assert load[1] == str(weights)
    assert load[2]["use_safetensors"] is True
    cuda = torch.cuda.is_available()
    assert load[2]["torch_dtype"] == (torch.bfloat16 if cuda else torch.float32)
    device = "cuda" if cuda else "cpu"
    assert ("to", device) in stand_in.CALLS
    assert ("score", device, load[2]["torch_dtype"]) in stand_in.CALLS
    assert tokenizers == [(str(weights), {"trust_remote_code": True, "use_fast": False})]
    assert get_scorer("artimuse", str(weights), str(weights)) is scorer
