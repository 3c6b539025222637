"""Make the LPIPS weights file of ``eval.lpips_weights`` (one safetensors file), once.

Run it on a machine that has torchvision and lpips (``pip install torchvision lpips``; neither
is a dependency of this project, and this script was not run on the development machine,
which cannot install torchvision)::

    python scripts/convert_lpips.py lpips_alex.safetensors

It saves, with ``safetensors.torch.save_file``:

- ``features.*``: ``torchvision.models.alexnet(weights="IMAGENET1K_V1").features.state_dict()``;
- ``lin0.model.1.weight`` .. ``lin4.model.1.weight``: ``lpips/weights/v0.1/alex.pth``, read
  with ``torch.load(..., weights_only=True)`` (tensors only, no code);

then loads the file into ``aesformer.evaluation.perceptual.LPIPS`` and compares it with
``lpips.LPIPS(net="alex")`` on random image pairs (exit 1 if they differ by more than 1e-4).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the .safetensors file to write")
    args = parser.parse_args(argv)
    if args.out.suffix != ".safetensors":
        parser.error("out must end in .safetensors")

    import lpips
    import torch
    import torchvision
    from safetensors.torch import save_file

    from aesformer.evaluation.perceptual import LPIPS

    alexnet = torchvision.models.alexnet(weights=torchvision.models.AlexNet_Weights.IMAGENET1K_V1)
    state = {f"features.{k}": v for k, v in alexnet.features.state_dict().items()}
    lin_path = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    lins = torch.load(lin_path, map_location="cpu", weights_only=True)
    for i in range(5):  # lpips names them lin<i>.model.1.weight (newer copies also lins.<i>.*)
        key = f"lin{i}.model.1.weight"
        state[key] = lins[key] if key in lins else lins[f"lins.{i}.model.1.weight"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(args.out))

    ours = LPIPS.from_file(args.out)
    reference = lpips.LPIPS(net="alex", version="0.1", verbose=False).eval()
    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    with torch.no_grad():
        for size in (64, 128, 224):
            x = torch.rand(2, 3, size, size, generator=generator) * 2 - 1
            y = (x + 0.3 * torch.randn(x.shape, generator=generator)).clamp(-1, 1)
            worst = max(worst, float((ours(x, y) - reference(x, y).flatten()).abs().max()))
    print(f"{args.out}: {len(state)} tensors; max |ours - lpips| = {worst:.2e}")
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
