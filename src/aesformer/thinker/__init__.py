"""AesThinker: the planner (Qwen3-VL + LoRA) that writes the seven-dimension plan.

Public API::

    train_sft(cfg, release_dir, base_model, out, resume=True, *, revision=None, metrics=None)
        -> summary                                   # stage `sft` (aesformer.thinker.sft)
    plan_metrics(predicted, references) -> dict      # format validity, alignment, action_exact
    AesThinkerModel, register_thinker(...), load_planner(...), plan(...)   # the registry

Heavy libraries (torch, transformers, trl, peft, mlflow) load when a submodule is imported;
this package file imports nothing. See docs/thinker.md.
"""
