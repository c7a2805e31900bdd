"""``bettibounds bound``: upper and lower Betti-number bounds for an architecture."""

from __future__ import annotations

import argparse
import sys

from ..errors import InvalidSpecError
from .common import PROG, int_list

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    b = sub.add_parser("bound", help="upper and lower Betti-number bounds for an architecture",
                       description="Upper and lower bounds on B(S_c) (or on B({x : N(x) >= 0}) with --space input).")
    net = b.add_argument_group("network")
    net.add_argument("--inputs", "-d", type=int, help="input dimension d")
    net.add_argument("--widths", "-w", help="hidden widths, comma separated (e.g. 8,8,8)")
    net.add_argument("--activation", "-a", default="logistic",
                     help="hidden activation (default: logistic, alias sigmoid; see `bettibounds activations`)")
    net.add_argument("--outputs", type=int, default=1, help="output dimension (default 1)")
    net.add_argument("--output-activation", default="identity", help="identity, sigmoid or tanh (default identity)")
    net.add_argument("--skip", default="none", help="none, residual, input-output, or residual,input-output")
    net.add_argument("--no-bias", action="store_true", help="no bias in any Linear layer")
    loss = b.add_argument_group("loss and data")
    loss.add_argument("--loss", default="mse", help="mse or bce (bce needs --output-activation sigmoid)")
    loss.add_argument("--samples", "-m", type=int, help="number of samples m")
    loss.add_argument("--distinct-inputs", type=int, help="number of distinct inputs among the m samples")
    loss.add_argument("--l2", type=float, default=0.0, help="weight lambda of lambda*||theta||^2 (default 0)")
    loss.add_argument("--bce-chain", default="logsigmoid", help="logsigmoid (default) or two-logs")
    mode = b.add_argument_group("what to bound")
    mode.add_argument("--space", default="loss", choices=("loss", "input"),
                      help="loss: S_c in parameter space; input: {x : N(x) >= 0} for fixed weights")
    mode.add_argument("--slice", type=int, dest="slice_dim", help="bound a k-dimensional affine slice (n = k)")
    mode.add_argument("--symbolic", action="store_true",
                      help="closed forms in the symbols d, h, L, m for uniform networks")
    mode.add_argument("--zell-constant", type=int, default=1, help="C in place of Zell's O(.) (default 1)")
    mode.add_argument("--check", action="store_true",
                      help="also run the node-by-node mechanical engine (small networks)")
    mode.add_argument("--certify", action="store_true",
                      help="build the explicit Pfaffian chain and machine-check the format (small networks)")
    out = b.add_argument_group("output")
    fmt = out.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object")
    fmt.add_argument("--latex", action="store_true", help="LaTeX of the bound formulas")

    b.set_defaults(handler=run)


def _spec_from_args(args: argparse.Namespace):
    from ..spec import ArchitectureSpec

    common = dict(
        activation=args.activation, loss=args.loss, outputs=args.outputs,
        output_activation=args.output_activation, l2=args.l2, skip=args.skip,
        bias=not args.no_bias, bce_chain=args.bce_chain,
    )
    if args.symbolic:
        if args.widths is not None:
            raise InvalidSpecError("--symbolic derives closed forms in h and L: drop --widths")
        if args.distinct_inputs is not None:
            raise InvalidSpecError("--symbolic does not take --distinct-inputs")
        import sympy

        d, h, L, m = sympy.symbols("d h L m", positive=True, integer=True)
        return ArchitectureSpec.uniform(
            args.inputs if args.inputs is not None else d, h, L,
            args.samples if args.samples is not None else m, **common)
    missing = [f for f, v in (("--inputs", args.inputs), ("--widths", args.widths), ("--samples", args.samples))
               if v is None]
    if args.space == "input" and args.samples is None:
        missing.remove("--samples")
    if missing:
        raise InvalidSpecError(f"missing {', '.join(missing)} (or use --symbolic for closed forms)")
    return ArchitectureSpec(
        inputs=args.inputs, widths=int_list(args.widths),
        samples=args.samples if args.samples is not None else 1,
        distinct_inputs=args.distinct_inputs, **common)


def run(args: argparse.Namespace) -> int:
    from ..api import bounds

    if args.symbolic and args.space == "input":
        raise InvalidSpecError("--symbolic is for the loss space; drop --space input")
    spec = _spec_from_args(args)
    if args.certify and not spec.is_symbolic:  # refuse a certificate that cannot finish; announce a long one
        from .._lib import budget
        from ..pfaffian.chain import check_certificate_size
        from ..pfaffian.derive import closed_form

        check_certificate_size(spec)  # a certificate too large to build is refused before any estimate
        budget.enforce(budget.chain_certificate(closed_form(spec).triple[0], spec.n_params), "the certificate",
                       "certify a smaller architecture (fewer inputs, samples or units)")
    report = bounds(spec, space=args.space, slice_dim=args.slice_dim,
                    zell_constant=args.zell_constant, check=args.check, certify=args.certify)
    if args.json:
        print(report.to_json())
    elif args.latex:
        print(report.to_latex())
    else:
        print(report.to_text())
    if report.certificate is not None and not report.certificate.verified:
        sys.stderr.write(f"{PROG}: error: the chain certificate FAILED "
                         f"({len(report.certificate.failures)} false claims)\n")
        return 1
    return 0
