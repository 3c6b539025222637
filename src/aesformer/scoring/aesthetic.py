"""Aesthetic scorers behind one interface: a transparent default, learned ones by weights.

``photographic`` (default) combines the transparent measures of this package into 0..1 and
reports every part. Learned scorers are built only when their weights are configured
(``mine.aesthetic_weights``): ``laion`` (LAION aesthetic predictor: CLIP ViT-L/14 image
embedding + an MLP head, scores ~1..10) and ``qalign`` (Q-Align / ``q-future/one-align``,
aesthetics task, 1..5). Without weights they raise :class:`ScorerUnavailable` at build time,
so a misconfiguration fails before any video is mined. Weights load as safetensors only (no
pickle); Q-Align's model code ships with its checkpoint, so it loads only when
``trust_remote_code_for`` (``mine`` / ``eval``) names that exact ``aesthetic_weights`` value.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

from aesformer.scoring import composition, quality, subject


class ScorerUnavailable(RuntimeError):
    """A learned scorer was requested but its weights are not configured or not loadable."""


class AestheticScorer(Protocol):
    """Score a BGR photo; returns named values, one of them ``aesthetic``."""

    def __call__(self, image: np.ndarray) -> dict[str, float]: ...


class PhotographicScorer:
    """Transparent score: thirds placement, headroom, level horizon, exposure, sharpness."""

    weights = {"thirds": 0.3, "headroom": 0.2, "level": 0.2, "exposure": 0.15, "sharp": 0.15}

    def __call__(self, image: np.ndarray) -> dict[str, float]:
        box, _ = subject.subject_box(image)
        tilt = composition.horizon_tilt(image)
        mean = quality.exposure(image)
        parts = {
            "thirds": composition.thirds_score(box),
            "headroom": composition.headroom_score(box),
            "level": composition.level_score(tilt),
            "exposure": float(max(0.0, 1 - abs(mean - 0.5) / 0.4)),
            "sharp": float(min(1.0, quality.sharpness(image) / 200.0)),
        }
        out = {f"aesthetic_{k}": v for k, v in parts.items()}
        out["aesthetic"] = float(sum(self.weights[k] * v for k, v in parts.items()))
        out["horizon_tilt_deg"] = float(tilt) if tilt is not None else 0.0
        return out


class LaionAestheticScorer:
    """LAION aesthetic predictor v1: CLIP ViT-L/14 image embedding (L2-normalised) -> linear.

    ``weights`` is a folder holding ``clip/`` (a transformers CLIP checkpoint, safetensors) and
    ``head.safetensors`` (the predictor's linear head, ``{"weight": (1, 768), "bias": (1,)}``;
    convert the released ``sa_0_4_vit_l_14_linear.pth`` once with
    ``safetensors.torch.save_file(torch.load(path, weights_only=True), "head.safetensors")``).
    """

    def __init__(self, weights: Path) -> None:
        import torch
        from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

        if not (weights / "head.safetensors").is_file() or not (weights / "clip").is_dir():
            raise ScorerUnavailable(f"{weights}: needs clip/ and head.safetensors")
        from safetensors.torch import load_file

        self.torch = torch
        self.processor = CLIPImageProcessor.from_pretrained(weights / "clip")
        self.clip = CLIPVisionModelWithProjection.from_pretrained(
            weights / "clip", use_safetensors=True
        ).eval()
        state = load_file(weights / "head.safetensors")
        self.head = torch.nn.Linear(state["weight"].shape[1], 1)
        self.head.load_state_dict(state)
        self.head.eval()

    def __call__(self, image: np.ndarray) -> dict[str, float]:
        rgb = image[..., ::-1]
        with self.torch.no_grad():
            inputs = self.processor(images=rgb, return_tensors="pt")
            emb = self.clip(**inputs).image_embeds
            emb = emb / emb.norm(dim=-1, keepdim=True)
            score = float(self.head(emb).squeeze())
        return {"aesthetic": score, "laion_aesthetic": score}


class QAlignScorer:
    """Q-Align (``q-future/one-align``) aesthetics task through its remote code."""

    def __init__(self, weights: Path, trust_remote_code: bool = False) -> None:
        if not weights.is_dir():
            raise ScorerUnavailable(f"{weights}: not a Q-Align checkpoint folder")
        if not trust_remote_code:
            raise ScorerUnavailable(
                "qalign runs model code shipped with its weights; set trust_remote_code_for "
                f"(mine / eval) to exactly {str(weights)!r}, the aesthetic_weights, to allow it "
                "(review the checkpoint's code first)"
            )
        import torch
        from transformers import AutoModelForCausalLM

        self.model = AutoModelForCausalLM.from_pretrained(
            weights,
            trust_remote_code=trust_remote_code,
            torch_dtype=torch.float32,
            use_safetensors=True,
        ).eval()

    def __call__(self, image: np.ndarray) -> dict[str, float]:
        from PIL import Image

        pil = Image.fromarray(np.ascontiguousarray(image[..., ::-1]))
        score = float(self.model.score([pil], task_="aesthetics", input_="image").item())
        return {"aesthetic": score, "qalign_aesthetic": score}


Builder = Callable[[str | None, str | None], AestheticScorer]


def _learned(build: Callable[[Path, bool], AestheticScorer]) -> Builder:
    def builder(weights: str | None, trust_remote_code_for: str | None) -> AestheticScorer:
        if not weights:
            raise ScorerUnavailable("this scorer needs mine.aesthetic_weights (a local folder)")
        # remote code only for the exact model named: the same string, not a similar path
        return build(Path(weights), trust_remote_code_for == weights)

    return builder


SCORERS: dict[str, Builder] = {
    "photographic": lambda _weights, _trust: PhotographicScorer(),
    "laion": _learned(lambda weights, _trust: LaionAestheticScorer(weights)),
    "qalign": _learned(QAlignScorer),
}


@cache
def get_scorer(
    name: str, weights: str | None = None, trust_remote_code_for: str | None = None
) -> AestheticScorer:
    """Scorer ``name``, built once per process; learned scorers need ``weights``; a scorer that
    runs code shipped with its weights (qalign) runs it only when ``trust_remote_code_for`` is
    exactly ``weights``."""
    if name not in SCORERS:
        raise ValueError(f"unknown aesthetic scorer {name!r}; known: {sorted(SCORERS)}")
    return SCORERS[name](weights, trust_remote_code_for)
