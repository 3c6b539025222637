"""`aesformer editor` / `aesformer edit`: wiring and one-line errors (the stage itself is
exercised in test_editor_stage.py; a full command run needs a release with its manifest)."""

from __future__ import annotations

import pytest

from tests.unit.test_cli import assert_one_line_error, cli

pytestmark = pytest.mark.unit


def test_editor_commands_refuse_bad_inputs_in_one_line(tmp_path) -> None:
    assert_one_line_error(
        cli("editor", "--release", str(tmp_path / "nope"), "--out", str(tmp_path / "o")),
        "not a release folder",
    )
    plan = tmp_path / "plan.txt"
    plan.write_text("(1) Aspect Ratio: <Ratio>No change needed</Ratio>")
    assert_one_line_error(
        cli(
            "edit",
            str(tmp_path / "missing.png"),
            "--plan",
            str(plan),
            "-o",
            str(tmp_path / "x.png"),
        ),
        "missing.png: no such file",
    )
