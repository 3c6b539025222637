"""Transparent photographic measures shared by the miner's filters and later evaluation.

- :mod:`.quality` — sharpness (variance of the Laplacian), exposure clipping, noise;
- :mod:`.subject` — the main subject's box (HOG people detector, else spectral-residual
  saliency);
- :mod:`.composition` — rule-of-thirds placement, horizon tilt, headroom;
- :mod:`.aesthetic` — the scorer interface, the transparent default and the loaders of learned
  scorers (LAION aesthetic predictor, Q-Align) that run only where weights are configured.
"""
