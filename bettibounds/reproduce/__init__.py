"""``bettibounds reproduce``: regenerate the literature's claims as a report (Markdown, HTML, PNG, JSON, CSV).

Sections (issue 5), each a module of :mod:`.sections` with ``compute(ctx)`` and ``markdown(result, ctx)``:

1. how the bounds grow (Bucarelli et al. 2024; :mod:`.sections.growth`): log10 of the rigorous bound K against
   width h, depth L and samples m, logistic / tanh / arctan, MSE / BCE; least-squares fits of log10 K against
   (m h L)^2 and against P log P; deep against shallow at equal P;
2. invariances under l2 and skip connections (:mod:`.sections.invariances`);
3. the input-space table (Bianchini & Scarselli 2014; :mod:`.sections.input_space`);
4. theory against data (:mod:`.sections.theory_vs_data`, the cases in :mod:`.sections.landscape_cases`):
   measured Betti numbers beside the upper bound K and, where certified, the symmetry lower bound; every
   stable, unclipped row must satisfy lower <= measured <= upper, otherwise :class:`TheoryViolation` is raised
   (after the report is written, so the offending rows can be read);
5. the ReLU obstruction (Nurisso et al. 2024; :mod:`.sections.relu_obstruction`), and loss barcodes and
   TO-score (Barannikov et al. 2019, 2020; :mod:`.sections.barcodes`): the worked example, the authors' sample
   protocol on the camel function, one network's sampled barcode with the authors' preset, and the two
   published observations on real data (minima-graph protocol) with rule-based verdicts;
6. provenance (:mod:`.sections.provenance`): versions, seeds, device, timings, the published claims
   recomputed, and per number the theorem, its status and citation (also in ``tables.json``).

Every number in the report is computed by this run; nothing is pasted.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from .context import SCALE_NAMES, Context, have_module, missing_modules, resolve_scale
from .output import write_report
from .sections import SECTIONS

__all__ = ["SCALE_NAMES", "TheoryViolation", "reproduce"]


class TheoryViolation(AssertionError):
    """A stable, unclipped measured Betti number lies outside [certified lower bound, rigorous upper bound],
    or a published claim disagrees with bettibounds.

    This contradicts a proved statement (or exposes a bug): it is never a user error, so it is
    not a :class:`~bettibounds.errors.BettiBoundsError`.
    """


def reproduce(out_dir="bettibounds-report", quick: bool = True, *, scale: str | None = None, device=None,
              scheduler=None, tiny: bool = False, progress=None) -> dict:
    """Write ``out_dir/report.md`` and ``report.html`` (+ PNG, JSON, CSV); return a summary dict.

    Parameters
    ----------
    out_dir : path
        Output folder (created).
    quick : bool
        Without ``scale``: True runs the quick scale, False the full one.
    scale : {"smoke", "quick", "full"}, optional
        ``"smoke"``: a run of about 20 s of CPU that checks an installation end to end (every section, tiny
        sweeps and grids: its numbers are not for reading); ``"quick"``: the default (a few minutes on 2 CPU cores);
        ``"full"``: larger sweeps, finer grids and more certificates. Overrides ``quick``.
    device : str, optional
        Landscape sampling device ("cpu", "cuda"); default: CUDA when available.
    scheduler : None, "local", "tcp://host:port" or distributed.Client
        Runs the barcode trend's networks (independent jobs) on a Dask cluster
        (:func:`bettibounds.distributed.map_jobs`); default in this process.
    tiny : bool
        Deprecated: ``scale="smoke"``.
    progress : callable, optional
        Called as ``progress(i, n, name, seconds)`` after section ``i`` of ``n`` (``name``: its name)
        has been computed, ``seconds`` after it started (the command line prints it on stderr).

    Returns
    -------
    dict
        ``report``, ``html``, ``out``, ``seconds``, ``violations``, ``compared``, ``theory_vs_data``
        ("run" or "skipped"), ``plots``.

    Raises
    ------
    TheoryViolation
        When a compared row of section 4 violates lower <= measured <= upper, or a published claim
        disagrees (the report is written first and says so).
    InvalidSpecError
        For an unknown ``scale``.
    """
    if tiny:
        warnings.warn("reproduce(tiny=True) is deprecated; use reproduce(scale='smoke')", DeprecationWarning,
                      stacklevel=2)
        scale = "smoke" if scale is None else scale
    ctx = Context(scale=resolve_scale(scale, quick), out=Path(out_dir), device=device, scheduler=scheduler,
                  missing=missing_modules(), certify=have_module("flint"))
    ctx.out.mkdir(parents=True, exist_ok=True)

    for i, section in enumerate(SECTIONS, start=1):
        t = time.perf_counter()
        result = section.compute(ctx)
        if section.TIMING is not None:
            ctx.timings[section.TIMING] = time.perf_counter() - t
        if progress is not None:
            progress(i, len(SECTIONS), section.NAME, time.perf_counter() - t)
        ctx.results[section.NAME] = result
        ctx.figures += result.get("figures", [])
    ctx.timings["total (before writing)"] = time.perf_counter() - ctx.started

    md: list[str] = []
    for section in SECTIONS:
        md += section.markdown(ctx.results[section.NAME], ctx)
    # tables.json: the run's record (section 6's, with the timings) first, then every section's tables in order
    record = ctx.results.get("provenance", {}).get("record", {})
    tables: dict = {"provenance": {**record, "timings_s": {k: round(v, 2) for k, v in ctx.timings.items()}}}
    csvs: dict = {}
    for section in SECTIONS:
        tables.update(ctx.results[section.NAME].get("tables", {}))
        csvs.update(ctx.results[section.NAME].get("csv", {}))
    write_report(ctx.out, "\n".join(md), tables, csvs)

    for section in SECTIONS:
        check = getattr(section, "check", None)
        message = check(ctx.results[section.NAME], ctx) if check else None
        if message:
            raise TheoryViolation(message)
    summary = {"report": str(ctx.out / "report.md"), "html": str(ctx.out / "report.html"), "out": str(ctx.out),
               "seconds": time.perf_counter() - ctx.started, "violations": 0, "compared": 0,
               "theory_vs_data": "skipped"}
    for section in SECTIONS:  # section 4 fills in the last three
        summary.update(ctx.results[section.NAME].get("summary", {}))
    return {**summary, "plots": list(ctx.figures)}
