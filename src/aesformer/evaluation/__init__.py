"""Stage ``eval``: metrics of the two-stage system and the promotion of a model pair.

- :mod:`aesformer.evaluation.metrics` — image metrics (no-reference aesthetics, identity,
  scene consistency, similarity to the target, edit distance);
- :mod:`aesformer.evaluation.promotion` — the promotion policy and the MLflow alias moves.

See docs/evaluation.md.
"""
