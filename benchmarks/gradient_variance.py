"""Benchmark: the variance of the ELBO gradient estimators of notebook 5, and the cost of Bayes by Backprop.

    .venv/bin/python benchmarks/gradient_variance.py            # on get_device() (COURSE_DEVICE=cpu to force the CPU)

Prints
- the variance ratio score function / reparametrization for f = the log-likelihood of notebook 4's
  Bayesian linear regression (q = N(0, 0.1² I), S = 1 sample, 20 000 repetitions);
- the variance ratio reparametrization / local reparametrization of the eq. (26) gradient of a
  BNN(1, 50, 1) on 1000 points of the cubic toy, at minibatch sizes M = 1, 10, 100, 1000
  (200 repetitions each);
- the time per Bayes-by-Backprop epoch of notebook 5's model (BNN(1, 10, 1), 20 points, M = 10,
  2 samples of ε, local reparametrization), the median of 5 runs of 100 epochs.
"""
from __future__ import annotations

import math
import statistics
import time

import torch
from torch.distributions import Normal

from course_utils import bnn, get_device
from course_utils.device import describe
from course_utils.figures.nb04 import blr_elbo_problem
from course_utils.figures.nb05 import cubic_problem, variance_model_and_data, variance_vs_batch_size, variance_vs_samples


def main() -> None:
    device = get_device()
    print(describe(device))
    print(f"torch threads: {torch.get_num_threads()}")

    _, X, y, s2, _ = blr_elbo_problem()
    log_lik = lambda w: Normal(w @ X.T, math.sqrt(s2)).log_prob(y).sum(-1)
    mu = torch.zeros(2, dtype=torch.float64)
    v = variance_vs_samples(log_lik, mu, mu + math.log(0.1), [1], 20_000, torch.Generator().manual_seed(0))
    print(f"\nscore function / reparametrization variance ratio (BLR log-likelihood, S = 1): "
          f"{v['score function'][0] / v['reparametrization'][0]:.1f}")

    model, xs, ys, nv = variance_model_and_data()
    model = model.to(device)
    sizes = [1, 10, 100, 1000]
    t0 = time.perf_counter()
    vm = variance_vs_batch_size(model, xs.to(device), ys.to(device), nv, sizes, 200, torch.Generator().manual_seed(1))
    print(f"\nreparametrization / local reparametrization variance ratio (BNN(1, 50, 1), N = 1000), "
          f"{time.perf_counter() - t0:.1f} s:")
    for M, a, b in zip(sizes, vm["reparametrization"], vm["local reparametrization"]):
        print(f"  M = {M:4d}: {a / b:8.1f}   (variances {a:.3g} / {b:.3g})")

    _, _, xs_c, ys_c, nv_c = cubic_problem()
    xs_c, ys_c = xs_c.to(device), ys_c.to(device)
    times = []
    for rep in range(5):
        m = bnn.BNN(1, 10, 1, local_reparam=True, generator=torch.Generator().manual_seed(rep)).to(device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        bnn.bayes_by_backprop(m, xs_c, ys_c, nv_c, epochs=100, batch_size=10, lr=0.05, n_samples=2,
                              generator=torch.Generator().manual_seed(rep), progress=False)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) / 100)
    print(f"\nBayes by Backprop, notebook 5's model (20 points, M = 10, 2 minibatches per epoch): "
          f"{1000 * statistics.median(times):.2f} ms per epoch (median of 5 × 100 epochs) on {device.type}")


if __name__ == "__main__":
    main()
