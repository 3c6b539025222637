"""The test session repairs log handlers left holding a closed capture stream (conftest)."""

from __future__ import annotations

import io
import logging
import sys

from prefect.logging.handlers import PrefectConsoleHandler

from tests.conftest import _repair_closed_log_streams


def test_a_handler_on_a_closed_stream_is_pointed_at_live_stderr():
    logger = logging.getLogger("aesformer.test.closed-stream")
    logger.propagate = False
    dead = io.StringIO()
    plain, console = logging.StreamHandler(dead), PrefectConsoleHandler(stream=dead)
    logger.handlers = [plain, console]
    try:
        dead.close()
        repaired = _repair_closed_log_streams()
        assert f"{logger.name}: StreamHandler" in repaired
        assert f"{logger.name}: PrefectConsoleHandler" in repaired
        assert plain.stream is sys.stderr and console.stream is sys.stderr
        assert console.console.file is sys.stderr
        live = io.StringIO()
        console.setStream(live)
        console.console.file = live
        logger.warning("after the repair")
        assert "after the repair" in live.getvalue()
        assert _repair_closed_log_streams() == []  # nothing closed is left
    finally:
        logger.handlers = []
