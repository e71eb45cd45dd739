"""Benchmark: MC dropout with ``mc_predict`` (one batched pass of T·N rows) against a Python loop
of T forward passes, for a small MLP and for the BCNN of notebook 9, with T = 100.

    .venv/bin/python benchmarks/mc_predict.py                 # CPU, and CUDA when available
    .venv/bin/python benchmarks/mc_predict.py --threads 1     # pin the CPU thread count
    .venv/bin/python benchmarks/mc_predict.py --repeats 10 --T 100

Prints, per device and model, the median wall time of each method over ``--repeats`` runs (after
one warm-up run) and the ratio loop / vectorised (> 1: the vectorised pass is faster).  Both
methods compute the same thing: T independent dropout draws for each of the N inputs.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from course_utils.dropout import BCNN, MCDropoutMLP, mc_predict


def loop_predict(model: torch.nn.Module, x: torch.Tensor, T: int) -> torch.Tensor:
    """The reference: T forward passes in a Python loop, stacked to [T, N, ...]."""
    with torch.no_grad():
        return torch.stack([model(x) for _ in range(T)])


def timed(fn, device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn()`` in milliseconds (one warm-up call, CUDA synchronised)."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def cases(device: torch.device, n: int):
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    mlp = MCDropoutMLP(1, [64, 64], 1, p=0.1).to(device).eval()
    yield "MLP 1-64-64-1", mlp, torch.linspace(-2, 2, n, device=device)[:, None]
    bcnn = BCNN(length=64, p=0.2).to(device).eval()
    yield "BCNN (notebook 9)", bcnn, torch.randn(n, 1, 64, generator=g).to(device)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=100, help="number of stochastic passes (default 100)")
    parser.add_argument("--n", type=int, default=256, help="number of inputs N (default 256)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--cpu-only", action="store_true", help="skip CUDA even when available")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.cpu_only:
        devices.append(torch.device("cuda"))
    print(f"mc_predict benchmark: T = {args.T}, N = {args.n}, median of {args.repeats} runs, "
          f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    print(f"{'device':<26}{'model':<20}{'loop (ms)':>11}{'vectorised (ms)':>17}{'loop/vectorised':>17}")
    for device in devices:
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        for label, model, x in cases(device, args.n):
            t_loop = timed(lambda: loop_predict(model, x, args.T), device, args.repeats)
            t_vec = timed(lambda: mc_predict(model, x, args.T), device, args.repeats)
            print(f"{name[:25]:<26}{label:<20}{t_loop:11.1f}{t_vec:17.1f}{t_loop / t_vec:17.2f}")


if __name__ == "__main__":
    main()
