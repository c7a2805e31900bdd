"""``python -m bettibounds.claims [--section NAME] [-v]``: recompute the published claims, one line each.

Exit status 0 when every claim agrees, 1 when one disagrees, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys

from . import SECTIONS, Skip, load_claims


def _short(x: object, width: int = 44) -> str:
    s = str(x)
    return s if len(s) <= width else s[: width - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bettibounds.claims", description=__doc__)
    parser.add_argument("--section", choices=sorted(SECTIONS), help="one section (default: every claim)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every comparison of every claim")
    args = parser.parse_args(argv)
    if args.section:
        stems, title, match = SECTIONS[args.section]
        claims = load_claims(stems, match)
    else:
        title, claims = "all published claims", load_claims()
    print(f"# {title}\n")
    print(f"{'claim id':52} {'published':44} {'recomputed':44} agree")
    bad = 0
    for claim in claims:
        try:
            rows = claim.check()
        except Skip as why:
            print(f"{claim.id:52} {_short(claim.data['value']):44} {_short('-- ' + str(why)):44} skip")
            continue
        ok = bool(rows) and all(r.agree for r in rows)
        bad += not ok
        more = f"  (+{len(rows) - 1} more)" if len(rows) > 1 and not args.verbose else ""
        first = rows[0].recomputed if rows else "(no comparison)"
        print(f"{_short(claim.id, 52):52} {_short(claim.data['value']):44} {_short(str(first) + more):44} "
              f"{'yes' if ok else 'NO'}")
        for r in rows if args.verbose else [r for r in rows if not r.agree]:
            print(f"    {'' if r.agree else 'DISAGREES: '}{r.label}: published {r.published!r}, "
                  f"recomputed {r.recomputed!r}")
    print(f"\n{len(claims)} claims, {bad} disagreeing")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
