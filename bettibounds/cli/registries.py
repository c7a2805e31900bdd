"""``bettibounds activations`` and ``bettibounds theorems``: the registries, as text or JSON."""

from __future__ import annotations

import argparse
import json

from .common import json_option

__all__ = ["add_parsers", "run_activations", "run_theorems"]


def add_parsers(sub) -> None:
    a = sub.add_parser("activations", help="list the activation registry with chains and formats",
                       parents=[json_option()])
    a.set_defaults(handler=run_activations)
    t = sub.add_parser("theorems", help="list the bound theorems with status and citation", parents=[json_option()])
    t.set_defaults(handler=run_theorems)


def run_activations(args: argparse.Namespace) -> int:
    from ..pfaffian.activations import ACTIVATIONS, NON_PFAFFIAN

    rows = [{"name": a.name, "aliases": list(a.aliases), "chain": list(a.elements), "format": list(a.format),
             "symmetry": a.symmetry, "description": a.description} for a in ACTIVATIONS.values()]
    if args.json:
        print(json.dumps({"activations": rows, "polynomial": "polynomial:<p>",
                          "not_pfaffian": sorted(NON_PFAFFIAN)}, indent=2))
        return 0
    for r in rows:
        print(f"{r['name']:<10} {str(tuple(r['format'])):<10} {r['description']}")
    print(f"{'polynomial:<p>':<10} (0, 0, p)  the polynomial t + t^p (upper bounds hold for any degree-p polynomial; "
          "the symmetry lower bound assumes t + t^p)")
    print("not Pfaffian (rejected): " + ", ".join(sorted(NON_PFAFFIAN)))
    return 0


def run_theorems(args: argparse.Namespace) -> int:
    from ..references import REFERENCES
    from ..theorems import THEOREMS

    rows = [{"key": t.key, "name": t.name, "kind": t.kind, "status": t.status, "rigorous": t.rigorous,
             "bounds": t.bounds, "statement": t.statement, "hypotheses": list(t.hypotheses),
             "citation": [REFERENCES[c] for c in t.citation]} for t in THEOREMS.values()]
    if args.json:
        print(json.dumps({"theorems": rows}, indent=2))
        return 0
    for r in rows:
        print(f"{r['key']:<11} [{r['status']}, {r['kind']}] {r['name']}\n    {r['statement']}")
    return 0
