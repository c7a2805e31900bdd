"""Fuzz the command-line interface: generated argument vectors and mutated input files, run
in-process (``bettibounds.cli.main``), each capped in time and memory (issue 18, "Done when").

What counts as a finding:

* ``traceback``  -- an exception escaped ``main`` (anything but ``SystemExit``), or stderr shows one;
* ``hang``       -- the case ran past its time cap (``--timeout``; the tool's own time limit,
                    ``BETTIBOUNDS_MAX_SECONDS``, is set to ``--budget`` seconds, so a run the tool
                    accepts should end well within the cap: a hang means an estimate far too low, or
                    work no estimate covers). Each case over the cap runs once more alone at the end;
                    only one that hangs alone too counts, one that finishes is listed as "slow under
                    load" (``--no-confirm`` keeps the first verdict);
* ``crash``      -- the worker process died (a segfault, an abort, the OOM killer);
* ``exit``       -- an exit status other than 0, 1, 2 (or 130 after an interrupt);
* ``stderr``     -- exit 2 without exactly one error line on stderr, or anything on stderr besides
                    error lines, time announcements and progress bars;
* ``stdout``     -- text on stdout with exit 2, or no output / invalid JSON with exit 0;
* ``warning``    -- a Python warning (numpy's RuntimeWarning, ...) reached the user;
* ``leftover``   -- a failed or interrupted run left files in its output folder or its working
                    directory, or a temporary file (``.bb-*``) anywhere.

Cases: ``--argv`` generated argument vectors over every sub-command (valid-looking values most of
the time, junk otherwise: huge, negative, non-finite, control characters, unwritable or
over-long output paths, special files), and ``--files`` cases that each run a command on one
mutated input file (structure-aware JSON mutations: wrong types, unknown and duplicate keys,
NaN and overflowing numbers, deep nesting, wrong shapes; byte-level ones: truncation, flips,
non-UTF-8; .npz ones: a .npy named .npz, forged headers, complex and string dtypes, NaN, extra
arrays; and FIFOs, directories, /dev/zero). Some cases write to a full stdout (an OSError
on write), some are interrupted (KeyboardInterrupt at a random moment: exit 130 expected).

Each case runs in a worker process (``--workers`` of them) with an address-space limit
(``--memory-gb``) and an in-process timer; a worker that does not answer within the cap plus a
grace period is killed (a hang), one that dies is a crash; workers are recycled every
``--recycle`` cases, and after every interrupted, timed-out or failed case (an interrupt that lands
inside ``import torch`` leaves a half-initialised module behind, a state no real run goes on from:
the command exits).

Usage::

    python verification/fuzz_cli.py                 # 10^4 argument vectors + 2000 files (tens of minutes)
    python verification/fuzz_cli.py --quick         # 300 + 100, a few minutes
    python verification/fuzz_cli.py --json report.json --seed 3 --workers 2 --timeout 120

Prints a summary table and the findings (argv, status, last lines of stderr or the traceback);
exits 1 when there is any finding. Writes nothing outside a temporary folder (and ``--json``): every
case runs with a fresh temporary folder as its working directory, so relative output paths among the
junk values (``--plot 0``, ``--plot .``) land there, not where the harness was started.
The test suite runs a small subset of the same cases in-process (tests/test_fuzz_cli.py).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# ------------------------------------------------------------------------------------------ values
HUGE = ["1000000", "1000000000000", "1000000000000000000", str(10**100), "9" * 5000]
NEG = ["-1", "-0", "-5", "-1000000000000"]
WEIRD_FLOATS = ["nan", "inf", "-inf", "1e308", "-1e308", "1e-320", "-0.0", "1e400", "0x10", "1_000"]
WEIRD_TEXT = ["", " ", "a\nb", "x\x1b[31mred", "\u202eevil", "\x00", "tab\there", "é", "x" * 3000, "--", "-",
              "%s%d", "{}", "\ud800", "'\"", "a,b", ",", "1,,2"]
PATH_TOKENS = ["@OUT@", "@OUT@/sub/dir", "@EXISTING_FILE@", "@UNDER_FILE@", "@LONG@", "@EMPTY@", "@DEVNULL@",
               "@PROC@", "."]


def junk(rng: random.Random) -> str:
    pool = rng.choice([HUGE, NEG, WEIRD_FLOATS, WEIRD_TEXT, ["0", "1", "2", "3"], PATH_TOKENS])
    return rng.choice(pool)


def pick(rng: random.Random, valid, p_valid: float = 0.8) -> str:
    """A flag's value: from ``valid`` (a list or a callable) with probability ``p_valid``, else junk."""
    if rng.random() < p_valid:
        return str(valid(rng) if callable(valid) else rng.choice(valid))
    return junk(rng)


def small(lo: int, hi: int):
    return lambda rng: rng.randint(lo, hi)


def widths(rng: random.Random) -> str:
    return ",".join(str(rng.randint(1, 4)) for _ in range(rng.randint(1, 3)))


# ------------------------------------------------------------------------------------------ seeds
def _seed_files() -> dict[str, object]:
    """The valid inputs every mutation starts from (small: each runs in about a second)."""
    teacher = json.loads((EXAMPLES / "teacher_tanh.json").read_text())
    slice2 = {"network": {"layers": [2, 3, 1], "activation": "tanh"}, "loss": {"kind": "mse", "l2": 0.001},
              "data": {"x": [[0.1, 0.2], [-0.3, 0.5], [1.0, -1.0], [0.7, 0.1]], "y": [[0.5], [-0.2], [0.1], [0.9]]},
              "region": {"kind": "slice", "center": [0.1] * 13, "directions": {"random": 2, "seed": 1},
                         "low": [-1, -1], "high": [1, 1]},
              "grid": [9, 9], "levels": [0.1, 0.5, 1.0], "homology_dims": [0, 1]}
    box = json.loads((EXAMPLES / "tiny_box.json").read_text())
    box["grid"] = [5, 5, 5, 5]
    obstruction = {"network": {"layers": [2, 3, 1], "bias": True},
                   "data": {"x": [[1, 2], [0, 1], [-1, 0.5]], "y": [[1], [-1], [0.5]]},
                   "init": {"W": [[0.1, 0.2, 0.3], [-0.5, 0.1, 0.0], [1.0, -1.0, 0.2]], "V": [[0.5], [-0.2], [1.5]]},
                   "teacher": {"W": [[1, 0, 0]], "V": [1.0]}}
    network = {"network": teacher["network"], "loss": teacher["loss"]}
    data = teacher["data"]
    return {"slice": slice2, "box": box, "teacher": teacher, "obstruction": obstruction, "network": network,
            "data": data}


def _argv_for(kind: str, path: str, rng: random.Random, valid: dict[str, str]) -> list[str]:
    """A small, quick command that reads the file of ``kind``."""
    sample = ["--minima", str(rng.randint(0, 2)), "--uniform", str(rng.randint(5, 40)), "--steps",
              str(rng.randint(0, 5)), "--k", str(rng.randint(1, 5))]
    if kind in ("slice", "box"):
        return rng.choice([["landscape", path, "--refine", str(rng.randint(1, 2))], ["barcode", path],
                           ["landscape", path, "--json"], ["barcode", path, *sample]])
    if kind == "teacher":
        return rng.choice([["lower", "-e", path, "--starts", "1"], ["barcode", path, *sample],
                           ["obstruction", "-e", path]])
    if kind == "obstruction":
        return ["obstruction", "-e", path, "--flow", str(rng.choice([0, 5, 50]))] + rng.choice([[], ["--json"]])
    if kind == "network":
        return ["barcode", "--network", path, "--data", valid["data"], *sample]
    if kind in ("data", "npz"):
        return ["barcode", "--network", valid["network"], "--data", path, *sample]
    raise AssertionError(kind)


# ------------------------------------------------------------------------------------ JSON mutations
def _walk(obj, path=()):
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, path + (i,))


def _set(obj, path, value):
    if not path:
        return value
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return obj


def _delete(obj, path):
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return obj


_REPLACEMENTS = [None, True, False, "false", "true", "", "tanh", "nan", 0, -1, 1, 2, 10**6, 10**18, 10**400, 0.5, -0.0,
                 1e300, -1e300, 1e-320, [], {}, [[]], [0], [[0, 0]], {"x": 1}, "\u202e", "a\nb", 3.5]
_TEXT_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 5000, "1e-400", "00", "01", ".5", "+1",
                 "0x1F", "1.", "1e"]


def mutate_json(obj, rng: random.Random) -> bytes:
    """One structure-aware mutation of a JSON document (bytes)."""
    import copy

    obj = copy.deepcopy(obj)
    nodes = list(_walk(obj))
    op = rng.randrange(12)
    path, node = rng.choice(nodes)
    if op == 0 and path:  # delete a key or an element
        _delete(obj, path)
    elif op == 1:  # replace a value by another type or an extreme value
        obj = _set(obj, path, copy.deepcopy(rng.choice(_REPLACEMENTS)))
    elif op == 2:  # an unknown key
        target = rng.choice([n for _, n in nodes if isinstance(n, dict)] or [obj])
        if isinstance(target, dict):
            target[rng.choice(["seed", "extra", "Network", "activaton", "x ", "\x00", "directions"])] = rng.choice(
                _REPLACEMENTS)
    elif op == 3:  # a number written as text JSON does not allow, or huge
        text = json.dumps(obj)
        numbers = list(re.finditer(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text))
        if numbers:
            m = rng.choice(numbers)
            return (text[:m.start()] + rng.choice(_TEXT_NUMBERS) + text[m.end():]).encode()
        return text.encode()
    elif op == 4:  # a duplicate key (json would keep the last one)
        text = json.dumps(obj)
        keys = list(re.finditer(r'"(\w+)": ', text))
        if keys:
            m = rng.choice(keys)
            return (text[:m.start()] + f'"{m.group(1)}": 1, ' + text[m.start():]).encode()
        return text.encode()
    elif op == 5:  # deep nesting in place of a value
        depth = rng.choice([40, 1000, 100_000])
        text = json.dumps(_set(obj, path, "@@DEEP@@")) if path else "@@DEEP@@"
        nested = "[" * depth + "]" * depth
        return text.replace('"@@DEEP@@"', nested).replace("@@DEEP@@", nested).encode()
    elif op == 6:  # a list grows or shrinks (shapes no longer match)
        lists = [(p, n) for p, n in nodes if isinstance(n, list) and n]
        if lists:
            p, n = rng.choice(lists)
            if rng.random() < 0.5:
                n.append(copy.deepcopy(n[-1]))
            else:
                n.pop()
    elif op == 7:  # a number multiplied into overflow or underflow territory
        nums = [(p, n) for p, n in nodes if isinstance(n, (int, float)) and not isinstance(n, bool)]
        if nums:
            p, n = rng.choice(nums)
            obj = _set(obj, p, n * rng.choice([1e300, 1e-300, -1, 10**12, 1e20]))
    elif op == 8:  # the same value everywhere in a list (degenerate data)
        lists = [(p, n) for p, n in nodes if isinstance(n, list) and len(n) > 1]
        if lists:
            p, n = rng.choice(lists)
            for i in range(len(n)):
                n[i] = copy.deepcopy(n[0])
    elif op == 9:  # a huge list
        lists = [(p, n) for p, n in nodes if isinstance(n, list) and n]
        if lists:
            p, n = rng.choice(lists)
            n.extend(copy.deepcopy(n[0]) for _ in range(rng.choice([100, 10_000])))
    elif op == 10:  # a string with control characters where a name is expected
        strs = [(p, n) for p, n in nodes if isinstance(n, str)]
        if strs:
            p, n = rng.choice(strs)
            obj = _set(obj, p, n + rng.choice(["\n", "\x1b[2J", "\u202e", "\x00", " "]))
    else:  # the top level replaced
        obj = rng.choice([[], None, 1, "x", [obj], {"network": obj}])
    return json.dumps(obj).encode()


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """One byte-level mutation: truncate, flip, insert, non-UTF-8, BOM, empty, whitespace."""
    op = rng.randrange(8)
    if op == 0:
        return data[:rng.randrange(len(data) + 1)]
    if op == 1:
        b = bytearray(data)
        for _ in range(rng.randint(1, 5)):
            if b:
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)
    if op == 2:
        i = rng.randrange(len(data) + 1)
        return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[i:]
    if op == 3:
        return data.replace(b"tanh", "t\u00e9nh".encode("latin-1"))
    if op == 4:
        return b"\xef\xbb\xbf" + data
    if op == 5:
        return b""
    if op == 6:
        return b" " * rng.choice([1, 10_000]) + data + b"\n" * 3
    return data + rng.choice([b"}", b"]", b",", b"garbage", b"\x00"])


def npz_variants(data: dict, rng: random.Random) -> tuple[bytes, str]:
    """One mutated .npz data file (bytes, and the suffix to give it)."""
    import numpy as np

    x, y = np.array(data["x"], float), np.array(data["y"], float)
    buf = io.BytesIO()
    op = rng.randrange(16)
    if op == 0:  # a .npy file named .npz
        np.save(buf, x)
    elif op == 1:
        np.savez(buf, x=x)  # y missing
    elif op == 2:
        np.savez(buf, x=x, y=y, z=x)  # an extra array
    elif op == 3:
        np.savez(buf, x=x.astype(complex), y=y)
    elif op == 4:
        np.savez(buf, x=np.array([["a"] * x.shape[1]] * len(x)), y=y)
    elif op == 5:
        x2 = x.copy()
        x2[0, 0] = np.nan
        np.savez(buf, x=x2, y=y)
    elif op == 6:
        np.savez_compressed(buf, x=x, y=y)  # valid, compressed
    elif op == 7:
        np.savez(buf, x=np.asfortranarray(x), y=y)  # valid, Fortran order
    elif op == 8:
        np.savez(buf, x=x.reshape(1, *x.shape), y=y)  # 3-D
    elif op == 9:
        np.savez(buf, x=x[:0], y=y[:0])  # empty
    elif op == 10:  # a header that claims 10^12 entries
        np.savez(buf, x=x, y=y)
        raw = buf.getvalue()
        shape = str(x.shape).encode()
        fake = b"(1000000, 1000000)".ljust(len(shape)) if len(shape) >= 18 else None
        return (raw.replace(shape, fake, 1) if fake else raw[: len(raw) // 2]), ".npz"
    elif op == 11:
        np.savez(buf, x=x, y=y)
        raw = buf.getvalue()
        return mutate_bytes(raw, rng), ".npz"
    elif op == 12:
        np.savez(buf, x=x.astype(np.int64) * 10**15, y=y.astype(np.float16))
    elif op == 13:
        np.savez(buf, x=x.astype(bool), y=y)
    elif op == 14:  # a zip of something else
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("x.npy", b"not an array")
            z.writestr("y.npy", b"\x93NUMPY\x01\x00" + b"\x00" * 10)
    else:
        np.savez(buf, x=x * 1e300, y=y)
    return buf.getvalue(), ".npz"


def build_corpus(folder: Path, n: int, seed: int) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """``n`` mutated files in ``folder`` as (path, kind), and the valid files by kind."""
    import numpy as np

    rng = random.Random(seed)
    seeds = _seed_files()
    folder.mkdir(parents=True, exist_ok=True)
    valid = {}
    for kind, obj in seeds.items():
        p = folder / f"valid-{kind}.json"
        p.write_text(json.dumps(obj))
        valid[kind] = str(p)
    np.savez(folder / "valid-data.npz", x=np.array(seeds["data"]["x"]), y=np.array(seeds["data"]["y"]))
    valid["npz"] = str(folder / "valid-data.npz")
    out = []
    specials = [("dir", str(folder)), ("devzero", "/dev/zero"), ("missing", str(folder / "missing.json"))]
    if hasattr(os, "mkfifo"):
        fifo = folder / "fifo.json"
        with contextlib.suppress(OSError):
            os.mkfifo(fifo)
            specials.append(("fifo", str(fifo)))
    loop = folder / "loop.json"
    with contextlib.suppress(OSError):
        os.symlink(loop, loop)
        specials.append(("loop", str(loop)))
    kinds = list(seeds) + ["npz"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if i < len(specials) * len(kinds):
            special = specials[(i // len(kinds)) % len(specials)][1]
            out.append((special, kind))
            continue
        if kind == "npz":
            data, suffix = npz_variants(seeds["data"], rng)
        else:
            base = json.dumps(seeds[kind]).encode()
            data = mutate_json(seeds[kind], rng) if rng.random() < 0.75 else mutate_bytes(base, rng)
            if rng.random() < 0.2:  # two mutations
                try:
                    data = mutate_json(json.loads(data), rng)
                except (ValueError, RecursionError):
                    data = mutate_bytes(data, rng)
            suffix = ".json"
        p = folder / f"m{i:05d}-{kind}{suffix}"
        p.write_bytes(data)
        out.append((str(p), kind))
    return out, valid


# ------------------------------------------------------------------------------------ argument vectors
def _opt(rng, argv, flag, valid, p_valid=0.8):
    value = pick(rng, valid, p_valid)
    if rng.random() < 0.15:
        argv.append(f"{flag}={value}")
    else:
        argv += [flag, value]


def _model_flag_noise(rng, argv, model_flags, region_flags) -> None:
    """Now and then a PyTorch model's option or a model region's flag with no model file in the corpus (refused), or
    a junk value."""
    if rng.random() < 0.05:
        _opt(rng, argv, rng.choice(model_flags),
             ["@MISSING@", "@EXISTING_FILE@", "x.py:f", "mse", "theory", "eval", "refuse", "train"], 0.7)
    if rng.random() < 0.05:
        _opt(rng, argv, rng.choice(region_flags), ["2", "0", "-1", "1e9", "nan", "41,41", "3,a", ""], 0.7)


def _engine_opts(rng, argv):
    if rng.random() < 0.2:
        _opt(rng, argv, "--device", ["cpu", "auto", "cuda", "cuda:3", "tpu"])
    if rng.random() < 0.2:
        _opt(rng, argv, "--dtype", ["float64", "float32"])
    if rng.random() < 0.15:
        _opt(rng, argv, "--engine", ["auto", "torch", "fused", "model"])
    if rng.random() < 0.04:
        argv.append(rng.choice(["--progress", "--no-progress"]))
    if rng.random() < 0.08:  # rarely a real local cluster (seconds to start); mostly bad addresses
        _opt(rng, argv, "--scheduler", ["local", "tcp://127.0.0.1:1", "bogus", "tcp://[::1]:99999", "tls://x:1"],
             p_valid=0.9)
        if rng.random() < 0.5:
            _opt(rng, argv, "--workers", ["1", "2"])


def gen_argv(rng: random.Random, valid: dict[str, str]) -> list[str]:
    """One generated argument vector (paths as placeholders, filled in per case)."""
    cmd = rng.choices(["bound", "lower", "landscape", "barcode", "obstruction", "reproduce", "activations",
                       "theorems", "path", "top"], weights=[30, 6, 10, 14, 22, 4, 2, 2, 3, 4])[0]
    argv: list[str] = []
    if cmd == "top":
        return [rng.choice(["--version", "--help", "-h", "bogus", "", "--json", "bound\n"])
                for _ in range(rng.randint(0, 2))]
    if cmd in ("activations", "theorems"):
        return [cmd] + [rng.choice(["--json", "--bogus", junk(rng)]) for _ in range(rng.randint(0, 2))]
    argv.append(cmd)
    if cmd == "bound":
        if rng.random() < 0.85:
            _opt(rng, argv, rng.choice(["--inputs", "-d"]), small(1, 4))
            _opt(rng, argv, rng.choice(["--widths", "-w"]), widths)
            _opt(rng, argv, rng.choice(["--samples", "-m"]), small(1, 6))
        for _ in range(rng.randint(0, 4)):
            flag, val = rng.choice([
                ("--activation", ["sigmoid", "tanh", "arctan", "gelu", "silu", "softplus", "exp", "identity",
                                  "polynomial:2", "polynomial:7", "relu", "swish", "polynomial:99999999"]),
                ("--outputs", small(1, 3)), ("--output-activation", ["identity", "sigmoid", "tanh"]),
                ("--skip", ["none", "residual", "input-output", "residual,input-output"]),
                ("--loss", ["mse", "bce"]), ("--l2", ["0", "0.1", "1"]), ("--bce-chain", ["logsigmoid", "two-logs"]),
                ("--space", ["loss", "input"]), ("--slice", small(1, 4)), ("--zell-constant", small(1, 3)),
                ("--distinct-inputs", small(1, 4))])
            _opt(rng, argv, flag, val)
        for switch, p in (("--no-bias", 0.1), ("--symbolic", 0.08), ("--check", 0.1), ("--certify", 0.08),
                          ("--json", 0.2), ("--latex", 0.1)):
            if rng.random() < p:
                argv.append(switch)
    elif cmd == "lower":
        _opt(rng, argv, "--experiment", [valid["teacher"], valid["slice"], "@EXISTING_FILE@", "@MISSING@"], 0.9)
        _opt(rng, argv, "--starts", small(1, 2), 0.7)
        if rng.random() < 0.3:
            _opt(rng, argv, "--seed", small(0, 5))
        if rng.random() < 0.3:
            _opt(rng, argv, "--max-order", ["1", "8", "200000"])
        if rng.random() < 0.3:
            argv.append("--json")
    elif cmd == "landscape":
        if rng.random() < 0.97:  # (no experiment file: refused without --model)
            argv.append(pick(rng, [valid["slice"], valid["box"]], 0.9))
        if rng.random() < 0.6:
            _opt(rng, argv, "--refine", small(1, 3), 0.7)
        if rng.random() < 0.3:
            _opt(rng, argv, "--plot", ["@OUT@", "@OUT@/a/b"], 0.6)
        if rng.random() < 0.1:
            _opt(rng, argv, "--block", small(1, 5000))
        if rng.random() < 0.08:  # interval arithmetic, capped per level: short caps keep the campaign fast
            argv.append("--certify")
            _opt(rng, argv, "--certify-seconds", ["0.5", "1", "2"], 0.7)
        for switch, p in (("--no-local-search", 0.15), ("--log-scale", 0.1)):
            if rng.random() < p:
                argv.append(switch)
        _model_flag_noise(rng, argv, ["--model", "--weights", "--data", "--loss", "--reduction", "--mode"],
                          ["--slice", "--span", "--seed", "--grid"])
        _engine_opts(rng, argv)
        if rng.random() < 0.3:
            argv.append("--json")
    elif cmd == "barcode":
        r = rng.random()
        if r < 0.6:
            argv.append(pick(rng, [valid["slice"], valid["teacher"], valid["box"]], 0.9))
        elif r < 0.9:
            _opt(rng, argv, "--network", [valid["network"]], 0.85)
            _opt(rng, argv, "--data", [valid["data"], valid["npz"]], 0.85)
        if rng.random() < 0.7:
            _opt(rng, argv, "--minima", small(0, 3), 0.75)
            _opt(rng, argv, "--uniform", small(0, 60), 0.75)
            _opt(rng, argv, "--steps", small(0, 10), 0.75)
            _opt(rng, argv, "--k", lambda r: r.choice([r.randint(1, 6), "4P"]), 0.75)
        if rng.random() < 0.25:  # the authors' sample protocol
            flag, val = rng.choice([("--preset", ["barannikov"]), ("--radius", ["auto", "0.5", "2"]),
                                    ("--min-cluster", small(1, 30)), ("--region", ["box", "threshold", "hull"]),
                                    ("--threshold", ["0.1", "1", "10"]), ("--hull-descents", small(2, 6)),
                                    ("--hull-scale", ["1.5", "1", "3"]), ("--quotient", ["none", "canonical"])])
            _opt(rng, argv, flag, val, 0.75)
            if "threshold" in argv and rng.random() < 0.7:
                _opt(rng, argv, "--threshold", ["0.5", "2"], 0.8)
        for _ in range(rng.randint(0, 3)):
            flag, val = rng.choice([("--lr", ["0.05", "0.5", "1e-3"]), ("--box", ["-3,3", "-1,1", "0,1", "1,0"]),
                                    ("--refine", small(0, 1)), ("--norm", ["sum", "max", "l2"]), ("--dim", small(0, 1)),
                                    ("--seed", small(0, 9)), ("--plot", ["@OUT@"])])
            _opt(rng, argv, flag, val, 0.7)
        if rng.random() < 0.2:
            argv.append("--normalize")
        _model_flag_noise(rng, argv, ["--model", "--weights", "--loss", "--reduction", "--mode"],
                          ["--slice", "--span", "--grid"])  # (--data and --seed: barcode's own, fuzzed above)
        _engine_opts(rng, argv)
        if rng.random() < 0.3:
            argv.append("--json")
    elif cmd == "obstruction":
        mode = rng.random()
        if mode < 0.35:
            _opt(rng, argv, "--c", lambda r: ",".join(str(round(r.uniform(-2, 2), 3)) for _ in range(r.randint(1, 6))))
            _opt(rng, argv, "--input-dim", small(1, 5), 0.85)
        elif mode < 0.6:
            _opt(rng, argv, "--experiment", [valid["obstruction"], valid["teacher"]], 0.85)
            if rng.random() < 0.6:
                _opt(rng, argv, "--flow", small(0, 300), 0.75)
            if rng.random() < 0.3:
                _opt(rng, argv, "--lr", ["1e-3", "0.01", "1e10", "1e300"], 0.7)
        else:
            _opt(rng, argv, "--input-dim", small(1, 8), 0.85)
            _opt(rng, argv, "--width", small(1, 12), 0.85)
        for _ in range(rng.randint(0, 3)):
            inits = ["pytorch", "torch", "kaiming", "xavier", "uniform", "normal", "kaiming-uniform", "he", "bogus"]
            flag, val = rng.choice([("--outputs", small(1, 3)), ("--init", inits),
                                    ("--seed", small(0, 9)), ("--plot", ["@OUT@"])])
            _opt(rng, argv, flag, val, 0.75)
        if rng.random() < 0.1:
            argv.append("--no-bias")
        if rng.random() < 0.3:
            argv.append("--json")
    elif cmd == "path":  # no model file in the corpus: every case is refused, which is what is checked
        if rng.random() < 0.5:
            argv.append(pick(rng, ["@MISSING@", "@EXISTING_FILE@", valid["slice"], valid["teacher"]], 0.8))
        for _ in range(rng.randint(0, 4)):
            flag, val = rng.choice([("--model", ["x.py:f", "@EXISTING_FILE@:f", "nocolon"]),
                                    ("--weights", ["@MISSING@", "@EXISTING_FILE@"]), ("--to", ["@MISSING@"]),
                                    ("--data", [valid["npz"], "@MISSING@"]), ("--points", small(0, 5)),
                                    ("--images", small(0, 5)), ("--iterations", small(0, 5)),
                                    ("--loss", ["mse", "nll", "bogus"]), ("--plot", ["@OUT@"]),
                                    ("--mode", ["eval", "refuse", "train", ""])])
            _opt(rng, argv, flag, val, 0.75)
    elif cmd == "reproduce":
        # always with one invalid part: a valid reproduce is a fixed minutes-long workload, not fuzzing
        if rng.random() < 0.5:
            argv += ["--scheduler", rng.choice(["bogus", "tcp://127.0.0.1:1", "tcp://x:0", "", "local\n"])]
            argv += ["--out", "@OUT@"]
        else:
            argv += ["--out", rng.choice(["@EMPTY@", "@UNDER_FILE@", "@LONG@", "@EXISTING_FILE@", "@PROC@"])]
        if rng.random() < 0.7:
            argv.append("--quick")
        if rng.random() < 0.2:
            argv.append(rng.choice(["--progress", "--no-progress"]))
    # structural noise: a stray token, a dropped token, a flag without its value
    r = rng.random()
    if r < 0.05:
        argv.insert(rng.randint(1, len(argv)), junk(rng))
    elif r < 0.08 and len(argv) > 2:
        del argv[rng.randrange(1, len(argv))]
    elif r < 0.1:
        argv.append(rng.choice(["--plot", "--seed", "--json", "--bogus", "-"]))
    return argv


def generate(n_argv: int, n_files: int, seed: int, folder: Path) -> list[dict]:
    """Every case of a run (the corpus written into ``folder``)."""
    corpus, valid = build_corpus(folder / "files", n_files, seed)
    cases = []
    rng = random.Random(seed)
    for i in range(n_argv):
        cases.append({"id": f"a{i}", "argv": gen_argv(rng, valid)})
    for i, (path, kind) in enumerate(corpus):
        cases.append({"id": f"f{i}", "argv": _argv_for(kind, path, rng, valid), "file": path})
    for case in cases:  # a few outputs to a full stdout, a few interrupted runs
        r = rng.random()
        case["stdout"] = "full" if r < 0.03 else "normal"
        case["interrupt"] = round(rng.uniform(0.0, 3.0), 2) if 0.03 <= r < 0.08 else None
    return cases


# ------------------------------------------------------------------------------------------ running
class CaseTimeout(BaseException):
    """Raised by the in-process timer (a BaseException: the code under test must not swallow it)."""


class FullStream(io.TextIOBase):
    """A stdout on a full disk: every write fails with ENOSPC."""

    def writable(self) -> bool:
        return True

    def write(self, s):
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self):
        raise OSError(errno.ENOSPC, "No space left on device")


def _substitute(arg: str, case_dir: Path) -> str:
    table = {"@OUT@": str(case_dir / "out"), "@EXISTING_FILE@": str(case_dir / "afile"),
             "@UNDER_FILE@": str(case_dir / "afile" / "sub"), "@LONG@": str(case_dir / ("n" * 300)),
             "@EMPTY@": "", "@DEVNULL@": "/dev/null", "@PROC@": "/proc/self/bb-fuzz",
             "@MISSING@": str(case_dir / "missing.json")}
    if arg in table:
        return table[arg]
    for key, value in table.items():
        if key in arg:
            arg = arg.replace(key, value)
    return arg


def _files_under(folder: Path) -> list[str]:
    out = []
    for root, dirs, files in os.walk(folder):
        out += [os.path.join(root, f) for f in files]
        out += [os.path.join(root, d) for d in dirs if d.startswith(".bb-")]
    return out


# progress bars, and the fused engine's compile note that --progress prints before its first call
_PROGRESS = re.compile(r"(\d+%\||it/s|s/it|pt/s|step/s|\d+/\d+ \[|^fused engine: compiling the kernel)")


def run_case(case: dict, base: Path, timeout: float) -> dict:
    """Run one case in this process; returns the outcome with its findings (empty: clean)."""
    from bettibounds.cli import main

    case_dir = Path(tempfile.mkdtemp(prefix=f"{case['id']}-", dir=base))
    (case_dir / "afile").write_text("x")
    # every case runs in a fresh working directory of its own: a relative output path among the junk
    # values ("0", "nan", "." for --plot) is the user's current directory, which must not be the
    # directory the harness (or the test suite) was started from
    cwd = case_dir / "cwd"
    cwd.mkdir()
    started_in = os.getcwd()
    argv = [_substitute(a, case_dir) for a in case["argv"]]
    out = FullStream() if case.get("stdout") == "full" else io.StringIO()
    err = io.StringIO()
    status, code, tb = "done", None, None
    interrupted = threading.Event()
    entered, finished = threading.Event(), threading.Event()
    escaped_main = []  # a KeyboardInterrupt that escaped main itself (a finding), not one in the harness's code
    timer = None

    def on_alarm(signum, frame):
        raise CaseTimeout()

    def interrupt():  # Ctrl-C ``case["interrupt"]`` seconds after main began, unless it has returned by then
        entered.wait()
        if finished.wait(case["interrupt"]):
            return
        interrupted.set()
        import _thread

        _thread.interrupt_main()

    def call_main():
        entered.set()
        try:
            return main(argv)
        except KeyboardInterrupt:
            escaped_main.append(True)
            raise

    previous = signal.signal(signal.SIGALRM, on_alarm)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            os.chdir(cwd)
            signal.setitimer(signal.ITIMER_REAL, timeout)
            if case.get("interrupt") is not None:
                timer = threading.Thread(target=interrupt, daemon=True)
                timer.start()
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = call_main()
            finally:
                finished.set()
                signal.setitimer(signal.ITIMER_REAL, 0)
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code
        except CaseTimeout:
            status = "hang"
            tb = traceback.format_exc(limit=-6)
        except KeyboardInterrupt:
            if escaped_main:  # main let Ctrl-C through: a traceback the user would see
                status = "traceback"
                tb = traceback.format_exc(limit=-8)
            else:  # it landed in the harness just as main returned (a real process would be exiting): no finding
                code = 130 if code is None else code
        except BaseException:  # noqa: BLE001 - everything else escaping main is a finding
            status = "traceback"
            tb = traceback.format_exc(limit=-8)
        finally:
            os.chdir(started_in)
            signal.signal(signal.SIGALRM, previous)
        seconds = time.perf_counter() - t0
    with contextlib.suppress(KeyboardInterrupt):  # a timer that fired just as main returned
        if timer is not None:
            timer.join()
    stderr = err.getvalue()
    stdout = "" if isinstance(out, FullStream) else out.getvalue()
    findings = []
    if status == "hang":
        findings.append("hang")
    elif status == "traceback":
        findings.append("traceback")
    else:
        allowed = {0, 1, 2} | ({130} if interrupted.is_set() else set())
        if code not in allowed:
            findings.append("exit")
        if "Traceback (most recent call last)" in stderr:
            findings.append("traceback")
        lines = [ln for ln in stderr.replace("\r", "\n").splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("bettibounds") and "error" in ln]
        notes = [ln for ln in lines if ln.startswith("bettibounds: ") and "of work" in ln]
        other = [ln for ln in lines if ln not in errors and ln not in notes and ln != "bettibounds: interrupted"
                 and not _PROGRESS.search(ln)]
        if code == 2 and len(errors) != 1:
            findings.append("stderr")
        if other and code != 1:
            findings.append("stderr")
        if code == 2 and stdout.strip() and case.get("stdout") != "full":
            findings.append("stdout")
        if code == 0 and case.get("stdout") != "full" and not interrupted.is_set():
            if not stdout.strip():
                findings.append("stdout")
            elif "--json" in argv and argv[0] != "activations" and stdout.lstrip().startswith("{"):
                try:
                    json.loads(stdout)
                except ValueError:
                    findings.append("stdout")
    if caught:
        findings.append("warning")
    produced = [f for folder in (case_dir / "out", cwd) if folder.exists() for f in _files_under(folder)]
    temporaries = [f for f in _files_under(case_dir) if os.path.basename(f).startswith(".bb-")]
    if temporaries or (code in (2, 130) and produced):
        findings.append("leftover")
    shutil.rmtree(case_dir, ignore_errors=True)
    return {"id": case["id"], "argv": argv, "code": code, "status": status, "seconds": round(seconds, 3),
            "findings": sorted(set(findings)), "stderr": stderr[-800:], "traceback": tb,
            "warnings": [f"{w.category.__name__}: {w.message} ({os.path.basename(w.filename)}:{w.lineno})"
                         for w in caught[:3]],
            "leftover": (temporaries + produced)[:5] if "leftover" in findings else [],
            "interrupt": case.get("interrupt"), "stdout_mode": case.get("stdout", "normal"),
            "file": case.get("file")}


def _worker(conn, base: str, timeout: float, memory_gb: float, budget: float) -> None:
    import resource

    if memory_gb > 0:
        cap = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    os.environ["BETTIBOUNDS_MAX_SECONDS"] = str(budget)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.chdir(base)  # run_case gives each case its own folder; nothing a worker writes lands in the caller's cwd
    import bettibounds.cli  # noqa: F401 - warm up the imports once per worker

    while True:
        try:
            case = conn.recv()
        except EOFError:
            return
        if case is None:
            return
        try:
            result = run_case(case, Path(base), timeout)
        except BaseException as exc:  # noqa: BLE001 - the harness itself failed on this case
            result = {"id": case["id"], "argv": case["argv"], "code": None, "status": "harness",
                      "findings": ["harness"], "stderr": "", "traceback": repr(exc), "warnings": [], "leftover": [],
                      "seconds": 0.0}
        conn.send(result)


class Pool:
    """Worker processes with a watchdog: a worker that does not answer in time is killed."""

    def __init__(self, n: int, base: Path, timeout: float, memory_gb: float, budget: float, recycle: int):
        self.ctx = mp.get_context("spawn")
        self.args = (str(base), timeout, memory_gb, budget)
        self.timeout, self.recycle = timeout, recycle
        self.slots = [self._start() for _ in range(n)]

    def _start(self):
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker, args=(child, *self.args), daemon=True)
        proc.start()
        child.close()
        return {"proc": proc, "conn": parent, "case": None, "since": 0.0, "done": 0}

    def _restart(self, i: int) -> None:
        slot = self.slots[i]
        with contextlib.suppress(Exception):
            slot["proc"].kill()
            slot["proc"].join(5)
        self.slots[i] = self._start()

    def run(self, cases: list[dict], progress=None, deadline: float | None = None) -> list[dict]:
        """Every case (or, with ``deadline`` -- a time.monotonic() value -- those started before it;
        the cases in flight then finish)."""
        todo, results = list(cases), []
        grace = 30.0 + 0.5 * self.timeout  # the worker's own timer fires first; this catches C code that ignores it
        while todo or any(s["case"] is not None for s in self.slots):
            if deadline is not None and todo and time.monotonic() > deadline:
                todo = []  # the time cap: start nothing more
            for i, slot in enumerate(self.slots):
                if slot["case"] is None and todo:
                    if slot["done"] >= self.recycle:
                        with contextlib.suppress(Exception):
                            slot["conn"].send(None)
                        self._restart(i)
                        slot = self.slots[i]
                    slot["case"] = todo.pop(0)
                    slot["since"] = time.monotonic()
                    slot["conn"].send(slot["case"])
            for i, slot in enumerate(self.slots):
                if slot["case"] is None:
                    continue
                case = slot["case"]
                try:
                    ready = slot["conn"].poll(0.05)
                except (EOFError, OSError):
                    ready = True
                if ready:
                    try:
                        res = slot["conn"].recv()
                    except (EOFError, OSError):
                        code = slot["proc"].exitcode
                        res = {"id": case["id"], "argv": case["argv"], "code": code, "status": "crash",
                               "findings": ["crash"], "stderr": f"worker died (exit code {code})", "traceback": None,
                               "warnings": [], "leftover": [], "seconds": time.monotonic() - slot["since"],
                               "file": case.get("file")}
                        self._restart(i)
                        slot = self.slots[i]
                    slot["case"] = None
                    slot["done"] += 1
                    if res.get("interrupt") is not None or res.get("status") != "done":
                        # an interrupt or a timer that fired inside an import leaves a half-initialised module
                        # behind (a state no real run continues from: the process exits): a fresh worker next
                        slot["done"] = self.recycle
                    results.append(res)
                    if progress:
                        progress(res, len(results))
                elif time.monotonic() - slot["since"] > self.timeout + grace:
                    res = {"id": case["id"], "argv": case["argv"], "code": None, "status": "hang",
                           "findings": ["hang"], "stderr": "killed by the watchdog", "traceback": None,
                           "warnings": [], "leftover": [], "seconds": time.monotonic() - slot["since"],
                           "file": case.get("file")}
                    self._restart(i)
                    results.append(res)
                    if progress:
                        progress(res, len(results))
        for slot in self.slots:
            with contextlib.suppress(Exception):
                slot["conn"].send(None)
            slot["proc"].join(10)
            if slot["proc"].is_alive():
                slot["proc"].kill()
        return results


def confirm_hangs(results: list[dict], cases: list[dict], work: Path, args) -> tuple[list[dict], list[dict]]:
    """Run every case that hung once more, alone (one fresh worker, nothing else of the harness beside it),
    under the same cap.

    A case over the cap while the machine was loaded (the other workers, other people's jobs) is not
    necessarily a hang: on a shared 2-core machine a run of seconds has gone past two minutes. A hang is a
    case that also runs past the cap alone; one that finishes alone is reported under ``slow_under_load``
    (id, seconds in the loaded run, seconds alone) and its lone result -- with its own findings, if any --
    replaces the hang. Only with ``--no-confirm`` is the first verdict kept.
    """
    hung = [r for r in results if r["status"] == "hang"]
    if not hung or args.no_confirm:
        return results, []
    by_id = {c["id"]: c for c in cases}
    print(f"fuzz_cli: {len(hung)} case(s) ran past the cap; running each again alone", file=sys.stderr, flush=True)
    again = {}
    for r in hung:  # one at a time: each in a fresh single-worker pool
        again[r["id"]] = Pool(1, work, args.timeout, args.memory_gb, args.budget, args.recycle).run([by_id[r["id"]]])[0]
    slow = [{"id": r["id"], "argv": " ".join(r["argv"])[:160], "loaded_seconds": round(r["seconds"], 1),
             "alone_seconds": round(again[r["id"]].get("seconds") or 0.0, 1)}
            for r in hung if again[r["id"]]["status"] != "hang"]
    return [again.get(r["id"], r) if r["status"] == "hang" else r for r in results], slow


# ------------------------------------------------------------------------------------------ report
KINDS = ("traceback", "hang", "crash", "exit", "stderr", "stdout", "warning", "leftover", "harness")


def summarize(results: list[dict], seconds: float, args) -> dict:
    by_code: dict = {}
    for r in results:
        by_code[str(r["code"])] = by_code.get(str(r["code"]), 0) + 1
    counts = {k: sum(k in r["findings"] for r in results) for k in KINDS}
    commands: dict = {}
    for r in results:
        name = r["argv"][0] if r["argv"] else "(none)"
        c = commands.setdefault(name, {"cases": 0, "findings": 0, "seconds": 0.0})
        c["cases"] += 1
        c["findings"] += bool(r["findings"])
        c["seconds"] += r.get("seconds") or 0.0
    return {"cases": len(results), "argv_cases": sum(r["id"].startswith("a") for r in results),
            "file_cases": sum(r["id"].startswith("f") for r in results), "exit_codes": by_code, "findings": counts,
            "commands": commands, "seconds": round(seconds, 1), "load": os.getloadavg(),
            "settings": {"seed": args.seed, "workers": args.workers, "timeout": args.timeout,
                         "memory_gb": args.memory_gb, "budget": args.budget},
            "date": time.strftime("%Y-%m-%d %H:%M"), "slowest": sorted(
                ((r.get("seconds") or 0.0, " ".join(r["argv"])[:160]) for r in results), reverse=True)[:5]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--argv", type=int, default=10_000, help="generated argument vectors (default 10000)")
    ap.add_argument("--files", type=int, default=2_000, help="mutated input files (default 2000)")
    ap.add_argument("--quick", action="store_true", help="300 argument vectors and 100 files")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=120.0, help="time cap per case, seconds (default 120)")
    ap.add_argument("--budget", type=float, default=20.0,
                    help="BETTIBOUNDS_MAX_SECONDS in the workers: the tool refuses runs it estimates longer")
    ap.add_argument("--memory-gb", type=float, default=6.0, help="address-space limit per worker (default 6 GiB)")
    ap.add_argument("--recycle", type=int, default=200, help="cases per worker process before a fresh one")
    ap.add_argument("--only", default=None, help="run only the case ids listed (comma separated)")
    ap.add_argument("--no-confirm", action="store_true",
                    help="keep a case that ran past the cap as a hang without running it again alone (by default "
                         "each such case runs once more by itself, and only one that hangs alone too counts)")
    ap.add_argument("--json", metavar="FILE", help="also write every result as JSON")
    ap.add_argument("--show", type=int, default=40, help="findings printed in full (default 40)")
    ap.add_argument("--max-seconds", type=float, default=None,
                    help="start no case after this many seconds (the cases in flight finish); the summary says how "
                         "many of the generated cases ran. Argument vectors and files are interleaved, so a capped "
                         "run covers both in proportion")
    args = ap.parse_args()
    if args.quick:
        args.argv, args.files = 300, 100
    base = Path(tempfile.mkdtemp(prefix="bb-fuzz-"))
    try:
        cases = generate(args.argv, args.files, args.seed, base)
        if args.only:
            wanted = set(args.only.split(","))
            cases = [c for c in cases if c["id"] in wanted]
        work = base / "cases"
        work.mkdir()
        t0 = time.perf_counter()
        found = [0]

        def progress(res, n):
            found[0] += bool(res["findings"])
            if n % 250 == 0 or res["findings"]:
                flag = f" {res['id']} {res['findings']}" if res["findings"] else ""
                print(f"[{n}/{len(cases)} {time.perf_counter() - t0:.0f} s, {found[0]} with findings]{flag}",
                      file=sys.stderr, flush=True)

        # argument vectors and files interleaved in proportion (each kind in its generated order)
        order = {}
        for kind in "af":
            kind_cases = [c for c in cases if c["id"][0] == kind]
            for i, c in enumerate(kind_cases):
                order[c["id"]] = (i + 0.5) / len(kind_cases)
        cases.sort(key=lambda c: order[c["id"]])
        generated = len(cases)
        deadline = None if args.max_seconds is None else time.monotonic() + args.max_seconds
        results = Pool(args.workers, work, args.timeout, args.memory_gb, args.budget, args.recycle).run(
            cases, progress, deadline)
        results, slow = confirm_hangs(results, cases, work, args)
        summary = summarize(results, time.perf_counter() - t0, args)
        summary["slow_under_load"] = slow
    finally:
        shutil.rmtree(base, ignore_errors=True)
    bad = [r for r in results if r["findings"]]
    if summary["cases"] < generated:
        print(f"fuzz_cli: time cap (--max-seconds {args.max_seconds:g}): {summary['cases']} of the {generated} "
              "generated cases ran")
    print(f"fuzz_cli: {summary['cases']} cases ({summary['argv_cases']} argument vectors, {summary['file_cases']} "
          f"mutated files) in {summary['seconds']} s; load average {summary['load'][0]:.1f}; {summary['date']}")
    print("exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(summary["exit_codes"].items())))
    print("findings: " + ", ".join(f"{k} {v}" for k, v in summary["findings"].items()))
    for c in summary["slow_under_load"]:
        print(f"slow under load, not a hang: {c['id']} past the cap ({c['loaded_seconds']} s) beside the other "
              f"workers, {c['alone_seconds']} s alone: {c['argv']}")
    print("| command | cases | with findings | seconds |\n|---|---:|---:|---:|")
    for name, c in sorted(summary["commands"].items()):
        print(f"| {name} | {c['cases']} | {c['findings']} | {c['seconds']:.0f} |")
    print("slowest cases: " + "; ".join(f"{s:.1f} s {a}" for s, a in summary["slowest"]))
    for r in bad[:args.show]:
        print(f"\n--- {r['id']} {r['findings']} exit {r['code']} ({r.get('seconds')} s)"
              f"{' interrupt ' + str(r.get('interrupt')) if r.get('interrupt') is not None else ''}"
              f"{' stdout full' if r.get('stdout_mode') == 'full' else ''}")
        print("argv: " + json.dumps(r["argv"])[:600])
        if r.get("file"):
            print(f"file: {r['file']}")
        if r.get("traceback"):
            print(r["traceback"][-1500:])
        if r.get("stderr"):
            print("stderr: " + r["stderr"][-600:])
        for w in r.get("warnings") or []:
            print("warning: " + w)
        if r.get("leftover"):
            print("leftover: " + ", ".join(r["leftover"]))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "results": results}, indent=1, default=str))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
