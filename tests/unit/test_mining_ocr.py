"""OCR backends: RapidOCR reads rendered text; the registry and the guarded PaddleOCR."""

from __future__ import annotations

import importlib.util
import os

import cv2
import numpy as np
import pytest

from aesformer.mining.ocr import TextLine, detect_boxes, get_reader, ort_threads

pytestmark = pytest.mark.unit


def test_rapidocr_reads_a_subtitle_and_is_cached():
    img = np.full((80, 640, 3), 40, np.uint8)
    cv2.putText(img, "level the horizon", (60, 55), cv2.FONT_HERSHEY_DUPLEX, 1.2, (250,) * 3, 2)
    reader = get_reader("rapidocr", 960)
    assert reader is get_reader("rapidocr", 960)
    lines = reader.read(img)
    assert len(lines) == 1 and lines[0].text.replace(" ", "") == "levelthehorizon"
    x0, y0, x1, y1 = lines[0].box
    assert 40 <= x0 < 80 and x1 > 300 and 0 <= y0 < y1 <= 80
    assert reader.read(np.zeros((4, 4, 3), np.uint8)) == []


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown OCR backend"):
        get_reader("tesseract", 960)


@pytest.mark.skipif(importlib.util.find_spec("paddleocr") is not None, reason="paddle installed")
def test_paddleocr_missing_is_a_clear_error():
    with pytest.raises(RuntimeError, match="paddleocr is not installed"):
        get_reader("paddleocr", 961)


def test_rapidocr_detects_without_recognising_and_read_still_recognises():
    """Detection-only calls must not leave the engine without recognition (RapidOCR keeps the
    flags of its previous call)."""
    img = np.full((80, 640, 3), 40, np.uint8)
    cv2.putText(img, "level the horizon", (60, 55), cv2.FONT_HERSHEY_DUPLEX, 1.2, (250,) * 3, 2)
    reader = get_reader("rapidocr", 960)
    boxes = reader.detect(img)
    assert len(boxes) == 1 and boxes[0][0] < 80 and boxes[0][2] > 300
    assert reader.detect(np.full((80, 640, 3), 40, np.uint8)) == []
    assert reader.read(img)[0].text.replace(" ", "") == "levelthehorizon"


def test_detect_boxes_falls_back_to_a_full_read():
    class ReadOnly:
        def read(self, image):
            return [TextLine((1, 2, 3, 4), "ab", 0.9)]

    assert detect_boxes(ReadOnly(), np.zeros((10, 10, 3), np.uint8)) == [(1, 2, 3, 4)]


def test_onnxruntime_uses_the_cores_of_this_process():
    assert 1 <= ort_threads() <= (os.cpu_count() or 1)


def test_box_iou():
    from aesformer.mining.ocr import box_iou

    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == 50 / 150
    assert box_iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0


def test_rapidocr_loads_both_models_when_created():
    from aesformer.mining.ocr import RapidOCRReader, warmup_image

    reader = RapidOCRReader(960)
    # loaded by the warm-up read, not by the first video's first call
    assert reader.engine.text_det is not None and reader.engine.text_rec is not None
    lines = reader.read(warmup_image())
    assert [ln.text.replace(" ", "").lower() for ln in lines] == ["warmup"]
