"""LPIPS in plain torch, with random weights (the released ones are not available here)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from skimage import data

from aesformer.evaluation.benchmark import image_scores
from aesformer.evaluation.perceptual import (
    CHANNELS,
    LPIPS,
    LPIPSWeightsError,
    load_lpips,
    to_tensor,
)
from aesformer.faces import FaceCascadeDetector

pytestmark = pytest.mark.unit


def random_state(seed: int = 0, lin=torch.rand) -> dict[str, torch.Tensor]:
    """Every key of the released file: torchvision AlexNet ``features.*`` + ``lin<i>``."""
    torch.manual_seed(seed)
    shapes = {
        "features.0": (64, 3, 11, 11),
        "features.3": (192, 64, 5, 5),
        "features.6": (384, 192, 3, 3),
        "features.8": (256, 384, 3, 3),
        "features.10": (256, 256, 3, 3),
    }
    state = {}
    for name, shape in shapes.items():
        fan_in = shape[1] * shape[2] * shape[3]
        state[f"{name}.weight"] = torch.randn(shape) * (2.0 / fan_in) ** 0.5
        state[f"{name}.bias"] = torch.randn(shape[0]) * 0.01
    for i, channels in enumerate(CHANNELS):
        state[f"lin{i}.model.1.weight"] = lin(1, channels, 1, 1)
    return state


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("lpips") / "alex.safetensors"
    save_file(random_state(), path)
    return path


@pytest.fixture(scope="module")
def metric(weights):
    return LPIPS.from_file(weights)


@pytest.fixture(scope="module")
def photo():
    return cv2.cvtColor(data.astronaut()[::2, ::2], cv2.COLOR_RGB2BGR)  # 256 x 256


def noisy(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def test_identical_images_are_at_distance_zero(metric, photo):
    assert metric.distance(photo, photo.copy()) == 0.0


def test_symmetric_and_positive(metric, photo):
    other = noisy(photo, 20)
    d = metric.distance(photo, other)
    assert d > 0
    assert metric.distance(other, photo) == pytest.approx(d, rel=1e-5)


@pytest.mark.parametrize(
    ("weak", "strong"),
    [
        (lambda im: noisy(im, 5), lambda im: noisy(im, 40)),
        (
            lambda im: cv2.GaussianBlur(im, (0, 0), 1.0),
            lambda im: cv2.GaussianBlur(im, (0, 0), 4.0),
        ),
    ],
    ids=["noise", "blur"],
)
def test_a_stronger_distortion_is_farther(metric, photo, weak, strong):
    assert 0 < metric.distance(weak(photo), photo) < metric.distance(strong(photo), photo)


def test_the_output_is_resized_to_the_target(metric, photo):
    big = cv2.resize(photo, (512, 384), interpolation=cv2.INTER_CUBIC)
    target = cv2.resize(photo, (320, 240), interpolation=cv2.INTER_AREA)
    d = metric.distance(big, target)
    assert 0 <= d < metric.distance(noisy(target, 40), target)
    with pytest.raises(ValueError, match="at least 31 px"):
        metric.distance(photo, photo[:20, :20])


def test_known_answer_of_the_first_layer(weights, photo, tmp_path):
    """lin0 all ones, lin1..4 zero: the distance is the first tap's term, computed here by hand
    from the conv weights: mean over pixels of the channel sum of the squared difference of the
    unit-normalised ReLU(conv0(scaled image))."""
    state = random_state(lin=torch.zeros)
    state["lin0.model.1.weight"] = torch.ones(1, 64, 1, 1)
    path = tmp_path / "one_layer.safetensors"
    save_file(state, path)
    other = noisy(photo, 25)

    def tap(image: np.ndarray) -> torch.Tensor:
        rgb = torch.from_numpy(image[..., ::-1].astype(np.float32)).permute(2, 0, 1)[None]
        x = rgb / 127.5 - 1
        shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
        scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
        h = F.conv2d(
            (x - shift) / scale, state["features.0.weight"], state["features.0.bias"], 4, 2
        )
        h = torch.relu(h)
        return h / (h.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)

    expected = float((tap(photo) - tap(other)).pow(2).sum(dim=1).mean())
    assert LPIPS.from_file(path).distance(other, photo) == pytest.approx(expected, rel=1e-4)


def test_layers_and_keys_match_torchvision_and_lpips(metric):
    keys = set(metric.state_dict())
    convs = {0: (64, 3, 11, 11), 3: (192, 64, 5, 5), 6: (384, 192, 3, 3), 8: (256, 384, 3, 3)}
    for index, shape in convs.items():
        assert metric.state_dict()[f"features.{index}.weight"].shape == shape
    assert {f"lin{i}.model.1.weight" for i in range(5)} <= keys
    assert not {k for k in keys if "shift" in k or "scale" in k}  # buffers, not weights
    taps = metric.taps(to_tensor(np.zeros((64, 96, 3), np.uint8)))
    assert [t.shape[1] for t in taps] == list(CHANNELS)


def test_missing_file_and_missing_keys_are_named(weights, tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(LPIPSWeightsError, match="nope.safetensors.*not found"):
        LPIPS.from_file(missing)
    state = random_state()
    del state["lin3.model.1.weight"]
    state["extra"] = torch.zeros(1)
    partial = tmp_path / "partial.safetensors"
    save_file(state, partial)
    with pytest.raises(
        LPIPSWeightsError, match=r"partial.safetensors.*lin3\.model\.1\.weight.*extra"
    ):
        LPIPS.from_file(partial)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    with pytest.raises(LPIPSWeightsError, match="broken.safetensors"):
        LPIPS.from_file(broken)


def test_a_pickle_is_never_loaded(tmp_path, monkeypatch):
    pth = tmp_path / "alex.pth"
    torch.save(random_state(), pth)

    def refuse(*_args, **_kwargs):
        raise AssertionError("torch.load must not be called")

    monkeypatch.setattr(torch, "load", refuse)
    with pytest.raises(LPIPSWeightsError, match=r"\.safetensors file"):
        LPIPS.from_file(pth)
    disguised = tmp_path / "alex.safetensors"  # a pickle under the right name
    disguised.write_bytes(pth.read_bytes())
    with pytest.raises(LPIPSWeightsError, match="not a readable safetensors"):
        LPIPS.from_file(disguised)


def test_load_lpips_is_cached(weights):
    assert load_lpips(str(weights)) is load_lpips(str(weights))


def test_eval_scores_have_lpips_only_when_configured(metric, photo):
    poor = noisy(photo, 30, seed=1)
    output = cv2.GaussianBlur(photo, (0, 0), 2.0)
    detector = FaceCascadeDetector()
    without = image_scores(poor, photo, output, None, detector)
    assert "lpips" not in without
    with_lpips = image_scores(poor, photo, output, None, detector, metric)
    assert with_lpips["lpips"] == pytest.approx(metric.distance(output, photo))
    assert {k: v for k, v in with_lpips.items() if k != "lpips"} == without


def test_config_and_the_table_column():
    from pydantic import ValidationError

    from aesformer.config import EvalConfig
    from aesformer.evaluation.stage import table_columns

    assert EvalConfig().lpips_weights is None
    assert "lpips" not in table_columns(EvalConfig())
    columns = table_columns(EvalConfig(lpips_weights="/models/lpips_alex.safetensors"))
    assert columns[columns.index("psnr") + 1] == "lpips" and columns.count("lpips") == 1
    with pytest.raises(ValidationError, match="lpips_weights"):
        EvalConfig(lpips_weights="alex.pth")
