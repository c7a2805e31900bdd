"""Sample blocks of the model engine: a chunk's forward evaluated on blocks of samples.

A one-point chunk of a CNN reads the slice trick's tables of all m samples for each point (the
benchmark's CNN on the 1797 digits: 22 MB of float64 tables per point) and runs each layer over
megabytes of activations; several points per chunk would multiply the activations. With sample
blocks a slice is evaluated in chunks of :data:`BLOCK_POINTS` points and each point's forward on
blocks of samples through all its layers: the block's first-layer outputs are the product of the
chunk's coordinates with the block's columns of the tables (read once for all the chunk's points),
then the rest of the model runs on the block; the per-sample outputs (m, ...) are concatenated and
the loss is applied once to the whole prediction -- so every loss, a callable included, keeps its
exact definition. Samples per block: :data:`BLOCK_BYTES` over ``BLOCK_POINTS`` times the
activations the forward produces per sample (at least :data:`MIN_BLOCK`), or the engine's
``sample_block``. Used for slices with the slice trick, on the CPU, without ``compile``, when the
activations of ``BLOCK_POINTS`` points on all samples exceed ``BLOCK_BYTES``.

Valid only for a module that treats samples independently (eval-mode norm layers, Dropout,
convolutions, Linear, LayerNorm: true; a custom module that mixes the batch, ``x - x.mean(0)``:
false). :class:`SampleBlocks` checks it when the engine is built: at two parameter vectors the
blocked outputs under two partitions of the samples (the engine's blocks and three near-equal
blocks), and on a random slice the blocked loss, must agree with the unblocked ones to
:data:`BLOCK_CHECK_RTOL` times their largest magnitude (a forward that fails on a block counts as a
disagreement); otherwise blocks stay off, with the reason recorded. The blocks of a partition
differ in size by at most one sample. This module imports torch.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ..errors import InvalidSpecError
from .model_forward import one_line
from .model_slice import SliceTrick

__all__ = ["SampleBlocks", "BLOCK_BYTES", "BLOCK_POINTS", "MIN_BLOCK", "BLOCK_CHECK_RTOL", "block_cuts",
           "check_sample_block"]

#: points per chunk when blocks are used: each block of the slice trick's tables is read once for all of
#: them (a one-point chunk of the benchmark's CNN reads 22 MB of float64 tables per point)
BLOCK_POINTS = 64
#: the activations of one block over the chunk's points (bytes): samples per block = BLOCK_BYTES /
#: (BLOCK_POINTS * the activations the forward produces per sample). Chosen by paired runs of
#: benchmarks/bench_models.py's CNNs on the development CPU (docs/benchmarks.md, "Sample blocks"):
#: 16-64 points x 32-128 samples per block all ran 1.3-1.5x (cnn) and about 2x (cnn2) the one-point
#: chunks; blocks of one point did not pay (the per-block cost of the calls, 50-150 us, ate the gain)
BLOCK_BYTES = 32 * 2**20
#: no block holds fewer than MIN_BLOCK // 2 samples (and blocking needs m >= 2 * MIN_BLOCK): below that
#: the per-block cost of the calls outweighs the gain
MIN_BLOCK = 16
#: blocked and unblocked outputs agree when |blocked - plain| <= rtol * max |plain| elementwise: only the
#: summation order inside a kernel may change with the batch size (a few ulp per dot product);
#: a module that mixes samples changes outputs by a statistic's difference between sample sets
BLOCK_CHECK_RTOL = {torch.float64: 1e-12, torch.float32: 1e-5}


def check_sample_block(request) -> None:
    """Refuse a ``sample_block`` that is not None, 0 or an integer >= MIN_BLOCK."""
    if request is not None and (isinstance(request, bool) or not isinstance(request, numbers.Integral)
                                or (request != 0 and request < MIN_BLOCK)):
        raise InvalidSpecError(f"sample_block must be None (automatic), 0 (off) or a number of samples per "
                               f"block >= {MIN_BLOCK}, got {request!r}")


def block_cuts(m: int, block: int) -> list[int]:
    """Boundaries of ``ceil(m / block)`` near-equal blocks of the m samples (sizes differ by <= 1)."""
    n = -(-m // max(1, block))
    return [(i * m) // n for i in range(n + 1)]


class _Reparametrized(torch.nn.Module):
    """Runs a function while ``functional_call`` has put parameters into the wrapped module: one
    ``functional_call`` per point for all of its blocks (each costs about 30 us)."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, body, *args):
        return body(*args)


class SampleBlocks(SliceTrick):
    """Sample blocking on top of :class:`~.model_slice.SliceTrick` (set up by
    :class:`~bettibounds.engines.model_engine.ModelEngine`; see this module's docstring)."""

    #: what is used: a description, or None (``sample_blocks_reason`` says why not)
    sample_blocks: str | None = None
    sample_blocks_reason: str | None = "not set up"
    _block: int | None = None  # samples per block (None: off)

    def _setup_sample_blocks(self, request, compile: bool) -> None:
        """Decide whether to block and the samples per block; check the blocked evaluation against
        the unblocked one."""
        check_sample_block(request)
        self._block, self.sample_blocks = None, None
        per = self._sample_bytes()
        block = max(MIN_BLOCK, BLOCK_BYTES // (BLOCK_POINTS * per)) if request is None else int(request)
        why = ("turned off (sample_block=0)" if request == 0
               else "compile=True: inductor fuses the passes itself" if compile
               else f"device {self.device.type}: the blocks are for the CPU's caches" if self.device.type != "cpu"
               else f"no slice trick: blocks are used for the slice trick's chunks ({self.slice_trick_reason})"
               if self._first is None
               else f"{self.m} samples (blocking needs at least {2 * MIN_BLOCK})" if self.m < 2 * MIN_BLOCK
               else f"the activations of {BLOCK_POINTS} points on all {self.m} samples ({per} bytes per sample and "
                    f"point) fit in {BLOCK_BYTES // 2**20} MiB: no blocks needed"
               if request is None and 2 * block > self.m
               else f"blocks of {block} samples would hold all {self.m}" if 2 * block > self.m
               else None)
        if why is None:
            self._swap = _Reparametrized(self._model)
            why = self._blocks_disagree([block_cuts(self.m, block), block_cuts(self.m, -(-self.m // 3))])
        if why is not None:
            self.sample_blocks_reason = why
            return
        self._block, self.sample_blocks_reason = block, None
        n = len(block_cuts(self.m, block)) - 1
        self.sample_blocks = (f"slices evaluated in chunks of up to {BLOCK_POINTS} points, each point's "
                              f"{self.m} samples in {n} blocks of about {self.m // n} (" +
                              (f"sample_block={request})" if request is not None else
                               f"{per} bytes of activations per sample and point, {BLOCK_BYTES // 2**20} MiB per "
                               "block)"))

    def _sample_bytes(self) -> int:
        """The activations the forward produces per sample (bytes; every module's output)."""
        item = torch.empty((), dtype=self.dtype).element_size()
        saved = self._fused.saved_per_sample() if self._fused is not None else 0  # not written by the fused pass
        return max(1, int(item * (self._activation_numel / self.m - saved)))

    def blocked_chunk(self, n_points: int, budget: float) -> int | None:
        """Points per chunk of a slice with the slice trick when blocks are used (None: not used):
        ``BLOCK_POINTS``, within ``budget`` bytes (outputs, theta and the loss's temporaries per point,
        plus one block's activations)."""
        if self._block is None:
            return None
        item = torch.empty((), dtype=self.dtype).element_size()
        per_point = item * (3 * self.m * int(np.prod(self._out_shape[1:])) + 2 * self.n_params)
        fits = int((budget - BLOCK_BYTES) // max(per_point, 1))
        return int(max(1, min(max(n_points, 1), BLOCK_POINTS, fits)))

    def _blocks_disagree(self, partitions: list) -> str | None:
        """None when the blocked evaluation agrees with the unblocked one, else why not: the outputs at
        two parameter vectors, and (slice trick) the loss at two points of a random slice."""
        gen = torch.Generator().manual_seed(54321)
        scale = max(float(np.abs(self.center).max()), 1e-3)
        c = torch.as_tensor(self.center, dtype=torch.float64)
        D = torch.randn(2, self.n_params, generator=gen, dtype=torch.float64) * (0.1 * scale)
        rtol = BLOCK_CHECK_RTOL[self.dtype]

        def differ(blocked, plain, what: str, cuts: list) -> str | None:
            if blocked.shape != plain.shape:
                return f"the blocked {what} has shape {tuple(blocked.shape)}, not {tuple(plain.shape)}"
            gap = float((blocked - plain).abs().max())
            if gap <= rtol * float(plain.abs().max()):
                return None
            return (f"the model's {what} on blocks of {cuts[1] - cuts[0]} samples differed from the {what} on all "
                    f"{self.m} samples by {gap:.2g} (> {rtol:g} of the largest magnitude): the module mixes "
                    "samples (a statistic over the batch?)")

        try:
            with torch.no_grad(), self._activations():
                for theta in (c, c + D[0]):
                    th = theta.to(device=self.device, dtype=self.dtype)
                    plain = self._predict(th)
                    for cuts in partitions:
                        why = differ(self._predict_blocked(th, None, None, cuts), plain, "outputs", cuts)
                        if why is not None:
                            return why
                if self._first is not None:  # the first layer's outputs from the tables' columns
                    plan = self._plan_slice(self.center, D.numpy())
                    for coords in ([[0.3, -0.7]], [[-1.1, 0.4]]):
                        t = torch.tensor(coords, dtype=self.dtype, device=self.device)
                        t1 = torch.cat([t.new_ones(1, 1), t], dim=1)
                        plain = SliceTrick._slice_batched(self, t, plan.basis, plan.z)
                        for cuts in partitions:
                            blocked = self._blocked_loss(t1 @ plan.basis, t1, plan.z, cuts)
                            why = differ(blocked, plain, "loss on a slice", cuts)
                            if why is not None:
                                return why
        except Exception as exc:  # noqa: BLE001 -- any failure on a block: evaluate unblocked
            return f"the forward failed on a block of samples ({one_line(exc)[:160]})"
        finally:
            self._plan = None
        return None

    # ------------------------------------------------------------ evaluation
    def _predict_blocked(self, theta: torch.Tensor, t1: torch.Tensor | None, table: torch.Tensor | None,
                         cuts: list) -> torch.Tensor:
        """The model's output (m, ...) at one parameter vector (vmapped), evaluated block by block;
        ``t1`` (1 + k,) and ``table`` (the slice plan's tables): the first layer's output on a block
        is ``t1 @ table[:, block's columns]`` (slice trick)."""
        from torch.func import functional_call

        params = {"inner." + n: v for n, v in self._params_of(theta).items()}
        return functional_call(self._swap, params, (self._run_blocks, t1, table, cuts), strict=False)

    def _run_blocks(self, t1, table, cuts) -> torch.Tensor:
        outs = []
        model, x, override = self._model, self._x, self._override
        if table is None:
            for s, e in zip(cuts, cuts[1:]):
                outs.append(model(x[s:e]))
            return torch.cat(outs)
        assert override is not None  # a table comes only with the slice trick's override
        per = table.shape[1] // self.m
        shape = self._first_shape
        fused = self._fused if self._fused is not None and self._fused.on else None
        for s, e in zip(cuts, cuts[1:]):
            if fused is not None:  # the last fused module's output (the first layer's, activated, pooled)
                z = fused.values(t1, table, s, e)
            else:
                z = t1 @ table[:, s * per:e * per]
                if self._channels_last:  # (b, H, W, C) seen as (b, C, H, W)
                    z = z.view(e - s, shape[2], shape[3], shape[1]).permute(0, 3, 1, 2)
                else:
                    z = z.view(e - s, *shape[1:])
            override.value = z
            try:
                outs.append(model(x[s:e]))
            finally:
                override.value = None
        return torch.cat(outs)

    def _blocked_loss(self, th: torch.Tensor, t1: torch.Tensor | None, table: torch.Tensor | None,
                      cuts: list) -> torch.Tensor:
        """The loss at the B rows of th (and t1), each point's forward on the blocks of ``cuts``."""
        from torch.func import vmap

        if th.shape[0] == 1:
            out = self._predict_blocked(th[0], None if t1 is None else t1[0], table, cuts).unsqueeze(0)
        elif t1 is None:
            out = vmap(lambda p: self._predict_blocked(p, None, None, cuts))(th)
        else:
            out = vmap(lambda p, u: self._predict_blocked(p, u, table, cuts))(th, t1)
        return self._loss_of(out)

    def _slice_batched(self, t: torch.Tensor, basis: torch.Tensor, table: torch.Tensor | None) -> torch.Tensor:
        if self._block is None or table is None:
            return super()._slice_batched(t, basis, table)
        t1 = torch.cat([t.new_ones(t.shape[0], 1), t], dim=1)
        return self._blocked_loss(t1 @ basis, t1, table, block_cuts(self.m, self._block))
