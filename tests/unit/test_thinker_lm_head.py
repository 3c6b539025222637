"""The compact fused LM head: on CPU only labelled positions are projected, same numbers."""

from __future__ import annotations

import pytest
import torch
from transformers import Qwen3Config, Qwen3ForCausalLM
from trl.trainer import utils as trl_utils
from trl.trainer.utils import add_fused_lm_head

from aesformer.thinker.lm_head import compact_lm_head

pytestmark = pytest.mark.unit


def tiny_causal_lm(vocab_size: int, layers: int = 1, **config) -> Qwen3ForCausalLM:
    """A random Qwen3 text model small enough for unit tests (seeded)."""
    torch.manual_seed(0)
    sizes = dict(hidden_size=32, intermediate_size=64, num_attention_heads=2, head_dim=16)
    return Qwen3ForCausalLM(
        Qwen3Config(
            vocab_size=vocab_size, num_hidden_layers=layers, num_key_value_heads=1,
            **(sizes | config),
        )
    )  # fmt: skip


@pytest.fixture()
def model():
    m = tiny_causal_lm(97)
    add_fused_lm_head(m, outputs=("log_probs", "entropy"))
    return m


@pytest.fixture()
def batch():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 97, (3, 24), generator=g)
    labels = ids.clone()
    labels[:, :16] = -100  # a long prompt, as a planner's: only the last 8 tokens are scored
    labels[2, 20:] = -100  # and a shorter completion
    return ids, labels


def projected_rows(model, ids, labels, monkeypatch):
    """Forward + backward through the fused head; returns (rows projected, outputs, grads)."""
    seen: list[int] = []
    apply = trl_utils._ChunkedLogProbFunction.apply

    def spy(hidden, *args):
        seen.append(hidden.shape[0])
        return apply(hidden, *args)

    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply", spy)
    model.zero_grad()
    out = model(input_ids=ids, labels=labels, fused_lm_head=True)
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    monkeypatch.undo()
    return seen, out, grads


def test_compact_projects_only_the_labelled_positions(model, batch, monkeypatch):
    ids, labels = batch
    valid = int((labels[:, 1:] != -100).sum())
    full_rows, _, _ = projected_rows(model, ids, labels, monkeypatch)
    assert full_rows == [3 * 23]  # TRL on CPU: every shifted position
    with compact_lm_head() as active:
        assert active
        compact_rows, _, _ = projected_rows(model, ids, labels, monkeypatch)
    assert compact_rows == [valid] and valid < 3 * 23


def test_compact_gives_the_same_log_probs_loss_and_gradients(model, batch, monkeypatch):
    ids, labels = batch
    _, full, full_grads = projected_rows(model, ids, labels, monkeypatch)
    with compact_lm_head():
        _, compact, compact_grads = projected_rows(model, ids, labels, monkeypatch)
    torch.testing.assert_close(compact.loss, full.loss)
    torch.testing.assert_close(compact.log_probs, full.log_probs)
    torch.testing.assert_close(compact.entropy, full.entropy)
    assert full_grads.keys() == compact_grads.keys() and full_grads
    for name, grad in full_grads.items():
        torch.testing.assert_close(compact_grads[name], grad, msg=name)


def test_the_patch_is_undone_and_nests():
    original = trl_utils._use_triton
    with compact_lm_head():
        patched = trl_utils._use_triton
        assert patched is not original and patched(torch.device("cpu"))
        with compact_lm_head():
            assert trl_utils._use_triton is patched
        assert trl_utils._use_triton is patched
    assert trl_utils._use_triton is original
    assert not original(torch.device("cpu"))
    with pytest.raises(RuntimeError), compact_lm_head():
        raise RuntimeError("a failed training run")
    assert trl_utils._use_triton is original


def test_without_the_switch_nothing_changes_and_it_says_so(monkeypatch, caplog):
    monkeypatch.setattr("aesformer.thinker.lm_head._warned", False)
    monkeypatch.delattr(trl_utils, "_use_triton")
    with compact_lm_head() as active:
        assert not active
    assert "no _use_triton" in caplog.text
