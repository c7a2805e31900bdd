"""Train a spec-based network to a local minimum of its exact loss: the centre of a landscape slice.

:func:`train_to_minimum` runs full-batch L-BFGS (strong-Wolfe line search, float64) on the loss that the
landscapes sample -- the torch engine's :meth:`~bettibounds.engines.torch_kernel.LossKernel.evaluate`, the
network and loss of docs/usage.md, "Conventions" -- from a seeded initialisation like PyTorch's ``nn.Linear``:
every weight and bias of a layer uniform in ±1/√fan_in (the input-output skip matrix: ±1/√d). The reproduction
report trains the centres of its slices with it (section 4); a slice through a trained centre shows the
landscape where training ends, not where it starts.

The result records what was run (seed, iterations, device, dtype) and where it ended (loss, gradient norm): a
small gradient norm says the optimiser stopped near a critical point; it does not prove a minimum.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from .._lib.extras import require
from ..errors import InvalidSpecError

__all__ = ["TrainedMinimum", "initial_parameters", "train_to_minimum"]

#: the optimiser's description, as results record it
OPTIMISER = "L-BFGS (torch.optim.LBFGS, lr 1, strong-Wolfe line search, tolerance_grad 1e-10), full batch"
INIT = "uniform ±1/√fan_in per layer (weights and biases; the input-output skip ±1/√d), like torch.nn.Linear"


@dataclass(frozen=True)
class TrainedMinimum:
    """Where :func:`train_to_minimum` ended.

    Attributes
    ----------
    theta : numpy.ndarray
        The trained parameter vector (P,), in the library's parameter order.
    loss : float
        The loss at ``theta`` (float64, the torch engine).
    gradient_norm : float
        The Euclidean norm of the loss's gradient at ``theta``.
    seed, iterations : int
        The initialisation's seed and the L-BFGS iteration budget.
    device, dtype : str
        Where and in which precision the loss was evaluated.
    seconds : float
        Wall-clock time of the training.
    """

    theta: np.ndarray = field(repr=False)
    loss: float
    gradient_norm: float
    seed: int
    iterations: int
    device: str
    dtype: str
    seconds: float
    engine: str = "torch"
    optimiser: str = OPTIMISER
    init: str = INIT

    def to_dict(self) -> dict:
        """A JSON-ready dict (``theta`` as a list)."""
        return {"theta": [float(t) for t in self.theta], "loss": self.loss, "gradient_norm": self.gradient_norm,
                "seed": self.seed, "iterations": self.iterations, "engine": self.engine, "device": self.device,
                "dtype": self.dtype, "optimiser": self.optimiser, "init": self.init, "seconds": self.seconds}

    def to_text(self) -> str:
        """One line: the loss, the gradient norm and how it was reached."""
        return (f"trained to loss {self.loss:.6g} (|grad| {self.gradient_norm:.3g}) in at most {self.iterations} "
                f"L-BFGS iterations from seed {self.seed}, {self.engine} engine on {self.device}, {self.dtype}")


def initial_parameters(spec, seed: int) -> np.ndarray:
    """The seeded initialisation of :func:`train_to_minimum`: (P,) float64, every weight and bias of a layer
    uniform in ±1/√fan_in, drawn layer by layer (weights, then biases), the input-output skip matrix last."""
    from ..pfaffian.network import build_params

    rng = np.random.default_rng(_seed(seed))
    sizes = [spec.inputs, *spec.widths, spec.outputs]
    layers, U = build_params(spec, lambda p: p)
    theta0 = np.zeros(spec.n_params)
    for (W, b), fan_in in zip(layers, sizes[:-1]):
        idx = np.array(W).ravel()
        theta0[idx] = rng.uniform(-1, 1, idx.size) / math.sqrt(fan_in)
        if b is not None:
            bi = np.array(b).ravel()
            theta0[bi] = rng.uniform(-1, 1, bi.size) / math.sqrt(fan_in)
    if U is not None:
        ui = np.array(U).ravel()
        theta0[ui] = rng.uniform(-1, 1, ui.size) / math.sqrt(spec.inputs)
    return theta0


def train_to_minimum(experiment, *, seed: int = 0, iterations: int = 150, device=None) -> TrainedMinimum:
    """Train the experiment's network on its data by full-batch L-BFGS from :func:`initial_parameters`.

    Parameters
    ----------
    experiment : Experiment
        A spec-based experiment (:func:`~bettibounds.empirical.experiment.parse_experiment`,
        :func:`~bettibounds.empirical.experiment.load_experiment`); its region, grid and levels are ignored.
    seed : int
        Seed of the initialisation (a non-negative integer).
    iterations : int
        The L-BFGS iteration budget (``max_iter`` of one ``torch.optim.LBFGS`` step), at least 1.
    device : str, optional
        "cpu" or "cuda"; default CUDA when available.

    Returns
    -------
    TrainedMinimum
        The trained parameters, with the loss and gradient norm there.

    Raises
    ------
    InvalidSpecError
        For an experiment that is not spec-based (a PyTorch model: train it with torch), a negative or
        non-integer seed, or fewer than one iteration.
    MissingExtraError
        Without torch (the ``[empirical]`` extra).

    Examples
    --------
    >>> from bettibounds.empirical.experiment import parse_experiment
    >>> exp = parse_experiment({"network": {"layers": [1, 1, 1], "bias": False},
    ...                         "data": {"x": [[-1.0], [0.5], [2.0]], "y": [[-0.5], [0.3], [0.7]]}})
    >>> train_to_minimum(exp, seed=0, iterations=50, device="cpu").theta.shape
    (2,)
    """
    spec = getattr(experiment, "spec", None)
    if spec is None or not hasattr(experiment, "x") or not hasattr(experiment, "y"):
        raise InvalidSpecError("train_to_minimum takes a spec-based Experiment (parse_experiment or "
                               f"load_experiment), got {type(experiment).__name__}; train a PyTorch model with torch")
    seed = _seed(seed)
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or iterations < 1:
        raise InvalidSpecError(f"iterations must be a positive integer, got {iterations!r}")
    torch = require("empirical", "torch", "training a network")
    from ..engines.torch_kernel import LossKernel

    t0 = time.perf_counter()
    kernel = LossKernel(spec, experiment.x, experiment.y, device=device, dtype="float64")
    theta0 = initial_parameters(spec, seed)
    th = torch.tensor(theta0, dtype=torch.float64, device=kernel.device, requires_grad=True)
    opt = torch.optim.LBFGS([th], lr=1.0, max_iter=int(iterations), line_search_fn="strong_wolfe",
                            tolerance_grad=1e-10)

    def closure():
        opt.zero_grad()
        loss = kernel.evaluate(th[None, :]).sum()
        loss.backward()
        return loss

    opt.step(closure)
    theta = th.detach().cpu().numpy()
    # the loss and gradient where training ended (one more evaluation; theta is not changed)
    end = torch.tensor(theta, dtype=torch.float64, device=kernel.device, requires_grad=True)
    loss = kernel.evaluate(end[None, :]).sum()
    (grad,) = torch.autograd.grad(loss, end)
    return TrainedMinimum(theta, float(loss.detach().cpu()), float(torch.linalg.vector_norm(grad).cpu()), seed,
                          int(iterations), str(kernel.device), "float64", time.perf_counter() - t0)


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InvalidSpecError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)
