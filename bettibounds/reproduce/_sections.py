"""The Markdown of the report's sections 4-6 and its verdicts (helpers of
:func:`bettibounds.reproduce.reproduce`, which computes the numbers)."""

from __future__ import annotations

import json

from ..logspace import format_log10_up
from . import _landscapes
from ._render import md_table

__all__ = ["cite_column", "report_verdict", "row_verdict", "section4", "certified_cell", "section5", "classification_md",
           "section6"]


def cite_column(rows, key: str = "citation", col: str = "cite") -> str:
    """Give each row a footnote marker [n] for its citation string; return the footnote lines."""
    notes: dict[str, int] = {}
    for r in rows:
        c = r.get(key)
        if not c:
            continue
        n = notes.setdefault(c, len(notes) + 1)
        r[col] = f"[{n}]"
    return "".join(f"- [{n}] citation keys: {c}\n" for c, n in notes.items())


def report_verdict(tvd, violations, compared, with_lower, missing, excesses=()) -> str:
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


def row_verdict(r, violations) -> str:
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


def section4(suite, tvd, violations, verdict, missing, excesses=()) -> list[str]:
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
        f"{_landscapes.CERT_BOXES['quick']}; full run: {_landscapes.CERT_BOXES['full']}), so it does not depend on "
        "the machine's load. *log10 slack* = log10 K − log10 Σ b_k. "
        "K holds at every level when ℓ2 > 0 (S_c is compact); with ℓ2 = 0 it holds only for the c that are not among "
        "the finitely many exceptional levels of the loss (docs/theory.md §6.2, recorded per row in tables.json as "
        "`upper_conditional_on`), so a row above such a conditional bound reads \"c exceptional or the grid wrong\", "
        "and only a row above an unconditional bound, or below a certified lower bound, is a violation. "
        "The lower bound applies only for c inside its certified band and only where the box contains the whole "
        "orbit of the certified minimiser as grid vertices (the tiny teacher networks are built so); elsewhere the "
        "column shows –. Levels per experiment: v0 + f·(b − v0) for f in "
        f"{', '.join(f'{f:g}' for f in _landscapes.LEVEL_FRACTIONS)}, with v0 the minimum and b the minimum over "
        "the boundary of the loss on a coarse pre-grid (so they are unclipped there), the "
        f"{', '.join(f'{100 * q:g} %' for q in _landscapes.QUANTILES)} quantiles of the pre-grid values (mostly "
        "clipped; context), and the midpoint of the certified band where there is one.\n")
    md.append(f"**Verdict:** {verdict}\n")
    if not suite.get("certify", True):
        md.append("**No certified lower bounds in this run:** python-flint (the `[certify]` extra) is not installed, "
                  "so the lower-bound column is empty; `pip install -e '.[certify]'` and rerun for them.\n")
    rows = []
    for r in tvd:
        rows.append(dict(r, verdict=row_verdict(r, violations), certified_cell=certified_cell(r)))
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
            f"{r['case']} at c = {r['level']:.3g}: {r['lower']} ≤ b_0 = {r['betti'][0]} ≤ 10^{format_log10_up(r['log10_upper'])}"
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
                                        "loss_range", "persistence_backend", "device", "seconds"],
                       ["case", "network", "P", "region", "grid", "refined", "seeds", "levels (from a coarse pre-grid; "
                        "+ the midpoint of the certified band)", "loss range", "backend", "device",
                        "seconds"]))
    md.append("Slices pass through a centre trained by L-BFGS from a seeded 1/√fan-in uniform initialisation, along "
              "random filter-normalised directions (seeded); the directions actually used are in tables.json "
              "(`theory_vs_data_cases[*].direction_source`).\n")
    for f in suite["figures"]:
        md.append(f"![2-D slice: heat map with sublevel contours and Betti curves]({f})\n")
    return md


def certified_cell(r) -> str:
    """The certified column: the proved numbers (marked where the grid disagrees), or why there are none."""
    status = r.get("certified")
    if status in (None, "n/a"):
        return f"– ({r.get('n', '≥ 3')}-D)"
    if status != "certified":
        return "not certified"
    cell = str(r["betti_certified"]) + (", meets ∂box" if r.get("certified_meets_boundary") else "")
    return cell + (" — GRID WRONG" if r.get("grid_wrong") else "")


def section5(prob, demo, fig_flow, barcodes, cls=None, fig_cls=None) -> list[str]:
    md = ["## 5. Loss barcodes and the ReLU obstruction\n",
          "### 5.1 ReLU obstruction: probability at initialisation (Nurisso et al. 2024)\n",
          "For f(x) = Σ_k v_k relu(w_k·x) (bias absorbed, p = d + 1, scalar output), c_k = ‖w_k‖² − ‖v_k‖² is "
          "conserved by gradient flow; a neuron with c_k < 0 is *pathological* (the sign of v_k is frozen; with a "
          "vector output nothing is frozen). Probability at Kaiming-normal initialisation with the bias drawn like a "
          "weight (closed form, F distribution) and at PyTorch's own `nn.Linear` initialisation (every weight and "
          "bias U(±1/√fan_in); closed form where the ball ‖w‖ < |v| lies in the cube of w, else Monte Carlo); "
          "status derived, citation Nurisso2024; bettibounds-theory.\n",
          md_table(prob, ["d", "width", "q_pathological", "expected_pathological", "p_some_pathological",
                          "q_pytorch", "p_some_pytorch", "status"],
                   ["d", "width h", "P(c_k < 0), Kaiming normal", "E[# pathological]", "P(some pathological)",
                    "P(c_k < 0), PyTorch default", "P(some), PyTorch default", "status"]),
          "### 5.2 ReLU obstruction: gradient flow stays stuck\n"]
    stuck, free = demo["runs"]
    md.append(f"Shallow ReLU network, d = {demo['d']} (p = {demo['p']} with the bias), h = {demo['width']}, "
              f"m = {demo['m']} points labelled by a teacher with positive output weights (so y ≥ 0, some y > 0), "
              f"seed {demo['seed']}; {demo['steps']} gradient-descent steps of size {demo['lr']} on the MSE.\n")
    md.append(md_table(demo["runs"], ["init", "invariants", "pathological", "components_b0", "reachability",
                                      "initial_loss", "final_loss", "max_invariant_drift",
                                      "pathological_sign_changed", "status"],
                       ["initialisation", "c_k", "pathological k", "b_0(H(c))", "invariant says", "loss at t = 0",
                        "final loss", "max |Δc_k| (O(lr))", "a frozen sign changed", "status"]))
    md.append(f"The first initialisation is **{stuck['reachability']}** by the invariant alone: {stuck['reason']}. "
              f"Any f ≤ 0 has loss ≥ (1/m) Σ_{{y>0}} y² = {demo['floor']:.4g}; gradient descent ends at "
              f"{stuck['final_loss']:.4g} and no pathological v_k changed sign "
              f"({'none' if not stuck['pathological_sign_changed'] else 'SOME — unexpected'}). From the second "
              f"initialisation ({free['reachability']}) it reaches {free['final_loss']:.3g}.\n")
    if fig_flow:
        md.append(f"![ReLU gradient flow: stuck vs reachable]({fig_flow})\n")
    md += classification_md(cls, fig_cls)
    if barcodes is None or not barcodes["markdown"].lstrip().startswith("### 5.3"):
        md.append("### 5.3 Loss barcodes and TO-score (Barannikov et al.)\n")
    if barcodes is None:
        md.append("Skipped: loss barcodes need the [empirical] extra (torch, gudhi), which is not installed. "
                  "No barcode or TO-score number is shown.\n")
    else:
        md.append(barcodes["markdown"] + "\n")  # it embeds its own figures
    return md


def classification_md(cls, fig_cls) -> list[str]:
    """Section 5.2's real-data part: Nurisso et al.'s classification setting on the breast-cancer data."""
    md = ["#### Classification on real data: breast cancer, binary cross-entropy\n"]
    if cls is None:
        return md + ["Skipped: scikit-learn (for its bundled breast-cancer data) is not installed; "
                     "`pip install scikit-learn`.\n"]
    md.append(f"{cls['dataset']}; shallow ReLU network d = {cls['d']} (p = {cls['p']}), h = {cls['width']}, logit "
              f"f(x) = Σ_k v_k relu(w_k·x), loss (1/m) Σ_i [log(1 + e^(f_i)) − y_i f_i]; {cls['steps']} full-batch "
              f"gradient-descent steps of size {cls['lr']}, seeds {cls['seeds']} of PyTorch's default initialisation. "
              "Each draw is used four ways: as drawn, and with every v_k rescaled to ±0.8‖w_k‖ (no pathological "
              "neuron) or to −1.25‖w_k‖ on half or all of the neurons (pathological with v_k < 0). A network whose "
              f"neurons are all pathological with v_k < 0 has f ≤ 0 for ever, so its loss is at least "
              f"(n_pos/m) log 2 = {cls['floor']:.4f} ({cls['positives']} of {cls['m']} labels are 1).\n")
    md.append(md_table(cls["summary"], ["init", "runs", "pathological", "final_loss_mean", "final_loss_min",
                                        "final_loss_max", "train_accuracy_mean", "max_relative_drift",
                                        "sign_changes"],
                       ["initialisation", "runs", "# pathological", "final loss (mean)", "min", "max",
                        "train accuracy (mean)", "max |Δc_k| / max |c_k|", "frozen signs that changed"]))
    allneg = next(r for r in cls["summary"] if r["all_negative"])
    free = next(r for r in cls["summary"] if r["init"] == "no pathological neuron")
    changed = sum(r["sign_changes"] for r in cls["summary"])
    drift = max(r["max_relative_drift"] for r in cls["summary"])
    md.append(f"Invariants: the largest drift of any c_k over all {len(cls['runs'])} runs is {100 * drift:.2g} % of "
              "the largest |c_k| (gradient descent conserves c_k up to O(step); the exact flow exactly). Frozen signs: "
              f"{changed} pathological v_k changed sign. Trained losses: all pathological with v_k < 0 ends at "
              f"{allneg['final_loss_mean']:.4f} on average, "
              + ("above the floor in every run" if allneg["above_floor"] else "**below the floor in some run — "
                                                                               "unexpected, check the table**")
              + f" (training accuracy {allneg['train_accuracy_mean']:.3f}); without a pathological neuron the loss "
              f"reaches {free['final_loss_mean']:.4f} (accuracy {free['train_accuracy_mean']:.3f}).\n")
    if fig_cls:
        md.append(f"![breast-cancer BCE training from obstructed and unobstructed initialisations]({fig_cls})\n")
    return md


def section6(prov, suite) -> list[str]:
    v = prov["versions"]
    md = ["## 6. Provenance\n", "### Versions\n",
          md_table([{"package": k, "version": v[k] if v[k] is not None else "not installed"} for k in v],
                   ["package", "version"]),
          "### Device\n",
          md_table([{"key": k, "value": val} for k, val in prov["device"].items()], ["key", "value"]),
          "### Seeds\n",
          md_table([{"what": s["what"], "seeds": json.dumps(s["seeds"]) if isinstance(s["seeds"], dict) else
                     s["seeds"]} for s in prov["seeds"]], ["what", "seeds"]),
          "Sections 1–3 are deterministic (exact formats, mpmath log-space evaluation).\n",
          "### Timings (seconds, this run)\n",
          md_table([{"section": k, "seconds": s} for k, s in prov["timings_s"].items()], ["section", "seconds"]),
          "### Published claims\n",
          "Every claim of the literature that bettibounds reproduces (package data, `bettibounds.claims`; "
          "`python -m bettibounds.claims -v` prints each comparison), recomputed by this run.\n",
          md_table([{**c, "disagreeing": "; ".join(c["disagreeing"]) or "–"} for c in prov["claims"]],
                   ["id", "source", "status", "value", "verdict", "comparisons", "disagreeing"],
                   ["claim", "source", "status", "published value", "verdict", "comparisons", "disagreeing"]),
          f"{sum(c['verdict'] == 'agrees' for c in prov['claims'])} of {len(prov['claims'])} claims agree; "
          f"{sum(c['verdict'].startswith('checked elsewhere') for c in prov['claims'])} are checked elsewhere "
          "(the barcode trend: section 5.3); a disagreeing claim makes the run fail.\n",
          "### Theorems behind the numbers\n",
          "Every bound row above names one of these theorems; the status is the theorem's (docs/theory.md §1.2), the "
          "route (how it was applied: compact S_c, generic level via ε-regularisation, slice) is in tables.json.\n",
          md_table(prov["theorems"], ["theorem", "name", "status", "rigorous", "citation"]),
          "### Bibliography\n",
          md_table(prov["bibliography"], ["key", "text"]),
          "Files: report.md, report.html, tables.json (every table above, with theorem/status/route/citation per "
          "row and this provenance), growth.csv, fits.csv, theory_vs_data.csv, the PNG figures.\n"]
    return md
