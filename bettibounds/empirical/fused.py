"""The fused float32 CPU engine for slices (opt-in; needs numba: ``pip install -e '.[fast]'``).

:class:`FusedSliceKernel` evaluates the same loss as :class:`~.kernels.LossKernel` on a
slice ``theta = center + sum_j t_j dir_j`` with one compiled pass per point instead of a
sequence of batched torch operations: every activation of a point stays in the CPU's cache,
and the point's whole forward pass and squared error run in one loop nest. On the benchmark
network of docs/benchmarks.md (d = 10, widths 32, 16, m = 256, a 2-D slice) it runs 2.2-3.8x
faster than the torch kernel in float32, and 1.4-1.7x on wide layers (widths 100, 80, m = 1000):
its products are register tiles and its tanh and logistic vector code, written in LLVM IR
(:mod:`._fused_numba`). It exists for CPU users who sample many float32 slices; the torch kernel stays the
default and the reference.

Numerics (what differs from the torch float32 kernel):

* the first layer's pre-activation tables of the centre and of each direction are computed in
  float64 and rounded to float32 once; the later layers' parameters at a point are
  ``W(center) + sum_j t_j W(dir_j)`` in float32;
* products in float32, each a sum of fused multiply-adds over the inputs in order (register tiles in
  LLVM vector code; the same order for every point, whatever its chunk); activations in float32;
* tanh is our own branch-free float32 approximation (at most 5 ulp from the correctly rounded
  tanh, checked on every float32 input); the logistic is computed from our own float32 exp as
  ``e / (1 + e)`` or ``1 / (1 + e)``, ``e = exp(-|z|)`` (at most 2 ulp, checked on every
  float32 input), so saturated units keep their relative accuracy; NaN propagates through both;
* biases are added after the products; the output error is ``(V a) + (c - y)`` with the
  products in float32 and the output bias c and the target y in float64, so a small error
  next to a large target or bias keeps its digits;
* the squared errors are accumulated in float64, and ``l2 ||theta||^2`` is summed in float64
  from the float64 centre and directions (a sum of squares: never negative);
* before any evaluation, every float32 intermediate is bounded in float64, and a slice on which
  float32 could overflow is refused (:meth:`FusedSliceKernel._magnitude_bound`).

Measured against the float64 torch kernel, its error is at or below the torch float32 kernel's own
on the 15 architectures of tests/empirical/test_fused.py, far below it with saturated logistic
units, and within 10x of it (plus a floor of 2e-6 relative) on random networks of the family. These
are measurements, not bounds: near a minimum, where u - y is small against the products that form u,
both float32 engines lose relative accuracy (docs/usage.md, "Precision"), and there the ratio has been
seen at 11.8.

Supported: MSE with the identity output; hidden activation tanh or logistic; any depth and
widths; any number of outputs; biases per layer; ``skip="residual"``; any ``l2 >= 0``; slices
with k = 1 to 4 directions. Anything else (BCE, an output activation, another activation, the
input-output skip, k > 4, the full parameter box, float64, CUDA) is refused with the reason,
before any work: use the torch kernel (the default engine) for those.

The kernel is compiled by numba on first use (about 30 s) and cached on disk, so later runs
and processes load it in about half a second. The number of threads is numba's
(``NUMBA_NUM_THREADS``, all cores by default). Calls from several Python threads are
serialised (each call already uses every core; numba's fallback "workqueue" threading layer
is not re-entrant). Do not ``fork`` a process after it has used the engine (GNU OpenMP does
not survive a fork); use the "spawn" start method.
"""

from __future__ import annotations

import numbers
import sys
import threading
import time

import numpy as np

from ..errors import InvalidSpecError
from .._lib.progress import progress_bar

__all__ = ["ENGINES", "FusedSliceKernel", "fused_unsupported"]

#: the engines ``sample_landscape`` / ``bettibounds landscape --engine`` accept
ENGINES = ("torch", "fused")
#: largest number of slice directions (the kernel unrolls k = 1..4)
KMAX = 4
_ACT = {"tanh": 0, "logistic": 1}
#: points per parallel task (the kernel's prange runs over chunks of this many points)
_TASK = 64
#: points per call into the compiled kernel when a progress bar is shown
_BLOCK = 16384
#: largest bound on an intermediate value the engine accepts: a tenth of float32's largest finite
#: value (3.4e38), far more than the rounding errors the bound leaves out (relative ~1e-6), so
#: under it no float32 intermediate can overflow (FusedSliceKernel._magnitude_bound)
_F32_SAFE = 3.4e37
#: one call into the compiled kernel at a time (see the module docstring)
_LOCK = threading.Lock()
#: share of the available host memory one evaluation may use
_MEMORY_FRACTION = 0.5


def _dtype_name(dtype) -> str:
    """'float32' for every spelling of it (str, numpy or torch dtype), else a readable name."""
    name = str(dtype).replace("torch.", "").strip().lower()
    if name in ("float32", "float"):
        return "float32"
    try:
        return np.dtype(dtype).name
    except TypeError:
        return name


def _host_float64(name: str, value) -> np.ndarray:
    """value (a tensor, requiring grad or not, an array or nested lists) as a float64 array."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"{name} must be a rectangular array of real numbers ({exc})") from None


def fused_unsupported(spec, k: int | None = None) -> str | None:
    """Why the fused engine cannot evaluate this network (and k slice directions), or None."""
    from ..pfaffian.activations import get_activation

    if spec.is_symbolic:
        return "the spec is symbolic; the engine needs integer sizes"
    if spec.loss != "mse":
        return f"loss {spec.loss!r}: the fused engine supports MSE only"
    if spec.output_activation != "identity":
        return (f"output activation {spec.output_activation!r}: the fused engine supports the identity output "
                "only")
    name = get_activation(spec.activation).name
    if name not in _ACT:
        return f"hidden activation {name!r}: the fused engine supports tanh and logistic only"
    if "input-output" in spec.skips:
        return "skip 'input-output': the fused engine supports no skip or 'residual' only"
    if k is not None and not 1 <= k <= KMAX:
        return f"{k} slice directions: the fused engine supports 1 to {KMAX}"
    return None


def _compiled():
    """The numba module (imported on first use: importing it compiles nothing, but needs numba)."""
    try:
        from . import _fused_numba
    except ImportError as exc:
        raise InvalidSpecError(f"the fused engine needs numba ({exc}): pip install -e '.[fast]', "
                               "or use the default torch engine") from None
    return _fused_numba


class FusedSliceKernel:
    """The loss of ``spec`` on (x, y) on slices, in one fused float32 pass per point.

    Same arguments and conventions as :class:`~.kernels.LossKernel` (parameter order, loss,
    residual skip, l2), CPU and float32 only; ``device`` and ``dtype`` are accepted so the two
    engines are interchangeable, and anything but the CPU and float32 is refused.

    Raises
    ------
    InvalidSpecError
        The network is outside the supported family (the message says why), numba is not
        installed, or the data are malformed (as for LossKernel).

    Examples
    --------
    >>> from bettibounds.spec import ArchitectureSpec
    >>> spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=2, bias=False)
    >>> kern = FusedSliceKernel(spec, [[1.0], [-1.0]], [[0.5], [0.0]])
    >>> loss = kern.evaluate_slice([1.0, 0, 0, 0], [[0, 0, 1.0, 0]], [0.0, 1.0])
    >>> loss.round(6).tolist()  # ((tanh(1) t - 0.5)^2 + (tanh(1) t)^2) / 2 at t = 0, 1
    [0.125, 0.324229]
    """

    device = "cpu"
    dtype = "float32"
    engine = "fused"

    def __init__(self, spec, x, y, device=None, dtype="float32"):
        from ..engines.validation import check_data, check_spec

        self.spec = check_spec(spec)
        if device is not None and str(device) != "cpu":
            raise InvalidSpecError(f"the fused engine runs on the CPU only, got device={device!r}; use the "
                                   "torch engine for CUDA")
        if _dtype_name(dtype) != "float32":
            raise InvalidSpecError(f"the fused engine computes in float32 only, got dtype={dtype!r}; use the torch "
                                   "engine for float64 (in float64 it is the faster one: docs/benchmarks.md)")
        reason = fused_unsupported(spec)
        if reason is not None:
            raise InvalidSpecError(f"{reason}; use the torch engine (the default)")
        self.l2 = float(spec.l2)
        if not self.l2 >= 0:
            raise InvalidSpecError(f"the fused engine needs l2 >= 0, got {spec.l2!r}")
        self._x, self._y = check_data(spec, x, y)
        self.m = self._x.shape[0]
        self.n_params = int(spec.n_params)
        self._impl = _compiled()
        #: seconds this object spent compiling the kernel or loading it from numba's cache (None: it
        #: was already loaded in this process when this object first evaluated)
        self.compile_seconds: float | None = None

    def __repr__(self) -> str:
        s = self.spec
        return (f"FusedSliceKernel(d={s.inputs}, widths={list(s.widths)}, outputs={s.outputs}, "
                f"activation={s.activation!r}, m={self.m}, P={self.n_params}, device='cpu', dtype='float32')")

    # ------------------------------------------------------------------ tables
    def _slice(self, center, directions) -> tuple[np.ndarray, np.ndarray]:
        """(center (P,), directions (k, P)) as validated float64 arrays."""
        from .._lib.arrays import as_matrix

        P = self.n_params
        c = _host_float64("center", center)
        if c.shape != (P,):
            raise InvalidSpecError(f"center must have shape (P,) = ({P},), got {tuple(c.shape)}")
        D = _host_float64("directions", directions)
        if D.ndim == 1:
            D = D.reshape(1, -1)
        D = as_matrix("directions", D, cols=P)
        c = as_matrix("center", c.reshape(1, -1), cols=P)[0]
        k = D.shape[0]
        if k == 0:
            raise InvalidSpecError("directions must hold at least one direction (shape (k, P), k >= 1)")
        reason = fused_unsupported(self.spec, k)
        if reason is not None:
            raise InvalidSpecError(f"{reason}; use the torch engine (the default)")
        return c, D

    def _tables(self, c: np.ndarray, D: np.ndarray, tmax: np.ndarray) -> dict:
        """The kernel's inputs for one slice, computed in float64 and rounded to float32 once
        (``V``, for the l2 term, stays float64), and ``bound``: :meth:`_magnitude_bound` for
        coordinates of magnitude at most ``tmax`` (k,)."""
        from ..engines.layout import param_layout

        spec = self.spec
        k = D.shape[0]
        V = np.ascontiguousarray(np.vstack([c[None], D]))  # (1 + k, P): the centre, then the directions
        lay = param_layout(spec)
        first = lay[0]
        W1 = V[:, first.w:first.w + first.out * first.inp].reshape(1 + k, first.out, first.inp)
        Z1 = W1 @ self._x.T  # (1 + k, h_1, m): linear in v, so theta's table is the same combination
        if first.b is not None:
            Z1 = Z1 + V[:, first.b:first.b + first.out, None]
        pieces, rows, off = [], [], 0
        last = lay[-1]
        for layer in lay[1:]:
            n_w = layer.out * layer.inp
            pieces.append(V[:, layer.w:layer.w + n_w])
            # the output bias goes to the kernel in float64 (cb below), never through this float32
            # table: zeros here, so that a large output bias (or target) costs no range
            has_b = layer.b is not None and layer is not last
            pieces.append(V[:, layer.b:layer.b + layer.out] if has_b else np.zeros((1 + k, layer.out)))
            rows.append((off, off + n_w, layer.inp, layer.out))
            off += n_w + layer.out
        Wt = np.concatenate(pieces, axis=1)
        rows = np.ascontiguousarray(rows, dtype=np.int64).reshape(-1, 4)
        residual = int("residual" in spec.skips)
        bound = self._magnitude_bound(Z1, Wt, rows, tmax, residual)

        def c32(a):
            with np.errstate(over="ignore"):  # an overflow is refused just below, with the reason
                return np.ascontiguousarray(a, dtype=np.float32)

        tabs = {"Z1": c32(Z1), "Wt": c32(Wt)}
        for name, a in tabs.items():
            if not np.isfinite(a).all():
                raise InvalidSpecError(f"the slice's {name} table overflows float32 (entries beyond 3.4e38): use "
                                       "the torch engine in float64 or smaller centre/directions")
        cb = V[:, last.b:last.b + last.out] if last.b is not None else np.zeros((1 + k, last.out))
        return dict(k=k, lay=rows, y=np.ascontiguousarray(self._y.T), cb=np.ascontiguousarray(cb), V=V,
                    act=_ACT[spec.activation], residual=residual, bound=bound, **tabs)

    def _magnitude_bound(self, Z1: np.ndarray, Wt: np.ndarray, rows: np.ndarray, tmax: np.ndarray,
                         residual: int) -> float:
        """An upper bound, in exact arithmetic (float64 here), on the magnitude of every float32
        value the kernel forms at coordinates |t_j| <= tmax_j.

        Covered: the coordinates; the first-layer pre-activations and the later layers'
        parameters (sums of |table| |t_j| terms); every later pre-activation and each of its
        partial sums in any order, with or without the bias (|b| + sum |W| |a|); the
        activations (|tanh|, logistic <= 1, and |a_l| <= |a_{l-1}| + 1 with the residual skip);
        the output products V a. The output bias c, the target y and u - y = V a + (c - y) are
        float64 in the kernel (its float32 parameter table holds zeros for c), so they are not
        bounded here. Rounding makes the computed values exceed these by a relative
        (1 + 2^-24)^n for sums of n terms (and the own tanh reaches 1 + 2e-7): the engine's
        threshold is a tenth of float32's range, which absorbs that for any n below 10^7.
        """
        s = np.concatenate([[1.0], tmax])  # the weight of each table: 1 for the centre, |t_j|
        worst = float(tmax.max(initial=0.0))
        worst = max(worst, float(np.tensordot(s, np.abs(Z1), axes=1).max(initial=0.0)))
        wabs = s @ np.abs(Wt)  # bound on |W(t)| entrywise
        worst = max(worst, float(wabs.max(initial=0.0)))
        a = np.ones(Z1.shape[1])  # |phi| <= 1 for tanh and logistic
        for n, (wo, bo, nin, nout) in enumerate(rows):
            # (the output layer's bias entries in Wt are zeros: its z is the products V a)
            z = wabs[bo:bo + nout] + wabs[wo:wo + nout * nin].reshape(nout, nin) @ a
            worst = max(worst, float(z.max()))
            a = a + 1.0 if residual else np.ones(nout)
        return worst

    def _check_memory(self, k: int, n_points: int) -> None:
        """Refuse, before anything is allocated, an evaluation whose tables, per-thread buffers and
        output would not fit: the first-layer table in float64 with its two float64 temporaries
        (|Z1| and the weighted sum) and its float32 copy; the later layers' table in float64 with
        |Wt| and its float32 copy; [centre; directions] in float64; the output and the float64
        coordinates; and per thread the activations of two layers (the widest layer, outputs
        included) and the parameters at a point."""
        import numba

        from .._lib.memory import available_bytes

        spec, m = self.spec, self.m
        h1 = spec.widths[0]
        rows = 1 + k
        q = self.n_params - spec.inputs * h1 - (h1 if spec.has_bias(1) else 0)  # the later layers' parameters
        widest = max(*spec.widths, spec.outputs)
        tables = (3 * 8 + 4) * rows * h1 * m + (2 * 8 + 4) * rows * q + 8 * rows * self.n_params
        per_thread = 4 * (2 * widest * m + q)
        need = tables + (8 + 8 * k) * n_points + numba.get_num_threads() * per_thread
        budget = _MEMORY_FRACTION * available_bytes()
        if need > budget:
            raise InvalidSpecError(
                f"the fused engine would need {need / 2**30:.2f} GiB for this slice ({tables / 2**30:.2f} GiB of "
                f"tables, {per_thread / 2**20:.1f} MiB per thread, {(8 + 8 * k) * n_points / 2**30:.2f} GiB for the "
                f"points and their values) but only {budget / 2**30:.2f} GiB may be used (half the available "
                "memory); use the torch engine, which chunks to the free memory, or fewer points per call")

    def _ensure_compiled(self, tab: dict) -> None:
        """Compile the kernel, or load it from numba's cache, on the first use in this process
        (an empty call with this slice's argument types); its seconds go to ``compile_seconds``."""
        if self._impl.general_kernel.signatures:
            return
        t0 = time.perf_counter()
        self._call(tab, np.empty((0, tab["k"])), np.empty(0))
        self.compile_seconds = time.perf_counter() - t0

    def _call(self, tab: dict, T: np.ndarray, out: np.ndarray) -> None:
        with _LOCK:
            self._impl.general_kernel(T, tab["Z1"], tab["Wt"], tab["lay"], tab["y"], tab["cb"], tab["V"], self.l2,
                                      tab["act"], tab["residual"], out, _TASK)

    # ---------------------------------------------------------------- evaluate
    def evaluate_slice(self, center, directions, coords) -> np.ndarray:
        """Loss at ``theta = center + coords @ directions``: coords (B, k), a (B,) vector when
        k = 1, or one point (k,); a float64 array (B,)."""
        return self.evaluate_chunked(coords, "slice", center=center, directions=directions)

    def prepare(self, points, mode: str = "slice", *, center=None, directions=None,
                check_memory: bool = True) -> tuple[np.ndarray, dict]:
        """Every check of an evaluation, before any work: (coordinates (N, k) float64, the
        kernel's tables). Raises InvalidSpecError for another mode, malformed points, centre or
        directions, a slice on which float32 could overflow (with the bound) and, with
        ``check_memory``, an evaluation that would not fit in memory. A Dask client calls it
        to refuse on the client what its workers would refuse."""
        if mode != "slice":
            raise InvalidSpecError(f"the fused engine evaluates slices only (mode='slice'), got mode={mode!r}; "
                                   "use the torch engine for a box over all parameters")
        if center is None or directions is None:
            raise InvalidSpecError("mode='slice' needs center (P,) and directions (k, P)")
        c, D = self._slice(center, directions)
        k = D.shape[0]
        T = _host_float64("points", points)
        if T.ndim == 1:  # (B,) when k = 1, else one point (k,)
            T = T.reshape(-1, 1) if k == 1 else T.reshape(1, -1)
        if T.ndim != 2 or T.shape[1] != k:
            raise InvalidSpecError(f"points must have shape (N, k={k}) slice coordinates, got {tuple(T.shape)}")
        if not np.isfinite(T).all():
            raise InvalidSpecError("points contains non-finite values (nan or inf)")
        T = np.ascontiguousarray(T)
        N = T.shape[0]
        if N and check_memory:
            self._check_memory(k, N)
        tab = self._tables(c, D, np.abs(T).max(axis=0) if N else np.zeros(k))
        if not tab["bound"] < _F32_SAFE:
            raise InvalidSpecError(
                f"float32 could overflow on this slice: an intermediate value of the loss may reach "
                f"{tab['bound']:.3g} (float32 ends at 3.4e38; the engine refuses above {_F32_SAFE:.1e}); use the "
                "torch engine in float64, or a smaller region")
        return T, tab

    def evaluate_chunked(self, points, mode: str = "slice", *, center=None, directions=None,
                         chunk: int | None = None, progress: bool = False) -> np.ndarray:
        """Loss at N slice points (N, k); the same call as :meth:`LossKernel.evaluate_chunked
        <.kernels.LossKernel.evaluate_chunked>` with ``mode="slice"``, returning a float64 array.

        ``chunk`` (a positive integer or None) is accepted for interchangeability and has no
        effect: the kernel needs no memory per point beyond its output. ``progress`` shows a
        tqdm bar (and says when the first call of the process compiles or loads the kernel).

        Raises InvalidSpecError (before any work) for a slice on which float32 could overflow,
        with the bound, and when the tables and buffers would not fit in memory.
        """
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1):
            raise InvalidSpecError(f"chunk must be a positive integer or None, got {chunk!r}")
        T, tab = self.prepare(points, mode, center=center, directions=directions)
        N = T.shape[0]
        out = np.empty(N, dtype=np.float64)
        if N == 0:
            return out
        if progress and not self._impl.general_kernel.signatures:
            print("fused engine: compiling the kernel, or loading it from numba's cache (about 30 s the first "
                  "time on a machine, then about 0.5 s)", file=sys.stderr)
        self._ensure_compiled(tab)
        bar = progress_bar(progress, N, "loss (cpu, fused float32)")
        if bar is None:
            self._call(tab, T, out)
            return out
        with bar:
            for start in range(0, N, _BLOCK):
                stop = min(N, start + _BLOCK)
                self._call(tab, T[start:stop], out[start:stop])
                bar.update(stop - start)
        return out
