"""The time pilots of bettibounds._lib.budget: a call whose single point is mostly fixed overhead.

A new-user trial (a residual + LayerNorm network, 13 inputs, a 51 x 51 slice): one chunked call took
0.04 to 0.06 s whatever its size up to a few hundred points, and the pilot, seeing one point take
PILOT_SLOW or more, took that as the cost of every point -- estimates 50 to 600 times the run, and a
run of minutes refused as "2.07 days". The fakes below burn CPU (the pilots measure CPU time, so a
sleep would cost nothing), with the machine's speed factor fixed at 1 so that the thresholds apply as
written.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from bettibounds._lib import budget


def _burn(seconds: float) -> None:
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass


class _FakeKernel:
    """A batched kernel whose call costs ``overhead + per_point * n`` CPU seconds on ``n`` points."""

    def __init__(self, overhead: float, per_point: float, n_params: int = 13):
        self.overhead, self.per_point, self.n_params = overhead, per_point, n_params
        self.dtype, self.device = None, "cpu"
        self.sizes: list[int] = []

    def evaluate_chunked(self, points, mode, center=None, directions=None):
        n = len(points)
        self.sizes.append(n)
        _burn(self.overhead + self.per_point * n)
        return np.zeros(n)

    def evaluate(self, x):  # the descent pilot's forward pass (a torch tensor of shape (n, P))
        self.sizes.append(int(x.shape[0]))
        _burn(self.overhead + self.per_point * int(x.shape[0]))
        return (x * x).sum(dim=1)


@pytest.fixture
def reference_speed(monkeypatch):
    monkeypatch.setattr(budget, "cpu_factor", lambda: 1.0)


def test_amortised_unit_worked_numbers():
    # an affine call, 0.06 s + 10 us per unit: batches 4, 32, 256, 2048 (each predicted under a second)
    calls = []

    def affine(n):
        calls.append(n)
        return 0.06 + 1e-5 * n

    got = budget.amortised_unit(0.06, affine, 2048)
    assert calls == [4, 32, 256, 2048]
    assert got == pytest.approx((0.06 + 1e-5 * 2048) / 2048)
    # a call truly 0.06 s per unit: one batch of 4 (0.24 s); 32 would be predicted at 1.92 s
    calls.clear()
    assert budget.amortised_unit(0.06, lambda n: calls.append(n) or 0.06 * n, 2048) == pytest.approx(0.06)
    assert calls == [4]
    # the largest batch caps the growth (the descent pilot: at most min(starts, 64) starts)
    calls.clear()
    budget.amortised_unit(0.06, affine, 64)
    assert calls == [4, 32, 64]
    calls.clear()
    assert budget.amortised_unit(0.07, affine, 1) == 0.07 and calls == []
    # a call of 0.5 s per unit is not repeated at all
    assert budget.amortised_unit(0.5, affine, 2048) == 0.5


def test_kernel_pilot_amortises_a_fixed_overhead(reference_speed):
    kernel = _FakeKernel(overhead=0.06, per_point=1e-5)
    per_point, _ = budget.kernel_pilot(kernel, 0, slice_dim=2)
    # was 0.06 (one point's call); a run's chunks cost about 1e-5 + 0.06 / chunk per point
    assert per_point < 0.06 / 100
    assert per_point >= 1e-5  # never below the true work per point: the estimate stays conservative
    assert sum(0.06 + 1e-5 * n for n in kernel.sizes) < 2.0  # the pilot stays cheap


def test_kernel_pilot_keeps_a_truly_slow_point(reference_speed):
    kernel = _FakeKernel(overhead=0.0, per_point=0.06)
    per_point, _ = budget.kernel_pilot(kernel, 0)
    assert 0.055 <= per_point <= 0.08
    # one point twice (the first call can carry one-time costs), then a batch of 4: 32 points would take about 2 s
    assert kernel.sizes == [1, 1, 4]


class _FirstCallKernel(_FakeKernel):
    """Its first call also pays a one-time cost (a compile, a slice's tables) of ``once`` CPU seconds."""

    def __init__(self, once: float, per_point: float):
        super().__init__(0.0, per_point)
        self.once = once

    def evaluate_chunked(self, points, mode, center=None, directions=None):
        if self.once:
            _burn(self.once)
            self.once = 0.0
        return super().evaluate_chunked(points, mode, center, directions)


def test_kernel_pilot_leaves_out_a_first_calls_one_time_cost(reference_speed):
    """A new-user trial: a MaxPool CNN on a fresh install (numba's cache empty) compiled its fused activation
    inside the pilot's first call: 1.3 s taken as every point's cost, an estimate of 1.7 h for a 73-second run,
    refused under BETTIBOUNDS_MAX_SECONDS=1800."""
    kernel = _FirstCallKernel(once=0.6, per_point=2e-4)
    per_point, _ = budget.kernel_pilot(kernel, 0, slice_dim=2)
    assert 2e-4 <= per_point < 1e-3  # was 0.6


def test_step_pilot_amortises_a_fixed_overhead(reference_speed):
    pytest.importorskip("torch")
    import torch

    kernel = _FakeKernel(overhead=0.06, per_point=1e-5)
    kernel.dtype = torch.float64
    per_start = budget.step_pilot(kernel, 64)
    assert kernel.sizes == [1, 4, 32, 64]
    assert 1e-5 <= per_start < 0.06 / 20
