"""The annotate stage end to end on a small aligned-pairs folder."""

from __future__ import annotations

import json

import cv2
import pytest

from aesformer.annotate import TeacherError, TeacherUnavailable, run
from aesformer.annotate.geometric import GeometricTeacher
from aesformer.config import AlignConfig, AnnotateConfig
from aesformer.errors import InputError, OutputError
from aesformer.plans import DIMENSION_KEYS, NO_CHANGE, parse, render
from aesformer.records import PairRecord, RejectRecord, read_jsonl, write_jsonl
from tests.annotate_pairs import Shot, normalised_homography, record, source

pytestmark = pytest.mark.unit
CFG = AnnotateConfig()


@pytest.fixture(scope="module")
def photo():
    return source()


def write_pair(root, index, photo, poor: Shot, good: Shot, narration="", aligned=True):
    cv2.imwrite(str(root / f"images/{index}_poor.png"), poor.render(photo))
    cv2.imwrite(str(root / f"images/{index}_good.png"), good.render(photo))
    h = normalised_homography(poor, good) if aligned else None
    return record(index, f"images/{index}_poor.png", f"images/{index}_good.png", h, narration)


@pytest.fixture
def pairs_dir(tmp_path, photo):
    root = tmp_path / "aligned"
    (root / "images").mkdir(parents=True)
    pairs = [
        write_pair(root, 0, photo, Shot(rotation_deg=-5), Shot(), "ask her to raise her right arm"),
        write_pair(root, 1, photo, Shot(), Shot(at=(0.68, 0.45))),
        write_pair(root, 2, photo, Shot(), Shot(), aligned=False),
        record(3, "images/0_poor.png", "images/missing.png", [[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
    ]
    write_jsonl(root / "pairs.jsonl", pairs)
    with (root / "pairs.jsonl").open("a") as fh:
        fh.write('{"pair_id": "x", "video_id": "tut_9"}\n')  # missing fields
        fh.write("{not json\n")
    write_jsonl(root / "rejects.jsonl", [RejectRecord(stage="align", reason="new_object")])
    return root


def test_run_writes_pairs_rejects_report_and_images(pairs_dir, tmp_path):
    out = tmp_path / "annotated"
    summary = run(CFG, pairs_dir, out)
    assert summary["pairs_in"] == 6 and summary["pairs_out"] == 2 and summary["rejected"] == 4
    assert summary["rejected_bad_record"] == 2 and summary["rejected_not_aligned"] == 1
    assert summary["rejected_image_unreadable"] == 1 and summary["upstream_rejects"] == 1
    assert summary["teacher"] == "geometric" and summary["attempts"] == 2

    kept = list(read_jsonl(out / "pairs.jsonl", PairRecord))
    assert [p.video_id for p in kept] == ["tut_0000", "tut_0001"]
    first = kept[0]
    assert list(first.plan) == list(DIMENSION_KEYS)
    assert first.plan["composition"] == "Rotate 5° clockwise to level the horizon"
    assert first.plan["pose"] == "Raise the right arm"
    assert first.plan["aspect_ratio"] == NO_CHANGE
    assert parse(first.plan_text).plan.to_dict() == first.plan
    assert (first.teacher, first.teacher_version) == ("geometric", "1")
    assert kept[1].plan["position"] == "Shift the subject toward the lower-right third"
    for p in kept:
        assert (out / p.poor_image).is_file() and (out / p.good_image).is_file()
    assert not (out / "images/2_poor.png").exists()  # only annotated pairs' images

    rejects = list(read_jsonl(out / "rejects.jsonl", RejectRecord))
    assert rejects[0].stage == "align"
    mine = rejects[1:]
    assert {r.stage for r in mine} == {"annotate"}
    assert [r.reason for r in mine] == [
        "not_aligned", "image_unreadable", "bad_record", "bad_record",
    ]  # fmt: skip
    assert "missing.png" in mine[1].detail
    assert mine[2].source == f"{pairs_dir / 'pairs.jsonl'}:5" and "video_sha256" in mine[2].detail
    assert mine[3].source.endswith("pairs.jsonl:6")

    report = json.loads((out / "report.json").read_text())
    assert report["pairs_out"] == 2 and report["params"]["max_retries"] == CFG.max_retries


class Scripted:
    """A teacher answering from a list; records the feedback it was given."""

    name = "scripted"
    version = "test"

    def __init__(self, answers):
        self.answers = list(answers)
        self.feedback = []

    def write_plan(self, request):
        self.feedback.append(request.feedback)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, str) else GeometricTeacher().write_plan(request)


def one_pair(tmp_path, photo):
    root = tmp_path / "aligned"
    (root / "images").mkdir(parents=True)
    write_jsonl(root / "pairs.jsonl", [write_pair(root, 0, photo, Shot(rotation_deg=-5), Shot())])
    return root


def test_failed_plans_are_regenerated_with_feedback(tmp_path, photo):
    teacher = Scripted(["garbage", None])  # None: the correct plan
    summary = run(CFG, one_pair(tmp_path, photo), tmp_path / "out", teacher=teacher)
    assert summary["pairs_out"] == 1 and summary["attempts"] == 2 and summary["regenerated"] == 1
    assert (
        teacher.feedback[0] is None
        and "format: aspect_ratio: missing: no <Ratio>" in teacher.feedback[1]
    )
    kept = next(read_jsonl(tmp_path / "out/pairs.jsonl", PairRecord))
    assert (kept.teacher, kept.teacher_version) == ("scripted", "test")


def test_inconsistent_plans_are_rejected_after_max_retries(tmp_path, photo):
    wrong = render(
        parse(_no_change_plan()).plan  # says nothing changed
    )
    cfg = CFG.model_copy(update={"max_retries": 1})
    teacher = Scripted([wrong, wrong, wrong])
    summary = run(cfg, one_pair(tmp_path, photo), tmp_path / "out", teacher=teacher)
    assert summary["pairs_out"] == 0 and summary["rejected_inconsistent_plan"] == 1
    assert len(teacher.answers) == 1  # 1 + max_retries attempts
    reject = list(read_jsonl(tmp_path / "out/rejects.jsonl", RejectRecord))[-1]
    assert reject.reason == "inconsistent_plan"
    assert "missed_change: composition" in reject.detail and "after 2 attempts" in reject.detail


def _no_change_plan() -> str:
    return "\n".join(
        f"{h} <{t}>{NO_CHANGE}</{t}>"
        for h, t in zip(
            ["(1) Aspect Ratio:", "(2) Framing and Composition:", "(3) Camera Position and Viewpoint:",
             "(4) Subject Position:", "(5) Subject Pose and Action Details:",
             "(6) Depth of Field and Focus Control:", "(7) Color and Lighting Adjustment:"],
            ["Ratio", "Composition", "Camera", "Position", "Pose", "Focus", "Color"],
            strict=True,
        )
    )  # fmt: skip


def test_teacher_failing_on_every_pair_raises(tmp_path, photo):
    teacher = Scripted([TeacherError("HTTP 503 from http://x (after 3 retries)")])
    with pytest.raises(TeacherUnavailable, match="HTTP 503"):
        run(CFG, one_pair(tmp_path, photo), tmp_path / "out", teacher=teacher)
    assert not (tmp_path / "out/pairs.jsonl").exists()


def test_missing_input_and_same_folder(tmp_path):
    with pytest.raises(InputError, match="not found"):
        run(CFG, tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(OutputError, match="must differ"):
        run(CFG, tmp_path, tmp_path)


def test_align_output_annotates(tmp_path, photo):
    """A real align run (SIFT homography) feeds the stage: the rotation is found again."""
    from aesformer.align import run as run_align

    mined = tmp_path / "mined"
    (mined / "images").mkdir(parents=True)
    pair = write_pair(mined, 0, photo, Shot(rotation_deg=-6), Shot(), aligned=False)
    write_jsonl(mined / "pairs.jsonl", [pair])
    assert run_align(AlignConfig(), mined, tmp_path / "aligned")["pairs_out"] == 1
    summary = run(CFG, tmp_path / "aligned", tmp_path / "annotated")
    assert summary["pairs_out"] == 1
    kept = next(read_jsonl(tmp_path / "annotated/pairs.jsonl", PairRecord))
    assert kept.plan["composition"] == "Rotate 6° clockwise to level the horizon"
    assert kept.alignment is not None and kept.plan["aspect_ratio"] == NO_CHANGE
