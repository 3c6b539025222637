"""build_release: manifest, images and the AesRecon-shaped JSON files, from a split folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aesformer.config import ReleaseConfig
from aesformer.errors import InputError, OutputError
from aesformer.fileio import sha256_file
from aesformer.plans import DIMENSION_KEYS, PLANNER_INSTRUCTION, PLANNER_PROMPT, format_ok
from aesformer.records import PairRecord, read_jsonl, write_jsonl
from aesformer.release import MANIFEST_COLUMNS, build_release, layout, read_manifest, release_digest
from tests.split_pairs import make_annotated

#: video index -> split of its pairs (4 videos x 2 pairs: 4 train, 2 val, 2 test)
SPLIT_OF_VIDEO = ("train", "train", "val", "test")


def make_split(root: Path, videos: int = 4, pairs_per_video: int = 2) -> list[PairRecord]:
    """A split folder (what ``split`` writes and the gate passes)."""
    pairs = make_annotated(root, videos=videos, pairs_per_video=pairs_per_video)
    pairs = [
        p.model_copy(update={"split": SPLIT_OF_VIDEO[int(p.video_id[-4:]) % 4]}) for p in pairs
    ]
    write_jsonl(root / "pairs.jsonl", pairs)
    return pairs


def release_bytes(root: Path) -> dict[str, bytes]:
    return {f.relative_to(root).as_posix(): f.read_bytes() for f in root.rglob("*") if f.is_file()}


@pytest.fixture
def released(tmp_path):
    pairs = make_split(tmp_path / "split")
    summary = build_release(tmp_path / "split", tmp_path / "release")
    return tmp_path / "release", pairs, summary


def load(root: Path, relative: str):
    text = (root / relative).read_text(encoding="utf-8")
    if relative.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines()]
    return json.loads(text)


def test_summary_counts_per_split(released):
    root, pairs, summary = released
    assert summary["pairs"] == 8
    assert (summary["pairs_train"], summary["pairs_val"], summary["pairs_test"]) == (4, 2, 2)
    assert summary["plans_test"] == 2 and summary["images"] == 16
    assert summary["digest"] == release_digest(root) and len(summary["digest"]) == 32
    assert summary["files"] == sorted(
        [
            *(layout.sft_file(s) for s in ("train", "val")),
            *(layout.grpo_file(s) for s in ("train", "val")),
            *(layout.editor_file(s) for s in ("train", "val")),
            layout.DATASET_INFO,
            layout.TEST_MAPPING,
            layout.PLANNER_INPUT,
            layout.REFERENCE_PLANS,
        ]
    )
    assert not list(root.parent.glob(".release*"))  # no temporary folder left


def test_manifest_columns_hashes_and_plans(released):
    root, pairs, _ = released
    frame = read_manifest(root)
    assert tuple(frame.columns) == MANIFEST_COLUMNS
    assert len(frame) == 8
    assert frame["split"].value_counts().to_dict() == {"train": 4, "val": 2, "test": 2}
    by_id = {p.pair_id: p for p in pairs}
    for row in frame.to_dict("records"):
        pair = by_id[row["pair_id"]]
        assert row["poor_image"] == f"images/poor_images/{pair.pair_id}.png"
        assert row["good_image"] == f"images/good_images/{pair.pair_id}.png"
        assert row["poor_sha256"] == sha256_file(root / row["poor_image"])
        assert row["good_sha256"] == sha256_file(root / row["good_image"])
        assert row["good_sha256"] == sha256_file(root.parent / "split" / pair.good_image)
        assert row["plan_text"] == pair.plan_text
        assert {k: row[f"plan_{k}"] for k in DIMENSION_KEYS} == pair.plan
        assert json.loads(row["scores"]) == pair.scores
        assert json.loads(row["alignment"])["scene_inlier_ratio"] == 0.8
        assert (row["video_id"], row["teacher"], row["narration"]) == (
            pair.video_id,
            "geometric",
            pair.narration,
        )


def test_images_are_hard_links_of_the_split_folder(released):
    root, pairs, _ = released
    pair = pairs[0]
    assert os.path.samefile(
        root / layout.good_path(f"{pair.pair_id}.png"), root.parent / "split" / pair.good_image
    )
    assert len(list((root / layout.GOOD_DIR).iterdir())) == 8
    assert len(list((root / layout.POOR_DIR).iterdir())) == 8


def test_stage1a_is_llamafactory_sharegpt_with_dataset_info(released):
    root, pairs, _ = released
    for split, n in (("train", 4), ("val", 2)):
        examples = load(root, layout.sft_file(split))
        assert isinstance(examples, list) and len(examples) == n
        for ex in examples:
            assert set(ex) == {"messages", "images"}
            user, assistant = ex["messages"]
            assert (user["role"], assistant["role"]) == ("user", "assistant")
            assert user["content"] == "<image>" + PLANNER_INSTRUCTION
            assert user["content"].count("<image>") == len(ex["images"]) == 1
            assert format_ok(assistant["content"])
            assert ex["images"][0].startswith("images/poor_images/")
            assert (root / ex["images"][0]).is_file()  # media_dir = the release root
    info = load(root, layout.DATASET_INFO)
    assert set(info) == {"aesrecon_stage1a_train", "aesrecon_stage1a_val"}
    for entry in info.values():
        assert entry["formatting"] == "sharegpt"
        assert entry["columns"] == {"messages": "messages", "images": "images"}
        assert entry["tags"]["user_tag"] == "user" and entry["tags"]["role_tag"] == "role"
        assert (root / "jsons" / entry["file_name"]).is_file()  # dataset_dir = jsons/


def test_stage1b_is_easyr1_jsonl(released):
    root, pairs, _ = released
    plans = {p.pair_id: p.plan_text for p in pairs}
    rows = load(root, layout.grpo_file("train"))
    assert len(rows) == 4 and len(load(root, layout.grpo_file("val"))) == 2
    for row in rows:
        assert set(row) == {"problem", "answer", "images"}
        assert row["problem"].startswith("<image>")
        assert (root / row["images"][0]).is_file()
        assert row["answer"] == plans[Path(row["images"][0]).stem]


def test_stage2_is_musubi_metadata(released):
    root, pairs, _ = released
    plans = {p.pair_id: p.plan_text for p in pairs}
    rows = load(root, layout.editor_file("train"))
    assert len(rows) == 4 and len(load(root, layout.editor_file("val"))) == 2
    for row in rows:
        assert set(row) == {"image_path", "control_path", "caption"}
        assert row["image_path"].startswith("images/good_images/")
        assert row["control_path"].startswith("images/poor_images/")
        assert (root / row["image_path"]).is_file() and (root / row["control_path"]).is_file()
        assert row["caption"] == plans[Path(row["image_path"]).stem]
    ids = [Path(r["image_path"]).stem for r in rows]
    assert ids == sorted(ids)  # deterministic order


def test_test_mapping_planner_input_and_reference_plans(released):
    root, pairs, _ = released
    test = sorted(p.pair_id for p in pairs if p.split == "test")
    mapping = load(root, layout.TEST_MAPPING)
    assert mapping == {f"{pid}.png": f"{pid}.png" for pid in test}
    for good, poor in mapping.items():
        assert (root / layout.GOOD_DIR / good).is_file() and (
            root / layout.POOR_DIR / poor
        ).is_file()
    inputs = load(root, layout.PLANNER_INPUT)
    assert [i["poor_image_name"] for i in inputs] == [f"{pid}.png" for pid in test]
    assert all((root / i["image"]).is_file() and i["prompt"].startswith("<image>") for i in inputs)
    plans = load(root, layout.REFERENCE_PLANS)
    assert set(plans) == set(mapping.values()) and all(format_ok(t) for t in plans.values())


def test_same_input_gives_byte_identical_release(tmp_path):
    make_split(tmp_path / "split")
    first = build_release(tmp_path / "split", tmp_path / "a")
    second = build_release(tmp_path / "split", tmp_path / "b")
    assert first["digest"] == second["digest"]
    assert release_bytes(tmp_path / "a") == release_bytes(tmp_path / "b")
    build_release(tmp_path / "split", tmp_path / "a")  # rebuilding over an existing release
    assert release_bytes(tmp_path / "a") == release_bytes(tmp_path / "b")


def test_configurable_grpo_keys_and_task_prompt(tmp_path):
    make_split(tmp_path / "split")
    cfg = ReleaseConfig(grpo_prompt_key="question", prompt="task", link_images=False)
    build_release(tmp_path / "split", tmp_path / "release", cfg)
    row = load(tmp_path / "release", layout.grpo_file("train"))[0]
    assert set(row) == {"question", "answer", "images"}
    assert row["question"] == "<image>" + PLANNER_PROMPT
    image = tmp_path / "release" / row["images"][0]
    assert image.stat().st_nlink == 1  # copied, not linked


def test_grpo_keys_must_differ():
    with pytest.raises(ValueError, match="must differ"):
        ReleaseConfig(grpo_prompt_key="answer")


def test_test_pair_without_plan_is_released_without_reference(tmp_path):
    pairs = make_split(tmp_path / "split")
    pairs = [
        p.model_copy(update={"plan": None, "plan_text": None}) if p.split == "test" else p
        for p in pairs
    ]
    write_jsonl(tmp_path / "split" / "pairs.jsonl", pairs)
    summary = build_release(tmp_path / "split", tmp_path / "release")
    assert summary["pairs_test"] == 2 and summary["plans_test"] == 0
    assert load(tmp_path / "release", layout.REFERENCE_PLANS) == {}
    frame = read_manifest(tmp_path / "release")
    assert frame.loc[frame["split"] == "test", "plan_text"].isna().all()


def _break(tmp_path: Path, index: int, **update) -> list[PairRecord]:
    pairs = make_split(tmp_path / "split")
    pairs[index] = pairs[index].model_copy(update=update)
    write_jsonl(tmp_path / "split" / "pairs.jsonl", pairs)
    return pairs


def test_pair_without_split_is_an_error_naming_line_and_pair(tmp_path):
    pairs = _break(tmp_path, 2, split=None)
    with pytest.raises(InputError, match=rf"pairs.jsonl:3: pair {pairs[2].pair_id}: no split"):
        build_release(tmp_path / "split", tmp_path / "release")
    assert not (tmp_path / "release").exists()


def test_training_pair_without_plan_is_an_error(tmp_path):
    pairs = _break(tmp_path, 0, plan=None, plan_text=None)
    assert pairs[0].split == "train"
    with pytest.raises(InputError, match=r"pairs.jsonl:1: .* train pair without plan"):
        build_release(tmp_path / "split", tmp_path / "release")


def test_bad_plan_text_is_an_error(tmp_path):
    _break(tmp_path, 1, plan_text="(1) Aspect Ratio: <Ratio>crop</Ratio>")
    with pytest.raises(InputError, match=r"pairs.jsonl:2: .*plan_text does not parse: missing"):
        build_release(tmp_path / "split", tmp_path / "release")


def test_missing_image_is_an_error_naming_the_file(tmp_path):
    pairs = make_split(tmp_path / "split")
    missing = tmp_path / "split" / pairs[3].poor_image
    missing.unlink()
    with pytest.raises(InputError, match=rf"poor image not found: {missing}"):
        build_release(tmp_path / "split", tmp_path / "release")


def test_every_problem_is_listed_and_an_old_release_survives(tmp_path):
    pairs = make_split(tmp_path / "split")
    build_release(tmp_path / "split", tmp_path / "release")
    before = release_bytes(tmp_path / "release")
    pairs[0] = pairs[0].model_copy(update={"split": None})
    pairs[5] = pairs[5].model_copy(update={"pair_id": pairs[4].pair_id})
    lines = [p.model_dump_json() for p in pairs] + ["{not json"]
    (tmp_path / "split" / "pairs.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        build_release(tmp_path / "split", tmp_path / "release")
    message = str(info.value)
    assert "3 problem(s), nothing released" in message
    assert "pairs.jsonl:1:" in message and "duplicate pair_id (first on line 5)" in message
    assert "pairs.jsonl:9: not a PairRecord" in message
    assert release_bytes(tmp_path / "release") == before


def test_empty_or_missing_pairs_file(tmp_path):
    (tmp_path / "split").mkdir()
    with pytest.raises(InputError, match="not found"):
        build_release(tmp_path / "split", tmp_path / "release")
    (tmp_path / "split" / "pairs.jsonl").write_text("")
    with pytest.raises(InputError, match="no pairs to release"):
        build_release(tmp_path / "split", tmp_path / "release")


def test_release_inside_the_split_folder_is_refused(tmp_path):
    make_split(tmp_path / "split")
    with pytest.raises(OutputError, match="outside the split folder"):
        build_release(tmp_path / "split", tmp_path / "split" / "release")


def test_digest_verify_catches_changed_and_stray_images(tmp_path):
    make_split(tmp_path / "split")
    build_release(tmp_path / "split", tmp_path / "release", ReleaseConfig(link_images=False))
    root = tmp_path / "release"
    digest = release_digest(root, verify=True)
    stray = root / layout.GOOD_DIR / "stray.png"
    stray.write_bytes(b"x")
    with pytest.raises(InputError, match="not in the manifest"):
        release_digest(root, verify=True)
    stray.unlink()
    image = next((root / layout.POOR_DIR).iterdir())
    image.write_bytes(image.read_bytes() + b"\0")
    with pytest.raises(InputError, match="differs from the manifest"):
        release_digest(root, verify=True)
    assert release_digest(root) == digest  # without verify: the manifest's hashes are trusted


def test_records_stay_readable(released):
    root, pairs, _ = released
    # the split folder is untouched by the release
    assert [p.pair_id for p in read_jsonl(root.parent / "split" / "pairs.jsonl", PairRecord)] == [
        p.pair_id for p in pairs
    ]
