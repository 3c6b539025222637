"""LPIPS (Zhang et al. 2018, v0.1, AlexNet), in plain torch: a learned perceptual distance.

The ``lpips`` package imports torchvision, which this project does not install, so the metric
is re-implemented here following the reference algorithm (``lpips.LPIPS(net="alex")``):

1. RGB in [-1, 1], scaled per channel: ``(x - shift) / scale``, shift (-.030, -.088, -.188),
   scale (.458, .448, .450);
2. torchvision's AlexNet ``features`` (same layers and indices, so its state dict loads as
   is); five taps, the ReLU outputs after ``features[0:2]``, ``[2:5]``, ``[5:8]``, ``[8:10]``,
   ``[10:12]`` (64, 192, 384, 256, 256 channels);
3. per tap: unit-normalise along channels (``x / (sqrt(sum x²) + 1e-10)``), squared
   difference of the two images, a 1x1 convolution without bias (the learned ``lin`` weights,
   non-negative in the release), spatial mean;
4. the sum over the five taps: one distance per pair, 0 for identical images, lower is more
   similar.

Weights: ONE safetensors file holding ``features.*`` (torchvision ``alexnet`` IMAGENET1K_V1)
and ``lin0.model.1.weight`` .. ``lin4.model.1.weight`` (``lpips/weights/v0.1/alex.pth``), set
as ``eval.lpips_weights``. It is loaded with ``safetensors.torch.load_file`` and a strict
``load_state_dict``; a pickle (``.pth``) is never loaded. Make it once on a machine that has
torchvision and lpips (``pip install torchvision lpips``)::

    python scripts/convert_lpips.py lpips_alex.safetensors

which loads ``torchvision.models.alexnet(weights="IMAGENET1K_V1").features.state_dict()`` and
``torch.load(<lpips>/weights/v0.1/alex.pth, weights_only=True)``, saves both with
``safetensors.torch.save_file`` and checks this module against ``lpips.LPIPS(net="alex")`` on
random images. The released weights were never available on this machine: the tests use
random weights and a hand-computed known answer.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aesformer.errors import ConfigError

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
CHANNELS = (64, 192, 384, 256, 256)
SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))  # features[a:b] -> one tap each
EPS = 1e-10
MIN_SIDE = 31  # smaller inputs vanish in AlexNet's second max-pool


class LPIPSWeightsError(ConfigError):
    """The LPIPS weights file is missing, not safetensors, or lacks / adds keys."""


def alexnet_features() -> nn.Sequential:
    """torchvision's ``alexnet().features`` layout (index 12, the last max-pool, unused)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


class NetLinLayer(nn.Module):
    """lpips' ``NetLinLayer``: (dropout, 1x1 conv without bias); keys ``model.1.weight``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def normalize(features: torch.Tensor) -> torch.Tensor:
    """Unit length along channels (lpips' ``normalize_tensor``)."""
    return features / (torch.sqrt(torch.sum(features**2, dim=1, keepdim=True)) + EPS)


class LPIPS(nn.Module):
    """LPIPS v0.1 with the AlexNet trunk; build it with :meth:`from_file`."""

    def __init__(self) -> None:
        super().__init__()
        # not part of the state dict (lpips keeps them out of alex.pth too)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)
        self.features = alexnet_features()
        for i, channels in enumerate(CHANNELS):
            self.add_module(f"lin{i}", NetLinLayer(channels))
        self.eval()
        self.requires_grad_(False)

    @classmethod
    def from_file(cls, path: str | Path) -> LPIPS:
        """The metric with the weights of one safetensors file (see the module docstring)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = Path(path)
        if path.suffix != ".safetensors":
            raise LPIPSWeightsError(
                f"{path}: LPIPS weights must be one .safetensors file (pickles are never "
                "loaded); convert the released weights with scripts/convert_lpips.py"
            )
        if not path.is_file():
            raise LPIPSWeightsError(
                f"{path}: LPIPS weights not found (eval.lpips_weights); make the file with "
                "scripts/convert_lpips.py"
            )
        try:
            state = load_file(path)
        except (SafetensorError, OSError) as exc:
            raise LPIPSWeightsError(f"{path}: not a readable safetensors file ({exc})") from exc
        model = cls()
        expected = set(model.state_dict())
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or unexpected:
            raise LPIPSWeightsError(
                f"{path}: not LPIPS AlexNet v0.1 weights: missing keys {missing}, unexpected "
                f"keys {unexpected} (expected features.* and lin0..4.model.1.weight)"
            )
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:  # a key with the wrong shape
            raise LPIPSWeightsError(f"{path}: {exc}") from exc
        return model

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five ReLU outputs of AlexNet for ``x`` (RGB in [-1, 1], N x 3 x H x W)."""
        h = (x - self.shift) / self.scale
        out = []
        for start, stop in SLICES:
            for layer in self.features[start:stop]:
                h = layer(h)
            out.append(h)
        return out

    def layer_distances(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """Per-tap terms (each N x 1 x 1 x 1); their sum is the distance."""
        lins = [getattr(self, f"lin{i}") for i in range(len(CHANNELS))]
        return [
            lin((normalize(a) - normalize(b)) ** 2).mean(dim=(2, 3), keepdim=True)
            for lin, a, b in zip(lins, self.taps(x), self.taps(y), strict=True)
        ]

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Distance per pair (shape N) of two batches of RGB images in [-1, 1]."""
        return torch.stack(self.layer_distances(x, y)).sum(dim=0).flatten()

    def distance(self, output: np.ndarray, target: np.ndarray) -> float:
        """LPIPS of two BGR ``uint8`` images, after resizing ``output`` to the target's size
        (like SSIM / PSNR); on the CPU, without gradients."""
        from aesformer.evaluation.metrics import _to_size

        if min(target.shape[:2]) < MIN_SIDE:
            raise ValueError(f"LPIPS needs images of at least {MIN_SIDE} px a side")
        resized = _to_size(output, target.shape)
        with torch.no_grad():
            return float(self(to_tensor(resized), to_tensor(target))[0])


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """BGR ``uint8`` (H x W x 3, or gray H x W) -> RGB float in [-1, 1], 1 x 3 x H x W."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    rgb = np.ascontiguousarray(image[..., ::-1], dtype=np.float32)
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0) / 127.5 - 1.0


@cache
def load_lpips(path: str) -> LPIPS:
    """:meth:`LPIPS.from_file`, once per process and path."""
    return LPIPS.from_file(path)
