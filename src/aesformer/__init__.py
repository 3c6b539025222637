"""AesFormer MLOps: the VCMP data pipeline, AesThinker/AesEditor training, eval and promotion."""

__version__ = "0.1.0"
