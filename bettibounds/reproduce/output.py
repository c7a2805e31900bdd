"""The report's files: report.md, report.html, tables.json and the CSV tables.

Every file of the report is written here (figures excepted: each section saves its own through
:func:`bettibounds.reproduce.render.save_figure`), so that how files are written -- encoding, JSON
conventions -- is decided in one place. Each file is written atomically
(:func:`bettibounds._lib.writers.atomic_write`: a temporary file renamed into place), so a full disk or
an interrupt leaves no truncated file.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from .._lib.writers import atomic_write
from .render import markdown_to_html

__all__ = ["json_default", "json_safe", "write_csv", "write_report"]


def json_default(o):
    """``json.dumps`` fallback: arrays as lists, everything else as its string."""
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def json_safe(obj):
    """JSON-safe copy: non-finite floats become strings ("inf", "-inf", "nan")."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_csv(path: Path, rows: list[dict]) -> None:
    """``rows`` as CSV (columns: every key in order of first appearance; lists and dicts as JSON); nothing
    is written for no rows."""
    if not rows:
        return
    cols = list(dict.fromkeys(k for r in rows for k in r))

    def write(fh):
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})

    atomic_write(path, write, "the report table", binary=False)


def write_report(out: Path, markdown: str, tables: dict, csvs: dict[str, list[dict]]) -> None:
    """Write ``out/report.md``, ``out/report.html`` (the same text), ``out/tables.json`` and one CSV per
    entry of ``csvs`` (file name -> rows)."""
    atomic_write(out / "report.md", markdown, "the report")
    atomic_write(out / "report.html", markdown_to_html(markdown), "the report")
    atomic_write(out / "tables.json", json.dumps(json_safe(tables), indent=1, default=json_default),
                 "the report tables")
    for name, rows in csvs.items():
        write_csv(out / name, rows)
