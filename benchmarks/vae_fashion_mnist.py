"""Benchmark: the package's default VAE (784-400-20 MLP, Bernoulli decoder on pixel intensities,
Adam 1e-3, batch 128) trained 10 epochs on Fashion-MNIST.

    python benchmarks/vae_fashion_mnist.py [--data DIR] [--epochs 10] [--threads N] [--device cpu]

Prints the test negative ELBO (nats per image; quality bar: <= 244), the importance-weighted
estimate of -log p(x) with k = 100, and the seconds per epoch.  Reads the IDX files from Debian's
/usr/share/datasets/fashion-mnist (default) or the given folder; downloads nothing.
"""
from __future__ import annotations

import argparse
import time

import torch

from course_utils import get_device, seed_everything
from course_utils.data.images import DEBIAN_FASHION_MNIST, load_idx_set
from course_utils.vae import VAE, evaluate, iwae_bound, train

QUALITY_BAR = 244.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(DEBIAN_FASHION_MNIST), help="folder with the four Fashion-MNIST .gz files")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: get_device())")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-output-bias", action="store_true",
                   help="start the decoder's output bias at the logit of the mean training image (default: PyTorch's init)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    seed_everything(args.seed)
    data = load_idx_set("fashion-mnist", args.data, verify="content")
    model = VAE().to(device)
    if args.init_output_bias:
        model.init_output_bias(data.x_train)
    g = torch.Generator().manual_seed(args.seed)
    hist = train(model, data.x_train, epochs=args.epochs, batch_size=128, lr=1e-3, generator=g, desc="VAE on Fashion-MNIST")
    test = evaluate(model, data.x_test, generator=torch.Generator().manual_seed(1))
    t0 = time.perf_counter()
    g_iwae = torch.Generator().manual_seed(2)
    with torch.no_grad():
        iwae = torch.cat([iwae_bound(model, data.x_test[i:i + 250].to(device), 100, generator=g_iwae).cpu()
                          for i in range(0, len(data.x_test), 250)])
    t_iwae = time.perf_counter() - t0
    print(f"device: {device} | threads: {torch.get_num_threads()} | train {len(data.x_train)} / test {len(data.x_test)} images"
          f" | decoder output bias: {'logit of the mean training image' if args.init_output_bias else 'PyTorch default'}")
    print(f"train -ELBO per epoch: {[round(v, 1) for v in hist['loss']]}")
    print(f"test  -ELBO (nats/image): {float(test.total):.2f}  (reconstruction {float(test.reconstruction):.2f} + KL {float(test.kl):.2f})")
    print(f"test  -IWAE k=100 (nats/image): {float(-iwae.mean()):.2f}  ({t_iwae:.0f} s)")
    print(f"seconds per epoch: {sum(hist['seconds']) / len(hist['seconds']):.1f}")
    verdict = "meets" if float(test.total) <= QUALITY_BAR else "MISSES"
    print(f"quality bar (test -ELBO <= {QUALITY_BAR:g}): {verdict}")


if __name__ == "__main__":
    main()
