"""The fused CPU engine (needs numba: ``pip install -e '.[fast]'``), float64 or float32.

:class:`FusedKernel` evaluates the same loss as :class:`~.torch_kernel.LossKernel` with one compiled
pass per point instead of a sequence of batched torch operations: every activation of a point
stays in the CPU's cache, and the point's whole forward pass and loss run in one loop nest. Its
products are register tiles and its activations vector code, written in LLVM IR
(:mod:`._fused_numba`). It evaluates slices ``theta = center + sum_j t_j dir_j`` (k = 1 to 4
directions) and, in ``mode="full"``, independent parameter vectors (a box over every parameter
of a tiny network, uniform samples). On the CPU it is the engine ``engine="auto"`` picks for
every network it supports (:func:`~.choice.choose_engine`); the torch kernel stays the reference
and serves everything else (CUDA, other activations, the input-output skip, k > 4).

Numerics (what differs from the torch kernel of the same precision):

* slices: the first layer's pre-activation tables of the centre and of each direction are
  computed in float64 (and rounded to float32 once in float32); the later layers' parameters at
  a point are ``W(center) + sum_j t_j W(dir_j)`` in the engine's precision;
* products: each a sum of fused multiply-adds over the inputs in order (the same order for every
  point, whatever its chunk); biases are added after the products;
* tanh and the logistic are the engine's own vector functions. float64: tanh from the addition
  theorem (e^(-2|x|) = h e^(2y) with h = 2^k 2^(j/16) from a 16-entry table and tau = tanh y an
  odd polynomial of degree 7 on |y| <= 0.0108), within 6.7 ulp; the logistic from the same table
  and a Cody-Waite reduction, within 4.1 ulp (the error arguments: docs/theory.md, section 15;
  the measured maxima on 10^8 inputs: docs/benchmarks.md). float32: a rational tanh (at most
  5 ulp) and an exp-based logistic (at most 2 ulp), checked on every float32 input. NaN
  propagates, +-inf give +-1 and 0 / 1 as torch's;
* the output u = (V a) + c is float64 (the products V a in the engine's precision, the output
  bias c and the target y in float64); MSE: (V a) + (c - y), squared; with a logistic or tanh
  output that activation in float64; BCE: ``y softplus(-u) + (1 - y) softplus(u)`` with the
  engine's float64 softplus, a term left out where its coefficient is 0 (as torch's kernel);
  cross entropy: per sample, with the largest logit M and g_o = M - u_o, ``sum_o y_o g_o +
  (sum_o y_o) log1p(sum_{o not the max} e^-g_o)`` with the engine's float64 exp and log1p;
  the per-sample losses are summed in float64, and ``l2 ||theta||^2`` is a float64 sum of squares
  of the float64 parameters (never negative);
* before any evaluation, every intermediate value is bounded in float64, and a region on which
  the engine's precision could overflow is refused (:meth:`FusedKernel._magnitude_bound`).

Measured against the torch kernel: in float64 within 1e-13 relative on random networks (and near
minima within a bound relative to the size of the products that cancel there; docs/usage.md,
"Engines"); in float32 at or below the torch float32 kernel's own error on the fixed cases of
tests/empirical/test_fused.py. These are measurements; near a minimum, where u - y is small
against the products that form u, both precisions lose relative accuracy there (docs/usage.md,
"Engines", "Does the choice change a number?").

Supported: MSE with the identity, logistic or tanh output, or BCE, and (``loss="cross_entropy"``,
outside the spec's losses) the softmax cross entropy of the outputs; hidden activation tanh or
logistic; any depth and widths; any number of outputs; biases per layer; ``skip="residual"``;
any ``l2 >= 0``; slices with k = 1 to 4 directions, and full parameter vectors. Anything else
(another activation, the input-output skip, k > 4, CUDA) is refused with the reason, before any
work: the torch kernel evaluates those (``engine="auto"`` falls back to it by itself).

The kernel is compiled by numba on first use (about 30 s per precision) and cached on
disk, so later runs and processes load them in about half a second. The number of threads is
numba's (``NUMBA_NUM_THREADS``, all cores by default). Calls from several Python threads are
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

from .._lib.progress import progress_bar
from ..errors import InvalidSpecError
from .validation import check_data, check_mode, check_points, check_spec, concrete_widths

__all__ = ["EXTRA_LOSSES", "FusedKernel", "FusedRangeError", "FusedSliceKernel", "fused_unsupported", "kernel_loaded",
           "COMPILE_NOTICE"]

#: largest number of slice directions (the kernel unrolls k = 1..4)
KMAX = 4
_ACT = {"tanh": 0, "logistic": 1}
#: why each other registry activation is not in the engine (the torch kernel evaluates them)
_NO_VECTOR_FORM = {
    "arctan": "needs a vector arctan, which the engine does not have",
    "softplus": "is unbounded (the overflow guard assumes |phi| <= 1) and has no vector form in the engine yet",
    "gaussian": "has no vector form in the engine yet",
    "silu": "is unbounded (the overflow guard assumes |phi| <= 1) and has no vector form in the engine yet",
    "gelu": "needs a vector erfc, which the engine does not have",
    "exp": "is unbounded (the overflow guard assumes |phi| <= 1)",
    "identity": "is unbounded (the overflow guard assumes |phi| <= 1); a linear network is cheap in torch",
}
#: points per parallel task (the kernel's prange runs over chunks of this many points)
_TASK = 64
#: points per call into the compiled kernel when a progress bar is shown
_BLOCK = 16384
#: without a progress bar, calls into the compiled kernel grow from 4096 points while each takes under half of
#: this many seconds: Ctrl-C (seen between calls) stops a long evaluation within about this time (one call over
#: all the points took 8-10 s to answer it on a 2501^2 grid; trial 8)
_CALL_SECONDS = 0.25
#: largest bound on an intermediate value the engine accepts, per precision: a tenth of the largest
#: finite value (float32 3.4e38, float64 1.8e308), far more than the rounding errors the bound leaves
#: out (relative ~n 2^-24), so under it no intermediate can overflow (FusedKernel._magnitude_bound)
_SAFE = {"float32": 3.4e37, "float64": 1.7e307}
#: one call into the compiled kernel at a time (see the module docstring)
_LOCK = threading.Lock()
#: share of the available host memory one evaluation may use
_MEMORY_FRACTION = 0.5
#: the precisions whose kernel this process has already compiled or loaded
_LOADED: set = set()
#: what is said on stderr before the first call of a process compiles or loads the kernel
COMPILE_NOTICE = ("fused engine: compiling the kernel, or loading it from numba's cache (about 30 s the first time in "
                  "an installation -- numba's cache sits beside the code -- then about 0.5 s)")


def kernel_loaded(dtype: str = "float64") -> bool:
    """Whether this process has already compiled or loaded the kernel of precision ``dtype`` (its next
    evaluation then starts at once)."""
    return dtype in _LOADED


class FusedRangeError(InvalidSpecError):
    """The fused engine refuses a region on which its precision could overflow (the message gives
    the bound). ``engine="auto"`` then evaluates with the torch kernel instead."""


def _dtype_name(dtype) -> str:
    """'float32' or 'float64' for every spelling of them (str, numpy or torch dtype), else a
    readable name."""
    name = str(dtype).replace("torch.", "").strip().lower()
    if name in ("float32", "float"):
        return "float32"
    if name in ("float64", "double"):
        return "float64"
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
    """Why the fused engine cannot evaluate this network (and, for a slice, k directions), or None.

    ``k=None``: the network alone (a box over all parameters needs nothing more).
    """
    from ..pfaffian.activations import get_activation

    if spec.is_symbolic:
        return "the spec is symbolic; the engine needs integer sizes"
    name = get_activation(spec.activation).name
    if name not in _ACT:
        why = _NO_VECTOR_FORM.get(name.split(":")[0], "has no vector form in the engine")
        if name.startswith("polynomial:"):
            why = "is unbounded (the overflow guard assumes |phi| <= 1)"
        return f"hidden activation {name!r} {why}; the fused engine supports tanh and logistic"
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
                               "or use the torch engine") from None
    return _fused_numba


#: losses the engine computes beside the spec's own (the ``loss`` argument of :class:`FusedKernel`)
EXTRA_LOSSES = ("cross_entropy",)


def _lossmode(spec, impl, loss=None) -> int:
    if loss == "cross_entropy":
        return impl.LOSS_CE
    if spec.loss == "bce":
        return impl.LOSS_BCE
    return {"identity": impl.LOSS_MSE, "logistic": impl.LOSS_MSE_LOGISTIC,
            "tanh": impl.LOSS_MSE_TANH}[spec.output_activation]


class FusedKernel:
    """The loss of ``spec`` on (x, y) in one fused pass per point, float64 or float32, CPU.

    Same arguments and conventions as :class:`~.torch_kernel.LossKernel` (parameter order, losses,
    output activations, residual skip, l2) and the same :meth:`evaluate_chunked` call, with
    ``mode="slice"`` or ``mode="full"``; ``device`` is accepted so the two engines are
    interchangeable, and anything but the CPU is refused.

    ``loss="cross_entropy"`` (not a loss of the spec: no bound covers it) replaces the spec's loss
    by the softmax cross entropy of the K outputs u (logits), torch's ``F.cross_entropy`` with
    probability targets: ``mean_i -sum_o y_io log softmax(u_i)_o`` for y (m, K), one-hot rows for
    class indices. The spec must have the identity output; the value is computed in float64 in
    both precisions (docs/theory.md, sections 14 and 15). ``None``: the spec's loss.

    Raises
    ------
    InvalidSpecError
        The network is outside the supported family (the message says why), numba is not
        installed, the dtype is not float64 or float32, or the data are malformed (as for
        LossKernel).

    Examples
    --------
    >>> from bettibounds.spec import ArchitectureSpec
    >>> spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=2, bias=False)
    >>> kern = FusedKernel(spec, [[1.0], [-1.0]], [[0.5], [0.0]])
    >>> loss = kern.evaluate_slice([1.0, 0, 0, 0], [[0, 0, 1.0, 0]], [0.0, 1.0])
    >>> loss.round(12).tolist()  # ((tanh(1) t - 0.5)^2 + (tanh(1) t)^2) / 2 at t = 0, 1 (float64)
    [0.125, 0.324228580408]
    """

    device = "cpu"
    engine = "fused"

    def __init__(self, spec, x, y, device=None, dtype="float64", loss: str | None = None):
        self.spec = check_spec(spec)
        if loss is not None and loss not in EXTRA_LOSSES:
            raise InvalidSpecError(f"loss must be None (the spec's loss) or one of {', '.join(EXTRA_LOSSES)}, "
                                   f"got {loss!r}")
        if loss == "cross_entropy" and (spec.output_activation != "identity" or spec.loss != "mse"):
            raise InvalidSpecError("loss='cross_entropy' takes the network's outputs as logits: the spec must have "
                                   f"loss 'mse' with the identity output, got {spec.loss!r} with "
                                   f"{spec.output_activation!r}")
        #: the loss evaluated: the spec's, or "cross_entropy"
        self.loss = spec.loss if loss is None else loss
        if device is not None and str(device) != "cpu":
            raise InvalidSpecError(f"the fused engine runs on the CPU only, got device={device!r}; use the "
                                   "torch engine for CUDA")
        self.dtype = _dtype_name(dtype)
        if self.dtype not in ("float64", "float32"):
            raise InvalidSpecError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
        reason = fused_unsupported(spec)
        if reason is not None:
            raise InvalidSpecError(f"{reason}; use the torch engine")
        self.l2 = float(spec.l2)
        if not self.l2 >= 0:
            raise InvalidSpecError(f"the fused engine needs l2 >= 0, got {spec.l2!r}")
        self._x, self._y = check_data(spec, x, y)
        self.m = self._x.shape[0]
        self.n_params = int(spec.n_params)
        self._impl = _compiled()
        self._np = np.dtype(self.dtype)
        #: samples padded to a whole number of vectors (the padding's loss is left out)
        self._mp = -(-self.m // self._impl.VW) * self._impl.VW
        Y = np.zeros((spec.outputs, self._mp))
        Y[:, :self.m] = self._y.T
        self._Y = Y
        self._lossmode = _lossmode(spec, self._impl, loss)
        #: seconds this object spent compiling the kernel or loading it from numba's cache (None: it
        #: was already loaded in this process when this object first evaluated)
        self.compile_seconds: float | None = None

    def __repr__(self) -> str:
        s = self.spec
        return (f"FusedKernel(d={s.inputs}, widths={list(concrete_widths(s))}, outputs={s.outputs}, "
                f"activation={s.activation!r}, loss={self.loss!r}, m={self.m}, P={self.n_params}, device='cpu', "
                f"dtype={self.dtype!r})")

    def _pad(self, a: np.ndarray) -> np.ndarray:
        """a (..., m) padded with zero columns to (..., mp)."""
        out = np.zeros(a.shape[:-1] + (self._mp,))
        out[..., :self.m] = a
        return out

    def _cast(self, name: str, a: np.ndarray) -> np.ndarray:
        """a in the engine's precision, C-contiguous; refuses values beyond its range."""
        with np.errstate(over="ignore"):  # an overflow is refused just below, with the reason
            out = np.ascontiguousarray(a, dtype=self._np)
        if not np.isfinite(out).all():
            limit = "3.4e38" if self.dtype == "float32" else "1.8e308"
            raise FusedRangeError(f"the {name} table overflows {self.dtype} (entries beyond {limit}): use the torch "
                                  "engine in float64 or smaller centre/directions")
        return out

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
            raise InvalidSpecError(f"{reason}; use the torch engine")
        return c, D

    def _common(self) -> dict:
        spec = self.spec
        return dict(Y=self._Y, act=_ACT[spec.activation], residual=int("residual" in spec.skips),
                    lossmode=self._lossmode)

    def _tables(self, c: np.ndarray, D: np.ndarray, tmax: np.ndarray) -> dict:
        """The slice kernel's inputs, computed in float64 and rounded to the engine's precision
        once (``V``, for the l2 term, and the output-bias table ``cb`` stay float64), and ``bound``:
        :meth:`_magnitude_bound` for coordinates of magnitude at most ``tmax`` (k,)."""
        from .layout import param_layout

        spec = self.spec
        k = D.shape[0]
        V = np.ascontiguousarray(np.vstack([c[None], D]))  # (1 + k, P): the centre, then the directions
        lay = param_layout(spec)
        first = lay[0]
        W1 = V[:, first.w:first.w + first.out * first.inp].reshape(1 + k, first.out, first.inp)
        Z1 = W1 @ self._x.T  # (1 + k, h_1, m): linear in v, so theta's table is the same combination
        if first.b is not None:
            Z1 = Z1 + V[:, first.b:first.b + first.out, None]
        pieces: list[np.ndarray] = []
        row_list: list[tuple[int, int, int, int]] = []
        off = 0
        last = lay[-1]
        for layer in lay[1:]:
            n_w = layer.out * layer.inp
            pieces.append(V[:, layer.w:layer.w + n_w])
            # the output bias goes to the kernel in float64 (cb below), never through this table:
            # zeros here, so that a large output bias (or target) costs no range
            if layer.b is not None and layer is not last:
                pieces.append(V[:, layer.b:layer.b + layer.out])
            else:
                pieces.append(np.zeros((1 + k, layer.out)))
            row_list.append((off, off + n_w, layer.inp, layer.out))
            off += n_w + layer.out
        Wt = np.concatenate(pieces, axis=1)
        rows = np.ascontiguousarray(row_list, dtype=np.int64).reshape(-1, 4)
        s = np.concatenate([[1.0], tmax])  # the weight of each table: 1 for the centre, |t_j|
        worst = max(float(tmax.max(initial=0.0)), float(np.tensordot(s, np.abs(Z1), axes=1).max(initial=0.0)))
        bound = self._magnitude_bound(worst, s @ np.abs(Wt), rows, concrete_widths(spec)[0])
        tabs = {"Z1": self._cast("Z1", self._pad(Z1)), "Wt": self._cast("Wt", Wt)}
        cb = V[:, last.b:last.b + last.out] if last.b is not None else np.zeros((1 + k, last.out))
        return dict(mode="slice", k=k, lay=rows, cb=np.ascontiguousarray(cb), V=V, bound=bound, cofs=-1,
                    X=np.empty((0, self._mp), self._np), W0=np.empty(0, self._np), **self._common(), **tabs)

    def _full_tables(self, wmax: np.ndarray) -> dict:
        """The full-mode kernel's inputs (the layer table with the first layer, the padded inputs in
        the engine's precision, the zero-padded parameter buffer) and ``bound`` for parameter vectors
        whose entries are at most ``wmax`` (P,) in magnitude."""
        from .layout import param_layout

        spec, P = self.spec, self.n_params
        lay = param_layout(spec)
        widest = max(*concrete_widths(spec), spec.outputs)
        rows = np.ascontiguousarray([(layer.w, P if layer.b is None else layer.b, layer.inp, layer.out)
                                     for layer in lay], dtype=np.int64)
        last = lay[-1]
        wabs = np.concatenate([wmax, np.zeros(widest)])
        if last.b is not None:  # the output bias stays float64 in the kernel
            wabs[last.b:last.b + last.out] = 0.0
        xabs = np.abs(self._x)
        first = lay[0]
        W1 = wabs[first.w:first.w + first.out * first.inp].reshape(first.out, first.inp)
        z1 = W1 @ xabs.T + wabs[rows[0, 1]:rows[0, 1] + first.out, None]
        worst = max(float(xabs.max(initial=0.0)), float(z1.max(initial=0.0)))
        later = rows[1:].copy()
        bound = self._magnitude_bound(worst, wabs, later, first.out)
        X = self._cast("x", self._pad(self._x.T))
        return dict(mode="full", lay=rows, X=X, W0=np.zeros(P + widest, dtype=self._np),
                    cofs=-1 if last.b is None else last.b, bound=bound, Z1=np.empty((1, 0, self._mp), self._np),
                    Wt=np.empty((1, 0), self._np), cb=np.zeros((1, spec.outputs)), V=np.zeros((1, 0)),
                    **self._common())

    def _magnitude_bound(self, worst: float, wabs: np.ndarray, rows: np.ndarray, h1: int) -> float:
        """An upper bound, in exact arithmetic (float64 here), on the magnitude of every value the
        kernel forms in its precision, given ``worst`` (a bound on the coordinates, the inputs and
        the first-layer pre-activations with their partial sums), ``wabs`` (an entrywise bound on
        the later layers' parameters at every point, in the layout of ``rows``: offset of W, of b,
        fan-in, fan-out) and the first layer's width h1.

        Covered: every later pre-activation and each of its partial sums in any order, with or
        without the bias (|b| + sum |W| |a|); the parameters themselves; the activations (|tanh|,
        logistic <= 1, and |a_l| <= |a_{l-1}| + 1 with the residual skip); the output products
        V a. The output bias c, the target y and u = V a + c are float64 in the kernel (its
        parameter tables hold zeros for c), so they are not bounded here (in float64 the loss
        itself may overflow to inf, as the torch kernel's does; the sampler refuses it then).
        Rounding makes the computed values exceed these by a relative (1 + eps)^n for sums of n
        terms (and the float32 tanh reaches 1 + 2e-7): the engine's threshold is a tenth of the
        precision's range, which absorbs that for any n below 10^7.
        """
        worst = max(worst, float(wabs.max(initial=0.0)))
        residual = "residual" in self.spec.skips
        a = np.ones(h1)  # |phi| <= 1 for tanh and logistic
        for wo, bo, nin, nout in rows:
            # (the output layer's bias entries are zeros: its z is the products V a)
            z = wabs[bo:bo + nout] + wabs[wo:wo + nout * nin].reshape(nout, nin) @ a
            worst = max(worst, float(z.max()))
            a = a + 1.0 if residual else np.ones(nout)
        return worst

    def _check_memory(self, k: int, n_points: int) -> None:
        """Refuse, before anything is allocated, an evaluation whose tables, per-thread buffers and
        output would not fit. Slices: the first-layer table in float64 with its two float64
        temporaries (|Z1| and the weighted sum) and its copy in the engine's precision; the later
        layers' table in float64 with |Wt| and its copy; [centre; directions] in float64; the
        coordinates (float64) and the output. Full mode (k = 0): a float64 copy of the points, the
        inputs, and the output. Per thread: the activations of two layers (the widest layer,
        outputs included; and the inputs in full mode) and the parameters at a point."""
        import numba

        from .._lib.memory import available_bytes

        spec, m, item = self.spec, self._mp, self._np.itemsize
        widths = concrete_widths(spec)
        h1 = widths[0]
        rows = 1 + k
        P = self.n_params
        q = P - spec.inputs * h1 - (h1 if spec.has_bias(1) else 0)  # the later layers' parameters
        widest = max(*widths, spec.outputs)
        if k:
            tables = (3 * 8 + item) * rows * h1 * m + (2 * 8 + item) * rows * q + 8 * rows * P
            per_point = 8 + 8 * k
            per_thread = item * (2 * widest * m + q)
        else:
            tables = (8 + item) * spec.inputs * m
            per_point = 8 + 8 * P
            per_thread = item * ((spec.inputs + 2 * widest) * m + P + widest)
        need = tables + per_point * n_points + numba.get_num_threads() * per_thread
        budget = _MEMORY_FRACTION * available_bytes()
        if need > budget:
            raise InvalidSpecError(
                f"the fused engine would need {need / 2**30:.2f} GiB for this evaluation ({tables / 2**30:.2f} GiB of "
                f"tables, {per_thread / 2**20:.1f} MiB per thread, {per_point * n_points / 2**30:.2f} GiB for the "
                f"points and their values) but only {budget / 2**30:.2f} GiB may be used (half the available "
                "memory); use the torch engine, which chunks to the free memory, or fewer points per call")

    def _ensure_compiled(self, tab: dict) -> None:
        """Compile the kernel of this precision, or load it from numba's cache, on its first use in
        this process (an empty call with this evaluation's argument types); its seconds go
        to ``compile_seconds``."""
        key = self.dtype
        if key in _LOADED:
            return
        t0 = time.perf_counter()
        width = tab["k"] if tab["mode"] == "slice" else self.n_params
        self._call(tab, np.empty((0, width)), np.empty(0))
        self.compile_seconds = time.perf_counter() - t0
        _LOADED.add(key)

    def _call(self, tab: dict, T: np.ndarray, out: np.ndarray) -> None:
        with _LOCK:
            self._impl.fused_kernel(T, int(tab["mode"] == "full"), tab["Z1"], tab["Wt"], tab["X"], tab["W0"],
                                    tab["lay"], tab["Y"], tab["cb"], tab["V"], tab["cofs"], self.l2, tab["act"],
                                    tab["residual"], tab["lossmode"], self.m, out, _TASK)

    # ---------------------------------------------------------------- evaluate
    def evaluate_slice(self, center, directions, coords) -> np.ndarray:
        """Loss at ``theta = center + coords @ directions``: coords (B, k), a (B,) vector when
        k = 1, or one point (k,); a float64 array (B,)."""
        return self.evaluate_chunked(coords, "slice", center=center, directions=directions)

    def prepare(self, points, mode: str = "slice", *, center=None, directions=None,
                check_memory: bool = True) -> tuple[np.ndarray, dict]:
        """Every check of an evaluation, before any work: (points as a float64 C-contiguous
        array, (N, k) coordinates or (N, P) parameter vectors; the kernel's tables). Raises
        InvalidSpecError for an unknown mode, malformed points, centre or directions, and, with
        ``check_memory``, an evaluation that would not fit in memory; FusedRangeError (an
        InvalidSpecError) for a region on which the engine's precision could overflow (with the
        bound). A Dask client calls it to refuse on the client what its workers would refuse."""
        check_mode(mode, center, directions)
        if mode == "slice":
            c, D = self._slice(center, directions)
            k = width = D.shape[0]
        else:
            k, width = 0, self.n_params
        T = _host_float64("points", points)
        if T.ndim == 1 and mode == "slice":  # (B,) when k = 1, else one point (k,)
            T = T.reshape(-1, 1) if k == 1 else T.reshape(1, -1)
        elif T.ndim == 1:
            T = T.reshape(1, -1)
        T = check_points(T, mode, width)
        if not np.isfinite(T).all():
            raise InvalidSpecError("points contains non-finite values (nan or inf)")
        T = np.ascontiguousarray(T)
        N = T.shape[0]
        if N and check_memory:
            self._check_memory(k, N)
        tmax = np.abs(T).max(axis=0) if N else np.zeros(width)
        tab = self._tables(c, D, tmax) if mode == "slice" else self._full_tables(tmax)
        safe = _SAFE[self.dtype]
        if not tab["bound"] < safe:
            where = "slice" if mode == "slice" else "set of parameter vectors"
            raise FusedRangeError(
                f"{self.dtype} could overflow on this {where}: an intermediate value of the loss may reach "
                f"{tab['bound']:.3g} (the engine refuses above {safe:.1e}, a tenth of {self.dtype}'s range); use the "
                "torch engine in float64, or a smaller region")
        return T, tab

    def evaluate_chunked(self, points, mode: str | None = None, *, center=None, directions=None,
                         chunk: int | None = None, progress: bool = False) -> np.ndarray:
        """Loss at N points; the same call as :meth:`LossKernel.evaluate_chunked
        <.torch_kernel.LossKernel.evaluate_chunked>`: ``mode="slice"`` with (N, k) coordinates and
        ``center``/``directions``, or ``mode="full"`` with (N, P) parameter vectors (``None``:
        "slice" when a centre is given, else "full"). Returns a float64 array.

        ``chunk`` (a positive integer or None) is accepted for interchangeability and has no
        effect: the kernel evaluates each point on its own. ``progress`` shows a tqdm bar (and
        says when the first call of the process compiles or loads the kernel).

        Raises InvalidSpecError (before any work) for a region on which the precision could
        overflow (FusedRangeError, with the bound), and when the tables and buffers would not fit
        in memory.
        """
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1):
            raise InvalidSpecError(f"chunk must be a positive integer or None, got {chunk!r}")
        if mode is None:
            mode = "full" if center is None else "slice"
        T, tab = self.prepare(points, mode, center=center, directions=directions)
        N = T.shape[0]
        out = np.empty(N, dtype=np.float64)
        if N == 0:
            return out
        if progress and self.dtype not in _LOADED:
            print(COMPILE_NOTICE, file=sys.stderr)
        self._ensure_compiled(tab)
        bar = progress_bar(progress, N, f"loss (cpu, fused {self.dtype}, {tab['mode']})")
        if bar is None:
            start, block = 0, 4096
            while start < N:  # (each point's value is its own: the blocks change no bit)
                stop = min(N, start + block)
                t = time.perf_counter()
                self._call(tab, T[start:stop], out[start:stop])
                if time.perf_counter() - t < _CALL_SECONDS / 2:
                    block *= 2
                start = stop
            return out
        with bar:
            for start in range(0, N, _BLOCK):
                stop = min(N, start + _BLOCK)
                self._call(tab, T[start:stop], out[start:stop])
                bar.update(stop - start)
        return out


#: the former name (the engine evaluated slices only)
FusedSliceKernel = FusedKernel
