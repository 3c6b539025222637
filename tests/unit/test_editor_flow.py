"""Flow-matching math: the training target agrees with the pipeline's scheduler and packing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, QwenImageEditPlusPipeline
from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus as plus

from aesformer.editor.flow import (
    calculate_shift,
    exponential_shift,
    fixed_shift,
    img_shapes,
    noisy_latents,
    pack,
    sample_sigmas,
    unpack,
    velocity_target,
)
from aesformer.zoo.editor import SCHEDULER_CONFIG

pytestmark = pytest.mark.unit


def _latents(shape=(2, 4, 6, 8), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


def test_pack_is_the_pipelines_and_unpack_inverts_it() -> None:
    x, _ = _latents()
    expected = QwenImageEditPlusPipeline._pack_latents(x, 2, 4, 6, 8)
    assert torch.equal(pack(x), expected)
    assert torch.equal(unpack(pack(x), 6, 8), x)


def test_scheduler_euler_step_with_the_target_velocity_follows_the_path() -> None:
    """x_t at the scheduler's sigma, stepped with v = noise - x0, lands on the path at the next
    sigma; the last step lands on x0: the convention the pipeline's sampler integrates."""
    x0, noise = _latents()
    tokens0, tokens_noise = pack(x0), pack(noise)
    scheduler = FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG)
    steps = 4
    mu = calculate_shift(12, scheduler.config)
    scheduler.set_timesteps(sigmas=np.linspace(1.0, 1 / steps, steps), mu=mu)
    v = pack(velocity_target(x0, noise))
    sigmas = scheduler.sigmas
    for i, t in enumerate(scheduler.timesteps):
        x_t = noisy_latents(tokens0, tokens_noise, sigmas[i].expand(2))
        stepped = scheduler.step(v, t, x_t, return_dict=False)[0]
        expected = noisy_latents(tokens0, tokens_noise, sigmas[i + 1].expand(2))
        torch.testing.assert_close(stepped, expected, atol=1e-5, rtol=1e-5)
    assert float(sigmas[-1]) == 0.0
    # sampling from pure noise with the exact velocity recovers x0; the opposite sign does not
    for sign, recovers in ((1, True), (-1, False)):
        scheduler = FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG)
        scheduler.set_timesteps(sigmas=np.linspace(1.0, 1 / steps, steps), mu=mu)
        x = tokens_noise.clone()
        for t in scheduler.timesteps:
            x = scheduler.step(sign * v, t, x, return_dict=False)[0]
        assert torch.allclose(x, tokens0, atol=1e-4) is recovers


def test_resolution_shift_is_the_schedulers_and_the_pipelines() -> None:
    config = SCHEDULER_CONFIG
    for tokens in (16, 1024, 6889):
        assert calculate_shift(tokens, config) == pytest.approx(
            plus.calculate_shift(
                tokens,
                config["base_image_seq_len"],
                config["max_image_seq_len"],
                config["base_shift"],
                config["max_shift"],
            )
        )
    scheduler = FlowMatchEulerDiscreteScheduler(**config)
    sigma = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    mu = calculate_shift(6889, config)
    torch.testing.assert_close(exponential_shift(sigma, mu), scheduler.time_shift(mu, 1.0, sigma))
    assert math.exp(mu) == pytest.approx(2.3, abs=0.05)  # 1328x1328: the community's ~2.2


def test_sampled_sigmas_shift_up_with_resolution_and_stay_in_range() -> None:
    def mean(tokens, **kw):
        s = sample_sigmas(
            4000, tokens, SCHEDULER_CONFIG, generator=torch.Generator().manual_seed(0), **kw
        )
        assert bool(((s > 0) & (s < 1)).all())
        return float(s.mean())

    assert mean(16) < mean(1024) < mean(8192)
    assert mean(16, shift=3.0) > mean(16, shift=1.0)
    assert mean(16, sampling="uniform", shift=1.0) == pytest.approx(0.5, abs=0.02)
    torch.testing.assert_close(fixed_shift(torch.tensor([0.5]), 1.0), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="unknown timestep sampling"):
        sample_sigmas(1, 16, SCHEDULER_CONFIG, sampling="beta")


def test_img_shapes_list_the_target_then_each_condition() -> None:
    assert img_shapes((8, 12), [(8, 10)]) == [(1, 4, 6), (1, 4, 5)]
