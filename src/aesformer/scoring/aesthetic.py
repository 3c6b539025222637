"""Aesthetic scorers behind one interface: a transparent default, learned ones by weights.

``photographic`` (default) combines the transparent measures of this package into 0..1 and
reports every part. Learned scorers are built only when their weights are configured
(``mine.aesthetic_weights``): ``laion`` (LAION aesthetic predictor: CLIP ViT-L/14 image
embedding + an MLP head, scores ~1..10), ``qalign`` (Q-Align / ``q-future/one-align``,
aesthetics task, 1..5) and ``artimuse`` (ArtiMuse, InternVL3-8B, 0..100). Each reports on its
own scale. Without weights they raise :class:`ScorerUnavailable` at build time, so a
misconfiguration fails before any video is mined. Weights load as safetensors only (no
pickle); Q-Align's model code ships with its checkpoint and ArtiMuse's lives in its authors'
repository, so those two load only when ``trust_remote_code_for`` (``mine`` / ``eval``) names
that exact ``aesthetic_weights`` value.
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


def _require_trusted(weights: Path, trusted: bool, model: str, runs: str, review: str) -> None:
    """A scorer that runs third-party model code: its checkpoint folder must exist and
    ``trust_remote_code_for`` must name exactly that folder."""
    article = "an" if model[0] in "AEIOU" else "a"
    if not weights.is_dir():
        raise ScorerUnavailable(f"{weights}: not {article} {model} checkpoint folder")
    if not trusted:
        raise ScorerUnavailable(
            f"{runs}; set trust_remote_code_for (mine / eval) to exactly {str(weights)!r}, "
            f"the aesthetic_weights, to allow it (review {review} first)"
        )


class QAlignScorer:
    """Q-Align (``q-future/one-align``) aesthetics task through its remote code."""

    def __init__(self, weights: Path, trust_remote_code: bool = False) -> None:
        _require_trusted(
            weights, trust_remote_code, "Q-Align", "qalign runs model code shipped with its "
            "weights", "the checkpoint's code",
        )  # fmt: skip
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


ARTIMUSE_SIDE = 448
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ARTIMUSE_REPO = "https://github.com/thunderbolt215/ArtiMuse"


def artimuse_pixels(image: np.ndarray, side: int = ARTIMUSE_SIDE) -> np.ndarray:
    """ArtiMuse's input (the authors' ``build_transform``, without torchvision): BGR ``uint8``
    -> RGB, resized to ``side`` x ``side`` (PIL bicubic, what torchvision's ``Resize`` does on a
    PIL image), to [0, 1], normalised with the ImageNet mean / std; float32 (1, 3, side, side).
    """
    from PIL import Image

    rgb = Image.fromarray(np.ascontiguousarray(image[..., ::-1])).convert("RGB")
    resized = np.asarray(rgb.resize((side, side), Image.Resampling.BICUBIC), np.float32) / 255.0
    normalised = (resized - np.float32(IMAGENET_MEAN)) / np.float32(IMAGENET_STD)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None], dtype=np.float32)


class ArtiMuseScorer:
    """ArtiMuse (Cao et al. 2025; checkpoints e.g. ``Thunderbolt215215/ArtiMuse``): the model's
    ``score`` (the expected value of its 0..100 score tokens), as the authors' evaluation runs it.

    ``weights`` is the checkpoint folder (safetensors). The model code is not in the checkpoint
    nor on PyPI: clone the authors' repository and put its ``src/`` (and ``src/artimuse/``, as
    its ``eval_image.py`` does) on ``PYTHONPATH`` (it provides
    ``artimuse.internvl.model.internvl_chat.modeling_artimuse.InternVLChatModel``),
    review it, and set ``trust_remote_code_for`` to exactly the ``aesthetic_weights`` string.
    CUDA in bfloat16 when available, else the CPU in float32 (an 8B model: slow there).

    Only this adaptor is tested, against a stand-in ``artimuse`` package; the real checkpoint
    was never run on the development machine (8B, no GPU, not downloadable there).
    """

    MAX_NEW_TOKENS = 8192  # the authors' setting; score() reads next-token logits only

    def __init__(self, weights: Path, trust_remote_code: bool = False) -> None:
        _require_trusted(
            weights, trust_remote_code, "ArtiMuse", "artimuse runs its authors' model code",
            f"the code of {ARTIMUSE_REPO}",
        )  # fmt: skip
        try:
            from artimuse.internvl.model.internvl_chat.modeling_artimuse import (
                InternVLChatModel,
            )
        except ImportError as exc:
            if (exc.name or "artimuse").split(".")[0] == "artimuse":
                raise ScorerUnavailable(
                    f"artimuse: the model code is not importable; clone {ARTIMUSE_REPO} and "
                    "put its src/ on PYTHONPATH (and src/artimuse/, as its eval script does)"
                ) from exc
            raise ScorerUnavailable(
                f"artimuse: its model code needs {exc.name!r} ({exc}); install the "
                "requirements of its repository"
            ) from exc
        import torch
        from transformers import AutoTokenizer

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.model = (
            InternVLChatModel.from_pretrained(
                weights,
                torch_dtype=self.dtype,
                low_cpu_mem_usage=True,
                use_flash_attn=self.device == "cuda",
                use_safetensors=True,
            )
            .eval()
            .to(self.device)
        )
        self.tokenizer = AutoTokenizer.from_pretrained(  # the checkpoint's tokenizer code
            weights, trust_remote_code=trust_remote_code, use_fast=False
        )

    def __call__(self, image: np.ndarray) -> dict[str, float]:
        pixels = self.torch.from_numpy(artimuse_pixels(image))
        pixels = pixels.to(device=self.device, dtype=self.dtype)
        config = {  # a fresh dict: score() writes eos_token_id into it
            "max_new_tokens": self.MAX_NEW_TOKENS,
            "do_sample": False,
            "pad_token_id": getattr(self.tokenizer, "eos_token_id", None),
        }
        with self.torch.no_grad():
            score = float(self.model.score(self.device, self.tokenizer, pixels, config))
        return {"aesthetic": score, "artimuse_aesthetic": score}


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
    "artimuse": _learned(ArtiMuseScorer),
}


@cache
def get_scorer(
    name: str, weights: str | None = None, trust_remote_code_for: str | None = None
) -> AestheticScorer:
    """Scorer ``name``, built once per process; learned scorers need ``weights``; a scorer that
    runs third-party model code (qalign, artimuse) runs it only when ``trust_remote_code_for``
    is exactly ``weights``."""
    if name not in SCORERS:
        raise ValueError(f"unknown aesthetic scorer {name!r}; known: {sorted(SCORERS)}")
    return SCORERS[name](weights, trust_remote_code_for)
