"""ArchitectureSpec: the network, loss and data-size description everything starts from.

A frozen dataclass validated at construction (bad input raises
:class:`~bettibounds.errors.InvalidSpecError` with a message that says what is
accepted). Sizes are Python ints, or positive-integer sympy Symbols for the symbolic
closed forms (:meth:`ArchitectureSpec.uniform`).

Conventions (docs/usage.md, "Conventions"; docs/theory.md §1.1): hidden layers ``z_l = W_l a_{l-1} + b_l``,
``a_l = phi(z_l)``; output ``u = V a_L + c_0`` (``+ U x`` with the input-output skip),
``y_hat = u`` or ``sigma_out(u)``; ``skip="residual"`` adds ``a_{l-1}`` to ``a_l`` for
l >= 2 (all hidden widths equal); ``l2`` adds ``lambda * ||theta||^2`` over all
parameters; ``bias`` is one bool or one bool per Linear layer (L + 1 of them).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict, TypeGuard

from .errors import InvalidSpecError, unknown_name
from .pfaffian.activations import get_activation, get_output_activation
from .sizes import Expr, Size

if TYPE_CHECKING:
    import numpy
    import sympy
    from typing_extensions import Unpack  # typing.Unpack is Python >= 3.11; annotations only

__all__ = ["ArchitectureSpec", "LOSSES", "SKIPS", "BCE_CHAINS"]

LOSSES = ("mse", "bce")
SKIPS = ("none", "residual", "input-output")
#: how BCE is written as a Pfaffian function: an explicit option, since the convention changes the bound
#: (docs/theory.md §3, §4)
BCE_CHAINS = ("logsigmoid", "two-logs")

#: a size as accepted: a Python or numpy integer (stored as int), or a positive-integer sympy expression
SizeLike: TypeAlias = "int | numpy.integer[Any] | sympy.Expr"
#: hidden widths as accepted: one size per hidden layer, a single size (one layer), or SymbolicWidths
WidthsLike: TypeAlias = "Sequence[SizeLike] | SizeLike | SymbolicWidths"
#: lambda as accepted and stored: a real number >= 0 (any ``numbers.Real``: ints, floats, Fractions, numpy
#: and sympy numbers) or a sympy expression; kept as given (never rounded through float)
L2: TypeAlias = "int | float | Fraction | numpy.floating[Any] | numpy.integer[Any] | sympy.Expr"
#: skip connections as accepted: "none", "residual", "input-output", "residual+input-output" or a list
SkipLike: TypeAlias = "str | Iterable[str]"
#: bias flags as accepted: one bool, or one bool per Linear layer
BiasLike: TypeAlias = "bool | Sequence[bool]"


class SpecOptions(TypedDict, total=False):
    """The keyword options of :class:`ArchitectureSpec` besides the sizes (for :meth:`ArchitectureSpec.uniform`)."""

    activation: str
    loss: str
    outputs: SizeLike
    output_activation: str
    l2: L2
    skip: SkipLike
    bias: BiasLike
    distinct_inputs: SizeLike | None
    bce_chain: str


def _is_symbolic(x: object) -> TypeGuard[Expr]:
    return hasattr(x, "free_symbols") and not isinstance(x, numbers.Number)


def _is_sympy_rational(x: object) -> TypeGuard[Expr]:
    """A sympy Integer or Rational (exact, with ``.p`` / ``.q``)."""
    return bool(getattr(x, "is_Rational", False))


def _check_size(name: str, value: object, *, minimum: int = 1) -> Size:
    """Validate a size: a Python/numpy int >= minimum, or a sympy expression."""
    if _is_symbolic(value):
        if getattr(value, "is_integer", None) is False or getattr(value, "is_positive", None) is False:
            raise InvalidSpecError(
                f"{name} must be a positive integer; the symbol {value} is declared "
                "otherwise (use sympy.Symbol(name, positive=True, integer=True))"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidSpecError(
            f"{name} must be a positive integer, got {value!r} ({type(value).__name__})"
        )
    size = int(value)
    if size < minimum:
        raise InvalidSpecError(f"{name} must be an integer >= {minimum}, got {size}")
    return size


def _check_l2(value: object) -> L2:
    if _is_symbolic(value):
        if getattr(value, "is_nonnegative", None) is False:
            raise InvalidSpecError(f"l2 must be >= 0; the symbol {value} is declared negative")
        return value
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Fraction)):
        raise InvalidSpecError(f"l2 (the weight lambda of lambda*||theta||^2) must be a real number >= 0, "
                               f"got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidSpecError(f"l2 must be a finite number >= 0, got {value!r}")
    # exact comparison (a Fraction of 10^-400 is positive, not 0.0); `not >=` also refuses a numpy nan.
    # typeshed's numbers.Real declares __lt__/__le__ but not __ge__, hence the targeted ignore
    if not value >= 0:  # type: ignore[operator]
        raise InvalidSpecError(f"l2 must be a finite number >= 0, got {value!r}")
    return value


def _any_symbolic(widths: tuple[Size, ...] | SymbolicWidths, *sizes: object) -> bool:
    """True when the widths are SymbolicWidths or any size is a sympy expression."""
    return isinstance(widths, SymbolicWidths) or any(_is_symbolic(v) for v in (*sizes, *widths))


def _check_widths(widths: object) -> tuple[Size, ...] | SymbolicWidths:
    """Validate the hidden widths: SymbolicWidths, a non-empty sequence of sizes, or one size."""
    if isinstance(widths, SymbolicWidths):
        return SymbolicWidths(
            _check_size("width h", widths.width),
            _check_size("depth L (number of hidden layers)", widths.depth),
        )
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        if isinstance(widths, numbers.Integral) and not isinstance(widths, bool):
            given: tuple[object, ...] = (widths,)
        else:
            raise InvalidSpecError(
                f"widths must be a sequence of positive integers (one per hidden "
                f"layer), got {widths!r}"
            )
    else:
        given = tuple(widths)
    if not given:
        raise InvalidSpecError(
            "widths is empty: give at least one hidden layer (a network without "
            "hidden layers is a polynomial model; use activation='identity')"
        )
    return tuple(_check_size(f"widths[{i}] (hidden width h_{i + 1})", w) for i, w in enumerate(given))


def _parse_skip(skip: SkipLike, widths: tuple[Size, ...] | SymbolicWidths, symbolic: bool) -> frozenset[str]:
    items = skip.replace(",", "+").split("+") if isinstance(skip, str) else skip
    try:
        names = [str(s).strip().lower().replace("_", "-") for s in items]
    except TypeError:
        raise InvalidSpecError(f"skip must be a string or a list of strings, got {skip!r}") from None
    out = set()
    for s in names:
        if s not in SKIPS:
            raise unknown_name("skip", s, SKIPS)
        if s != "none":
            out.add(s)
    if "residual" in out:
        if symbolic or isinstance(widths, SymbolicWidths):
            pass  # uniform widths by construction
        elif len(widths) < 2:
            raise InvalidSpecError(
                "skip='residual' adds a_{l-1} to a_l for hidden layers l >= 2, so it "
                "needs at least two hidden layers; this network has one"
            )
        elif len(set(widths)) != 1:
            raise InvalidSpecError(
                "skip='residual' (identity blocks a_l = phi(z_l) + a_{l-1}) needs equal "
                f"hidden widths, got widths={list(widths)}"
            )
    return frozenset(out)


def _parse_bias(bias: BiasLike, symbolic: bool, depth: Size) -> bool | tuple[bool, ...]:
    if isinstance(bias, bool):
        return bias
    if symbolic:
        raise InvalidSpecError("a symbolic spec takes bias=True or bias=False, not a list")
    try:
        flags = tuple(bias)
    except TypeError:
        raise InvalidSpecError(f"bias must be a bool or a list of bools, got {bias!r}") from None
    if len(flags) != depth + 1 or not all(isinstance(b, bool) for b in flags):
        raise InvalidSpecError(
            f"bias as a list needs one bool per Linear layer ({depth + 1} for "
            f"{depth} hidden layers), got {bias!r}"
        )
    return flags


def _json_value(v: object) -> int | float | str | None:
    """A size or lambda for JSON: ints and None as they are, floats and Fractions as floats, symbols as strings."""
    if v is None or isinstance(v, int):  # bool is an int
        return v
    return float(v) if isinstance(v, (float, Fraction)) else str(v)


@dataclass(frozen=True)
class SymbolicWidths:
    """``depth`` hidden layers of equal ``width`` (both may be sympy symbols)."""

    width: Size
    depth: Size


@dataclass(frozen=True, init=False)
class ArchitectureSpec:
    """A fully connected network with a loss over m samples.

    Parameters
    ----------
    inputs : int
        Input dimension d.
    widths : sequence of int
        Hidden widths h_1..h_L (L >= 1; any widths, not only uniform).
    activation : str
        Hidden activation (registry name, see
        :func:`bettibounds.pfaffian.activations.get_activation`).
    loss : {"mse", "bce"}
        MSE = mean over samples of the squared error summed over outputs; BCE needs a
        sigmoid output and is computed from the logit.
    samples : int
        m, the number of data points.
    outputs : int, default 1
        Output dimension.
    output_activation : {"identity", "sigmoid", "tanh"}, default "identity"
    l2 : float, default 0
        lambda >= 0 of the penalty lambda * ||theta||^2 over all parameters.
    skip : str or sequence of str, default "none"
        ``"residual"`` (identity blocks between consecutive equal-width hidden
        layers), ``"input-output"`` (a learnable linear map U x added to the output),
        or both.
    bias : bool or sequence of bool, default True
        One flag for all Linear layers or one per Linear layer (L + 1 entries).
    distinct_inputs : int, optional
        Number of distinct input vectors among the m samples (<= m). Samples with
        the same input share chain elements, so the chain order uses this count.
    bce_chain : {"logsigmoid", "two-logs"}, default "logsigmoid"
        How BCE is written as a Pfaffian function: ``logsigmoid`` uses
        ``-(log sigma(u) - (1 - y) u)`` (chain s, log s: 2 elements per output),
        ``two-logs`` uses ``-(y log s + (1 - y) log(1 - s))`` (3 elements, beta 1).

    Raises
    ------
    InvalidSpecError, NotPfaffianError, UnknownNameError
        On any malformed or inconsistent value; the message lists what is accepted.

    Examples
    --------
    >>> spec = ArchitectureSpec(inputs=2, widths=(2,), activation="sigmoid", loss="mse", samples=3)
    >>> spec.n_params
    9
    >>> spec.depth, spec.total_width
    (1, 2)
    """

    # the stored (validated, normalised) values; __init__ takes the wider types it accepts
    inputs: Size
    widths: tuple[Size, ...] | SymbolicWidths
    activation: str
    loss: str
    samples: Size
    outputs: Size
    output_activation: str
    l2: L2
    skip: str
    bias: bool | tuple[bool, ...]
    distinct_inputs: Size | None
    bce_chain: str
    _skips: frozenset[str] = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        inputs: SizeLike,
        widths: WidthsLike,
        activation: str = "logistic",
        loss: str = "mse",
        samples: SizeLike = 1,
        outputs: SizeLike = 1,
        output_activation: str = "identity",
        l2: L2 = 0,
        skip: SkipLike = "none",
        bias: BiasLike = True,
        distinct_inputs: SizeLike | None = None,
        bce_chain: str = "logsigmoid",
    ) -> None:
        # validated in this order, so that the first wrong value is the one reported
        def set_(name: str, value: object) -> None:
            object.__setattr__(self, name, value)  # the dataclass is frozen

        set_("inputs", _check_size("inputs (input dimension d)", inputs))
        set_("widths", _check_widths(widths))
        set_("samples", _check_size("samples m", samples))
        set_("outputs", _check_size("outputs (output dimension)", outputs))
        set_("activation", get_activation(activation).name)
        set_("output_activation", get_output_activation(output_activation).name)
        if not isinstance(loss, str) or loss.strip().lower() not in LOSSES:
            raise unknown_name("loss", loss, LOSSES)
        set_("loss", loss.strip().lower())
        if self.loss == "bce" and self.output_activation != "logistic":
            raise InvalidSpecError(
                "loss='bce' needs output_activation='sigmoid' (binary cross-entropy is "
                f"defined on probabilities sigma(u)); got output_activation={self.output_activation!r}"
            )
        if bce_chain not in BCE_CHAINS:
            raise unknown_name("bce_chain", bce_chain, BCE_CHAINS)
        set_("bce_chain", bce_chain)
        set_("l2", _check_l2(l2))
        symbolic = _any_symbolic(self.widths, self.inputs, self.samples, self.outputs, distinct_inputs)
        set_("_skips", _parse_skip(skip, self.widths, symbolic))
        set_("skip", "+".join(s for s in SKIPS if s in self._skips) or "none")
        set_("bias", _parse_bias(bias, symbolic, self.depth))
        di: Size | None = None
        if distinct_inputs is not None:
            di = _check_size("distinct_inputs", distinct_inputs)
            if not _is_symbolic(di) and not _is_symbolic(self.samples) and di > self.samples:
                raise InvalidSpecError(
                    f"distinct_inputs ({di}) cannot exceed samples ({self.samples})"
                )
        set_("distinct_inputs", di)

    # ------------------------------------------------------------ constructors
    @classmethod
    def uniform(cls, inputs: SizeLike, width: Size, depth: Size, samples: SizeLike,
                **kwargs: Unpack[SpecOptions]) -> ArchitectureSpec:
        """``depth`` hidden layers of equal ``width``; sizes may be sympy symbols.

        Examples
        --------
        >>> import sympy
        >>> d, h, L, m = sympy.symbols("d h L m", positive=True, integer=True)
        >>> ArchitectureSpec.uniform(d, h, L, m, activation="tanh").n_params
        L*h**2 + L*h + d*h - h**2 + h + 1
        """
        if any(_is_symbolic(v) for v in (width, depth)):
            return cls(inputs=inputs, widths=SymbolicWidths(width, depth), samples=samples, **kwargs)
        layers = _check_size("depth L (number of hidden layers)", depth)
        return cls(inputs=inputs, widths=(width,) * layers, samples=samples, **kwargs)

    # -------------------------------------------------------------- properties
    @property
    def is_symbolic(self) -> bool:
        """True when any size is a sympy expression."""
        return isinstance(self.widths, SymbolicWidths) or any(
            _is_symbolic(v) for v in (self.inputs, self.samples, self.outputs, self.distinct_inputs, *self.widths)
        )

    @property
    def depth(self) -> Size:
        """L, the number of hidden layers (the output layer is not counted)."""
        return self.widths.depth if isinstance(self.widths, SymbolicWidths) else len(self.widths)

    @property
    def total_width(self) -> Size:
        """sum of hidden widths, h_1 + ... + h_L."""
        if isinstance(self.widths, SymbolicWidths):
            return self.widths.width * self.widths.depth
        return sum(self.widths)

    @property
    def effective_samples(self) -> Size:
        """m' = distinct inputs when given, else m (the count the chain order uses)."""
        return self.samples if self.distinct_inputs is None else self.distinct_inputs

    @property
    def skips(self) -> frozenset[str]:
        """The set of skip kinds in use (subset of {"residual", "input-output"})."""
        return self._skips

    def has_bias(self, layer: int) -> bool:
        """Whether Linear layer ``layer`` (1..L+1; L+1 is the output layer) has a bias."""
        if isinstance(self.bias, bool):
            return self.bias
        return self.bias[layer - 1]

    @property
    def n_params(self) -> Size:
        """P = sum over Linear layers of (fan_in + bias) * fan_out (+ d*outputs for the
        input-output skip), in the parameter order of docs/usage.md, "Conventions"."""
        d, out = self.inputs, self.outputs
        io = d * out if "input-output" in self._skips else 0
        if isinstance(self.widths, SymbolicWidths):
            h, L = self.widths.width, self.widths.depth
            b = 1 if self.bias else 0
            total = (d + b) * h + (L - 1) * (h + b) * h + (h + b) * out + io
            import sympy

            return sympy.expand(total)
        fan_in = (d, *self.widths)
        fan_out = (*self.widths, out)
        return sum(
            (i + (1 if self.has_bias(k + 1) else 0)) * o for k, (i, o) in enumerate(zip(fan_in, fan_out))
        ) + io

    @property
    def l2_positive(self) -> bool | None:
        """True / False when lambda > 0 is decided, None when undecided (a bare symbol)."""
        if _is_symbolic(self.l2):
            positive: bool | None = self.l2.is_positive  # sympy's three-valued answer
            return positive
        # exact: never through float, which rounds tiny positive Fractions to 0; bool() because numpy and
        # sympy numbers compare to numpy.bool_ / sympy.false, which callers' `is False` tests would miss
        return bool(self.l2 > 0)

    def l2_fraction(self) -> Fraction:
        """lambda as an exact Fraction (ints, floats, Fractions, sympy numbers).

        Raises
        ------
        InvalidSpecError
            For a symbolic lambda, which has no numeric value.
        """
        v = self.l2
        if getattr(v, "free_symbols", None):
            raise InvalidSpecError(f"this computation needs a numeric l2, got the symbol {v}")
        if isinstance(v, (int, float, Fraction)):
            return Fraction(v)
        if _is_sympy_rational(v):  # sympy Integer / Rational
            return Fraction(int(v.p), int(v.q))
        return Fraction(str(v))  # sympy Float, Decimal, ...: their decimal digits

    def open_hypotheses(self) -> list[str]:
        """Assumptions about symbolic sizes that sympy could not decide."""
        out = []
        sizes: dict[str, Size]
        if isinstance(self.widths, SymbolicWidths):
            sizes = {"h": self.widths.width, "L": self.widths.depth}
        else:
            sizes = {}
        sizes.update({"d": self.inputs, "m": self.samples, "outputs": self.outputs})
        for label, v in sizes.items():
            if _is_symbolic(v) and not (v.is_integer and v.is_positive):
                out.append(f"{label} = {v} is a positive integer (assumed, not declared)")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (symbols become strings)."""
        conv = _json_value
        widths = (
            {"width": str(self.widths.width), "depth": str(self.widths.depth)}
            if isinstance(self.widths, SymbolicWidths) else [conv(w) for w in self.widths]
        )
        return {
            "inputs": conv(self.inputs), "widths": widths, "activation": self.activation,
            "outputs": conv(self.outputs), "output_activation": self.output_activation,
            "loss": self.loss, "samples": conv(self.samples),
            "distinct_inputs": conv(self.distinct_inputs), "l2": conv(self.l2),
            "skip": self.skip, "bias": self.bias if isinstance(self.bias, bool) else list(self.bias),
            "bce_chain": self.bce_chain,
        }
