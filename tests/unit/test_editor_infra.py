"""infra/accelerate/editor-ddp.yaml: the editor's multi-GPU launch config is one accelerate reads."""

from __future__ import annotations

import pytest
import yaml
from accelerate.commands.config.config_args import load_config_from_file

from tests.conftest import REPO

pytestmark = pytest.mark.unit
CONFIG = REPO / "infra/accelerate/editor-ddp.yaml"


def test_editor_launch_config_is_bf16_ddp_over_eight_gpus() -> None:
    raw = yaml.safe_load(CONFIG.read_text())
    assert raw["distributed_type"] == "MULTI_GPU" and raw["num_processes"] == 8
    assert raw["mixed_precision"] == "bf16" and raw["use_cpu"] is False
    parsed = load_config_from_file(str(CONFIG))
    assert str(parsed.distributed_type).endswith("MULTI_GPU")
    assert parsed.num_processes == 8
