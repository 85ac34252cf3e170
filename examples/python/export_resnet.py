"""Export a ResNet-18 to a .dkr archive, run it with the C++ runtime, compare with PyTorch.

    python examples/python/export_resnet.py [--out resnet18.dkr] [--batch 1] [--threads N]

The weights are random (no download needed); BatchNorm statistics are randomized
too, so the comparison exercises BN folding rather than an identity.
"""

import argparse
import time

import numpy as np
import torch

import deploykit
from deploykit.models.resnet import random_resnet


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="resnet18.dkr", help="archive to write")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="runtime threads (default: all cores)")
    args = parser.parse_args()

    model = random_resnet(depth=18, seed=0)  # eval mode, seeded weights, randomized BatchNorm
    x = torch.randn(args.batch, 3, 224, 224, generator=torch.Generator().manual_seed(1))

    # 1. Export: trace, lower to deploykit's IR, optimize, write the archive.
    deploykit.export(model, (x,), args.out)

    # 2. Load in the C++ runtime (no torch needed from here on) and run.
    module = deploykit.load(args.out, num_threads=args.threads)
    print("inputs: ", module.inputs)
    print("outputs:", module.outputs)
    print(f"activation arena: {module.arena_bytes / 2**20:.1f} MiB")
    start = time.perf_counter()
    logits = module(x.numpy())
    elapsed = time.perf_counter() - start

    # 3. Compare with PyTorch under the project's parity bound.
    with torch.no_grad():
        expected = model(x).numpy()
    err = float(np.max(np.abs(logits - expected)))
    bound = 1e-4 * float(np.max(np.abs(expected))) + 1e-5
    print(f"forward: {elapsed * 1e3:.1f} ms; max |deploykit - torch| = {err:.2e} (bound {bound:.2e})")
    print("top-5 per image:", np.argsort(-logits, axis=1)[:, :5].tolist())
    if not err <= bound:
        raise SystemExit("outputs differ from PyTorch beyond the parity bound")


if __name__ == "__main__":
    main()
