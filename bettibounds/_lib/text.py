"""User text and paths in messages: control characters escaped, paths quoted and shortened, and
why the OS cannot take a path (torch-free)."""

from __future__ import annotations

import os
import re
import unicodedata
from typing import Any

__all__ = ["escape", "strip_terminal_codes", "exception_text", "display_path", "bad_path", "plural"]

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


# a terminal's escape sequences: CSI (ESC [ ... final byte, colours and bold), OSC (ESC ] ... BEL or ESC \\)
# and the two-character ones (ESC followed by one byte)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")


def strip_terminal_codes(text: str) -> str:
    """``text`` without terminal escape sequences (colours, bold): what a terminal would not print."""
    return _ANSI.sub("", str(text))


def exception_text(exc: BaseException | str, limit: int = 300) -> str:
    r"""Another library's error text fit to quote inside a one-line message: terminal escape
    sequences (the bold and colour codes torch puts in some messages) removed, every other control
    character escaped (:func:`escape`), whitespace runs made one space, and cut at a word boundary
    to at most ``limit`` characters, ending in "...".

    Examples
    --------
    >>> exception_text("failed, \x1b[1mdo this\x1b[0m.\n\t(1) more")
    'failed, do this. (1) more'
    >>> exception_text("one two three four", limit=12)
    'one two...'
    """
    text = strip_terminal_codes(str(exc))
    text = escape(" ".join(text.split())) or (type(exc).__name__ if isinstance(exc, BaseException) else "")
    if len(text) <= limit:
        return text
    cut = text[:limit - 3]
    if " " in cut[limit // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "..."


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


def plural(n: int, one: str, many: str) -> str:
    """``"1 minimum"``, ``"3 minima"``."""
    return f"{n} {one if n == 1 else many}"
