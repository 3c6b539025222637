"""Flow matching of the Qwen-Image family, written to agree with the pipeline's sampler.

Convention (the one ``FlowMatchEulerDiscreteScheduler`` integrates, so a LoRA trained with it
works in ``QwenImageEditPlusPipeline`` unchanged):

- ``x0`` is the clean latent of the good image, ``noise`` ~ N(0, I), ``sigma`` in (0, 1);
- the noisy latent is ``x_sigma = (1 - sigma) * x0 + sigma * noise``;
- the transformer gets ``timestep = sigma`` (the pipeline passes ``t / 1000`` with
  ``t = 1000 * sigma``) and predicts the velocity ``v = d x_sigma / d sigma = noise - x0``;
- the scheduler's Euler step is ``x_next = x + (sigma_next - sigma) * v``, so with the exact
  ``v`` one step from any sigma down to 0 lands on ``x0`` (tested).

The paper writes ``v = x0 - x1`` with ``x1`` the noise: that is the same field with time run
the other way (from data to noise, as musubi-tuner's documentation states it). What counts is
that the training target and the sampler agree; the code uses ``noise - x0``, the direction the
diffusers sampler moves in.

Timesteps: an un-shifted sigma ``u`` is drawn (uniform or logit-normal), then shifted. The
resolution-dependent shift is the scheduler's own exponential time shift with
``mu = calculate_shift(image_tokens, ...)`` from the scheduler config, i.e. exactly the shift
the pipeline applies at inference for that many target tokens (``exp(mu)`` is about 2.3 at
1328x1328 with the Qwen-Image scheduler). A fixed shift ``s`` uses
``sigma = s u / (1 + (s - 1) u)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

#: The Qwen-Image scheduler's defaults where a config lacks a key (the pipeline's fallbacks).
SHIFT_DEFAULTS = {
    "base_image_seq_len": 256,
    "max_image_seq_len": 4096,
    "base_shift": 0.5,
    "max_shift": 1.15,
}


def calculate_shift(image_seq_len: int, scheduler_config: Mapping[str, Any]) -> float:
    """``mu`` for ``image_seq_len`` target tokens (the pipeline's ``calculate_shift``)."""
    cfg = {k: scheduler_config.get(k, v) for k, v in SHIFT_DEFAULTS.items()}
    slope = (cfg["max_shift"] - cfg["base_shift"]) / (
        cfg["max_image_seq_len"] - cfg["base_image_seq_len"]
    )
    return image_seq_len * slope + cfg["base_shift"] - slope * cfg["base_image_seq_len"]


def exponential_shift(sigma: torch.Tensor, mu: float) -> torch.Tensor:
    """The scheduler's ``time_shift_type: exponential``: ``e^mu / (e^mu + (1/sigma - 1))``."""
    return math.exp(mu) / (math.exp(mu) + (1 / sigma - 1))


def fixed_shift(sigma: torch.Tensor, shift: float) -> torch.Tensor:
    """SD3-style shift ``s sigma / (1 + (s - 1) sigma)``."""
    return shift * sigma / (1 + (shift - 1) * sigma)


def sample_sigmas(
    n: int,
    image_seq_len: int,
    scheduler_config: Mapping[str, Any],
    *,
    sampling: str = "logit_normal",
    logit_mean: float = 0.0,
    logit_std: float = 1.0,
    shift: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``n`` training sigmas in (0, 1): drawn, then shifted (resolution-dependent when
    ``shift`` is None)."""
    if sampling == "uniform":
        u = torch.rand(n, generator=generator, dtype=torch.float64)
    elif sampling == "logit_normal":
        u = torch.sigmoid(
            logit_mean + logit_std * torch.randn(n, generator=generator, dtype=torch.float64)
        )
    else:
        raise ValueError(f"unknown timestep sampling {sampling!r}")
    u = u.clamp(1e-5, 1 - 1e-5)
    if shift is None:
        sigma = exponential_shift(u, calculate_shift(image_seq_len, scheduler_config))
    else:
        sigma = fixed_shift(u, shift)
    return sigma.float()


def noisy_latents(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """``(1 - sigma) x0 + sigma noise``, ``sigma`` broadcast over the batch dimension."""
    s = sigma.view(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
    return (1 - s) * x0 + s * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The velocity the transformer learns: ``noise - x0`` (see the module docstring)."""
    return noise - x0


def pack(latents: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` latents → ``(B, H/2 * W/2, 4C)`` tokens (the pipeline's ``_pack_latents``)."""
    b, c, h, w = latents.shape
    x = latents.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // 2) * (w // 2), c * 4)


def unpack(tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`pack` for latents of ``height`` x ``width``."""
    b, _, d = tokens.shape
    x = tokens.view(b, height // 2, width // 2, d // 4, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, d // 4, height, width)


def img_shapes(target_hw: tuple[int, int], control_hws: Sequence[tuple[int, int]]) -> list:
    """One sample's RoPE shapes: the target then each condition, in 2x2 patches."""
    return [(1, target_hw[0] // 2, target_hw[1] // 2)] + [
        (1, h // 2, w // 2) for h, w in control_hws
    ]
