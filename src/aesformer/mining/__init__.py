"""VCMP mining: (poor, good) photo pairs from photography-tutorial videos (stage ``mine``).

Entry point: :func:`aesformer.mining.stage.run`; one module per step, see docs/mining.md.
"""
