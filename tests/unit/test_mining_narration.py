"""Narration: subtitle change points, one stacked OCR call, dedup; the ASR plumbing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aesformer.mining.narration import WhisperNarrator, change_points, read_lines
from aesformer.mining.ocr import get_reader

pytestmark = pytest.mark.unit


def band(text: str | None, w: int = 640) -> np.ndarray:
    img = np.full((60, w, 3), 30, np.uint8)
    if text:
        cv2.putText(img, text, (30, 42), cv2.FONT_HERSHEY_DUPLEX, 1.0, (245,) * 3, 2)
    return img


def test_change_points_and_stacked_reading():
    bands = [band(None), band("step back"), band("step back"), band("raise the arm"), band(None)]
    assert change_points(bands) == [1, 3]
    texts = read_lines(get_reader("rapidocr", 960), [bands[1], bands[2], bands[3]], 0.8)
    assert [t.replace(" ", "") for t in texts] == ["stepback", "raisethearm"]


def test_whisper_narrator_selects_chunks_in_interval():
    calls = {}

    def factory(task, model):
        calls["task"], calls["model"] = task, model

        def pipe(path, **kw):
            calls["kw"] = kw
            return {
                "chunks": [
                    {"text": " intro", "timestamp": (0.0, 2.0)},
                    {"text": " step back", "timestamp": (2.5, 4.0)},
                    {"text": " outro", "timestamp": (9.0, None)},
                ]
            }

        return pipe

    n = WhisperNarrator("openai/whisper-tiny", pipeline_factory=factory)
    assert n.transcribe(Path("v.mp4"), 2.2, 5.0) == "step back"
    assert calls["task"] == "automatic-speech-recognition" and calls["kw"]["return_timestamps"]
