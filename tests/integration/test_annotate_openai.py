"""Teacher ``openai`` against a real chat-completions server on 127.0.0.1 (scripted answers).

The server is the stand-in for vLLM / a hosted model: stdlib ``http.server`` in a thread,
speaking ``POST /v1/chat/completions``; it records every request and answers from a script.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from aesformer.annotate import run
from aesformer.annotate.geometric import GeometricTeacher
from aesformer.annotate.measure import measure_pair
from aesformer.annotate.openai_teacher import OpenAITeacher
from aesformer.annotate.rules import expectations
from aesformer.annotate.subject import FaceOrSaliencyLocator
from aesformer.annotate.teacher import PlanRequest
from aesformer.config import AnnotateConfig, OpenAITeacherConfig
from aesformer.records import PairRecord, RejectRecord, read_jsonl, write_jsonl
from tests.annotate_pairs import Shot, normalised_homography, record, source

pytestmark = pytest.mark.integration
SECRET = "sk-test-not-a-real-key-1234567890"


class ChatServer:
    """Answers ``POST /v1/chat/completions`` from ``script`` (status, content) in order."""

    def __init__(self) -> None:
        self.script: list[tuple[int, str]] = []
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, **body})
                server.headers.append(dict(self.headers))
                status, content = server.script.pop(0)
                payload = (
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "model": body["model"] + "-served",
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": content}}
                        ],
                    }
                    if status == 200
                    else {"error": {"message": content}}
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    with ChatServer() as s:
        yield s


@pytest.fixture(scope="module")
def photo():
    return source()


def cfg_for(server: ChatServer, **over) -> AnnotateConfig:
    openai = OpenAITeacherConfig(
        base_url=server.url,
        model="Qwen/Qwen2.5-VL-7B-Instruct",
        api_key_env="AESFORMER_TEST_KEY",
        timeout_s=10,
        backoff_s=0.01,
        max_image_side=160,
    )
    return AnnotateConfig(teacher="openai", openai=openai, **over)


def good_plan(photo, poor: Shot, good: Shot, cfg: AnnotateConfig) -> str:
    """What a correct teacher would answer (the geometric plan of the same pair)."""
    m = measure_pair(
        poor.render(photo), good.render(photo), normalised_homography(poor, good), "",
        cfg, FaceOrSaliencyLocator(),
    )  # fmt: skip
    pair = record(0, "p", "g", None)
    return GeometricTeacher().write_plan(PlanRequest(pair, None, None, "", m, expectations(m, cfg)))  # type: ignore[arg-type]


def pairs_folder(tmp_path, photo, shots):
    root = tmp_path / "aligned"
    (root / "images").mkdir(parents=True)
    records = []
    for i, (poor, good) in enumerate(shots):
        cv2.imwrite(str(root / f"images/{i}_poor.png"), poor.render(photo))
        cv2.imwrite(str(root / f"images/{i}_good.png"), good.render(photo))
        records.append(
            record(
                i,
                f"images/{i}_poor.png",
                f"images/{i}_good.png",
                normalised_homography(poor, good),
                "ask her to raise her right arm" if i else "",
            )  # fmt: skip
        )
    write_jsonl(root / "pairs.jsonl", records)
    return root


def test_stage_with_scripted_good_malformed_good(server, tmp_path, photo, monkeypatch):
    monkeypatch.setenv("AESFORMER_TEST_KEY", SECRET)
    shots = [(Shot(rotation_deg=-5), Shot()), (Shot(), Shot(at=(0.68, 0.45)))]
    cfg = cfg_for(server)
    plans = [good_plan(photo, p, g, cfg) for p, g in shots]
    plans[1] = plans[1].replace("<Pose>No change needed</Pose>", "<Pose>Raise the right arm</Pose>")
    server.script = [(200, plans[0]), (200, "Sure! Here is a better photo plan."), (200, plans[1])]

    summary = run(cfg, pairs_folder(tmp_path, photo, shots), tmp_path / "out")

    assert summary["pairs_out"] == 2 and summary["attempts"] == 3 and summary["regenerated"] == 1
    assert summary["teacher"] == "openai"
    assert summary["teacher_version"] == "Qwen/Qwen2.5-VL-7B-Instruct-served"
    kept = list(read_jsonl(tmp_path / "out/pairs.jsonl", PairRecord))
    assert kept[0].plan["composition"] == "Rotate 5° clockwise to level the horizon"
    assert kept[1].plan["pose"] == "Raise the right arm" and kept[1].teacher == "openai"

    assert [r["path"] for r in server.requests] == ["/v1/chat/completions"] * 3
    first = server.requests[0]
    assert first["model"] == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert first["messages"][0]["role"] == "system"
    assert "(7) Color and Lighting Adjustment:" in first["messages"][0]["content"]
    parts = first["messages"][1]["content"]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(urls) == 2 and all(u.startswith("data:image/jpeg;base64,") for u in urls)
    img = cv2.imdecode(np.frombuffer(base64.b64decode(urls[0].split(",", 1)[1]), np.uint8), 1)
    assert max(img.shape[:2]) == 160  # long side capped by max_image_side
    assert "rotation: clockwise" in parts[-1]["text"]  # measured hints
    retry_text = server.requests[2]["messages"][1]["content"][-1]["text"]
    assert "previous answer was rejected" in retry_text and "stray_text" in retry_text
    assert all(h["Authorization"] == f"Bearer {SECRET}" for h in server.headers)

    for name in ("pairs.jsonl", "rejects.jsonl", "report.json"):
        assert SECRET not in (tmp_path / "out" / name).read_text()
    report = json.loads((tmp_path / "out/report.json").read_text())
    assert report["params"]["openai"]["api_key_env"] == "AESFORMER_TEST_KEY"


def test_server_errors_are_retried_then_rejected(server, tmp_path, photo, monkeypatch):
    monkeypatch.delenv("AESFORMER_TEST_KEY", raising=False)
    shots = [(Shot(rotation_deg=-5), Shot()), (Shot(rotation_deg=-5), Shot())]
    cfg = cfg_for(server)
    plan = good_plan(photo, *shots[0], cfg)
    # pair 0: two 503s then the plan; pair 1: a 400 (not retried) -> teacher_error
    server.script = [(503, "busy"), (503, "busy"), (200, plan), (400, "bad request")]

    summary = run(cfg, pairs_folder(tmp_path, photo, shots), tmp_path / "out")

    assert summary["pairs_out"] == 1 and summary["rejected_teacher_error"] == 1
    assert len(server.requests) == 4
    assert all("Authorization" not in h for h in server.headers)  # no key in the env: none sent
    reject = list(read_jsonl(tmp_path / "out/rejects.jsonl", RejectRecord))[-1]
    assert reject.reason == "teacher_error" and "HTTP 400" in reject.detail


def test_unreachable_endpoint_gives_up_after_retries(photo):
    cfg = OpenAITeacherConfig(base_url="http://127.0.0.1:9/v1", http_retries=2, backoff_s=0.5)
    delays = []
    teacher = OpenAITeacher(cfg, sleep=delays.append)
    m = measure_pair(
        Shot().render(photo), Shot().render(photo), normalised_homography(Shot(), Shot()), "",
        AnnotateConfig(), FaceOrSaliencyLocator(),
    )  # fmt: skip
    request = PlanRequest(
        record(0, "p", "g", None), Shot().render(photo), Shot().render(photo), "", m,
        expectations(m, AnnotateConfig()),
    )  # fmt: skip
    from aesformer.annotate import TeacherError

    with pytest.raises(TeacherError, match="after 2 retries"):
        teacher.write_plan(request)
    assert delays == [0.5, 1.0] and teacher.requests == 3
    teacher.close()
