"""Citations and usage lines that users read point at things that exist (issue 19 item 9).

* The package, its docs and its claims data cite sections of docs/theory.md, never the team's
  internal files (THEORY.md, DESIGN.md), which users do not have.
* Every "docs/theory.md §N" (or "sec. N") citation names a section of docs/theory.md that exists
  (§9.N: item N of section 9), and so does every "§N" of the claims data.
* A call written in a module docstring of ``bettibounds.certified`` or of a subpackage's
  ``__init__`` (``name(args)``, not run as a doctest) binds to the real function's signature.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS_THEORY = (ROOT / "docs" / "theory.md").read_text(encoding="utf-8")


def _user_files():
    """What a user of the package reads: the package (code, docstrings, data), docs/, the READMEs."""
    files = [p for p in (ROOT / "bettibounds").rglob("*") if p.suffix in (".py", ".json")
             and "__pycache__" not in p.parts]
    files += sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md", ROOT / "verification" / "README.md"]
    return files


@cache
def _sections():
    heads = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", DOCS_THEORY, re.M))
    sec9 = DOCS_THEORY[DOCS_THEORY.index("\n## 9. "):DOCS_THEORY.index("\n## 10. ")]
    items9 = set(re.findall(r"^(\d+)\. \*\*", sec9, re.M))
    return heads, items9


def _exists(ref: str) -> bool:
    heads, items9 = _sections()
    ref = ref.rstrip(".")
    return ref in heads or (ref.startswith("9.") and ref[2:] in items9)


# a team file named as a source: THEORY.md, "THEORY sec. 3", "THEORY §4", "THEORY's row", DESIGN.md
TEAM_CITATION = re.compile(r"THEORY(?:\.md|\s+sec\b|\s*§|'s|\s+(?:row|worked|preamble)\b)|DESIGN\.md|shared/")


def test_no_team_file_is_cited():
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in _user_files()
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if TEAM_CITATION.search(line)]
    assert not hits, "cite docs/theory.md sections (or the published source) instead:\n" + "\n".join(hits)


def test_the_pattern_catches_each_form():  # the check above can fail
    for cited in ("(THEORY.md §3)", "THEORY sec. 1", "THEORY §5", "THEORY's primitives table", "THEORY row 1",
                  "(DESIGN.md, binding)", "../shared/DESIGN.md"):
        assert TEAM_CITATION.search(cited), cited
    assert not TEAM_CITATION.search("THEORY VIOLATED: a row exceeds its bound")  # a message, not a source


CITE = re.compile(r"theory\.md,?\s*(?:§|sec\.\s*|section\s+)(\d+(?:\.\d+)*)")


def test_cited_sections_of_docs_theory_exist():
    bad, n = [], 0
    for p in _user_files() + sorted((ROOT / "tests").rglob("*.py")):
        text = p.read_text(encoding="utf-8")
        refs = [m for m in CITE.finditer(text)]
        if p.suffix == ".json":  # the claims data cite only docs/theory.md: every § is one of its sections
            refs = list(re.finditer(r"§(\d+(?:\.\d+)*)", text))
        for m in refs:
            n += 1
            if not _exists(m.group(1)):
                bad.append(f"{p.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}: {m.group(0)}")
    assert n > 100  # the scan found the citations
    assert not bad, "no such section in docs/theory.md:\n" + "\n".join(bad)


def test_section_lookup_can_fail():
    assert _exists("4.5") and _exists("9.17") and _exists("14") and _exists("15")
    assert not _exists("4.9") and not _exists("9.20") and not _exists("16")


def _docstring_calls():
    pkg = ROOT / "bettibounds"
    files = sorted(set((pkg / "certified").glob("*.py")) | set(pkg.glob("*/__init__.py")))
    for path in files:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for m in re.finditer(r"``([A-Za-z_][\w.]*\([^`]*\))``", doc):
            try:
                call = ast.parse(m.group(1), mode="eval").body
            except SyntaxError:  # mathematics such as ``down(y) = y - ...``
                continue
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
                yield module, m.group(1), call


CALLS = list(_docstring_calls())


def test_docstring_calls_are_found():
    assert any(text.startswith("certify_lower(") for _, text, _ in CALLS)


@pytest.mark.parametrize("module, text, call", CALLS, ids=[f"{m}:{t}" for m, t, _ in CALLS])
def test_docstring_call_matches_signature(module, text, call):
    pytest.importorskip("numpy")
    mod = importlib.import_module(module)
    func = getattr(mod, call.func.id, None)
    if func is None or not callable(func):
        pytest.skip(f"{call.func.id} is not defined in {module} (mathematics, or a name of its submodules)")
    # positional placeholders and the keyword names written in the docstring must bind
    inspect.signature(func).bind(*([None] * len(call.args)), **{k.arg: None for k in call.keywords})


# "docs/usage.md, 'Engines'" (CLI help) or docs/usage.md, "Conventions" (docstrings, messages)
SECTION_REF = re.compile(r"docs/(\w+)\.md,?\s+(?:section\s+)?(?:\(\s*)?['\"]([^'\"]+)['\"]")


@cache
def _headings(doc: str) -> tuple[str, ...]:
    text = (ROOT / "docs" / f"{doc}.md").read_text(encoding="utf-8")
    return tuple(re.sub(r"^\d+(?:\.\d+)*\.?\s+", "", h.strip()) for h in re.findall(r"^#{1,4} (.+)$", text, re.M))


def _section_exists(doc: str, name: str) -> bool:
    return (ROOT / "docs" / f"{doc}.md").is_file() and any(h.startswith(name) for h in _headings(doc))


def _cli_help_texts():
    """Every sub-command's --help as printed, whitespace runs made one space (argparse wraps lines)."""
    import argparse

    from bettibounds.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: " ".join(p.format_help().split()) for name, p in sub.choices.items()}


def test_section_references_in_cli_help_name_real_sections():
    # `bettibounds path --help` pointed at "Paths between minima", titled "Paths between two models"
    bad, n = [], 0
    for command, text in _cli_help_texts().items():
        for m in SECTION_REF.finditer(text):
            n += 1
            if not _section_exists(m.group(1), m.group(2)):
                bad.append(f"bettibounds {command} --help: {m.group(0)}")
    assert n >= 6  # the scan found the references
    assert not bad, "no such section:\n" + "\n".join(bad)


def test_the_section_check_can_fail():
    assert _section_exists("usage", "Engines") and _section_exists("theory", "Bounds beside a PyTorch model")
    assert not _section_exists("usage", "Paths between minima") and not _section_exists("nosuch", "Engines")
    assert SECTION_REF.search("(docs/usage.md, 'Paths between two models')").group(2) == "Paths between two models"
