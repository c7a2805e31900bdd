"""Section 4 of the report, theory against data: measured Betti numbers of small landscapes beside the
rigorous upper bound K and, where certified, the symmetry lower bound.

The landscapes are data (:mod:`.landscape_cases`); this module runs them (:func:`run_suite`). For each level
the row gives the measured Betti numbers (lower-star V-construction), the flags ``clipped`` (the grid set touches
the box boundary) and ``stable`` (the refined grid agrees), the rigorous upper bound K (theorem K, n = P for a
box, n = k for a slice), the certified lower bound where it applies, and the log10 slack. Levels come from a
coarse pre-grid (:func:`levels_from_pregrid`), plus the midpoint of the certified band where there is one.

On 2-D regions (2-D slices, the box over P = 2 parameters) every level is also certified
(:func:`bettibounds.certified.certify_landscape`, docs/theory.md §13): where the certified
X_c does not meet the box's boundary its Betti numbers -- a theorem -- are what is compared
with the bounds, stable or not on the grid; elsewhere the grid's stable, unclipped rows are
compared as before. The certification budget per level is counted in enclosed boxes
(``SCALES[scale]["cert_boxes"]``), so the outcome does not depend on the machine's load.

Every compared row must satisfy lower <= measured <= upper where the bounds hold unconditionally
(:func:`check_rows`); otherwise :func:`check` fails the run after the report is written.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...logspace import format_log10_up, safe_float
from ..render import cite_column, md_table, pyplot, save_figure
from . import landscape_cases
from .provenance import SYMMETRY_CERT, bound_fields

__all__ = ["NAME", "SCALES", "TIMING", "check", "check_rows", "compute", "conditional_excesses",
           "levels_from_pregrid", "markdown", "plot_slice", "run_suite"]

NAME = "theory_vs_data"
TIMING = "4. theory vs data"

#: the knobs of each scale (the grids are per case, in :mod:`.landscape_cases`): L-BFGS iterations of a slice's
#: trained centre; the certified topology's budget per level in enclosed boxes (deterministic) and its
#: wall-clock safety limit in seconds; whether the networks too large to grid get certified lower bounds
SCALES: dict[str, dict[str, Any]] = {
    "smoke": {"train_iterations": 60, "cert_boxes": 1500, "cert_seconds": 30.0, "certificate_cases": False},
    "quick": {"train_iterations": 150, "cert_boxes": 4000, "cert_seconds": 60.0, "certificate_cases": False},
    "full": {"train_iterations": 400, "cert_boxes": 400_000, "cert_seconds": 300.0, "certificate_cases": True},
}

#: levels per experiment: v0 + f (b - v0) for f in LEVEL_FRACTIONS, and the QUANTILES of the pre-grid values
LEVEL_FRACTIONS = (0.2, 0.5, 0.9)
QUANTILES = (0.1, 0.5)
#: the refinement factor of the stability check
REFINE = 2


# ----------------------------------------------------------- certification
def _certify(exp, theta):
    """Certified lower bound at the teacher (None when |G| <= 1: nothing to certify)."""
    from ...certified.witness import certify_lower
    from ...lower import symmetry_group

    g = symmetry_group(exp.spec)
    if not g.applicable or g.order is None or g.order <= 1:
        return None
    return certify_lower(exp.spec, exp.x, exp.y, theta=theta)


def _orbit_on_grid(exp, cert, sample, level) -> tuple[bool, str]:
    """Are all |G| images of theta* vertices of the box grid with sampled value <= level?"""
    from ...certified.witness import group_orbit

    theta = np.asarray(cert.theta, float)
    pts = [theta] + [hp for hp, _, _ in group_orbit(exp.spec, theta)]
    for p in pts:
        idx = []
        for axis, coord in zip(sample.axes, p):
            i = int(np.argmin(np.abs(axis - coord)))
            if abs(axis[i] - coord) > 1e-9 * max(1.0, abs(coord)):
                return False, "an image of theta* is not a grid vertex"
            idx.append(i)
        if not sample.values[tuple(idx)] <= level:
            return False, "float64 sampling of an image of theta* exceeds the level (band below the grid's precision)"
    return True, f"all {len(pts)} images of theta* are grid vertices inside the sublevel set"


# ------------------------------------------------------------------- suite
def levels_from_pregrid(exp_dict, parse, sample_fn, k_coarse):
    """Levels from the loss on a coarse pre-grid of ``k_coarse`` points per axis (3 significant digits).

    v0 + f (b - v0) for f in LEVEL_FRACTIONS, with v0 the minimum and b the minimum over the
    grid's boundary (levels below b are unclipped on the coarse grid, so they can be
    compared), and the QUANTILES of all values (mostly clipped: shown for context).
    """
    coarse = dict(exp_dict, grid=[k_coarse] * len(exp_dict["grid"]))
    vals = sample_fn(parse(coarse)).values
    v0 = float(vals.min())
    b = min(float(np.take(vals, e, axis=a).min()) for a in range(vals.ndim) for e in (0, -1))
    cands = [v0 + f * (b - v0) for f in LEVEL_FRACTIONS] if b > v0 else []
    cands += [float(np.quantile(vals, q)) for q in QUANTILES]
    out = []
    for c in cands:
        c = float(f"{c:.3g}")
        if c > 0 and c not in out:
            out.append(c)
    return sorted(out)


#: the lower-bound column's note when python-flint (the [certify] extra) is missing
NO_FLINT = "not certified: python-flint is missing (the [certify] extra)"


def run_suite(scale: str, out, *, device=None, log=None, certify: bool = True) -> dict:
    """Run every case; return {"rows", "cases", "certificates", "figures", "seconds"}.

    ``certify=False`` (python-flint missing) skips the certified lower bounds: their rows say so."""
    from ...empirical.compare import analyze_landscape, compare_with_bound
    from ...empirical.experiment import parse_experiment
    from ...empirical.sampler import sample_landscape
    from ...empirical.training import train_to_minimum

    def sample_fn(exp):
        return sample_landscape(exp, device=device)

    rows, meta, certs, figures = [], [], [], []
    knobs = SCALES[scale]
    for case in landscape_cases.cases(scale):
        t0 = time.perf_counter()
        exp_dict = landscape_cases.experiment(case, scale)
        if exp_dict["region"]["kind"] == "slice":
            base = parse_experiment({k: v for k, v in exp_dict.items() if k not in ("region", "grid")})
            center = train_to_minimum(base, seed=case.seeds["init"], iterations=knobs["train_iterations"],
                                      device=device).theta
            exp_dict["region"] = dict(exp_dict["region"], center=center.tolist())
        ncoarse = 17 if len(exp_dict["grid"]) <= 2 else (9 if len(exp_dict["grid"]) <= 3 else 7)
        levels = levels_from_pregrid(exp_dict, parse_experiment, sample_fn, ncoarse)
        cert = None
        band_level = None
        wants_cert = scale in case.certify
        if certify and wants_cert:
            cert = _certify(parse_experiment(exp_dict), list(case.teacher or ()))
            if cert is not None and cert.certified:
                lo, hi = cert.band
                band_level = float(lo + (hi - lo) / 2)
                levels = sorted([band_level, *levels])
        exp_dict["levels"] = levels
        exp = parse_experiment(exp_dict)
        res = analyze_landscape(exp, refine=REFINE, device=device)
        s = res.sample
        topo = None
        if s.dimension <= 2:
            from ...certified.landscape import certify_landscape

            topo = certify_landscape(exp, seconds=knobs["cert_seconds"], max_evaluations=knobs["cert_boxes"])
        kind = f"box (all P = {exp.spec.n_params})" if s.kind == "box" else f"{s.dimension}-D slice"
        bound = res.bound
        assert bound is not None, "the report's cases are networks of the catalog: theorem K covers each"
        ub = bound_fields(bound)
        for i, lv in enumerate(res.levels):
            c = lv["level"]
            cert_row = _certified_fields(topo.levels[i] if topo is not None else None, res.dims, lv["betti"])
            measured = cert_row.pop("_measured") or lv["betti"]
            total = int(sum(measured))
            lower, lower_note = None, (NO_FLINT if wants_cert and not certify else "–")
            if cert is not None:
                if not cert.certified:
                    lower_note = "not certified: " + cert.statement
                elif cert.band[0] <= c < cert.band[1]:
                    ok, why = _orbit_on_grid(exp, cert, s, c)
                    lower = cert.components_at_least
                    lower_note = ("certified, c in band; " + why) if ok else ("certified for S_c, not comparable "
                                                                               "on this grid: " + why)
                    if not ok:
                        lower = None
                else:
                    lower_note = f"c outside the certified band [{cert.band[0]:.3g}, {cert.band[1]:.3g})"
            # compared: a certified X_c that stays off the box's boundary (a theorem, stable or not on the grid),
            # else a stable, unclipped grid row -- unless the certificate shows that X_c meets the boundary
            grid_ok = bool(lv["stable"]) and not lv["clipped"] and cert_row["certified_meets_boundary"] is not True
            compared = cert_row["measured_by"] == "certified" or grid_ok
            up = safe_float(bound.log10, "up")  # 10^up is still the bound
            vs_bound = compare_with_bound(total, bound, complete=True)  # every case asks for all k
            ok_up = vs_bound["holds"]
            ok_lo = lower is None or measured[0] >= lower
            rows.append({
                "case": case.name, "network": case.description, "region": kind, "n": int(res.n_variables),
                "P": int(exp.spec.n_params), "grid": list(s.values.shape), "level": float(c), "betti": lv["betti"],
                "betti_refined": lv.get("betti_refined"), "sum_betti": total, "measured": list(measured),
                **cert_row, "clipped": bool(lv["clipped"]),
                "stable": lv["stable"], "resolved": lv["resolved"], "unresolved_because": lv["unresolved_because"],
                "lower": lower, "lower_note": lower_note,
                "lower_theorem": SYMMETRY_CERT["theorem"] if lower is not None else None,
                "lower_status": SYMMETRY_CERT["status"] if lower is not None else None,
                "lower_citation": SYMMETRY_CERT["citation"] if lower is not None else None,
                "log10_upper": up,
                "log10_slack": vs_bound["slack_log10"],
                "compared": compared, "upper_holds": ok_up, "upper_verdict": vs_bound["verdict"],
                "upper_conditional_on": vs_bound["conditional_on"],
                "holds": (ok_up and ok_lo) if compared else None, **ub})
        seconds = time.perf_counter() - t0
        meta.append({"case": case.name, "network": case.description, "P": int(exp.spec.n_params), "region": kind,
                     "certified_seconds": None if topo is None else round(topo.seconds, 2),
                     "grid": list(s.values.shape), "refined_grid": None if res.refined is None else
                     list(res.refined.values.shape), "seeds": case.seeds, "levels": levels,
                     "direction_source": s.direction_source, "device": s.device, "dtype": s.dtype,
                     "engine": s.engine, "engine_reason": s.engine_reason,
                     "loss_range": [float(s.values.min()), float(s.values.max())],
                     "persistence_backend": res.diagram.backend, "seconds": round(seconds, 2),
                     "upper": {"log10": safe_float(bound.log10, "up"), **ub,
                               "hypotheses": [str(h) for h in bound.hypotheses]}})
        if cert is not None:
            certs.append({"case": case.name, "network": case.description, "P": int(exp.spec.n_params),
                          "group_order": cert.group_order, "certified": cert.certified, "band": cert.band,
                          "statement": cert.statement, "seconds": round(cert.seconds, 2),
                          "theta": "teacher" if case.teacher is not None else "multi-start search",
                          **SYMMETRY_CERT})
        if case.figure:
            try:
                figures.append(plot_slice(res, case, out))
            except ImportError:  # pragma: no cover - matplotlib missing
                pass
        if log:
            log(f"section 4: {case.name} ({seconds:.1f} s)")
    if knobs["certificate_cases"] and certify:
        certs += _extra_certificates(log)
    return {"rows": rows, "cases": meta, "certificates": certs, "figures": figures, "certify": certify}


def _certified_fields(cert, dims, grid_betti) -> dict:
    """The row's certified-topology fields; ``_measured``: the certified numbers for ``dims`` when they are
    the ones to compare (certified and X_c off the box's boundary), else None."""
    if cert is None:
        return {"certified": "n/a", "betti_certified": None,
                "certified_reason": "regions of dimension 3 and more are not certified: docs/theory.md §13.7",
                "certified_meets_boundary": None, "certified_seconds": None, "measured_by": "grid",
                "grid_wrong": None, "_measured": None}
    betti = None if cert.betti is None else [int(cert.betti[k]) if k <= 1 else 0 for k in dims]
    use = cert.certified and cert.meets_boundary is False
    return {"certified": cert.status, "betti_certified": betti, "certified_reason": cert.reason,
            "certified_meets_boundary": cert.meets_boundary, "certified_seconds": round(cert.seconds, 3),
            "measured_by": "certified" if use else "grid",
            "grid_wrong": None if betti is None else betti != list(grid_betti),
            "_measured": betti if use else None}


def _extra_certificates(log=None) -> list[dict]:
    """Certificates for the networks too large to grid over all parameters (:data:`.landscape_cases.
    CERTIFICATE_CASES`), and for the shipped example of `bettibounds lower` in a source checkout."""
    from ...certified.witness import certify_lower
    from ...empirical.experiment import parse_experiment

    out = []
    specs = [(c.name, c.description, landscape_cases.experiment(c, "full")) for c in landscape_cases.CERTIFICATE_CASES]
    example = Path(__file__).resolve().parents[3] / "examples" / "teacher_tanh.json"
    if example.exists():  # source checkout: also the shipped example of `bettibounds lower`
        specs.append(("examples/teacher_tanh.json", "tanh 1-2-1 with biases, MSE, the shipped teacher example (m = 12)",
                      json.loads(example.read_text())))
    for name, desc, d in specs:
        exp = parse_experiment(d)
        t0 = time.perf_counter()
        cert = certify_lower(exp.spec, exp.x, exp.y, starts=8, seed=0)
        out.append({"case": name, "network": desc, "P": int(exp.spec.n_params), "group_order": cert.group_order,
                    "certified": cert.certified, "band": cert.band, "statement": cert.statement,
                    "seconds": round(cert.seconds, 2), "theta": "multi-start search (seed 0)", **SYMMETRY_CERT})
        if log:
            log(f"section 4: certificate {name} ({time.perf_counter() - t0:.1f} s)")
    return out


def check_rows(rows) -> list[dict]:
    """The compared rows (certified off the boundary, or stable and unclipped) that violate a proved
    statement: above a rigorous, unconditional upper bound, or below a certified lower bound.

    A row above an upper bound that holds only under an undecided hypothesis (l2 = 0: c not one of
    the exceptional levels) contradicts nothing proved: see :func:`conditional_excesses`."""
    bad = []
    for r in rows:
        if not r.get("compared"):
            continue
        over = r["upper_verdict"] == "violated"  # compare_with_bound: exact in integers where it can be
        under = r.get("lower") is not None and r.get("measured", r["betti"])[0] < r["lower"]
        if over or under:
            bad.append(r)
    return bad


def conditional_excesses(rows) -> list[dict]:
    """The compared rows above an upper bound that is conditional (some hypothesis undecided):
    c is then exceptional, a hypothesis fails, or the grid misrepresents S_c -- not a violation."""
    return [r for r in rows if r.get("compared") and r["upper_verdict"] == "exceeds_conditional_bound"]


# ------------------------------------------------------------------ the section
def compute(ctx) -> dict:
    """Run the suite (needs the [empirical] extra; without python-flint, no certified lower bounds) and
    judge its rows; the verdict is also the report's summary line."""
    missing = ", ".join(ctx.missing) or None
    suite = None
    if missing is None:
        suite = run_suite(ctx.scale, ctx.out, device=ctx.device, certify=ctx.certify)
    tvd = None if suite is None else suite["rows"]
    violations = [] if tvd is None else check_rows(tvd)
    excesses = [] if tvd is None else conditional_excesses(tvd)
    compared = 0 if tvd is None else sum(1 for r in tvd if r["compared"])
    with_lower = 0 if tvd is None else sum(1 for r in tvd if r["compared"] and r["lower"] is not None)
    verdict = _verdict(tvd, violations, compared, with_lower, missing, excesses)
    provenance: dict = {"seeds": [{"what": f"section 4: {c['case']}", "seeds": c["seeds"]}
                                  for c in (suite["cases"] if suite else [])]}
    if suite is not None and suite["cases"]:
        provenance["device"] = {"landscape_device": sorted({c["device"] for c in suite["cases"]}),
                                "landscape_engine": sorted({f"{c['engine']} ({c['engine_reason']})"
                                                            for c in suite["cases"]})}
    if (tvd and any(r["lower"] is not None for r in tvd)) or (suite and suite["certificates"]):
        provenance["theorems"] = ["Sym-cert"]
    tables = {"theory_vs_data": tvd, "theory_vs_data_cases": None if suite is None else suite["cases"],
              "certificates": None if suite is None else suite["certificates"], "violations": len(violations),
              "exceeds_conditional_bound": len(excesses)}
    return {"suite": suite, "rows": tvd, "violations": violations, "excesses": excesses, "verdict": verdict,
            "figures": [] if suite is None else list(suite["figures"]), "tables": tables,
            "csv": {"theory_vs_data.csv": tvd or []}, "provenance": provenance,
            "summary": {"violations": len(violations), "compared": compared,
                        "theory_vs_data": "skipped" if tvd is None else "run"}}


def check(result, ctx) -> str | None:
    """A compared row outside [certified lower bound, unconditional upper bound] fails the run."""
    violations = result["violations"]
    if not violations:
        return None
    return (f"{len(violations)} stable unclipped row(s) of section 4 violate lower <= measured <= upper (first: "
            f"{violations[0]['case']} at c = {violations[0]['level']:.6g}); see {ctx.out / 'report.md'}")


def _verdict(tvd, violations, compared, with_lower, missing, excesses=()) -> str:
    if tvd is None:
        return (f"not run: the [empirical] extra is not installed (missing: {missing}); "
                "pip install torch==2.13.0 && pip install -e '.[empirical]'.")
    cond = ""
    if excesses:
        hyps = "; ".join(sorted({h for r in excesses for h in r["upper_conditional_on"]}))
        cond = (f" {len(excesses)} stable, unclipped row(s) exceed an upper bound that holds only if {hyps} "
                "(ℓ2 = 0, docs/theory.md §6.2): there c is exceptional or the grid misrepresents S_c; this "
                "contradicts nothing proved and is not counted as a violation.")
    if violations:
        return (f"**VIOLATION** — {len(violations)} of {compared} stable, unclipped rows violate lower ≤ measured ≤ "
                "upper where the bounds are proved without an undecided hypothesis. This contradicts a proved bound "
                "(or exposes a bug); the run exits with an error." + cond)
    certified = sum(1 for r in tvd if r["compared"] and r.get("measured_by") == "certified")
    wrong = sum(1 for r in tvd if r.get("grid_wrong"))
    tail = (f"; {len(tvd) - compared} unstable, clipped or unresolved rows are shown but not compared"
            + (f"; the grid was wrong at {wrong} certified level(s) (column *certified*)." if wrong else "."))
    if excesses:
        return (f"no compared row violates a proved bound; {compared - len(excesses)} of {compared} satisfy "
                f"lower ≤ measured ≤ upper ({with_lower} rows have a certified lower bound; {certified} compared rows "
                f"have Betti numbers certified by interval arithmetic).{cond}" + tail)
    return (f"all {compared} compared rows satisfy lower ≤ measured ≤ upper ({with_lower} of them against a "
            f"certified lower bound; {certified} of them with Betti numbers certified by interval arithmetic)"
            + tail)


def _row_verdict(r, violations) -> str:
    """The section-4 table's verdict of one row."""
    if not r["compared"]:
        unresolved = r.get("resolved") is False
        # "unstable": the refined grid disagrees (an unresolved level is unstable by the resolution rule alone)
        refined_differs = not r["stable"] and (not unresolved or (r.get("betti_refined") is not None
                                                                  and r["betti_refined"] != r["betti"]))
        return "not compared: " + ", ".join(x for x, f in (
            ("clipped", r["clipped"]), ("unstable", refined_differs), ("below the grid's resolution", unresolved),
            ("certified X_c meets the boundary", r.get("certified_meets_boundary") is True)) if f)
    if r in violations:
        return "VIOLATED"
    if r["upper_verdict"] == "exceeds_conditional_bound":
        return "exceeds K, which holds for non-exceptional c only: c exceptional or the grid wrong"
    return "holds"


def markdown(result, ctx) -> list[str]:
    suite, tvd, violations, verdict = result["suite"], result["rows"], result["violations"], result["verdict"]
    md = ["## 4. Theory against data\n"]
    if tvd is None:
        return md + [verdict + "\n"]
    md.append(
        "Measured Betti numbers b_k(c) of grid sublevel sets (lower-star filtration on the grid vertices) beside the "
        "rigorous upper bound K (theorem K's ⌊K/2⌋, compared as an exact integer; n = P for a box over all "
        "parameters, n = k for a k-dimensional slice, where a 1-dimensional slice needs no genericity) and, where "
        "certified, the symmetry lower bound b_0(S_c) ≥ |G| (ball arithmetic, `bettibounds lower`). *clipped*: the "
        "grid set touches the box boundary, so it may cut components — not compared. *stable*: a grid refined "
        "twofold gives the same numbers, and the grid resolves the level: c is not below the grid's minimum, and "
        "not within one grid cell's rise of a known minimum (the grid's lowest minima polished by L-BFGS-B; "
        "docs/usage.md, \"Landscapes\") — unstable rows are not compared. *certified*: on 2-D regions every level's "
        "b_0, b_1 are also proved by interval arithmetic (theorem 13.1 of docs/theory.md, status certified), or "
        "the row says why not; where the certified X_c stays off the box's boundary its numbers are what is "
        "compared (*measured by* = certified), stable on the grid or not, and a grid that disagrees is marked "
        "GRID WRONG. The report's certification budget is counted in enclosed boxes per level (quick run: "
        f"{SCALES['quick']['cert_boxes']}; full run: {SCALES['full']['cert_boxes']}), so it does not depend on "
        "the machine's load. *log10 slack* = log10 K − log10 Σ b_k. "
        "K holds at every level when ℓ2 > 0 (S_c is compact); with ℓ2 = 0 it holds only for the c that are not among "
        "the finitely many exceptional levels of the loss (docs/theory.md §6.2, recorded per row in tables.json as "
        "`upper_conditional_on`), so a row above such a conditional bound reads \"c exceptional or the grid wrong\", "
        "and only a row above an unconditional bound, or below a certified lower bound, is a violation. "
        "The lower bound applies only for c inside its certified band and only where the box contains the whole "
        "orbit of the certified minimiser as grid vertices (the tiny teacher networks are built so); elsewhere the "
        "column shows –. Levels per experiment: v0 + f·(b − v0) for f in "
        f"{', '.join(f'{f:g}' for f in LEVEL_FRACTIONS)}, with v0 the minimum and b the minimum over "
        "the boundary of the loss on a coarse pre-grid (so they are unclipped there), the "
        f"{', '.join(f'{100 * q:g} %' for q in QUANTILES)} quantiles of the pre-grid values (mostly "
        "clipped; context), and the midpoint of the certified band where there is one.\n")
    md.append(f"**Verdict:** {verdict}\n")
    if not suite.get("certify", True):
        md.append("**No certified lower bounds in this run:** python-flint (the `[certify]` extra) is not installed, "
                  "so the lower-bound column is empty; `pip install -e '.[certify]'` and rerun for them.\n")
    rows = []
    for r in tvd:
        rows.append(dict(r, verdict=_row_verdict(r, violations), certified_cell=_certified_cell(r)))
    notes = cite_column(rows)
    md.append(md_table(rows, ["case", "region", "grid", "level", "betti", "stable", "clipped", "certified_cell",
                              "measured_by", "lower", "sum_betti", "log10_upper", "log10_slack", "verdict", "theorem",
                              "status", "cite"],
                       ["case", "region", "grid", "level c", "grid (b_0, b_1, …)", "stable", "clipped",
                        "certified (b_0, b_1, …)", "measured by", "lower (cert.)", "Σ b_k", "log10 K", "log10 slack",
                        "verdict", "upper: theorem", "status", "cite"],
                       up={"log10_upper"}))
    reasons = [f"{r['case']} at c = {r['level']:.3g}: {r['certified_reason']}" for r in tvd
               if r.get("certified") == "not certified"]
    if reasons:
        md.append("Levels not certified, and why: " + "; ".join(reasons) + ".\n")
    md.append(notes + "- lower bound: theorem Sym-cert (certified symmetry bound b_0(S_c) ≥ |G|, status derived, "
              "citation key bettibounds-theory; certified by ball arithmetic in this run)\n")
    lower_rows = [r for r in tvd if r["lower"] is not None]
    if lower_rows:
        shown = [r for r in lower_rows if not r["compared"]]
        md.append("Rows with a certified lower bound: " + "; ".join(
            f"{r['case']} at c = {r['level']:.3g}: {r['lower']} ≤ b_0 = {r['betti'][0]} "
            f"≤ 10^{format_log10_up(r['log10_upper'])}"
            for r in lower_rows) + ". At such levels S_c is a union of tiny balls around the |G| images of the "
            "certified minimiser; the teacher weights are grid vertices, so the grid has a vertex in every ball."
            + (f" {len(shown)} of these rows are shown but not compared: each ball is far smaller than a grid cell, so "
               "the level is within the grid's resolution of the minimum and the grid cannot show the set's shape "
               "(only the certificate speaks for these levels)." if shown else "") + "\n")
    if suite["certificates"]:
        md.append("### Certified lower bounds\n")
        md.append(md_table(suite["certificates"], ["case", "P", "group_order", "certified", "band", "seconds",
                                                   "theta", "statement"],
                           ["case", "P", "|G|", "certified", "band [c_lo, c_hi)", "seconds", "candidate θ*",
                            "statement (or the step that failed)"]))
        md.append("Theorem Sym-cert (status derived, citation bettibounds-theory): each certificate proves a strict "
                  "local minimum in a ball (interval Cholesky of the Hessian enclosure) and the disjointness of its "
                  "|G| images. A failed certificate is reported as such, never as a number.\n")
    md.append("### The experiments\n")
    md.append(md_table(suite["cases"], ["case", "network", "P", "region", "grid", "refined_grid", "seeds", "levels",
                                        "loss_range", "persistence_backend", "device", "engine", "seconds"],
                       ["case", "network", "P", "region", "grid", "refined", "seeds", "levels (from a coarse pre-grid; "
                        "+ the midpoint of the certified band)", "loss range", "backend", "device", "engine",
                        "seconds"]))
    md.append("Slices pass through a centre trained by L-BFGS from a seeded 1/√fan-in uniform initialisation, along "
              "random filter-normalised directions (seeded); the directions actually used are in tables.json "
              "(`theory_vs_data_cases[*].direction_source`).\n")
    for f in suite["figures"]:
        md.append(f"![2-D slice: heat map with sublevel contours and Betti curves]({f})\n")
    return md


def _certified_cell(r) -> str:
    """The certified column: the proved numbers (marked where the grid disagrees), or why there are none."""
    status = r.get("certified")
    if status in (None, "n/a"):
        return f"– ({r.get('n', '≥ 3')}-D)"
    if status != "certified":
        return "not certified"
    cell = str(r["betti_certified"]) + (", meets ∂box" if r.get("certified_meets_boundary") else "")
    return cell + (" — GRID WRONG" if r.get("grid_wrong") else "")




def plot_slice(res, case, out) -> str:
    """landscape_<case>.png: heat map with sublevel contours (left) and Betti curves (right).

    The two panels are drawn by :func:`bettibounds.empirical.plots.plot_landscape` (into
    ``landscape_<case>/``) and put side by side under a title that names the network.
    """
    import matplotlib.image as mpimg

    from ...empirical.plots import plot_landscape

    plt = pyplot()
    sub = out / f"landscape_{case.name}"
    written = plot_landscape(res, sub)
    pick = [p for p in written if p.endswith(("heatmap.png", "betti_curves.png"))]
    fig, axes = plt.subplots(1, len(pick), figsize=(6.2 * len(pick), 5.0))
    axes = np.atleast_1d(axes)
    for ax, p in zip(axes, pick):
        ax.imshow(mpimg.imread(p))
        ax.axis("off")
    seeds = ", ".join(f"{k} {v}" for k, v in case.seeds.items())
    fig.suptitle(f"{case.description}\nloss on the slice θ* + t_1 d_1 + t_2 d_2 (θ* trained; random filter-normalised "
                 f"directions; seeds: {seeds})\nleft: heat map, white sublevel contours at the report's levels, red "
                 f"dots = local minima of the grid; right: Betti curves b_0, b_1 against the level c\nrigorous upper "
                 f"bound (theorem K, k = 2): b_0 + b_1 <= 10^{format_log10_up(res.bound.log10)}", fontsize=10)
    return save_figure(plt, fig, out, f"landscape_{case.name}.png", dpi=120)
