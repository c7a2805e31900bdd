"""User text and paths in messages: control characters escaped, paths quoted and shortened, and
why the OS cannot take a path (torch-free)."""

from __future__ import annotations

import os
import unicodedata
from typing import Any

__all__ = ["escape", "display_path", "bad_path"]

# characters escaped in messages: C0/C1 controls and DEL (category Cc), line and paragraph
# separators (Zl, Zp), lone surrogates from undecodable arguments (Cs) and the bidirectional
# controls that can reorder what a terminal shows ("Trojan source")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def escape(text: str) -> str:
    r"""``text`` with every control character written as an escape, so that a message quoting
    the user's input stays one line and cannot drive the terminal.

    Examples
    --------
    >>> escape("a\nb\x1b[31mc\u202e")
    'a\\nb\\x1b[31mc\\u202e'
    """
    out = []
    for ch in str(text):
        if ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def display_path(path: Any) -> str:
    """A path as messages quote it: repr-quoted (control characters escaped), at most 200 characters."""
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    shown = repr(text)
    return shown if len(shown) <= 200 else shown[:150] + "..." + shown[-40:]


def bad_path(path: Any) -> str:
    """Why the OS cannot take ``path`` (a NUL byte, a character the file-system encoding cannot
    write, such as a lone surrogate), or "" when it can."""
    text = os.fspath(path)
    if isinstance(text, str):
        if "\0" in text:
            return "the path contains a NUL byte"
        try:
            os.fsencode(text)
        except UnicodeEncodeError as exc:
            return f"the path holds a character the file system cannot store ({exc.object[exc.start]!r})"
    elif b"\0" in text:
        return "the path contains a NUL byte"
    return ""
