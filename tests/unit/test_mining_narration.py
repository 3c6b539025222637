"""Narration: subtitle change points, one stacked OCR call, dedup; the ASR plumbing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aesformer.mining.narration import (
    SubtitleMemory,
    WhisperNarrator,
    change_points,
    join_texts,
    pattern_distance,
    read_bands,
    read_lines,
    text_signature,
)
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


def test_change_points_compare_with_the_last_kept_band():
    """A subtitle that blinks off and on again is one change, not two."""
    bands = [band("step back"), band(None), band("step back"), band("raise the arm")]
    assert change_points(bands) == [0, 3]


def test_narration_bands_come_from_the_kept_gray_frames(tmp_path):
    from aesformer.mining.decode import DecodedVideo, VideoInfo
    from aesformer.mining.ui import Box
    from aesformer.mining.video import narration_bands

    fine = np.zeros((180, 320), np.uint8)
    fine[150:170, 40:200] = 240  # the subtitle band at half resolution
    info = VideoInfo(640, 360, 25.0, 10, 10, 0)
    video = DecodedVideo(
        info, np.zeros(10, np.float32), np.zeros(10, np.float32), np.zeros((10, 2, 2), np.uint8)
    )
    video.fine = {4: fine}
    # the file does not exist: reading it back would fail, so the band must come from `fine`
    out = narration_bands(tmp_path / "missing.mp4", video, Box(0, 280, 640, 360), [4])
    assert len(out) == 1 and out[0].shape == (40, 320, 3)
    assert out[0][10:30, 40:200].min() == 240


def test_subtitle_memory_reuses_only_the_same_pattern():
    memory = SubtitleMemory()
    memory.add(text_signature(band(None)), "nothing")  # no strokes: not remembered
    assert memory.entries == []
    memory.add(text_signature(band("step back")), "step back")
    memory.add(text_signature(band("raise the arm")), "raise the arm")
    assert memory.lookup(text_signature(band("step back"))) == "step back"
    assert memory.lookup(text_signature(band("raise the arm"))) == "raise the arm"
    assert memory.lookup(text_signature(band("tilt down a little"))) is None
    a, b = text_signature(band("step back")), text_signature(band("raise the arm"))
    assert pattern_distance(a, a) == 0.0 and pattern_distance(a, b) > memory.max_diff


class CountingReader:
    def __init__(self):
        self.calls = 0
        self.inner = get_reader("rapidocr", 960)

    def read(self, image):
        self.calls += 1
        return self.inner.read(image)


def test_read_bands_gives_one_text_per_band_in_one_call():
    reader = CountingReader()
    texts = read_bands(reader, [band("step back"), band(None), band("raise the arm")], 0.8)
    assert reader.calls == 1
    assert [t.replace(" ", "") for t in texts] == ["stepback", "", "raisethearm"]
    assert read_bands(reader, [], 0.8) == [] and reader.calls == 1
    assert join_texts(["a b", "", "A-b", "c", "a b"]) == ["a b", "c", "a b"]


def test_rereads_of_one_subtitle_are_joined_and_distinct_instructions_kept():
    reads = [
        "step three meters closer, he is too small in the frame",
        "tep threemeters closer, lhe is too smallin the frame",  # read again, other slips
        "ters closer, he is too small in theframe",  # a fragment, read as it faded
        "raise the exposure by about one stop",
        "lower the exposure by about one stop",  # 87 % alike: another instruction
        "rotate the phone about four degrees",
        "rotate the phone about five degrees",  # other quantity: another instruction
        "rotate the phone about five degres",  # the same one, misread
    ]
    assert join_texts(reads) == [
        "step three meters closer, he is too small in the frame",
        "raise the exposure by about one stop",
        "lower the exposure by about one stop",
        "rotate the phone about four degrees",
        "rotate the phone about five degrees",
    ]
    # the longer read of one subtitle is kept; non-consecutive repeats stay (a tutorial may
    # say a thing twice)
    assert join_texts(["step back", "step back one meter", "x y z w", "step back one meter"]) == [
        "step back one meter",
        "x y z w",
        "step back one meter",
    ]


def line(box, text):
    from aesformer.mining.ocr import TextLine

    return TextLine(box, text, 0.99)


def test_the_subtitle_is_the_longest_line_and_the_lines_stacked_with_it():
    from aesformer.mining.narration import subtitle_lines, subtitle_rows

    wrapped = line((113, 454, 1163, 498), "move him to the left third of the frame and tilt up")
    second = line((472, 501, 805, 542), "him more headroom")
    zoom = [line((489, 674, 505, 688), ".5"), line((547, 674, 566, 689), "1x")]
    side = line((1150, 228, 1240, 250), "PORTRAIT")  # mode list beside the preview
    assert subtitle_lines([zoom[0], second, side, wrapped, zoom[1]]) == [wrapped, second]
    assert subtitle_lines(zoom) == []  # UI labels only: no subtitle
    # lower half of a 720-row frame: room for a line above, half a line below
    y0, y1 = subtitle_rows([wrapped, second, *zoom], 720)
    assert (y0, y1) == (round(454 - 1.8 * 44), round(542 + 0.5 * 44))
    # a subtitle at the top grows downwards; the UI bar above it stays out
    top = line((196, 82, 914, 116), "step three meters closer, he is too small in the frame")
    assert subtitle_rows([top, *zoom], 720) == (round(82 - 0.5 * 34), round(116 + 1.8 * 34))
    assert subtitle_rows(zoom, 720) is None


def test_each_subtitle_is_a_sentence_of_the_narration():
    from aesformer.annotate.measure import pose_from_narration
    from aesformer.mining.narration import join_subtitles

    said = join_subtitles(["ask her to put both hands on her hips", "switch to portrait mode", ""])
    assert said == "ask her to put both hands on her hips. switch to portrait mode."
    assert join_subtitles(["Step back!", " level the horizon, rotate the phone "]) == (
        "Step back! level the horizon, rotate the phone."
    )
    assert join_subtitles([]) == ""
    # the pose clause ends with its subtitle (joined by a space it ran on into the next one)
    assert pose_from_narration(said) == "Put both hands on the hips"
