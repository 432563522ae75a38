"""What the hardware can do and what the model asks of it: a measured GEMM peak and FLOPs per sentence."""

from __future__ import annotations

import time

import numpy as np


def gemm_peak(threads: int, size: int = 1536, repeats: int = 5) -> float:
    """Best fp32 GEMM rate (GFLOP/s) of torch's BLAS on ``threads`` threads, square ``size`` matrices."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    torch.set_num_threads(before)
    return 2 * size ** 3 / best / 1e9


def encoder_flops(tokens: int, layers: int = 6, hidden: int = 384) -> float:
    """Multiply-adds ×2 of one BERT encoder pass over ``tokens`` tokens: projections and feed-forward
    (24·T·H² per layer) plus attention scores and mixing (4·T²·H per layer)."""
    return layers * (24 * tokens * hidden ** 2 + 4 * tokens ** 2 * hidden)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")
