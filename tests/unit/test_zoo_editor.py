"""The tiny Qwen-Image-Edit-Plus editor: built once, then loaded and run like the hub pipeline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import QwenImageEditPlusPipeline
from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus
from PIL import Image

from aesformer.config import TinyEditorConfig
from aesformer.errors import ConfigError, InputError
from aesformer.zoo import edit_plus_resolution, load_editor_pipeline, load_editor_processor
from aesformer.zoo.editor import HUB_ID, SCHEDULER_CONFIG, build_editor, rope_axes
from aesformer.zoo.processors import Qwen2VLImageOnlyProcessor
from aesformer.zoo.tokenizer import BpeModel, train_bpe

pytestmark = pytest.mark.unit

CFG = TinyEditorConfig()


@pytest.fixture(scope="module")
def bpe() -> BpeModel:
    return train_bpe(1024)


@pytest.fixture(scope="module")
def built(bpe: BpeModel, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("models") / "editor"
    stats = build_editor(CFG, bpe, out)
    return out, stats


@pytest.fixture(scope="module")
def pipe(built) -> QwenImageEditPlusPipeline:
    pipeline = load_editor_pipeline(built[0])
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def _photo(size: tuple[int, int] = (80, 64)) -> Image.Image:
    """A deterministic gradient photo of ``size`` (width, height)."""
    rows, cols = np.indices((size[1], size[0]))
    rgb = np.stack([rows * 255 // size[1], cols * 255 // size[0], (rows + cols) % 256], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8))


def test_folder_layout_and_model_index_are_the_hub_ones(built) -> None:
    out, _ = built
    index = json.loads((out / "model_index.json").read_text())
    assert index["_class_name"] == "QwenImageEditPlusPipeline"
    assert index["processor"] == ["transformers", "Qwen2VLProcessor"]
    assert index["text_encoder"] == ["transformers", "Qwen2_5_VLForConditionalGeneration"]
    assert index["transformer"] == ["diffusers", "QwenImageTransformer2DModel"]
    assert index["vae"] == ["diffusers", "AutoencoderKLQwenImage"]
    assert index["scheduler"] == ["diffusers", "FlowMatchEulerDiscreteScheduler"]
    weights = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.safetensors"))
    assert weights == [
        "text_encoder/model.safetensors",
        "transformer/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
    ]
    assert not list(out.rglob("*.bin"))


def test_components_follow_the_config(pipe) -> None:
    transformer = pipe.transformer.config
    assert transformer.zero_cond_t is True
    assert (transformer.in_channels, transformer.out_channels) == (CFG.z_dim * 4, CFG.z_dim)
    assert transformer.joint_attention_dim == pipe.text_encoder.config.text_config.hidden_size
    assert tuple(transformer.axes_dims_rope) == rope_axes(CFG.attention_head_dim) == (8, 4, 4)
    assert pipe.vae.config.z_dim == CFG.z_dim
    assert pipe.vae_scale_factor == 8
    rows = pipe.text_encoder.get_input_embeddings().weight.shape[0]
    assert rows >= len(pipe.tokenizer)
    assert isinstance(pipe.processor, Qwen2VLImageOnlyProcessor)


def test_scheduler_is_configured_like_qwen_image(pipe) -> None:
    config = pipe.scheduler.config
    for key, value in SCHEDULER_CONFIG.items():
        assert config[key] == value, key
    assert config.use_dynamic_shifting


def test_transformer_forward_on_packed_latents(pipe) -> None:
    z, side = CFG.z_dim, 8  # a 64 px image: 8x8 latents, 4x4 packed tokens
    generator = torch.Generator().manual_seed(0)
    target = torch.randn(1, z, 1, side, side, generator=generator)
    condition = torch.randn(1, z, 1, side, side, generator=generator)
    pack = QwenImageEditPlusPipeline._pack_latents
    tokens = torch.cat([pack(target, 1, z, side, side), pack(condition, 1, z, side, side)], dim=1)
    text = torch.randn(1, 7, CFG.text_hidden_size, generator=generator)
    with torch.no_grad():
        out = pipe.transformer(
            hidden_states=tokens,
            encoder_hidden_states=text,
            timestep=torch.tensor([0.5]),
            img_shapes=[[(1, side // 2, side // 2), (1, side // 2, side // 2)]],
            return_dict=False,
        )[0]
    assert out.shape == (1, 2 * (side // 2) ** 2, z * 4)
    assert torch.isfinite(out).all()


def test_vae_encode_decode_shapes(pipe) -> None:
    image = torch.rand(1, 3, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        latents = pipe.vae.encode(image).latent_dist.sample(torch.Generator().manual_seed(0))
        decoded = pipe.vae.decode(latents).sample
    assert latents.shape == (1, CFG.z_dim, 1, 8, 12)
    assert decoded.shape == image.shape


def test_text_encoder_conditions_on_prompt_and_image(pipe) -> None:
    with torch.no_grad():
        embeds, _ = pipe.encode_prompt(
            prompt="<Color>Warm the white balance.</Color>", image=[_photo((64, 64))]
        )
    assert embeds.shape[0] == 1
    assert embeds.shape[2] == CFG.text_hidden_size
    assert torch.isfinite(embeds).all()


def test_stock_from_pretrained_runs_two_steps_at_64px(built) -> None:
    out, _ = built
    pipeline = QwenImageEditPlusPipeline.from_pretrained(
        out, processor=load_editor_processor(out), use_safetensors=True
    )
    pipeline.set_progress_bar_config(disable=True)
    with edit_plus_resolution(64 * 64):
        result = pipeline(
            image=[_photo()],
            prompt="<Ratio>Crop to 1:1.</Ratio>",
            height=64,
            width=64,
            num_inference_steps=2,
            true_cfg_scale=1.0,
            generator=torch.Generator().manual_seed(0),
        )
    image = result.images[0]
    assert image.size == (64, 64)


def test_runs_are_reproducible_with_a_seed(pipe) -> None:
    def run() -> np.ndarray:
        with edit_plus_resolution(64 * 64):
            return pipe(
                image=[_photo()],
                prompt="make it warmer",
                height=64,
                width=128,
                num_inference_steps=2,
                true_cfg_scale=1.0,
                generator=torch.Generator().manual_seed(3),
                output_type="np",
            ).images[0]

    first = run()
    assert first.shape == (64, 128, 3)
    assert np.array_equal(first, run())


def _resolution() -> tuple[int, int]:
    module = pipeline_qwenimage_edit_plus
    return module.VAE_IMAGE_SIZE, module.CONDITION_IMAGE_SIZE


def test_resolution_is_restored_even_after_an_error() -> None:
    stock = _resolution()
    with pytest.raises(RuntimeError), edit_plus_resolution(128 * 128):
        assert _resolution() == (128 * 128, 128 * 128)
        raise RuntimeError("pipeline failed")
    assert _resolution() == stock


def test_condition_area_defaults_to_at_most_the_stock_one() -> None:
    with edit_plus_resolution(1024 * 1024):
        assert _resolution() == (1024 * 1024, 384 * 384)
    with edit_plus_resolution(256 * 256, condition_area=64 * 64):
        assert _resolution() == (256 * 256, 64 * 64)
    with pytest.raises(ValueError, match="32x32"), edit_plus_resolution(16 * 16):
        pass


def test_build_info(built, pipe) -> None:
    out, stats = built
    info = json.loads((out / "build_info.json").read_text())
    assert info["mirrors"] == HUB_ID
    assert info["tiny"] == CFG.model_dump(mode="json")
    assert info["parameters"]["transformer"] == pipe.transformer.num_parameters()
    assert info["parameters"]["total"] == stats["parameters"]
    tokenizer = info["tokenizer"]
    assert tokenizer["prompt_template_prefix_tokens"] >= tokenizer["prompt_template_drop_tokens"]


def test_loader_refuses_pickle_weights(built, tmp_path: Path) -> None:
    folder = tmp_path / "pickled"
    shutil.copytree(built[0], folder)
    (folder / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    (folder / "vae" / "diffusion_pytorch_model.bin").write_bytes(b"not unpickled")
    with pytest.raises(InputError, match="vae"):
        load_editor_pipeline(folder)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"attention_head_dim": 12}, "attention_head_dim"),
    ],
)
def test_inconsistent_sizes_are_config_errors(
    change: dict, message: str, bpe: BpeModel, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=message):
        build_editor(TinyEditorConfig(**change), bpe, tmp_path / "editor")
    assert not (tmp_path / "editor").exists()
