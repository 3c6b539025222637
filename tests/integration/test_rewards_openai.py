"""Logit judge over an OpenAI-compatible server with logprobs (stdlib HTTP server on 127.0.0.1).

The server stands in for ``vllm serve Qwen/Qwen2.5-VL-32B-Instruct``: it speaks
``POST /v1/chat/completions``, records every request and answers from a script of
(status, body) — a real logprobs response, a server error, or garbage.
"""

from __future__ import annotations

import base64
import io
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from aesformer.config import JudgeEndpointConfig
from aesformer.rewards import (
    JudgeError,
    LogitJudge,
    OpenAICompatibleTransport,
    RewardStats,
    creativity_reward,
)
from aesformer.rewards.rubrics import CreativityRequest

pytestmark = pytest.mark.integration
SECRET = "sk-judge-test-0123456789"
PHOTO = Image.fromarray((np.random.default_rng(1).random((300, 900, 3)) * 255).astype(np.uint8))


def logprobs_body(model: str, probs: dict[str, float], sampled: str | None = None) -> dict:
    top = [
        {"token": t, "logprob": math.log(p), "bytes": list(t.encode())} for t, p in probs.items()
    ]
    sampled = sampled or max(probs, key=probs.get)
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": sampled},
                "logprobs": {
                    "content": [
                        {"token": sampled, "logprob": math.log(probs[sampled]), "top_logprobs": top}
                    ]
                },
                "finish_reason": "length",
            }
        ],
    }


class JudgeServer:
    """Answers ``POST /v1/chat/completions`` from ``script``: (status, dict body or raw bytes)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, object]] = []
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append({"path": self.path, **body})
                    server.headers.append(dict(self.headers))
                    status, answer = server.script.pop(0)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
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

    def __enter__(self) -> JudgeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    with JudgeServer() as s:
        yield s


def judge_for(server: JudgeServer, **over) -> LogitJudge:
    cfg = JudgeEndpointConfig(
        base_url=server.url, api_key_env="AESFORMER_JUDGE_KEY", timeout_s=10, backoff_s=0.01, **over
    )
    return LogitJudge(OpenAICompatibleTransport(cfg), max_image_side=512)


def test_request_shape_and_score(server, monkeypatch):
    monkeypatch.setenv("AESFORMER_JUDGE_KEY", SECRET)
    model = "Qwen/Qwen2.5-VL-32B-Instruct"
    # "4": 0.6, "5": 0.2, "3": 0.1 and a non-digit; "0", "1", "2" absent from the top list
    server.script = [(200, logprobs_body(model, {"4": 0.6, "5": 0.2, "3": 0.1, "The": 0.05}))]
    prompt = CreativityRequest("(1) Aspect Ratio: <Ratio>Use 3:4</Ratio>").prompt()

    score = judge_for(server).score([PHOTO], prompt)

    assert score == pytest.approx((4 * 0.6 + 5 * 0.2 + 3 * 0.1) / 0.9 / 5)
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions" and request["model"] == model
    assert request["max_tokens"] == 1 and request["temperature"] == 0.0
    assert request["logprobs"] is True and request["top_logprobs"] == 20
    parts = request["messages"][0]["content"]
    assert parts[-1] == {"type": "text", "text": prompt}
    url = parts[0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (512, 171)  # long side capped at max_image_side, aspect kept
    assert server.headers[0]["Authorization"] == f"Bearer {SECRET}"


def test_server_errors_are_retried_then_succeed(server, monkeypatch):
    monkeypatch.delenv("AESFORMER_JUDGE_KEY", raising=False)
    server.script = [(503, {"error": "busy"}), (200, logprobs_body("m", {"5": 0.9, "4": 0.1}))]
    assert judge_for(server).score([], "prompt") == pytest.approx((5 * 0.9 + 4 * 0.1) / 5)
    assert len(server.requests) == 2
    assert all("Authorization" not in h for h in server.headers)  # no key in the env: none sent


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ([(500, {"error": "boom"})] * 2, "HTTP 500"),
        ([(400, {"error": "bad request"})], "HTTP 400"),
        ([(200, b"<html>garbage</html>")], "non-JSON"),
        ([(200, {"choices": [{"message": {"content": "4"}}]})], "logprobs"),
        ([(200, logprobs_body("m", {"Sure": 0.7, "I": 0.2}))], "none of the digits"),
    ],
)
def test_unusable_answers_are_judge_errors(server, script, message):
    server.script = list(script)
    with pytest.raises(JudgeError, match=message):
        judge_for(server, http_retries=1).score([], "prompt")


def test_a_failed_judgement_scores_zero_and_is_counted(server):
    good = logprobs_body("m", {"5": 1.0})
    # four completions of one group, in flight at once: the second request gets a 500
    server.script = [(200, good), (500, {"error": "boom"}), (200, good), (200, b"garbage")]
    stats = RewardStats()
    fn = creativity_reward(judge_for(server, http_retries=0, max_concurrency=1), stats=stats)
    plans = ["plan a", "plan b", "plan c", "plan d"]
    values = fn(
        prompts=["photo"] * 4, completions=plans, image=[PHOTO] * 4, completion_ids=[[1]] * 4
    )
    assert values == [1.0, 0.0, 1.0, 0.0]
    assert stats.failures["creativity"] == 2
    assert stats.failure_kinds["creativity/judge_error"] == 2
    assert stats.summary()["reward/creativity/failures"] == 2.0


def test_batches_run_concurrently_and_keep_their_order(server):
    server.script = [(200, logprobs_body("m", {"5": 1.0}))] * 6
    judge = judge_for(server, max_concurrency=3)
    scores = judge.score_batch([([PHOTO], f"prompt {i}") for i in range(6)])
    assert scores == [1.0] * 6
    assert sorted(r["messages"][0]["content"][-1]["text"] for r in server.requests) == [
        f"prompt {i}" for i in range(6)
    ]
