"""The cache step: shards of frozen latents / text states, hit on re-run, keyed, bad items."""

from __future__ import annotations

import pytest
import torch

from aesformer.config import EditorConfig
from aesformer.editor.cache import build_cache, load_shard, model_id
from aesformer.editor.stage import load_pipeline
from aesformer.errors import InputError
from tests.editor_factory import make_release, tiny_editor_base

pytestmark = pytest.mark.unit

CFG = EditorConfig()


@pytest.fixture(scope="module")
def pipe():
    return load_pipeline(tiny_editor_base(), None, CFG)


def _build(pipe, release, cache, cfg=CFG):
    return build_cache(pipe, cfg, release, cache, model_id(tiny_editor_base(), None))


def test_shards_hold_the_pipelines_latents_and_text_states(pipe, tmp_path) -> None:
    release = make_release(tmp_path / "release", train=2, val=1)
    result = _build(pipe, release, tmp_path / "cache")
    assert result.summary() == {
        "cache_hits": 0, "cache_misses": 3, "cache_failed": 0, "train_pairs": 2, "val_pairs": 1,
    }  # fmt: skip
    shard = load_shard(result.shards["train"][0])  # pair000: good 128x64, poor 80x64
    assert shard.meta["target_size"] == [96, 32]  # 2:1 at 64² area
    assert tuple(shard.target.shape) == (4, 4, 12)  # z_dim 4, 8x down-sampling
    assert shard.meta["control_size"] == [64, 64]  # 80x64 at 64² area rounds to 64x64
    assert shard.prompt_embeds.shape[1] == 16  # text hidden size
    # the text states are exactly what the pipeline feeds the transformer
    from PIL import Image

    from aesformer.editor.data import fit_area

    poor = Image.open(release / shard.meta["poor"]).convert("RGB")
    w, h = fit_area(poor.width, poor.height, CFG.text_image_area)
    embeds, _ = pipe.encode_prompt(
        prompt=shard.meta["plan"], image=[pipe.image_processor.resize(poor, h, w)]
    )
    torch.testing.assert_close(shard.prompt_embeds, embeds[0])


def test_rerun_hits_and_changes_miss(pipe, tmp_path) -> None:
    release = make_release(tmp_path / "release", train=2, val=1)
    first = _build(pipe, release, tmp_path / "cache")
    again = _build(pipe, release, tmp_path / "cache")
    assert (again.hits, again.misses) == (3, 0)
    assert again.shards == first.shards
    # a new resolution is a new key for every pair
    bigger = _build(
        pipe, release, tmp_path / "cache", CFG.model_copy(update={"target_area": 96 * 96})
    )
    assert (bigger.hits, bigger.misses) == (0, 3)
    # a changed plan re-encodes only that pair
    path = release / "jsons/train/Stage2/metadata.jsonl"
    path.write_text(path.read_text().replace("level the horizon", "level the skyline", 1))
    changed = _build(pipe, release, tmp_path / "cache")
    assert (changed.hits, changed.misses) == (2, 1)
    assert len(list((tmp_path / "cache/items").glob("*.safetensors"))) == 7


def test_a_bad_item_is_named_and_the_others_go_on(pipe, tmp_path) -> None:
    release = make_release(tmp_path / "release", train=3, val=1)
    (release / "images/good_images/pair001.png").write_bytes(b"not a png")
    (release / "images/poor_images/pair002.png").unlink()
    result = _build(pipe, release, tmp_path / "cache")
    assert len(result.shards["train"]) == 1
    files = {f["file"]: f for f in result.failed}
    bad = str(release / "images/good_images/pair001.png")
    missing = str(release / "images/poor_images/pair002.png")
    assert set(files) == {bad, missing}
    assert "not a readable image" in files[bad]["reason"]
    assert files[missing]["where"].endswith("metadata.jsonl:3")


def test_a_split_without_any_usable_pair_is_an_error(pipe, tmp_path) -> None:
    release = make_release(tmp_path / "release", train=1, val=1)
    (release / "images/good_images/pair001.png").write_bytes(b"")
    with pytest.raises(InputError, match="no usable val pair"):
        _build(pipe, release, tmp_path / "cache")


def test_a_damaged_shard_is_named(tmp_path) -> None:
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"\x00" * 10)
    with pytest.raises(InputError, match="x.safetensors: unreadable cache shard"):
        load_shard(bad)
