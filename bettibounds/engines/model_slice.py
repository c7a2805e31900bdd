"""The slice trick of the model engine: the first layer's outputs on a slice from k + 1 tables.

Where the first module that holds varied parameters (in the order the forward calls modules) is
one whose output is linear in its own parameters jointly (``nn.Linear``, ``nn.Conv1d/2d/3d``,
``nn.LayerNorm``, ``nn.GroupNorm``, an eval-mode ``nn.BatchNorm1d/2d/3d``) and its input does not
depend on any varied parameter, its output on the data at ``theta = c + sum_j t_j d_j`` is ``z(c)
+ sum_j t_j z_0(d_j)``: :meth:`SliceTrick.plan_slice` computes the k + 1 tables once per slice
(:class:`SlicePlan`), and each chunk's first-layer outputs are one matrix product, fed to the
model through :class:`~.model_forward.ForwardOverride`. :class:`SliceTrick` (a base of
:class:`~bettibounds.engines.model_engine.ModelEngine`) finds the module, checks the trick at two
points of a random slice against the plain evaluation, and keeps it off (saying why) when they
disagree. This module imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .._lib.arrays import host_or_tensor
from ..errors import InvalidSpecError
from .model_forward import ForwardOverride, FunctionalModel, no_fastpath, one_line

__all__ = ["SliceTrick", "SlicePlan"]

#: modules whose output is linear in their own parameters jointly (weight and bias), with no term
#: free of them: the slice trick's first layers (exact types: a subclass may override forward)
_LINEAR_IN_PARAMS = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.LayerNorm,
                     torch.nn.GroupNorm, torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)


@dataclass
class SlicePlan:
    """A slice ``theta = center + t @ directions`` (``basis``: the center, then the k directions)
    with the slice trick's first-layer tables ``z`` (None without the trick) and a cheap ``key``."""

    k: int
    basis: torch.Tensor  # (1 + k, P): the center, then the directions
    z: torch.Tensor | None  # (1 + k, numel of the first layer's output) or None (no trick)
    key: tuple = field(default=())


class SliceTrick(FunctionalModel):
    """The slice trick on top of :class:`~.model_forward.FunctionalModel` (its state --
    ``slice_trick``, ``slice_trick_reason``, the first layer, the current :class:`SlicePlan` -- is
    set up by :class:`~bettibounds.engines.model_engine.ModelEngine`)."""

    # the state of the trick (set by ModelEngine.__init__ and _setup_slice_trick)
    slice_trick: str | None
    slice_trick_reason: str | None
    _first: tuple | None  # the first layer: (module, args, kwargs, its parameters' names)
    _first_shape: tuple
    _channels_last: bool
    _plan: SlicePlan | None  # the last slice planned
    #: why the last slice planned was evaluated without the trick's tables (memory), or None
    slice_trick_memory: str | None = None
    #: the fused first layer (:mod:`.model_fused_first`) or None; ``fused_first`` describes it, else
    #: ``fused_first_reason`` says why not
    _fused = None
    fused_first: str | None = None
    fused_first_reason: str | None = "not set up"
    activations_reason: str | None  # (set by ModelEngine: why torch's activations are used)

    def free_memory(self) -> int:
        """Bytes free on the engine's device (ModelEngine's)."""
        raise NotImplementedError

    def _setup_slice_trick(self) -> None:
        """Find the first module holding varied parameters; use it if its output is linear in them."""
        owners = {}
        varied = set(self.names)
        for mname, mod in self._model.named_modules():
            own = [f"{mname}.{p}" if mname else p for p, _ in mod.named_parameters(recurse=False)]
            if any(n in varied for n in own):
                owners[id(mod)] = (mname, mod, own)
        calls: list = []
        inputs: dict = {}

        def pre(mod, args, kwargs):
            if id(mod) in owners:
                calls.append(id(mod))
                inputs.setdefault(id(mod), (args, kwargs))

        handles = [mod.register_forward_pre_hook(pre, with_kwargs=True) for _, mod, _ in owners.values()]
        c = torch.as_tensor(self.center, dtype=self.dtype, device=self.device)
        try:
            with torch.enable_grad():
                params = {n: v.clone().requires_grad_(True) for n, v in self._params_of(c).items()}
                self._forward(params)
        finally:
            for h in handles:
                h.remove()
        if not calls:
            self.slice_trick_reason = "no module holding varied parameters is called by the forward"
            return
        first = calls[0]
        mname, mod, own = owners[first]
        label = f"{mname or '(model)'} ({type(mod).__name__})"
        if type(mod) not in _LINEAR_IN_PARAMS:
            self.slice_trick_reason = f"the first parametrised module, {label}, is not one whose output is linear in " \
                                      "its parameters (Linear, Conv1d/2d/3d, LayerNorm, GroupNorm, BatchNorm)"
            return
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) and not mod.track_running_stats:
            self.slice_trick_reason = f"{label} uses batch statistics"
            return
        if calls.count(first) != 1:
            self.slice_trick_reason = f"{label} is called {calls.count(first)} times per forward"
            return
        args, kwargs = inputs[first]
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        if any(t.requires_grad for t in tensors):
            self.slice_trick_reason = f"the input of {label} depends on varied parameters"
            return
        shared = {id(p) for p in mod.parameters(recurse=False)}
        for other in self._model.modules():
            if other is not mod and any(id(p) in shared for p in other.parameters(recurse=False)):
                self.slice_trick_reason = f"{label} shares its parameters with another module"
                return
        detach = lambda v: v.detach() if isinstance(v, torch.Tensor) else v  # noqa: E731
        self._first = (mod, tuple(detach(a) for a in args), {k: detach(v) for k, v in kwargs.items()},
                       [f"{mname}.{p}" if mname else p for p, _ in mod.named_parameters(recurse=False)])
        fixed = dict(self._model.named_parameters())
        with torch.no_grad():
            self._first_shape = tuple(self._layer_output({n: fixed[n] for n in self._first[3]}).shape)
        # the first layer's outputs are formed point-major, (B, m, ...): one matrix product, and the
        # layout vmap's batched linear layers and pooling take without a copy (a sample-major (m, B, ...)
        # layout, which a following convolution takes without a copy, needed m tiny products and made
        # the last Linear's batched product 50x slower: measured on the benchmark's CNN). A Conv2d's
        # outputs are laid out channels-last, (B, m, H, W, C) seen as (B, m, C, H, W): the same values,
        # but the activation keeps that layout and torch's pooling kernels run 2x faster on it
        # (benchmarks/bench_models.py's CNN: 1.13x the whole rate; a following convolution takes it)
        self._channels_last = type(mod) is torch.nn.Conv2d and len(self._first_shape) == 4
        self._override = ForwardOverride(mod)
        self.slice_trick = label
        if not self._trick_agrees():
            self._first, self.slice_trick = None, None
            self.slice_trick_reason = f"the slice trick from {label} disagreed with the plain evaluation at a test " \
                                      "point (the module's parameters are used outside it?)"

    def _trick_agrees(self) -> bool:
        gen = torch.Generator().manual_seed(12345)
        scale = max(float(np.abs(self.center).max()), 1e-3)
        D = torch.randn(2, self.n_params, generator=gen, dtype=torch.float64) * (0.1 * scale)
        t = torch.tensor([[0.3, -0.7], [-1.1, 0.4]], dtype=torch.float64)
        with torch.no_grad():
            plan = self._plan_slice(self.center, D.numpy())
            fast = self._slice_values(plan, t.to(device=self.device, dtype=self.dtype))
            th = (torch.cat([torch.ones(2, 1, dtype=torch.float64), t], 1)
                  @ torch.cat([torch.as_tensor(self.center).unsqueeze(0), D])).to(device=self.device, dtype=self.dtype)
            plain = self._full_values(th)
        self._plan = None
        tol = 1e-9 if self.dtype == torch.float64 else 1e-3
        return bool(torch.allclose(fast.double(), plain.double(), rtol=tol, atol=tol * float(plain.abs().max())))

    def _layer_output(self, own_values: dict) -> torch.Tensor:
        from torch.func import functional_call

        first = self._first
        assert first is not None  # the slice trick's first layer, set whenever this is called
        mod, args, kwargs, names = first
        local = {n.rsplit(".", 1)[-1] if "." in n else n: v for n, v in own_values.items()}
        return functional_call(mod, local, args, kwargs, strict=False)

    def plan_slice(self, center, directions) -> SlicePlan:
        """The slice ``theta = center + t @ directions`` validated, with the slice trick's tables
        (computed once per slice and kept for the next call on the same slice); ``.k`` is its
        dimension."""
        return self._plan_slice(center, directions)

    def _plan_slice(self, center, directions) -> SlicePlan:
        c = self._tensor("center", center, (self.n_params,))
        directions = host_or_tensor("directions", directions)
        if directions.ndim == 1:
            directions = directions.reshape(1, -1)
        D = self._tensor("directions", directions, (None, self.n_params))
        k = int(D.shape[0])
        if k == 0:
            raise InvalidSpecError("directions must hold at least one direction (shape (k, P), k >= 1)")
        basis = torch.cat([c.unsqueeze(0), D], 0)
        key = (k, float(basis.sum()), float(basis.square().sum()))
        if self._plan is not None and self._plan.key == key and torch.equal(self._plan.basis, basis):
            return self._plan
        z = None
        self.slice_trick_memory = None
        need = self._table_bytes(k)
        free = self.free_memory() if self._first is not None else 0
        if self._first is not None and need > free // 2:
            # the tables grow with the data (m samples x the first layer's output per sample), not with the grid:
            # a large data set would be killed for memory here, where the point-by-point forward is chunked
            self.slice_trick_memory = (
                f"the slice trick's tables for this slice would take {need / 2**30:.3g} GiB while built (3 copies of "
                f"(1 + k) x {self.m} samples x the first layer's output), more than half the free memory "
                f"({free / 2**30:.3g} GiB): this slice was evaluated point by point (slower; a subset of the data, "
                "samples= of experiment_from_model, or fewer directions brings the trick back)")
        elif self._first is not None:
            own = self._first[3]
            fixed = dict(self._model.named_parameters())
            rows = []
            with torch.no_grad():
                for j in range(k + 1):
                    vals = self._params_of(basis[j])
                    if j == 0:  # the center: the module as it is, fixed parameters included
                        values = {n: vals[n] if n in vals else fixed[n] for n in own}
                    else:  # a direction: its varied parameters, the fixed ones at 0 (the output is linear)
                        values = {n: vals[n] if n in vals else torch.zeros_like(fixed[n]) for n in own}
                    rows.append(self._layer_output(values).reshape(-1))
            z = torch.stack(rows)
            if self._channels_last:  # rows (m, H, W, C): each point's outputs come out channels-last
                z = z.view(k + 1, *self._first_shape).permute(0, 1, 3, 4, 2).reshape(k + 1, -1)
        self._plan = SlicePlan(k, basis, z, key)
        return self._plan

    def _table_bytes(self, k: int) -> int:
        """Peak bytes of a slice's tables while they are built: three copies of (1 + k) rows of the first
        layer's output on all samples (the rows, their stack, the channels-last or window-by-window copy)."""
        if self._first is None:
            return 0
        per = int(np.prod(self._first_shape))
        return 3 * (1 + k) * per * torch.empty((), dtype=self.dtype).element_size()

    def _slice_values(self, plan: SlicePlan, t: torch.Tensor) -> torch.Tensor:
        if t.shape[0] == 0:
            return t.new_zeros(0)
        with no_fastpath(), self._activations():
            return self._slice_batched(t, plan.basis, plan.z)

    def _slice_batched(self, t: torch.Tensor, basis: torch.Tensor, table: torch.Tensor | None) -> torch.Tensor:
        """The loss at ``theta = t1 @ basis`` (t1 = [1, t]) for the B rows of t; ``table``: the plan's
        first-layer tables or None (a pure function of tensors, like ``_batched``)."""
        B = t.shape[0]
        t1 = torch.cat([t.new_ones(B, 1), t], dim=1)
        th = t1 @ basis
        if table is None:
            return self._batched(th)
        return self._batched(th, self._first_value(t1, table))

    def _first_value(self, t1: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """What the first layer returns on all samples at the points t1 (B, 1 + k): its output from the
        tables, or (fused first layer) the last fused module's output."""
        fused = self._fused
        if fused is not None and fused.on:
            return fused.values(t1, table, 0, self.m)
        B = t1.shape[0]
        if self._channels_last:  # (B, m, H, W, C) seen as (B, m, C, H, W)
            m, c, h, w = self._first_shape
            return (t1 @ table).view(B, m, h, w, c).permute(0, 1, 4, 2, 3)
        return (t1 @ table).view(B, *self._first_shape)

    # ------------------------------------------------------------ the fused first layer
    def _setup_fused_first(self, wanted: bool) -> None:
        """Fuse the first layer's table product with the activation (and pooling) after it where
        :func:`~.model_fused_first.recognise` finds them and the fast activations are in use; checked
        against the unfused evaluation at two points of a random slice (else off, with the reason)."""
        self._fused = None
        why = ("not asked for (fused_first=False)" if not wanted
               else f"no slice trick ({self.slice_trick_reason})" if self._first is None
               else f"the fast activations are not in use ({self.activations_reason})" if self._act_mode is None
               else None)
        if why is None:
            from .model_fused_first import FusedFirst, recognise

            assert self._first is not None and self._override is not None and self.slice_trick is not None
            found, why = recognise(self._model, self._first[0], self._channels_last, self._first_shape,
                                   self._call_counts)
            if found is not None:
                self._fused = FusedFirst(found, self._override, self._first_shape, self._channels_last,
                                         self.slice_trick)
                why = self._fused_disagrees()
                if why is not None:
                    self._fused.remove()
                    self._fused = None
        self.fused_first, self.fused_first_reason = (None, why) if self._fused is None else \
            (self._fused.description, None)

    def _call_counts(self) -> dict:
        """How many times each module (by id) is called in one forward at the centre."""
        counts: dict = {}

        def pre(mod, args):
            counts[id(mod)] = counts.get(id(mod), 0) + 1

        handles = [mod.register_forward_pre_hook(pre) for mod in self._model.modules()]
        try:
            with torch.no_grad():
                self._forward(self._params_of(torch.as_tensor(self.center, dtype=self.dtype, device=self.device)))
        finally:
            for h in handles:
                h.remove()
        return counts

    def _fused_disagrees(self) -> str | None:
        """None when the fused first layer gives the unfused outputs (to FUSED_CHECK_RTOL of their
        largest magnitude) at two points of a random slice, else why not."""
        from .model_fused_first import FUSED_CHECK_RTOL

        fused = self._fused
        assert fused is not None
        gen = torch.Generator().manual_seed(24680)
        scale = max(float(np.abs(self.center).max()), 1e-3)
        D = torch.randn(2, self.n_params, generator=gen, dtype=torch.float64) * (0.1 * scale)
        rtol = FUSED_CHECK_RTOL[self.dtype]
        try:
            with torch.no_grad(), no_fastpath(), self._activations():
                plan = self._plan_slice(self.center, D.numpy())
                assert plan.z is not None
                for coords in ([0.3, -0.7], [-1.1, 0.4]):
                    t1 = torch.tensor([[1.0, *coords]], dtype=self.dtype, device=self.device)
                    th = (t1 @ plan.basis)[0]
                    outs = []
                    for on in (False, True):
                        fused.on = on
                        outs.append(self._predict(th, self._first_value(t1, plan.z)[0]))
                    plain, fast = outs
                    gap = float((fast - plain).abs().max()) if fast.shape == plain.shape else float("inf")
                    if not gap <= rtol * float(plain.abs().max()):
                        return (f"the fused first layer's outputs differed from the unfused ones by {gap:.2g} (> "
                                f"{rtol:g} of the largest magnitude) at a test point")
        except Exception as exc:  # noqa: BLE001 -- any failure of the fused pass: evaluate unfused
            return f"the fused first layer failed ({one_line(exc)[:160]})"
        finally:
            fused.on = True
            self._plan = None
        return None
