"""mine-eval: exact precision/recall/residue/SSIM on hand-made pairs over a tiny corpus."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from aesformer.config import CorpusConfig
from aesformer.corpus import generate_video
from aesformer.corpus.stage import manifest_entry
from aesformer.mining.evaluate import (
    evaluate,
    matching_event,
    rapidocr_finder,
    residue_boxes,
    write_metrics,
)
from aesformer.mining.narration import join_subtitles
from aesformer.records import PairRecord, RejectRecord, pair_id, write_jsonl

TINY = CorpusConfig(
    resolutions=[(320, 180)],
    fps=[10],
    events_per_video=(2, 2),
    viewfinder_seconds=(1.5, 1.5),
    good_hold_seconds=(1.0, 1.0),
    transition_seconds=(0.3, 0.3),
)


def no_text(image):
    return []


def dark_bottom(image):
    """A stand-in OCR: one 'text box' when the bottom rows are dark (a subtitle band)."""
    h, w = image.shape[:2]
    return [(0, h - 5, w, h)] if image[-5:].mean() < 10 else []


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two videos of two events each, with manifest and truth, as the corpus stage writes."""
    root = tmp_path_factory.mktemp("raw")
    truths = [generate_video(root, f"tut_{i:04d}", seed=i, cfg=TINY) for i in range(2)]
    manifest = [manifest_entry(root, t).model_dump_json() for t in truths]
    (root / "manifest.jsonl").write_text("".join(m + "\n" for m in manifest))
    shas = {t.video_id: manifest_entry(root, t).sha256 for t in truths}
    return root, {t.video_id: t for t in truths}, shas


def make_pair(
    out, corpus, vid, event, *, poor_t=None, good_t=None, image=None, sha=True, narration=None
):
    """A pair of video ``vid`` at the middle of event ``event``'s intervals; the cleaned poor
    image is the truth's clean poor photo (or ``image``), the narration the event's subtitles
    (or ``narration``)."""
    root, truths, shas = corpus
    ev = truths[vid].events[event]
    poor_t = (ev.viewfinder.start_s + ev.viewfinder.end_s) / 2 if poor_t is None else poor_t
    good_t = (ev.good.start_s + ev.good.end_s) / 2 if good_t is None else good_t
    name = f"{vid}_{event}_{poor_t:.3f}_{good_t:.3f}"
    (out / "images").mkdir(parents=True, exist_ok=True)
    if image is None:
        shutil.copy(root / ev.poor_clean_image, out / f"images/{name}_poor.png")
    else:
        cv2.imwrite(str(out / f"images/{name}_poor.png"), image)
    shutil.copy(root / ev.good_clean_image, out / f"images/{name}_good.png")
    digest = shas[vid] if sha else "0" * 64
    said = join_subtitles([line.text for line in ev.narration])
    return PairRecord(
        narration=said if narration is None else narration,
        pair_id=pair_id(digest, good_t),
        video_id=vid,
        video_sha256=digest,
        event_index=event,
        poor_time_s=poor_t,
        good_time_s=good_t,
        poor_image=f"images/{name}_poor.png",
        good_image=f"images/{name}_good.png",
    )


def test_matching_event_half_open_intervals(corpus):
    _, truths, _ = corpus
    t = truths["tut_0000"]
    e1 = t.events[1]
    assert matching_event(t, e1.viewfinder.start_s, e1.good.start_s) == 1
    assert matching_event(t, e1.viewfinder.end_s, e1.good.start_s) is None  # end exclusive
    assert matching_event(t, e1.viewfinder.start_s, e1.good.end_s) is None
    # poor of event 0 with good of event 1: wrong
    assert matching_event(t, t.events[0].viewfinder.start_s, e1.good.start_s) is None


def test_all_events_right(tmp_path, corpus):
    pairs = [make_pair(tmp_path, corpus, v, e) for v in ("tut_0000", "tut_0001") for e in (0, 1)]
    write_jsonl(tmp_path / "pairs.jsonl", pairs)
    m = evaluate(tmp_path, corpus[0], ocr=no_text)
    assert (m["pairs"], m["right_pairs"], m["events"], m["events_found"]) == (4, 4, 4, 4)
    assert m["precision"] == 1.0 and m["recall"] == 1.0
    assert m["ssim_mean"] == pytest.approx(1.0)
    assert m["passes_targets"] == {
        "precision": True,
        "recall": True,
        "overlay_residue": True,
        "ssim_mean": True,
        "narration_cer_mean": True,
        "all": True,
    }
    assert m["narration_cer_mean"] == 0.0 and m["narration_exact"] == 1.0


def test_narration_character_error_rate(tmp_path, corpus):
    from aesformer.mining.evaluate import narration_cer

    _, truths, _ = corpus
    said = join_subtitles([line.text for line in truths["tut_0000"].events[0].narration])
    slip = said.replace("e", "c", 1)  # one OCR slip
    pairs = [
        make_pair(tmp_path, corpus, "tut_0000", 0, narration=slip.upper() + "  "),
        make_pair(tmp_path, corpus, "tut_0000", 1, narration=""),  # nothing read
        make_pair(tmp_path, corpus, "tut_0001", 0),  # read right
    ]
    write_jsonl(tmp_path / "pairs.jsonl", pairs)
    m = evaluate(tmp_path, corpus[0], ocr=no_text)
    # case and white space do not count; a missed narration is one error per true character
    assert m["narration_cer_max"] == 1.0
    assert m["narration_cer_mean"] == pytest.approx((1 / len(said) + 1.0 + 0.0) / 3)
    assert m["narration_exact"] == pytest.approx(1 / 3)
    assert m["passes_targets"]["narration_cer_mean"] is False
    assert narration_cer("", "") == 0.0 and narration_cer("extra", "") == 1.0
    assert narration_cer("a  b", "A B") == 0.0


def test_wrong_pairs_missing_events_and_duplicates(tmp_path, corpus):
    _, truths, _ = corpus
    t0 = truths["tut_0000"]
    pairs = [
        make_pair(tmp_path, corpus, "tut_0000", 0),  # right
        make_pair(tmp_path, corpus, "tut_0000", 0, poor_t=t0.events[0].viewfinder.start_s),  # dup
        # poor from event 0's viewfinder, good from event 1's display: wrong
        make_pair(tmp_path, corpus, "tut_0000", 1, poor_t=t0.events[0].viewfinder.start_s),
        # good time in no good interval (during a viewfinder run): wrong
        make_pair(tmp_path, corpus, "tut_0000", 1, good_t=t0.events[1].viewfinder.start_s),
        make_pair(tmp_path, corpus, "tut_0001", 1, sha=False),  # mapped by video_id: right
    ]
    write_jsonl(tmp_path / "pairs.jsonl", pairs)
    m = evaluate(tmp_path, corpus[0], ocr=no_text)
    assert m["pairs"] == 5 and m["right_pairs"] == 3
    assert m["precision"] == pytest.approx(3 / 5)
    # events found: tut_0000 event 0, tut_0001 event 1 -> 2 of 4
    assert m["events"] == 4 and m["events_found"] == 2 and m["recall"] == 0.5
    v0 = m["per_video"]["tut_0000"]
    assert (v0["pairs"], v0["right_pairs"], v0["events_found"], v0["recall"]) == (4, 2, 1, 0.5)
    assert m["passes_targets"]["precision"] is False and m["passes_targets"]["all"] is False


def test_mined_videos_include_rejected_ones_and_unknown_videos_count_wrong(tmp_path, corpus):
    pair = make_pair(tmp_path, corpus, "tut_0000", 0)
    stranger = pair.model_copy(update={"video_id": "tut_9999", "video_sha256": "f" * 64})
    write_jsonl(tmp_path / "pairs.jsonl", [pair, stranger])
    m = evaluate(tmp_path, corpus[0], ocr=no_text)
    assert m["videos"] == 1 and m["events"] == 2 and m["recall"] == 0.5
    assert m["precision"] == 0.5 and m["unknown_video_pairs"] == 1
    write_jsonl(
        tmp_path / "rejects.jsonl", [RejectRecord(stage="mine", reason="x", video_id="tut_0001")]
    )
    m = evaluate(tmp_path, corpus[0], ocr=no_text)
    assert m["videos"] == 2 and m["events"] == 4 and m["recall"] == 0.25


def test_residue_and_ssim_of_a_dirty_poor_image(tmp_path, corpus):
    root, truths, _ = corpus
    clean = cv2.imread(str(root / truths["tut_0000"].events[0].poor_clean_image))
    dirty = clean.copy()
    h, w = dirty.shape[:2]
    cv2.rectangle(dirty, (0, h - 40), (w, h), (0, 0, 0), -1)  # a subtitle band left behind
    small = cv2.resize(clean, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    write_jsonl(
        tmp_path / "pairs.jsonl",
        [
            make_pair(tmp_path, corpus, "tut_0000", 0, image=dirty),
            make_pair(tmp_path, corpus, "tut_0000", 1, image=small),  # other size: truth resized
        ],
    )
    m = evaluate(tmp_path, root, ocr=dark_bottom)
    assert m["overlay_residue"] == 1 and m["passes_targets"]["overlay_residue"] is False
    per = m["per_video"]["tut_0000"]
    assert per["overlay_residue"] == 1
    assert 0.3 < m["ssim_min"] < 0.95 and m["ssim_mean"] > m["ssim_min"]


def test_rapidocr_finds_text_and_write_metrics(tmp_path):
    find = rapidocr_finder()
    img = np.full((180, 320, 3), 230, np.uint8)
    assert find(img) == []
    cv2.putText(img, "step back two meters", (10, 100), cv2.FONT_HERSHEY_DUPLEX, 0.8, (0, 0, 0), 2)
    boxes = find(img)
    assert len(boxes) >= 1
    x0, y0, x1, y1 = boxes[0]
    assert 0 <= x0 < 40 and 70 < y0 < 100 < y1 < 120 and x1 > 200
    metrics = {"precision": 0.5, "passes_targets": {"all": False}, "per_video": {"a": {"x": 1}}}
    write_metrics(metrics, tmp_path / "metrics.json")
    assert json.loads((tmp_path / "metrics.json").read_text()) == {
        "precision": 0.5,
        "passes_targets": {"all": 0},
        "per_video": {"a": {"x": 1}},
    }


def test_scene_text_on_the_true_photo_is_not_residue():
    truth = np.full((100, 200, 3), 200, np.uint8)
    truth[80:, :] = 0  # the scene itself is dark at the bottom: OCR 'reads' it there too
    cleaned = truth.copy()
    assert residue_boxes(cleaned, dark_bottom, truth) == []
    assert residue_boxes(cleaned, dark_bottom) == [(0, 95, 200, 100)]  # no truth: counted
    lit = truth.copy()
    lit[80:, :] = 200
    assert residue_boxes(cleaned, dark_bottom, lit) == [(0, 95, 200, 100)]  # left-over band


def test_a_box_over_most_of_the_photo_is_not_a_text_line():
    """The detector sometimes joins faint left-overs into one region over the whole photo; a
    line of overlay text is never a quarter of the photo tall."""
    cleaned = np.full((100, 200, 3), 128, np.uint8)
    boxes = [(0, 0, 199, 99), (0, 10, 200, 36), (20, 40, 180, 64)]
    assert residue_boxes(cleaned, lambda _img: boxes) == [(20, 40, 180, 64)]


def test_the_residue_engine_leaves_rapidocr_logging_at_errors_only():
    import logging

    from aesformer.mining.evaluate import rapidocr_finder

    rapidocr_finder()
    # the logger is shared by every engine of the process (the miner's too)
    assert logging.getLogger("RapidOCR").getEffectiveLevel() >= logging.ERROR
