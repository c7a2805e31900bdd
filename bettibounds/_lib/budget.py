"""Time and memory before the work: estimate what a request costs, refuse what cannot fit, and say
how long the rest will take (torch-free).

Every command whose work grows with a count the user gives (``--flow``, ``--uniform``,
``--minima``, ``--steps``, ``--starts``, ``--refine``, ``--outputs``, ...) builds a :class:`Cost`
with the models below before it starts, and calls :func:`enforce`:

* counts beyond :data:`MAX_COUNT` are refused outright (numpy cannot index them, and no model
  is needed to know they cannot finish);
* a request whose peak memory exceeds what the host has available, or whose estimated time
  exceeds the time limit, is refused with a :class:`~bettibounds.errors.ResourceLimitError`
  that says what dominates and what to lower;
* a request estimated to take longer than :data:`ANNOUNCE_SECONDS` is announced on stderr
  (``bettibounds: about 4 min of work: ...``), so a long run is a choice, not a surprise.

The time limit is 24 hours of estimated work, or what the environment variable
``BETTIBOUNDS_MAX_SECONDS`` says (seconds; ``inf`` for none).

How the estimates are made. The unit of work of each command is *measured* on the spot where
it is cheap to do so (a pilot: one descent step of the batched kernel, the loss at a few hundred
points; the modules that own the work measure theirs: one first-order loss jet,
:func:`bettibounds.certified.witness.certify_lower_cost`, a few gradient-flow steps,
:func:`bettibounds.obstruction.flow_step_seconds`), in CPU seconds, and multiplied by
how many units the request has; the rest (k-NN graphs, persistence, Monte Carlo draws) comes from
operation counts times per-operation costs measured on the development machine
(benchmarks/bench_estimates.py). Everything is expressed at reference speed and scaled by
:func:`machine_factor`: this CPU's speed (a probe of about a millisecond) times the contention
of the cores (the load average per core). They are estimates, never guarantees: on an idle machine 1 to 7 times the
measured time (a pilot's CPU time counts every thread: they err on the long side), on a heavily and
changingly loaded one within a factor of 10 either way (docs/benchmarks.md, "Time estimates"); a refusal
is made only where the estimate exceeds the limit, so a borderline run can be allowed by raising it.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field

from ..errors import InvalidSpecError, ResourceLimitError

__all__ = ["cpu_seconds", "kernel_pilot", "step_pilot", "amortised_unit", "Cost", "MAX_COUNT", "ANNOUNCE_SECONDS",
           "time_limit", "machine_factor", "cpu_factor", "contention",
           "invariant_topology", "local_cluster", "fused_compile", "chain_certificate", "enforce", "count",
           "format_seconds", "format_bytes", "obstruction_flow", "monte_carlo", "loss_evaluations",
           "engine_evaluations", "local_search", "LOCAL_SEARCH_EVALUATIONS", "descent", "ONE_THREAD_WORK",
           "descent_threads", "knn", "lower_star", "persistence", "refinement", "certify_lower", "sample_barcode"]

#: largest count accepted anywhere (about 10^15): beyond it an index or a size overflows somewhere
MAX_COUNT = 2**50
#: runs estimated to take longer than this are announced on stderr before they start
ANNOUNCE_SECONDS = 30.0
#: default limit on the estimated time of one command (seconds): 24 hours
DEFAULT_MAX_SECONDS = 86_400.0
_ENV = "BETTIBOUNDS_MAX_SECONDS"

# Per-operation costs at reference speed (machine_factor() == 1), seconds. Measured with
# benchmarks/bench_estimates.py on the development machine (2 cores); see docs/benchmarks.md.
#: one small numpy call (dispatch, allocation of a small result)
NUMPY_CALL = 1.5e-6
#: one torch operator call on the CPU (dispatch; autograd bookkeeping when recording)
TORCH_CALL = 10e-6
#: one floating-point operation of elementwise work or of small matrix products
FLOP = 0.5e-9
#: one floating-point operation of a large matrix product (BLAS)
MATMUL_FLOP = 0.03e-9
#: one random draw of numpy's generator with the arithmetic on it
DRAW = 40e-9
#: per parameter vector and layer, the batched kernel's own work (models without a pilot only)
POINT = 6e-6
#: per step of the batched Adam descent, the work beyond the pilot's forward and backward pass (Adam's dozen
#: elementwise calls, the box projection, recording every tenth step): measured 0.15-0.35 ms above the pilot
#: (2026-12, development machine, bench_estimates.py; P = 11-353, 16-64 starts, one torch thread); set to
#: 0.5 ms, above every measurement (2 ms made a barcode's estimate 4-12 times its run time).
DESCENT_STEP = 0.5e-3
#: one simplex through gudhi's lower-star persistence of a graph, and the call's own cost. 1.0e-6 (was
#: 0.4e-6): measured 0.7 to 1.0 us per simplex of the sample barcode's H0 with its cluster sizes (3408 points,
#: k = 132, 2026-12, development machine, load 2 to 5 per core)
SIMPLEX = 1.0e-6
GRAPH_PERSISTENCE_CALL = 5e-3
#: one vertex through cubical persistence of a grid, per homology dimension computed
CUBICAL_VERTEX = 0.6e-6

#: the probe's CPU time on the development machine when the costs above were measured (seconds)
PROBE_REFERENCE = 1.1e-3


@dataclass(frozen=True)
class Cost:
    """An estimate of one request: seconds at reference speed and peak host bytes.

    ``parts`` names what contributes (for the messages). ``a + b`` is ``a`` then ``b`` (seconds add,
    the peak memory is the larger one); ``a.alongside(b)`` holds both at once (memory adds too).
    """

    seconds: float = 0.0
    bytes: float = 0.0
    parts: tuple = field(default_factory=tuple)

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.seconds + other.seconds, max(self.bytes, other.bytes), self.parts + other.parts)

    def alongside(self, other: Cost) -> Cost:
        """This cost and ``other`` at the same time: seconds add, and so does memory."""
        return Cost(self.seconds + other.seconds, self.bytes + other.bytes, self.parts + other.parts)

    def scaled(self, times: float) -> Cost:
        """The cost repeated ``times`` times (seconds multiply; peak memory stays)."""
        return Cost(self.seconds * times, self.bytes, self.parts)

    def dominant(self) -> str:
        """The part that takes the longest."""
        if not self.parts:
            return "the work"
        return max(self.parts, key=lambda p: p[1])[0]


def _part(what: str, seconds: float, nbytes: float = 0.0) -> Cost:
    return Cost(seconds, nbytes, ((what, seconds),))


def count(name: str, value, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    """A user's count as an int in [minimum, maximum], refused before any arithmetic with it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSpecError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise InvalidSpecError(f"{name} must be >= {minimum}, got {value}")
    if value > maximum:
        shown = f"{value}" if value < 10**18 else f"about 10^{len(str(value)) - 1}"
        raise ResourceLimitError(f"{name} = {shown} is beyond what can be computed (at most {maximum:.3g} here)")
    return value


def time_limit() -> float:
    """Seconds of estimated work allowed: ``BETTIBOUNDS_MAX_SECONDS`` or 24 hours."""
    raw = os.environ.get(_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise InvalidSpecError(f"the environment variable {_ENV} must be a number of seconds (or inf), "
                               f"got {raw[:40]!r}") from None
    if not value > 0:  # nan or <= 0
        raise InvalidSpecError(f"the environment variable {_ENV} must be a positive number of seconds, "
                               f"got {raw[:40]!r}")
    return value


_SPEED: list[float] = []


def cpu_factor() -> float:
    """How many times slower this CPU is than the reference (at least 0.05): the least CPU time of
    three runs of a fixed probe (small numpy calls and a 96 x 96 matrix product, about a
    millisecond), measured once per process. CPU time, not wall time: a probe this short
    usually runs without being preempted, so it measures the processor, not the load."""
    if _SPEED:
        return _SPEED[0]
    import numpy as np

    a = np.linspace(-1.0, 1.0, 96 * 96).reshape(96, 96)
    best = math.inf
    for _ in range(3):
        t = time.process_time()
        for _ in range(20):
            b = np.tanh(a @ a * 0.01)
            b.sum()
        best = min(best, time.process_time() - t)
    if not best > 0:  # a coarse process clock: fall back on wall time
        t = time.perf_counter()
        for _ in range(20):
            np.tanh(a @ a * 0.01).sum()
        best = time.perf_counter() - t
    _SPEED.append(max(best / PROBE_REFERENCE, 0.05))
    return _SPEED[0]


def contention() -> float:
    """How many times longer work takes now because other processes share the cores (at least 1):
    the processes runnable now (this one included; /proc/loadavg, five samples 2 ms apart) over the
    cores this process may use; where the kernel does not say, the one-minute load average (which
    lags behind a change of load by about a minute)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    runnable = []
    for _ in range(5):
        try:
            with open("/proc/loadavg") as fh:
                runnable.append(int(fh.read().split()[3].split("/")[0]))
        except (OSError, ValueError, IndexError):
            break
        time.sleep(0.002)
    if runnable:
        return max(1.0, sum(runnable) / len(runnable) / max(cores, 1))
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 1.0
    return max(1.0, (load + 0.5) / max(cores, 1))


def machine_factor() -> float:
    """How many times longer than on the reference machine, idle, work takes here now:
    :func:`cpu_factor` times :func:`contention`."""
    return cpu_factor() * contention()


def format_seconds(s: float) -> str:
    """A duration in words: '40 s', '3.2 min', '5.1 h', '12 days', 'about 10^9 years'."""
    if not math.isfinite(s):
        return "for ever"
    if s < 90:
        return f"{s:.2g} s"
    if s < 5400:
        return f"{s / 60:.2g} min"
    if s < 2 * 86400:
        return f"{s / 3600:.2g} h"
    if s < 730 * 86400:
        return f"{s / 86400:.3g} days"
    years = s / (365.25 * 86400)
    return f"{years:.3g} years" if years < 1e6 else f"about 10^{int(math.log10(years))} years"


def format_bytes(n: float) -> str:
    """Bytes in words: '512 MiB', '3.2 GiB', '10^21 bytes'."""
    if not math.isfinite(n) or n >= 2**70:
        return f"about 10^{int(math.log10(n))} bytes" if math.isfinite(n) else "unbounded memory"
    if n < 2**30:
        return f"{n / 2**20:.3g} MiB"
    return f"{n / 2**30:.3g} GiB"


def enforce(cost: Cost, what: str, advice: str, *, announce: bool = True, stream=None,
            announce_at: float | None = None, detail: str = "") -> float:
    """Refuse ``cost`` if it cannot fit; announce it on stderr if it is long; return its seconds.

    Parameters
    ----------
    cost : Cost
        At reference speed; scaled here by :func:`machine_factor`.
    what : str
        The request, for the messages ("sampling the barcode").
    advice : str
        What to lower when it is refused ("lower --uniform or --minima").
    announce_at : float, optional
        Announce on stderr when the estimate reaches this many seconds (default :data:`ANNOUNCE_SECONDS`).
    detail : str
        Added to the announcement after "of work" (" for 10^6 points, peak memory about 2 GiB").

    Raises
    ------
    ResourceLimitError
        Peak memory above what the host has available, or estimated time above :func:`time_limit`.
    """
    from .memory import available_bytes

    have = available_bytes()
    if cost.bytes > have:
        raise ResourceLimitError(f"{what} needs about {format_bytes(cost.bytes)} of memory at its peak, more than the "
                                 f"{format_bytes(have)} available: {advice}")
    seconds = cost.seconds * machine_factor() if cost.seconds > 0 else 0.0
    limit = time_limit()
    if seconds > limit:
        raise ResourceLimitError(
            f"{what} would take about {format_seconds(seconds)} here (estimate; mostly {cost.dominant()}), more than "
            f"the limit of {format_seconds(limit)}: {advice} (or raise the limit with {_ENV}=<seconds>)")
    if announce and seconds >= (ANNOUNCE_SECONDS if announce_at is None else announce_at):
        out = sys.stderr if stream is None else stream
        try:
            out.write(f"bettibounds: {what}: about {format_seconds(seconds)} of work{detail} (estimate; mostly "
                      f"{cost.dominant()}); Ctrl-C stops it\n")
            out.flush()
        except (OSError, ValueError):
            pass
    return seconds


# ----------------------------------------------------------------------------------- pilots
def cpu_seconds(fn) -> float:
    """CPU seconds of ``fn()`` (every thread of this process), at reference speed (divided by
    :func:`cpu_factor`: :func:`enforce` multiplies by the machine factor, contention included)."""
    t = time.process_time()
    fn()
    return max(time.process_time() - t, 0.0) / cpu_factor()


#: starts of the descent pilot (the default of ``barcode``: one pilot step is one real step)
PILOT_STARTS = 64
#: points of the evaluation pilot (a fraction of a kernel chunk: the run's batches are larger)
PILOT_POINTS = 2048


def kernel_pilot(kernel, starts: int, low: float = -1.0, high: float = 1.0, *, slice_dim: int | None = None
                 ) -> tuple[float, float]:
    """(reference seconds of one loss evaluation at one point, of one descent step per start) for a
    batched kernel (:class:`~bettibounds.engines.torch_kernel.LossKernel`), measured (imports torch):
    the loss at one point (twice when the first took :data:`PILOT_SLOW` or more: it can carry
    one-time costs), then, when that took under :data:`PILOT_SLOW` seconds, at
    :data:`PILOT_POINTS` points (over all parameters, or in a ``slice_dim``-dimensional slice as a
    landscape evaluates them); one forward and backward pass at one point, then at min(starts,
    :data:`PILOT_STARTS`) points. Smaller batches cost more per point than a run's large ones, so
    the estimates err on the long side; a call that takes :data:`PILOT_SLOW` or more on one point is
    measured on growing batches while each stays under about a second (:func:`amortised_unit`: one
    point's call can be mostly fixed overhead), so that the pilot stays a small part of the work it
    estimates."""
    import numpy as np

    from .memory import available_bytes

    P = kernel.n_params
    # the pilot's own arrays of P columns, refused before allocating (P = 4·10^12 reached numpy in a fuzz run)
    rows = max(PILOT_POINTS, PILOT_STARTS) if slice_dim is None else 1 + slice_dim + PILOT_STARTS
    need = 8.0 * P * rows
    have = available_bytes()
    if need > have:
        raise ResourceLimitError(f"a network of {P} parameters needs about {format_bytes(need)} of memory to measure "
                                 f"its speed alone, more than the {format_bytes(have)} available: a smaller network")
    rng = np.random.default_rng(0)
    if slice_dim is None:
        pts = low + (high - low) * rng.random((max(PILOT_POINTS, PILOT_STARTS), P))
        evaluate = lambda n: kernel.evaluate_chunked(pts[:n], "full")  # noqa: E731
    else:
        center, directions = rng.normal(size=P), rng.normal(size=(slice_dim, P)) / max(P, 1)
        ts = low + (high - low) * rng.random((PILOT_POINTS, slice_dim))
        pts = low + (high - low) * rng.random((PILOT_STARTS, P))
        evaluate = lambda n: kernel.evaluate_chunked(ts[:n], "slice", center=center, directions=directions)  # noqa: E731
    per_point = cpu_seconds(lambda: evaluate(1))
    if per_point >= PILOT_SLOW:
        # the first call can carry one-time costs (a numba compile, the slice's tables, an engine's build
        # checks: a trial's CNN on a fresh install took 1.3 s for its first point, estimates 30-85 x the run)
        per_point = min(per_point, cpu_seconds(lambda: evaluate(1)))
    if per_point < PILOT_SLOW:
        evaluate(8)  # warm-up: the first batch of a size allocates its buffers
        per_point = cpu_seconds(lambda: evaluate(PILOT_POINTS)) / PILOT_POINTS
    else:
        per_point = amortised_unit(per_point, lambda n: cpu_seconds(lambda: evaluate(n)), PILOT_POINTS)
    if starts <= 0:
        return per_point, 0.0
    return per_point, step_pilot(kernel, starts, low, high)


def step_pilot(kernel, starts: int, low: float = -1.0, high: float = 1.0) -> float:
    """Reference seconds of one descent step per start (a forward and a backward pass at min(starts,
    :data:`PILOT_STARTS`) = n points; imports torch): once at one point, then, unless that took
    :data:`PILOT_SLOW` or more, at n points once untimed (the first call of a size allocates) and three times
    timed, keeping the median (one timed call of a small batch ranged over 0.5-30 ms of CPU on a loaded
    2-core machine); when it took that long, on growing batches up to n (:func:`amortised_unit`)."""
    import numpy as np
    import torch

    pts = low + (high - low) * np.random.default_rng(1).random((PILOT_STARTS, kernel.n_params))

    def step(n):
        x = torch.as_tensor(pts[:n], dtype=kernel.dtype, device=kernel.device).requires_grad_(True)
        torch.autograd.grad(kernel.evaluate(x).sum(), x)

    n = max(1, min(starts, PILOT_STARTS))
    with descent_threads(kernel, starts):  # as the descent will run
        per_start = cpu_seconds(lambda: step(1))
        if per_start < PILOT_SLOW:
            step(n)
            per_start = sorted(cpu_seconds(lambda: step(n)) for _ in range(3))[1] / n
        else:
            per_start = amortised_unit(per_start, lambda k: cpu_seconds(lambda: step(k)), n)
    return per_start


#: a pilot unit slower than this (reference seconds) is not repeated three times on a full batch: it is
#: measured on growing batches instead (:func:`amortised_unit`)
PILOT_SLOW = 0.05
#: the growing batches of a slow pilot unit stop before one whose predicted time exceeds this (reference seconds)
PILOT_BATCH_SECONDS = 1.0


def amortised_unit(first: float, timed, largest: int) -> float:
    """Reference seconds per unit of work (a point, a start) of a call whose single unit took ``first``
    seconds (at least :data:`PILOT_SLOW`): ``timed(n)`` -- the seconds of one call on ``n`` units -- on
    batches of 4, 32, 256, ... (at most ``largest``) while the next batch's predicted time (the best
    per-unit time so far times its size) stays under :data:`PILOT_BATCH_SECONDS`, and the least of
    ``first`` and every ``timed(n) / n``.

    Why: a call costs a fixed overhead plus the work per unit; taking one unit's call (a residual + LayerNorm
    network: 0.04-0.06 s for one point, 0.30 s for 256) as the cost of every point made estimates 50-600
    times the run. ``timed(n) / n`` keeps the overhead spread over ``n`` units, an upper estimate for the
    run's larger batches; the batches together take at most about ``1.15 * PILOT_BATCH_SECONDS``."""
    per_unit, n = first, 4
    while True:
        n = min(n, largest)
        if n <= 1 or per_unit * n > PILOT_BATCH_SECONDS:
            return per_unit
        per_unit = min(per_unit, timed(n) / n)
        if n == largest:
            return per_unit
        n *= 8

#: a batched descent step whose size -- starts x samples x parameters, about a sixth of its flops -- is
#: below this runs on one torch thread. Measured on the 2 shared cores of the development machine (load
#: 4 to 8): 64 starts of P = 4 to 33 and 16 starts of P = 353, m = 64, took 0.5 to 1.4 ms of CPU per step
#: on one thread and 6 to 30 ms on torch's default two (the pool's hand-offs and spinning cost 10 to 50
#: times the work); at 2^22 a step is a few ms of arithmetic, where a second thread starts to pay.
ONE_THREAD_WORK = 2**22


def descent_threads(kernel, starts: int):
    """The threading a batched descent of ``starts`` rows on ``kernel`` runs under (a context manager):
    one torch thread on the CPU when the step is small (:data:`ONE_THREAD_WORK`; the kernel's sample
    count ``m`` known), else torch's own setting. Used by the descent and by its pilot alike."""
    import contextlib

    m = getattr(kernel, "m", None)
    cpu = str(getattr(kernel, "device", "cpu")).startswith("cpu")
    if cpu and isinstance(m, int) and starts * m * int(kernel.n_params) < ONE_THREAD_WORK:
        from ..empirical.resolution import torch_single_thread

        return torch_single_thread()
    return contextlib.nullcontext()


# ----------------------------------------------------------------------------------- cost models
def obstruction_flow(m: int, h: int, p: int, e: int, steps: int, per_step: float | None = None) -> Cost:
    """``obstruction.gradient_flow``: ``per_step`` (a pilot's) or, without one, about 20 numpy calls
    on (m, h), (h, p) and (m, e) arrays, m h (4 p + 4 e) flops in the products and 10 h (p + e) in
    the updates."""
    if per_step is None:
        per_step = 20 * NUMPY_CALL + FLOP * (m * h * (4 * p + 4 * e + 6) + 10 * h * (p + e))
    memory = 8.0 * (6 * m * h + 4 * h * (p + e) + 2 * m * e) + 8.0 * 200
    return _part(f"{steps} gradient-descent steps", steps * per_step, memory)


def monte_carlo(draws: int, p: int, e: int) -> Cost:
    """The Monte Carlo probability of uniform initialisations: draws x (p + e) uniforms, squared and summed."""
    n = draws * (p + e)
    return _part(f"{draws} Monte Carlo draws", 12 * NUMPY_CALL + DRAW * n, 8.0 * 3 * n)


def _network_flops(spec) -> tuple[float, float]:
    """(flops of one forward pass for one sample, hidden units): 2 per weight, about 20 per unit."""
    P = spec.n_params
    units = sum(spec.widths) + spec.outputs
    return 2.0 * P + 20.0 * units, float(units)


def loss_evaluations(spec, points: int, per_point: float | None = None, chunk: int = 4096) -> Cost:
    """Loss at ``points`` parameter vectors (the batched kernel): ``per_point`` (a pilot's) or, without
    one, m forward passes per point and a per-layer overhead; memory: one chunk's activations."""
    per, units = _network_flops(spec)
    m = spec.samples
    if per_point is None:
        per_point = m * per * FLOP + POINT * (spec.depth + 1)
    memory = 8.0 * min(points, chunk) * m * units * 3
    return _part(f"the loss at {points} points", points * per_point, memory)


def engine_evaluations(points: int, per_point: float, nbytes: float = 0.0) -> Cost:
    """Loss at ``points`` parameter vectors by any engine, from a pilot's ``per_point`` seconds, with
    ``nbytes`` of the engine's own working memory (one chunk); for engines without a spec (models)."""
    return _part(f"the loss at {points} points", points * per_point, nbytes)


#: loss-and-gradient evaluations of one L-BFGS-B polish from a grid minimum (a cell from it: superlinear), with a
#: margin of about 3x over the measured 6-9 (slices and a box; docs/benchmarks.md, "Time estimates")
LOCAL_SEARCH_EVALUATIONS = 25


def local_search(starts: int, per_start: float, evaluations: int = LOCAL_SEARCH_EVALUATIONS) -> Cost:
    """L-BFGS-B polishes of ``starts`` grid minima: ``evaluations`` loss-and-gradient evaluations each,
    ``per_start`` seconds apiece (a pilot's forward and backward pass at one point)."""
    return _part(f"the local search from {starts} grid minima", starts * evaluations * per_start)


def descent(spec, starts: int, steps: int, per_step: float | None = None, record_every: int = 10) -> Cost:
    """Batched Adam from ``starts`` points for ``steps`` steps: ``per_step`` (a pilot's) or, without one,
    a forward and a backward pass (about 3 forward costs) per start and a per-layer overhead; memory:
    the graph of one step and the recorded trajectory (every ``record_every`` steps)."""
    per, units = _network_flops(spec)
    m, P = spec.samples, spec.n_params
    if per_step is None:
        per_step = DESCENT_STEP + starts * (3 * m * per * FLOP + 3 * POINT * (spec.depth + 1) + 12 * P * FLOP)
    recorded = starts * (steps // max(record_every, 1) + 2)
    memory = 8.0 * (4 * starts * m * units + 6 * starts * P + 2 * recorded * P)
    return _part(f"{starts} descents of {steps} steps", steps * per_step, memory)


def knn(points: int, dim: int, k: int) -> Cost:
    """Exact k-NN graph: n^2 (2 P) flops of matrix products and 16 n^2 of the rest (top-k) in row
    chunks of 64 MiB of distances, then the float64 distances of the n k chosen pairs (about 8 P flops
    each) and their sort (about 40 per pair; measured: 0.3 of the 0.8 s of a 3408-point, P = 33,
    k = 132 graph on the loaded development machine, 2026-12), and its edges."""
    n = float(points)
    rows = max(1, min(points, (64 * 2**20) // (8 * max(points, 1))))
    chunks = math.ceil(n / rows)
    seconds = (n * n * (2 * dim * MATMUL_FLOP + 16 * FLOP) + chunks * 20 * TORCH_CALL
               + n * k * (8 * dim + 40) * FLOP)
    memory = 8.0 * (3 * n * dim + 4 * n * k) + 8.0 * min(n * n, 64 * 2**20 / 8) + 8.0 * n * 2
    return _part(f"the k-NN graph of {points} points", seconds, memory)


def lower_star(vertices: int, edges: int) -> Cost:
    """Lower-star H0 of a graph with gudhi: about 250 bytes and :data:`SIMPLEX` seconds per simplex."""
    simplices = float(vertices + edges)
    return _part(f"persistence of a graph with {simplices:.3g} simplices", GRAPH_PERSISTENCE_CALL + simplices * SIMPLEX,
                 250.0 * simplices)


def persistence(vertices: int, max_dim: int) -> Cost:
    """Cubical sublevel persistence of a grid: :data:`CUBICAL_VERTEX` per vertex and dimension."""
    return _part(f"persistence of {vertices} grid points", vertices * CUBICAL_VERTEX * (max_dim + 1))


def refinement(spec, segments: int, per_point: float | None = None, per_start: float | None = None,
               images: int = 24, iterations: int = 300, dense: int = 8) -> Cost:
    """The string method on ``segments`` segments: per iteration a gradient at every image (a descent
    step of images + 2 starts) and a dense evaluation of the polyline every few iterations."""
    step = (DESCENT_STEP + per_start * (images + 2) if per_start is not None
            else descent(spec, images + 2, 1).seconds)
    dense_s = loss_evaluations(spec, (images + 1) * dense, per_point).seconds / 5
    return _part(f"refining {segments} segments", segments * iterations * (step + dense_s))


def sample_barcode(spec, *, uniform: int, starts: int, steps: int, k: int, refine: int, record_every: int = 10,
                   pilot: tuple[float, float] | None = None, region: str = "box",
                   hull_descents: int = 100) -> Cost:
    """Everything ``bettibounds barcode`` does in sample mode (uniform points, descents, the loss at
    every recorded point, the k-NN graph, its persistence, the refinement). ``pilot``: (per point,
    per descent step and start) from :func:`kernel_pilot`. ``region``: "threshold" adds the rejection
    sampling's draws (at most 100 x ``uniform``, each evaluated), "hull" the ``hull_descents`` descents
    whose minima span the hull."""
    P = spec.n_params
    n = uniform + starts * (steps // max(record_every, 1) + 2)
    edges = n * min(k, max(n - 1, 0))
    per_point, per_start = pilot if pilot is not None else (None, None)
    per_step = None if per_start is None else DESCENT_STEP + per_start * starts
    total = (loss_evaluations(spec, n, per_point) + descent(spec, starts, steps, per_step, record_every)
             + knn(n, P, k) + lower_star(n, edges))
    if region == "threshold":
        total = total + loss_evaluations(spec, 100 * uniform, per_point)
    elif region == "hull":
        hull_step = None if per_start is None else DESCENT_STEP + per_start * hull_descents
        total = total + descent(spec, hull_descents, steps, hull_step, steps + 1)
    if refine:
        total = total + refinement(spec, refine, per_point, per_start)
    return total.alongside(Cost(0.0, 8.0 * 4 * n * P, ()))  # the samples are kept throughout


def certify_lower(jet_seconds: float, n_params: int, starts: int, orbit: int) -> Cost:
    """``certify_lower`` from the time of one first-order loss jet (measured by the caller): per
    start up to about 500 L-BFGS evaluations and 30 Newton steps with a Hessian (about P / 4 first-order
    jets each); the orbit of |G| images; the ball-arithmetic steps (about 40 Hessian enclosures)."""
    hessian = jet_seconds * max(1.0, n_params / 4)
    per_start = 500 * jet_seconds + 30 * (hessian + 3 * jet_seconds)  # L-BFGS's maxiter is 500
    orbit_s = orbit * (n_params * 3 * NUMPY_CALL + 30 * NUMPY_CALL)
    ball = 40 * hessian * 60  # arb costs about 60 times float64 per operation
    return (_part(f"{starts} minimiser searches", starts * per_start) + _part(f"the orbit of {orbit} images", orbit_s)
            + _part("the ball-arithmetic enclosures", ball))


#: per term of the Poincare polynomial of H(c): one product of two binomial coefficients (big
#: integers of up to h / 3 digits) and a dictionary update (measured: 20 s at h = 10^4, split evenly)
POINCARE_TERM = 0.8e-6


def invariant_topology(n_plus: int, n_minus: int) -> Cost:
    """Betti numbers of H(c) by Kuenneth: (N+ + 1)(N- + 1) products of binomial coefficients."""
    terms = (n_plus + 1) * (n_minus + 1)
    return _part(f"the Poincare polynomial of H(c) ({terms:.3g} terms)", terms * POINCARE_TERM,
                 200.0 * (n_plus + n_minus + 2))


#: per derivative claim of a chain certificate, at P = 0 (grows with P: the claims' polynomials have
#: P variables; measured 1e-4 to 5e-4 s per claim for P = 13 to 419)
CERTIFICATE_CHECK = 1.2e-4


def chain_certificate(order: int, n_params: int) -> Cost:
    """``bound --certify``: about order x P derivative claims, each costing more as P grows."""
    checks = max(order, 1) * n_params
    return _part(f"checking about {checks} derivative claims", checks * CERTIFICATE_CHECK * (1 + n_params / 100))


#: host memory of one Dask worker process of a local cluster (Python, numpy, torch loaded)
DASK_WORKER_BYTES = 400 * 2**20


def local_cluster(workers: int) -> Cost:
    """A LocalCluster of ``workers`` processes: their memory, and about 2 s of start-up each on one core."""
    return _part(f"starting {workers} Dask worker processes", 2.0 * workers, float(workers) * DASK_WORKER_BYTES)


def fused_compile(cached: bool) -> Cost:
    """The fused engine's kernels: compiled by numba once per installation and precision (about 30 s), then
    loaded from numba's cache (about 0.5 s); ``cached``: whether the run's precision is in the cache
    (:func:`~bettibounds._lib.pilots.fused_cached_for`)."""
    seconds = 0.5 if cached else 30.0
    return _part("loading the fused engine" if cached else "compiling the fused engine (once per installation)",
                 seconds)
