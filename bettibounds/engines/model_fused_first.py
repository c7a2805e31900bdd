"""The fused first layer of the model engine: table product, activation and pooling in one pass.

With the slice trick (:mod:`.model_slice`) the first parametrised layer's output at a point of a slice
is ``z = T_0 + sum_j t_j T_j`` (the k + 1 tables of the data, channels-last for a Conv2d). When that
layer is followed in an ``nn.Sequential`` by an ``nn.Tanh`` or ``nn.Sigmoid`` -- and, after a Conv2d,
optionally by an ``nn.AvgPool2d`` without padding -- the model engine evaluates

    pooled = AvgPool(phi(T_0 + sum_j t_j T_j))     (or phi(...) alone)

for a chunk of points and a block of samples in one numba kernel (:func:`~._fused_numba.first_act_rows`,
:func:`~._fused_numba.first_act_pool`): each sample's columns of the tables are read once for all the
chunk's points, the activation is formed in an L1-sized buffer and never written to memory, and the
forward continues from the last fused module's output (the first layer returns the fused value, the
fused activation and pooling modules pass it on unchanged). The benchmark's CNN spent 73 % of its time
in those three passes and the copies between them (docs/benchmarks.md, "Any PyTorch model").

What changes in the values. The activation is the model engine's fast activation itself (the same
vector code: :func:`~._fused_numba.act_vector_array`; docs/theory.md, section 15), bit for bit; the
pooling sums each window from 0 in row-major order in the data's precision and divides by the window's
size, as torch's CPU ``avg_pool2d`` does (bit for bit the same on the same activations; the tests check
both). What differs from the unfused evaluation is the sum ``T_0 + sum_j t_j T_j``: each product is
rounded and added from the left, where the unfused path takes BLAS's matrix product (a few ulp of the
largest term either way).

Recognised structurally, never by names (:func:`recognise`): the first layer (the slice trick's) is a
child of a plain ``nn.Sequential`` (whose forward passes each child's output to the next and nothing
else), the next child is exactly ``nn.Tanh`` or ``nn.Sigmoid`` and, after a Conv2d laid out
channels-last, optionally exactly ``nn.AvgPool2d`` with no padding, ``ceil_mode=False`` and no
``divisor_override``; none of them has hooks or a replaced forward, and each is called once per forward.
Anything else (MaxPool2d, a padded pooling, ReLU, a custom module) runs as before. The engine checks
the fused evaluation against the unfused one when it is built and keeps it off, with the reason, when
they differ (:data:`FUSED_CHECK_RTOL`). This module imports torch; numba is imported on first use.
"""

from __future__ import annotations

import torch

from .fast_activations import thread_pool

__all__ = ["FusedFirst", "recognise", "fused_first_op", "fused_first_pool_op", "FUSED_CHECK_RTOL"]

#: fused and unfused outputs agree when |fused - plain| <= rtol * max |plain| elementwise: the activation and
#: the pooling are the same functions, only the table sum's rounding differs (a few ulp of its largest term)
FUSED_CHECK_RTOL = {torch.float64: 1e-12, torch.float32: 1e-5}
#: elements (points x columns) per thread below which one thread does the whole call
_MIN_PER_THREAD = 1 << 16
#: the activations with a vector form in the engine, by module type (exact types: a subclass may override forward)
_ACTIVATIONS = {torch.nn.Tanh: 0, torch.nn.Sigmoid: 1}


def _kernels():
    from ._fused_numba import first_act_pool, first_act_rows

    return first_act_rows, first_act_pool


def _split(lo: int, hi: int, work_per_unit: int, points: int) -> list[int]:
    """Cut [lo, hi) into one range per thread (torch's thread count) when the work pays for it."""
    workers = max(1, min(torch.get_num_threads(), (hi - lo) * work_per_unit * points // _MIN_PER_THREAD, hi - lo))
    return [lo + (i * (hi - lo)) // workers for i in range(workers + 1)]


def _run(kernel, cuts: list[int], args_of) -> None:
    if len(cuts) == 2:
        kernel(*args_of(cuts[0], cuts[1]))
        return
    pool = thread_pool(len(cuts) - 1)
    jobs = [pool.submit(kernel, *args_of(a, b)) for a, b in zip(cuts, cuts[1:])]
    for job in jobs:
        job.result()


def _points(t1: torch.Tensor) -> tuple[torch.Tensor, bool]:
    two = t1.dim() == 2
    return (t1 if two else t1.unsqueeze(0)).contiguous(), two


def _first_act(t1: torch.Tensor, table: torch.Tensor, lo: int, hi: int, act: int) -> torch.Tensor:
    """phi(t1 @ table[:, lo:hi]) for t1 (1 + k,) or (B, 1 + k) and the tables (1 + k, N), in one pass
    (:func:`~._fused_numba.first_act_rows`): (hi - lo,) or (B, hi - lo)."""
    t, two = _points(t1)
    out = t.new_empty((t.shape[0], hi - lo) if two else (hi - lo,))
    flat = out.view(t.shape[0], hi - lo)
    rows = _kernels()[0]
    tn, tab, on = t.numpy(), table.contiguous().numpy(), flat.numpy()
    _run(rows, _split(lo, hi, 1, t.shape[0]), lambda a, b: (tn, tab, a, b, act, on, lo))
    return out


def _first_act_pool(t1: torch.Tensor, table: torch.Tensor, s0: int, s1: int, geometry: list[int]) -> torch.Tensor:
    """AvgPool(phi(t1 @ table)) on the samples [s0, s1) (:func:`~._fused_numba.first_act_pool`), the
    tables laid out window by window (:meth:`FusedFirst.pool_table`); ``geometry`` = [kh kw, C, Ho, Wo,
    act]: (s1 - s0, C, Ho, Wo) or (B, s1 - s0, C, Ho, Wo)."""
    nw, C, Ho, Wo, act = geometry
    t, two = _points(t1)
    b, n = s1 - s0, C * Ho * Wo
    out = t.new_empty(((t.shape[0],) if two else ()) + (b, C, Ho, Wo))
    flat = out.view(t.shape[0], b, n)
    pool = _kernels()[1]
    tn, tab, on = t.numpy(), table.contiguous().numpy(), flat.numpy()
    div = tn.dtype.type(nw)
    scale = tn.dtype.type(1.0 / nw if nw & (nw - 1) == 0 else 0.0)  # (a power of two: exact)
    _run(pool, _split(s0, s1, nw * n, t.shape[0]), lambda a, e: (tn, tab, a, e, nw, n, act, div, scale, on, s0))
    return out


class _Evaluation(torch.autograd.Function):
    """``impl(t1, table, *rest)`` (:func:`_first_act` or :func:`_first_act_pool`) for plain and vmapped
    points: under ``vmap`` the points' coordinates are batched (the tables never are) and the batch is
    one call. Evaluation only (the engine's gradients go through torch's modules). An
    ``autograd.Function`` rather than a ``torch.library`` custom operator, whose first call imports
    ``torch._dynamo`` (1.7-2.5 s of a process's first evaluation; as :mod:`.fast_activations`)."""

    @staticmethod
    def forward(impl, t1, table, *rest):
        return impl(t1.detach(), table.detach(), *rest)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("the fused first layer evaluates the loss only; gradients go through torch's modules")

    @staticmethod
    def vmap(info, in_dims, impl, t1, table, *rest):
        if in_dims[2] is not None:
            raise NotImplementedError("the fused first layer takes one set of tables for all the points")
        if in_dims[1] is None:
            return _Evaluation.apply(impl, t1, table, *rest), None
        return _Evaluation.apply(impl, t1.movedim(in_dims[1], 0), table, *rest), 0


def fused_first_op(t1: torch.Tensor, table: torch.Tensor, lo: int, hi: int, act: int) -> torch.Tensor:
    """phi(t1 @ table[:, lo:hi]) for t1 (1 + k,) or (B, 1 + k) and the tables (1 + k, N), in one pass
    (:func:`~._fused_numba.first_act_rows`): (hi - lo,) or (B, hi - lo); under ``vmap`` too."""
    return _Evaluation.apply(_first_act, t1, table, lo, hi, act)


def fused_first_pool_op(t1: torch.Tensor, table: torch.Tensor, s0: int, s1: int, geometry: list[int]) -> torch.Tensor:
    """AvgPool(phi(t1 @ table)) on the samples [s0, s1) (:func:`~._fused_numba.first_act_pool`), the
    tables laid out window by window (:meth:`FusedFirst.pool_table`); ``geometry`` = [kh kw, C, Ho, Wo,
    act]: (s1 - s0, C, Ho, Wo) or (B, s1 - s0, C, Ho, Wo); under ``vmap`` too."""
    return _Evaluation.apply(_first_act_pool, t1, table, s0, s1, geometry)


# ------------------------------------------------------------------ recognition
def hookless(mod: torch.nn.Module) -> bool:
    """No forward hooks of its own (a hook could change the module's input or output)."""
    return not (mod._forward_hooks or mod._forward_pre_hooks or getattr(mod, "_forward_hooks_with_kwargs", None)
                or getattr(mod, "_forward_pre_hooks_with_kwargs", None))


def global_hooks() -> bool:
    m = torch.nn.modules.module
    return any(getattr(m, name, None) for name in ("_global_forward_hooks", "_global_forward_pre_hooks"))


def recognise(model: torch.nn.Module, first: torch.nn.Module, channels_last: bool, first_shape: tuple,
              call_counts) -> tuple[tuple | None, str | None]:
    """((activation module, act code, pooling module or None, pool geometry or None), None) when the
    first layer ``first`` is followed by a fusable activation (and pooling), else (None, why not).
    ``call_counts()``: how many times each module (by id) is called in one forward (a forward of the
    model, run only once the Sequential is found)."""
    label = type(first).__name__
    if global_hooks():
        return None, "global module hooks are registered (they could change a module's input or output)"
    parents = [mod for mod in model.modules() if type(mod) is torch.nn.Sequential
               and any(child is first for child in mod._modules.values())]
    if len(parents) != 1:
        return None, (f"the first layer ({label}) is not the child of a plain nn.Sequential" if not parents else
                      f"the first layer ({label}) is a child of several containers")
    seq = parents[0]
    calls = call_counts()
    if "forward" in vars(seq) or not hookless(seq) or calls.get(id(seq), 0) != 1:
        return None, "the nn.Sequential holding the first layer has hooks, a replaced forward or several calls"
    children = [c for c in seq._modules.values() if c is not None]
    i = next(n for n, c in enumerate(children) if c is first)
    if not hookless(first):
        return None, f"the first layer ({label}) has hooks"
    if i + 1 >= len(children) or type(children[i + 1]) not in _ACTIVATIONS:
        after = type(children[i + 1]).__name__ if i + 1 < len(children) else "nothing"
        return None, f"the first layer ({label}) is followed by {after}, not nn.Tanh or nn.Sigmoid (the activations " \
                     "with a vector form)"
    act = children[i + 1]
    if "forward" in vars(act) or not hookless(act) or calls.get(id(act), 0) != 1 or act is first:
        return None, f"the {type(act).__name__} after the first layer has hooks, a replaced forward or several calls"
    pool, geometry = None, None
    nxt = children[i + 2] if i + 2 < len(children) else None
    if channels_last and len(first_shape) == 4 and type(nxt) is torch.nn.AvgPool2d and "forward" not in vars(nxt) \
            and hookless(nxt) and calls.get(id(nxt), 0) == 1:
        geometry = _pool_geometry(nxt, first_shape)
        if geometry is not None:
            pool = nxt
    return (act, _ACTIVATIONS[type(act)], pool, geometry), None


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1])) if len(v) == 2 else (-1, -1)


def _pool_geometry(pool: torch.nn.AvgPool2d, first_shape: tuple) -> list[int] | None:
    """[H, W, C, kh, kw, sh, sw] when the kernel computes this pooling exactly (no padding, floor mode,
    no divisor override, whole windows), else None (the pooling then runs as torch's)."""
    kh, kw = _pair(pool.kernel_size)
    sh, sw = _pair(pool.stride if pool.stride is not None else pool.kernel_size)
    ph, pw = _pair(pool.padding)
    _, C, H, W = first_shape
    if min(kh, kw, sh, sw) < 1 or (ph, pw) != (0, 0) or pool.ceil_mode or pool.divisor_override is not None \
            or kh > H or kw > W:
        return None
    return [H, W, C, kh, kw, sh, sw]


# ------------------------------------------------------------------ the override
class FusedFirst:
    """The fused first layer of an engine: :meth:`values` computes the fused output for a block of
    samples; while the slice trick's override hands a value to the first layer and ``on`` is True, the
    fused activation (and pooling) modules return their input (the fused value) unchanged."""

    def __init__(self, found: tuple, override, first_shape: tuple, channels_last: bool, first_label: str):
        act, self.act, pool, geometry = found
        self.on = True
        self._override = override
        self._first_shape = first_shape  # (m, ...) of the first layer's output
        self._channels_last = channels_last
        self._window = None if geometry is None else geometry  # [H, W, C, kh, kw, sh, sw]
        self._tables: tuple | None = None  # (a slice's tables, the same laid out window by window)
        self.members = [act] if pool is None else [act, pool]
        self.description = " + ".join([first_label, type(act).__name__] + (
            [f"AvgPool2d(kernel {tuple(geometry[3:5])}, stride {tuple(geometry[5:7])})"] if pool is not None else []))
        self._forwards = [(mod, mod.forward) for mod in self.members]
        for mod, forward in self._forwards:
            mod.forward = self._passing(forward)  # an instance attribute: nn.Module.__call__ calls it

    def _passing(self, forward):
        def passing(x, *args, **kwargs):
            value = self._override.value
            if not self.on or value is None:
                return forward(x, *args, **kwargs)
            if x is not value or args or kwargs:  # (a Sequential passes the first layer's output, alone)
                raise RuntimeError("the fused first layer's module got an input other than the first layer's "
                                   "output")
            return x

        return passing

    def remove(self) -> None:
        """Give the modules back their own forwards."""
        for mod, _ in self._forwards:
            del mod.forward
        self.on = False

    def saved_per_sample(self) -> int:
        """Activations per sample that the fused pass does not write (the first layer's output and the
        activation's; with pooling, the pooled output is written in the activation's place)."""
        per = 1
        for s in self._first_shape[1:]:
            per *= int(s)
        return 2 * per if self._window is not None else per

    def pool_table(self, table: torch.Tensor) -> torch.Tensor:
        """The slice's tables (1 + k, m H W C, channels-last) laid out window by window for
        :func:`~._fused_numba.first_act_pool`: sample s's columns ``s nw n + w n + i`` hold the column of
        the w-th offset (row-major) of output i's window, i over (C, Ho, Wo) row-major (the rows and columns
        no window covers are left out; overlapping windows repeat theirs). Kept for the last tables."""
        if self._tables is not None and self._tables[0] is table:
            return self._tables[1]
        assert self._window is not None
        H, W, C, kh, kw, sh, sw = self._window
        Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
        K, m = table.shape[0], self._first_shape[0]
        v = table.view(K, m, H, W, C)
        pieces = [v[:, :, di:di + sh * (Ho - 1) + 1:sh, dj:dj + sw * (Wo - 1) + 1:sw, :].permute(0, 1, 4, 2, 3)
                  for di in range(kh) for dj in range(kw)]  # each (K, m, C, Ho, Wo)
        laid = torch.stack(pieces, 2).reshape(K, -1).contiguous()
        self._tables = (table, laid)
        return laid

    def values(self, t1: torch.Tensor, table: torch.Tensor, s0: int, s1: int) -> torch.Tensor:
        """The last fused module's output on samples [s0, s1) at the points ``t1`` ((1 + k,) or (B, 1 + k),
        vmapped or not), shaped as that module returns it: the pooled maps (..., b, C, Ho, Wo)
        contiguous, or the activations in the tables' layout seen as the first layer's shape."""
        lead = tuple(t1.shape[:-1])
        b = s1 - s0
        if self._window is not None:
            H, W, C, kh, kw, sh, sw = self._window
            geometry = [kh * kw, C, (H - kh) // sh + 1, (W - kw) // sw + 1, self.act]
            return fused_first_pool_op(t1, self.pool_table(table), s0, s1, geometry)
        per = table.shape[1] // self._first_shape[0]
        z = fused_first_op(t1, table, s0 * per, s1 * per, self.act)
        if self._channels_last:  # (..., b, H, W, C) seen as (..., b, C, H, W)
            _, c, h, w = self._first_shape
            n = len(lead)
            return z.view(*lead, b, h, w, c).permute(*range(n), n, n + 3, n + 1, n + 2)
        return z.view(*lead, b, *self._first_shape[1:])
