"""merged_lora: generation with the LoRA folded in gives the same tokens; weights put back exactly."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model

from aesformer.thinker.grpo import merged_lora
from tests.unit.test_thinker_lm_head import tiny_causal_lm

pytestmark = pytest.mark.unit


@pytest.fixture()
def model():
    base = tiny_causal_lm(61, layers=2, eos_token_id=None, pad_token_id=0)
    lora = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj", "down_proj"],
        modules_to_save=["lm_head"],
        init_lora_weights=False,  # a non-zero B: the merge changes the weights
    )
    m = get_peft_model(base, lora)
    with torch.no_grad():  # the trained copy of lm_head differs from the base one
        m.base_model.model.lm_head.modules_to_save["default"].weight.mul_(1.5)
    return m.eval()


def base_weights(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" not in n}


def sample(model, seed: int = 3) -> torch.Tensor:
    torch.manual_seed(seed)
    ids = torch.tensor([[5, 9, 11, 2], [7, 7, 3, 1]])
    return model.generate(input_ids=ids, do_sample=True, max_new_tokens=12, top_k=0)


def test_merged_generation_matches_and_weights_come_back_bit_exact(model):
    before = base_weights(model)
    x = torch.tensor([[4, 8, 15, 16, 23, 42]])
    with torch.no_grad():
        logits = model(input_ids=x).logits
    tokens = sample(model)
    with merged_lora(model) as merged:
        assert merged
        now = base_weights(model)
        changed = [n for n, w in before.items() if not torch.equal(now[n], w)]
        assert changed and all("base_layer" in n for n in changed)  # LoRA folded in
        with torch.no_grad():
            torch.testing.assert_close(model(input_ids=x).logits, logits)
        assert torch.equal(sample(model), tokens)
    after = base_weights(model)
    assert all(torch.equal(after[n], w) for n, w in before.items())  # not just close: equal
    with torch.no_grad():
        assert torch.equal(model(input_ids=x).logits, logits)


def test_round_trip_without_the_copy_would_drift(model):
    """Why the copy: PEFT's merge + unmerge alone does not give the weights back bit-exactly."""
    before = base_weights(model)
    for _ in range(5):
        model.merge_adapter()
        model.unmerge_adapter()
    after = base_weights(model)
    assert any(not torch.equal(after[n], w) for n, w in before.items())


def test_disabled_or_failing_leaves_the_model_alone(model):
    before = base_weights(model)
    with merged_lora(model, enabled=False) as merged:
        assert not merged
        assert all(torch.equal(p, before[n]) for n, p in base_weights(model).items())
    with pytest.raises(RuntimeError), merged_lora(model):
        raise RuntimeError("generation failed")
    assert all(torch.equal(p, before[n]) for n, p in base_weights(model).items())
    assert not any(getattr(m, "merged", False) for m in model.modules())


def test_a_model_without_lora_is_not_touched():
    with merged_lora(tiny_causal_lm(31)) as merged:
        assert not merged
