"""Shared rendering of the report: Markdown tables, citation footnotes, figures, and Markdown to HTML.

The report only emits: ATX headings (``#`` .. ``####``), paragraphs, pipe tables, images
``![alt](src)`` on their own line, bullet lists (``- ``), and inline ``**bold**``,
``` `code` ``` and ``[text](href)``. :func:`markdown_to_html` converts exactly that subset
(no new dependency); anything else is kept as escaped paragraph text.
"""

from __future__ import annotations

import html
import math
import re

from .._lib.writers import save_figure as save_figure_atomic

__all__ = ["cite_column", "fmt", "markdown_to_html", "md_table", "pyplot", "save_figure"]


def fmt(v) -> str:
    """One table cell: floats to 4 significant digits, None as an en dash, lists compact."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if math.isnan(v):
            return "nan"
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    return str(v).replace("|", "\\|")


def md_table(rows, cols, headers=None, up=()) -> str:
    """A pipe table of ``rows`` (dicts) restricted to ``cols``; ``headers`` renames the columns.

    ``up``: columns holding the log10 of an upper bound, printed with 4 significant digits rounded
    up (:func:`~bettibounds.logspace.format_log10_up`), so that 10^cell is still an upper bound."""
    from ..logspace import format_log10_up

    headers = [h.replace("|", "\\|") for h in (headers or cols)]
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(format_log10_up(r[c]) if c in up and isinstance(r.get(c), float)
                                     and math.isfinite(r[c]) else fmt(r.get(c)) for c in cols) + " |")
    return "\n".join(out) + "\n"


def cite_column(rows, key: str = "citation", col: str = "cite") -> str:
    """Give each row a footnote marker ``[n]`` (in ``row[col]``) for its citation string ``row[key]``;
    return the footnote lines, one per distinct citation string, numbered in order of first use."""
    notes: dict[str, int] = {}
    for r in rows:
        c = r.get(key)
        if not c:
            continue
        n = notes.setdefault(c, len(notes) + 1)
        r[col] = f"[{n}]"
    return "".join(f"- [{n}] citation keys: {c}\n" for c, n in notes.items())


_INLINE = [
    (re.compile(r"`([^`]+)`"), lambda m: f"<code>{m.group(1)}</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), lambda m: f"<strong>{m.group(1)}</strong>"),
    (re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"), lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>'),
]


def _inline(text: str) -> str:
    # escape first; the markup characters (` * [ ] ( )) survive html.escape unchanged
    out = html.escape(text, quote=False)
    for pat, rep in _INLINE:
        out = pat.sub(rep, out)
    return out


def _cells(line: str) -> list[str]:
    body = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", body)]


_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")

_CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
        "table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}"
        "th,td{border:1px solid #bbb;padding:2px 6px;text-align:left}th{background:#eee}"
        "img{max-width:100%;border:1px solid #ddd}code{background:#f3f3f3;padding:0 2px}")


def markdown_to_html(md: str, title: str = "bettibounds reproduction report") -> str:
    """Convert the report's markdown subset to a standalone HTML page."""
    lines = md.splitlines()
    out: list[str] = []
    para: list[str] = []

    def flush():
        if para:
            out.append("<p>" + _inline(" ".join(para)) + "</p>")
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if not s:
            flush()
            i += 1
            continue
        m = re.match(r"^(#{1,4})\s+(.*)$", s)
        if m:
            flush()
            level = len(m.group(1))
            anchor = re.sub(r"[^a-z0-9]+", "-", m.group(2).lower()).strip("-")
            out.append(f'<h{level} id="{anchor}">{_inline(m.group(2))}</h{level}>')
            i += 1
            continue
        m = _IMAGE.match(s)
        if m:
            flush()
            alt, src = html.escape(m.group(1)), html.escape(m.group(2))
            out.append(f'<p><a href="{src}"><img src="{src}" alt="{alt}"></a></p>')
            i += 1
            continue
        if s.startswith("|") and i + 1 < len(lines) and re.match(r"^\|(\s*:?-+:?\s*\|)+\s*$", lines[i + 1].strip()):
            flush()
            head = _cells(s)
            rows = []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            out.append("<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead><tbody>")
            for r in rows:
                out.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>")
            out.append("</tbody></table>")
            continue
        if s.startswith("- "):
            flush()
            items = []
            while i < len(lines) and lines[i].strip().startswith("- "):
                items.append(lines[i].strip()[2:])
                i += 1
            out.append("<ul>" + "".join(f"<li>{_inline(t)}</li>" for t in items) + "</ul>")
            continue
        para.append(s)
        i += 1
    flush()
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n")


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (the report only writes PNG files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(plt, fig, out, name: str, dpi: int = 110) -> str:
    """Lay out, save as ``out/name``, close; return the file name (as the report links it)."""
    fig.tight_layout()
    path = out / name
    save_figure_atomic(fig, path, dpi=dpi)
    plt.close(fig)
    return path.name
