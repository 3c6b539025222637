"""import_aesrecon: an AesRecon folder back to a split folder; the release round trip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aesformer.errors import InputError
from aesformer.records import PairRecord, RejectRecord, read_jsonl
from aesformer.release import build_release, import_aesrecon, layout, read_manifest
from aesformer.release.aesrecon import TEACHER
from tests.unit.test_release_export import make_split, release_bytes

#: Manifest columns AesRecon does not carry (mining provenance and annotation metadata).
NOT_CARRIED = [
    "video_id",
    "video_sha256",
    "event_index",
    "poor_time_s",
    "good_time_s",
    "narration",
    "scores",
    "alignment",
    "teacher",
    "teacher_version",
]


@pytest.fixture
def release(tmp_path):
    make_split(tmp_path / "split")
    build_release(tmp_path / "split", tmp_path / "release")
    return tmp_path / "release"


def read_pairs(folder: Path) -> list[PairRecord]:
    return list(read_jsonl(folder / "pairs.jsonl", PairRecord))


def read_rejects(folder: Path) -> list[RejectRecord]:
    return list(read_jsonl(folder / "rejects.jsonl", RejectRecord))


def test_round_trip_gives_the_same_release_modulo_provenance(release, tmp_path):
    summary = import_aesrecon(release, tmp_path / "imported")
    assert summary["pairs_out"] == 8 and summary["rejected"] == 0
    assert (summary["pairs_train"], summary["pairs_val"], summary["pairs_test"]) == (4, 2, 2)
    assert summary["plans_test"] == 2 and summary["unlisted_images"] == 0
    build_release(tmp_path / "imported", tmp_path / "again")

    first, second = read_manifest(release), read_manifest(tmp_path / "again")
    assert first.drop(columns=NOT_CARRIED).equals(second.drop(columns=NOT_CARRIED))
    assert set(second["teacher"]) == {TEACHER}
    # every JSON file and image is byte-identical; only the manifest differs
    a, b = release_bytes(release), release_bytes(tmp_path / "again")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == [layout.MANIFEST]


def test_imported_records_are_valid_pairs(release, tmp_path):
    import_aesrecon(release, tmp_path / "imported")
    pairs = read_pairs(tmp_path / "imported")
    for pair in pairs:
        assert pair.video_id == pair.pair_id and pair.plan is not None
        assert (tmp_path / "imported" / pair.good_image).is_file()
        assert (tmp_path / "imported" / pair.poor_image).is_file()
    assert json.loads((tmp_path / "imported" / "report.json").read_text())["pairs_out"] == 8


def aesrecon_like(tmp_path: Path, release: Path) -> Path:
    """The minimum the published dataset has: images, Stage2 metadata with the authors'
    absolute paths, the test mapping (no reference plans, no Stage1 files, no val)."""
    root = tmp_path / "AesRecon"
    shutil.copytree(release / "images", root / "images")
    rows = [json.loads(x) for x in (release / layout.editor_file("train")).read_text().splitlines()]
    stage2 = root / "jsons/train/Stage2/metadata.jsonl"
    stage2.parent.mkdir(parents=True)
    stage2.write_text(
        "".join(
            json.dumps(
                {
                    "image_path": f"/data/authors/AesRecon/{r['image_path']}",
                    "control_path": f"/data/authors/AesRecon/{r['control_path']}",
                    "caption": r["caption"],
                }
            )
            + "\n"
            for r in rows
        )
    )
    (root / "jsons/test").mkdir(parents=True)
    shutil.copy(release / layout.TEST_MAPPING, root / "jsons/test/test.json")
    return root


def test_minimal_aesrecon_folder_imports_and_releases(release, tmp_path):
    root = aesrecon_like(tmp_path, release)
    summary = import_aesrecon(root, tmp_path / "imported")
    assert (summary["pairs_train"], summary["pairs_val"], summary["pairs_test"]) == (4, 0, 2)
    assert summary["plans_test"] == 0 and summary["unlisted_images"] == 4  # the val images
    released = build_release(tmp_path / "imported", tmp_path / "again")
    assert released["pairs_test"] == 2 and released["plans_test"] == 0


def test_stage1_only_pairs_by_same_file_name(release, tmp_path):
    root = tmp_path / "AesRecon"
    shutil.copytree(release / "images", root / "images")
    shutil.copytree(release / "jsons/train/Stage1_a", root / "jsons/train/Stage1_a")
    summary = import_aesrecon(root, tmp_path / "imported")
    assert summary["pairs_train"] == 4 and summary["rejected"] == 0
    pairs = read_pairs(tmp_path / "imported")
    assert all(Path(p.good_image).name == Path(p.poor_image).name for p in pairs)


def test_bad_entries_become_rejects(release, tmp_path):
    root = aesrecon_like(tmp_path, release)
    stage2 = root / "jsons/train/Stage2/metadata.jsonl"
    lines = stage2.read_text().splitlines()
    row = json.loads(lines[0])
    spare = json.loads((release / layout.editor_file("val")).read_text().splitlines()[0])
    lines += [
        "{broken",
        json.dumps({"caption": "x"}),
        json.dumps({**row, "image_path": "/x/nowhere.png"}),
        json.dumps({**spare, "caption": "(1) Aspect Ratio: crop it"}),
        json.dumps(row),
    ]
    stage2.write_text("\n".join(lines) + "\n")
    (root / layout.POOR_DIR / Path(json.loads(lines[1])["control_path"]).name).unlink()
    summary = import_aesrecon(root, tmp_path / "imported")
    rejects = read_rejects(tmp_path / "imported")
    reasons = {r.reason: r for r in rejects}
    assert summary["pairs_train"] == 3
    assert set(reasons) == {"bad_line", "missing_image", "bad_plan", "duplicate"}
    assert summary["rejected_bad_line"] == 2 and summary["rejected_missing_image"] == 2
    assert [r.source.rsplit(":", 1)[1] for r in rejects if r.reason == "bad_line"] == ["5", "6"]
    assert any(
        r.detail == f"good image not found: {root}/images/good_images/nowhere.png" for r in rejects
    )
    assert reasons["bad_plan"].pair_id == Path(spare["image_path"]).stem
    assert "missing" in reasons["bad_plan"].detail
    assert reasons["duplicate"].pair_id == Path(row["image_path"]).stem


def test_training_pair_without_plan_is_rejected(release, tmp_path):
    root = aesrecon_like(tmp_path, release)
    stage2 = root / "jsons/train/Stage2/metadata.jsonl"
    rows = [json.loads(x) for x in stage2.read_text().splitlines()]
    rows[0]["caption"] = ""
    stage2.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = import_aesrecon(root, tmp_path / "imported")
    assert summary["rejected_no_plan"] == 1 and summary["pairs_train"] == 3


def test_a_folder_without_images_is_an_error(tmp_path):
    (tmp_path / "AesRecon" / "jsons").mkdir(parents=True)
    with pytest.raises(InputError, match="images/good_images"):
        import_aesrecon(tmp_path / "AesRecon", tmp_path / "out")
