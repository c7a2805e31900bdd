"""Batched losses and gradients of a plain MLP by hand-written backpropagation.

The barcode protocols (descents, path relaxation: :mod:`bettibounds.barcode.minima`) ask for the
loss and its gradient at a few dozen parameter vectors at once. Through autograd, every slice of
the (B, P) parameter batch that the forward takes (each layer's W and b) gets a backward that
zero-fills a full (B, P) buffer and adds into it: at P = 216 586 (digits, width 256, depth 4) that
was about 45 % of a gradient call (torch profiler; docs/benchmarks.md). Here the backward writes
each layer's gradient once into its columns of the result, so the cost is the matrix products
(about three forward passes).

Scope: the networks of :mod:`bettibounds.barcode.realdata` and their relatives -- a spec with no
skip connections, MSE loss on an identity output, hidden activation ``tanh`` or ``logistic``, any
bias pattern and ``l2``. Anything else raises :class:`~bettibounds.errors.InvalidSpecError`; use
:class:`~bettibounds.barcode.evaluate.KernelEvaluator` there. The forward is the same network and
loss as :class:`~bettibounds.engines.torch_kernel.LossKernel` (same parameter layout,
:func:`bettibounds.engines.layout.param_layout`); tests/empirical compares the two.
"""

from __future__ import annotations

import numpy as np

from ..engines.layout import param_layout
from ..errors import InvalidSpecError
from .workspace import Workspace

__all__ = ["MLPEvaluator", "supports_backprop"]

#: working memory one chunk may use (activations kept for the backward, and the gradient rows)
_CHUNK_BYTES = 256 * 2**20


def supports_backprop(spec) -> str | None:
    """None when :class:`MLPEvaluator` handles ``spec``, else the reason it does not."""
    if spec.is_symbolic:
        return "the spec has symbolic sizes"
    if spec.skips:
        return f"skip connections ({', '.join(sorted(spec.skips))}) are not supported"
    if spec.loss != "mse":
        return f"loss {spec.loss!r} is not supported (mse only)"
    if spec.output_activation != "identity":
        return f"output activation {spec.output_activation!r} is not supported (identity only)"
    if spec.activation not in ("tanh", "logistic"):
        return f"activation {spec.activation!r} is not supported (tanh or logistic)"
    return None


class MLPEvaluator:
    """``values`` / ``values_and_gradients`` (the interface of :mod:`bettibounds.barcode.evaluate`)
    of an MLP with MSE loss, by batched matrix products and a hand-written backward.

    Parameters
    ----------
    spec : ArchitectureSpec
        See the module docstring for what is supported.
    x, y : array-like, (m, inputs) and (m, outputs)
    dtype : {"float64", "float32"}
        Arithmetic precision; results are returned as float64 arrays either way.
    workspace : Workspace, optional
        Where the float32 copies of the parameters and the float32 gradients live between calls
        (default: the evaluator's own); ``values_and_gradients(points, out=...)`` writes the
        gradients into the caller's array. Neither changes a number (tests/empirical compares them
        with fresh arrays); they save an allocation, and its page faults, per batch and call. The
        evaluator is therefore not thread-safe: one per thread.

    Examples
    --------
    >>> from bettibounds import ArchitectureSpec
    >>> spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=2, bias=False)
    >>> ev = MLPEvaluator(spec, [[1.0], [-1.0]], [[0.5], [0.0]])
    >>> ev.values(np.zeros((3, spec.n_params))).tolist()
    [0.125, 0.125, 0.125]
    """

    #: ``values_and_gradients`` accepts ``out=`` (:func:`bettibounds.barcode.evaluate.values_and_gradients_into`)
    writes_gradients_into = True

    def __init__(self, spec, x, y, dtype: str = "float64", workspace: Workspace | None = None):
        import torch

        why = supports_backprop(spec)
        if why is not None:
            raise InvalidSpecError(f"MLPEvaluator: {why}; use KernelEvaluator(LossKernel(...)) instead")
        if dtype not in ("float64", "float32"):
            raise InvalidSpecError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        if xa.ndim != 2 or xa.shape[1] != spec.inputs or ya.shape != (xa.shape[0], spec.outputs):
            raise InvalidSpecError(f"x must be (m, {spec.inputs}) and y (m, {spec.outputs}), got {xa.shape} "
                                   f"and {ya.shape}")
        if not (np.isfinite(xa).all() and np.isfinite(ya).all()):
            raise InvalidSpecError("x and y must be finite")
        self.spec = spec
        self.n_params = int(spec.n_params)
        self.m = xa.shape[0]
        self.dtype = getattr(torch, dtype)
        self.l2 = float(spec.l2)
        self._layers = param_layout(spec)
        self._logistic = spec.activation != "tanh"
        self._x = torch.as_tensor(xa, dtype=self.dtype)  # (m, d)
        self._xt = self._x.T.contiguous()  # (d, m)
        self._yt = torch.as_tensor(np.ascontiguousarray(ya.T), dtype=self.dtype)  # (outputs, m)
        width_sum = sum(spec.widths) + spec.outputs
        per_point = (self.n_params * 2 + 2 * width_sum * self.m) * (8 if dtype == "float64" else 4)
        self.batch = max(1, min(512, _CHUNK_BYTES // per_point))
        self.evaluations = 0
        self.workspace = Workspace() if workspace is None else workspace

    def __repr__(self) -> str:
        return f"MLPEvaluator(P={self.n_params}, m={self.m}, dtype={str(self.dtype).replace('torch.', '')!r})"

    # a layer's W (B, out, inp) and b (B, out, 1) as views of the batch of parameter vectors
    def _wb(self, th, layer):
        B = th.shape[0]
        W = th[:, layer.w:layer.w + layer.out * layer.inp].view(B, layer.out, layer.inp)
        b = None if layer.b is None else th[:, layer.b:layer.b + layer.out].unsqueeze(2)
        return W, b

    def _forward(self, th):
        """Hidden activations [a_1, ..., a_L] (B, h_l, m) and the output residual r = u - y (B, out, m)."""
        import torch

        B = th.shape[0]
        acts = []
        first = self._layers[0]
        W, b = self._wb(th, first)
        z = torch.matmul(W.reshape(B * first.out, first.inp), self._xt).view(B, first.out, self.m)
        for layer in self._layers[1:]:
            if b is not None:
                z += b
            a = torch.sigmoid_(z) if self._logistic else torch.tanh_(z)
            acts.append(a)
            W, b = self._wb(th, layer)
            z = torch.bmm(W, a)
        if b is not None:
            z += b
        z -= self._yt
        return acts, z

    def _loss(self, th, r):
        import torch

        v = (r * r).sum(dim=(1, 2)) / self.m
        if self.l2 > 0:
            v = v + self.l2 * torch.einsum("bp,bp->b", th, th)
        return v

    def values(self, points) -> np.ndarray:
        """(N,) losses at the rows of ``points`` (N, P)."""
        import torch

        pts = self._points(points)
        out = np.empty(pts.shape[0])
        with torch.inference_mode():
            for s in range(0, pts.shape[0], self.batch):
                th = self._theta(pts[s:s + self.batch])
                out[s:s + self.batch] = self._loss(th, self._forward(th)[1]).double().numpy()
        self.evaluations += pts.shape[0]
        return out

    def values_and_gradients(self, points, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """((N,) losses, (N, P) gradients), each row's gradient with respect to that row.

        ``out``: a C-contiguous float64 (N, P) array to write the gradients into (returned);
        default a new one.
        """
        import torch

        pts = self._points(points)
        vals = np.empty(pts.shape[0])
        if out is None:
            grads = np.empty_like(pts)
        elif (not isinstance(out, np.ndarray) or out.shape != pts.shape or out.dtype != np.float64
              or not out.flags.c_contiguous or not out.flags.writeable):
            raise InvalidSpecError(f"out must be a writeable C-contiguous float64 array of shape {pts.shape}, got "
                                   f"{getattr(out, 'shape', None)} {getattr(out, 'dtype', type(out).__name__)}")
        else:
            grads = out
        rows = torch.from_numpy(grads)
        with torch.inference_mode():
            for s in range(0, pts.shape[0], self.batch):
                th = self._theta(pts[s:s + self.batch])
                n = th.shape[0]
                # in float64 the backward writes the caller's rows directly; in float32 a buffer kept
                # across calls, cast into them after (what g.double() did, without the temporaries)
                g = (rows[s:s + n] if self.dtype == torch.float64
                     else self.workspace.get_torch("mlp.gradients", (n, self.n_params), self.dtype))
                acts, r = self._forward(th)
                vals[s:s + n] = self._loss(th, r).double().numpy()
                self._backward(th, acts, r, g)
                if self.l2 > 0:
                    g.add_(th, alpha=2 * self.l2)
                if self.dtype != torch.float64:
                    rows[s:s + n].copy_(g)
        self.evaluations += pts.shape[0]
        return vals, grads

    def _theta(self, chunk: np.ndarray):
        """A batch of parameter vectors (float64 rows) as a tensor of the evaluator's dtype: a view in
        float64; in float32 cast into a buffer kept across calls (the same cast as ``.to``)."""
        import torch

        t = torch.as_tensor(chunk)
        if t.dtype == self.dtype:
            return t
        th = self.workspace.get_torch("mlp.theta", tuple(t.shape), self.dtype)
        th.copy_(t)
        return th

    def _backward(self, th, acts, r, g) -> None:
        """Write d(data loss)/d(theta) into g (B, P): delta_l = dLoss/dz_l, layer by layer from the top."""
        import torch

        B = th.shape[0]
        delta = r.mul_(2.0 / self.m)  # dLoss/du, (B, out, m); r is not needed any more
        for k in range(len(self._layers) - 1, -1, -1):
            layer = self._layers[k]
            o, i = layer.out, layer.inp
            if k > 0:
                a = acts[k - 1]
                g[:, layer.w:layer.w + o * i].view(B, o, i).copy_(torch.bmm(delta, a.transpose(1, 2)))
            else:  # the data are shared by the batch: one product
                gw = torch.matmul(delta.reshape(B * o, self.m), self._x).view(B, o, i)
                g[:, layer.w:layer.w + o * i].view(B, o, i).copy_(gw)
            if layer.b is not None:
                g[:, layer.b:layer.b + o].copy_(delta.sum(dim=2))
            if k > 0:
                W, _ = self._wb(th, layer)
                delta = torch.bmm(W.transpose(1, 2), delta)
                # phi'(z) from phi(z): 1 - a^2 (tanh), a (1 - a) (logistic)
                delta *= (a * (1 - a)) if self._logistic else (1 - a * a)

    def _points(self, points) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float64).reshape(-1, self.n_params)
        return pts
