"""Teacher ``openai``: a vision-language model behind an OpenAI-compatible chat-completions API.

Works with any server that speaks ``POST {base_url}/chat/completions`` with image parts as
``data:`` URLs: ``vllm serve Qwen/Qwen2.5-VL-72B-Instruct`` at full scale, or a hosted model.
One request per attempt: the planner instruction as the system message; the user message
holds the poor photo, the good photo (JPEG, long side capped at ``max_image_side``), the
tutorial's narration, optionally the measured changes as hints, and on a regeneration the
validator's complaints about the previous answer.

The API key is read at call time from the environment variable named by
``annotate.openai.api_key_env`` and sent only as the ``Authorization`` header: it is never
stored, logged, or written to params or MLflow. Connection errors, timeouts, HTTP 429 and 5xx
are retried ``http_retries`` times with exponential backoff; other HTTP errors and unusable
responses raise :class:`~aesformer.annotate.teacher.TeacherError` at once.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import cv2
import httpx
import numpy as np

from aesformer.annotate.rules import hints
from aesformer.annotate.teacher import PlanRequest, TeacherError
from aesformer.config import OpenAITeacherConfig
from aesformer.plans import PLANNER_INSTRUCTION

log = logging.getLogger("aesformer.annotate")
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
JPEG_QUALITY = 90


def data_url(image: np.ndarray, max_side: int) -> str:
    """A BGR image as a ``data:image/jpeg;base64,...`` URL, long side capped at ``max_side``."""
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale < 1:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise TeacherError("JPEG encoding of an image failed")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def build_messages(request: PlanRequest, cfg: OpenAITeacherConfig) -> list[dict[str, Any]]:
    """The chat messages of one attempt (system: planner instruction; user: images + text)."""
    text = [
        "Image 1 is the ordinary photo to improve. Image 2 is the improved photo a photographer "
        "took of the same person in the same place. Write the plan that turns image 1 into "
        "image 2.",
        f"The tutorial's narration: {request.narration.strip() or '(none)'}",
    ]
    if cfg.include_measurements:
        text.append("Measured changes from image 1 to image 2:\n" + hints(request.expected))
    if request.feedback:
        text.append(
            "Your previous answer was rejected for these reasons; write a corrected plan:\n"
            + request.feedback
        )
    return [
        {"role": "system", "content": PLANNER_INSTRUCTION},
        {
            "role": "user",
            "content": [
                {
                    "type": "image_url",
                    "image_url": {"url": data_url(request.poor, cfg.max_image_side)},
                },
                {
                    "type": "image_url",
                    "image_url": {"url": data_url(request.good, cfg.max_image_side)},
                },
                {"type": "text", "text": "\n\n".join(text)},
            ],
        },
    ]


def _content(body: Any) -> tuple[str, str | None]:
    """The first choice's text and the served model id of a chat-completions response."""
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise TeacherError("response has no choices[0].message.content") from None
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        raise TeacherError("response content is not text")
    model = body.get("model") if isinstance(body, dict) else None
    return content, model if isinstance(model, str) else None


class OpenAITeacher:
    """Teacher ``openai`` (see the module docstring)."""

    name = "openai"

    def __init__(
        self,
        cfg: OpenAITeacherConfig,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfg = cfg
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.Client | None = None
        self.served_model: str | None = None
        self.requests = 0  # HTTP requests sent, retries included

    @property
    def version(self) -> str:
        """The model id the server reported (else the configured one)."""
        return self.served_model or self.cfg.model

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.cfg.api_key_env, "") if self.cfg.api_key_env else ""
        return {"Authorization": f"Bearer {key}"} if key else {}

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.cfg.base_url.rstrip("/") + "/",
                timeout=self.cfg.timeout_s,
                transport=self._transport,
            )
        return self._client

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def write_plan(self, request: PlanRequest) -> str:
        payload = {
            "model": self.cfg.model,
            "messages": build_messages(request, self.cfg),
            "temperature": self.cfg.temperature,
            "max_tokens": self.cfg.max_tokens,
        }
        body = self._post(payload)
        content, model = _content(body)
        self.served_model = model or self.served_model
        return content

    def _post(self, payload: dict[str, Any]) -> Any:
        """POST ``chat/completions`` with retries; the parsed JSON body."""
        last = ""
        for attempt in range(self.cfg.http_retries + 1):
            if attempt:
                delay = self.cfg.backoff_s * 2 ** (attempt - 1)
                log.warning("annotate: %s; retry %d in %.1fs", last, attempt, delay)
                self._sleep(delay)
            self.requests += 1
            try:
                resp = self.client.post("chat/completions", json=payload, headers=self._headers())
            except httpx.TransportError as exc:  # connection refused/reset, timeouts
                last = f"{type(exc).__name__} from {self.cfg.base_url}"
                continue
            if resp.status_code in RETRY_STATUS:
                last = f"HTTP {resp.status_code} from {self.cfg.base_url}"
                continue
            if resp.status_code >= 400:
                raise TeacherError(
                    f"HTTP {resp.status_code} from {self.cfg.base_url}: {resp.text[:200]}"
                )
            try:
                return resp.json()
            except ValueError:
                raise TeacherError(f"non-JSON response from {self.cfg.base_url}") from None
        raise TeacherError(f"{last} (after {self.cfg.http_retries} retries)")
