"""Roofline of the fused engine's kernel on the network of issue 23, per core, float64 and float32.

What it does, in one run (one thread: numba with one thread, CPU time of this process):

1. **Counts** the vector instructions the compiled kernel executes per point, by kind, from the kernel's own
   assembly (``fused_kernel.inspect_asm``: the parallel body numba outlines into a gufunc). The inner loops are
   found as the ranges between a label and a backward jump to it; three of them are read (asserted by their
   content, so that a changed kernel fails loudly instead of printing a wrong table): the register tile of the
   products (its instructions per FMA), the first layer's loop for k = 2 (z = Z0 + t0 Z1 + t1 Z2 then the
   activation, per vector) and the MSE loss loop (per float64 vector). They are multiplied by the trip counts of
   the network (d = 10, widths 32, 16, m = 256, tanh, MSE, a 2-D slice): the hidden layer's products
   h1 h2 m / lanes FMAs, the output layer's h2 m / lanes, the first layer h1 m / lanes vectors, the hidden
   layer's epilogue h2 m / lanes vectors (the activation as in the first layer, less its k FMAs and k + 1
   loads, plus the bias add, a store, a load and a store from ``_tile_intrinsic``'s epilogue), the parameters
   at the point k Q / lanes FMAs, the loss m / 8 float64 vectors. Scalar loop control outside these loops and
   the per-tile bookkeeping are left out: leaving work out only makes the bound below faster, so it stays a
   bound.
2. **The bound**: Zen 4's pipes from LLVM's scheduling model of the CPU (llvm/lib/Target/X86/
   X86ScheduleZnver4.td, which quotes AMD's Software Optimization Guide for Family 19h, doc. 57647): four 256-bit
   FP pipes, a 512-bit operation holding one for 2 cycles; FMA and multiply on pipes 0-1 (one 512-bit FMA per
   cycle), add/subtract and conversions on pipes 2-3, logic and integer add on any; three 256-bit memory
   operations per cycle, at most one store; 6 instructions dispatched per cycle. Where that model and this CPU
   disagree, this script's own microbenchmarks decide (:func:`calibrate`: llvmlite loops of 16 independent 512-bit
   chains, printed with the bound): min/max run on the add pipes, not beside the FMAs; a division costs the FMAs
   beside it 3 (float64) / 2 (float32) cycles and the divider 9 / 6; a two-table permute costs the FMAs about
   1.1-1.3 cycles (a one-table one nothing). Vector shifts are counted with the adds (measured once, not rerun
   here: 16 adds and 8 shifts take 24 cycles, 16 FMAs and 8 shifts 16). The minimum cycles per point T is the
   largest of the per-resource demands (the FMA pipes bind).
3. **The clock**: a chain of dependent scalar double additions (latency 3 cycles on Zen 4: the same model),
   timed in CPU time, cross-checked by a chain of dependent multiplications (also 3).
4. **The measured rate**: the fused engine on a 2-D slice grid (``--grid``, 256^2 points by default), one
   thread, CPU time, best of ``--repeats``; and torch's single-thread matmul peak (2048^3) for the share of
   peak the issue's targets use.

Prints the counts, the bound, the measured rate and the fraction, and what 25x the naive loop and 80 % of the
float32 peak would need. Writes nothing. x86-64 with AVX-512 only (the model and the parser are Zen 4's and
x86's); elsewhere it says so and stops.

Usage: python benchmarks/roofline_fused.py [--grid 256] [--repeats 5] [--naive 6300,6700]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import Counter

os.environ["NUMBA_NUM_THREADS"] = "1"  # per-core figures: before numba is imported

import numpy as np  # noqa: E402

# ------------------------------------------------------------------ instruction classes (Zen 4)
#: (class, regex on the mnemonic); first match wins
CLASSES = (
    ("div", r"vdivp[sd]$"),
    ("fma", r"vf(n?m(add|sub))\d{3}p[sd]$"),
    ("mul", r"vmulp[sd]$"),
    ("two-table permute", r"vperm[ti]2\w+$"),
    ("min/max", r"v(min|max)p[sd]$"),
    ("compare/blend", r"v(cmp\w*p|blendmp)[sd]$"),
    ("add/sub", r"v(add|sub)p[sd]$"),
    ("convert/round", r"v(cvt\w+|rndscalep[sd])$"),
    ("vector shift", r"vp(sll|srl|sra)[dq]$"),
    ("other shuffle", r"v(perm\w+|shufp[sd]|unpck\w+|pshufd)$"),
    ("logic/int add", r"v(p?(and|andn|or|xor)(p[sd]|d|q)?|pternlog[dq]|p(add|sub)[dq]|pcmp\w+|pmin\w+|pmax\w+)$"),
    ("broadcast", r"v(p?broadcast\w+)$"),
    ("vector move", r"v(movap[sd]|movup[sd]|movdq[au]\d*|movs[sd]|movq|movd)$"),
)
#: where each class runs: "fma" = FP pipes 0-1 (the multiply-add pair: one 512-bit FMA per cycle), "add" = FP
#: pipes 2-3 (one 512-bit add per cycle), "any" = any of the four. From LLVM's Zen 4 model
#: (X86ScheduleZnver4.td, after AMD's guide 57647) except where this script's own measurement (calibrate())
#: disagrees: min/max run on the add pipes, not with the FMAs (the model puts FP compares on pipes 0-1).
SIDE = {"fma": "fma", "mul": "fma", "two-table permute": "fma", "compare/blend": "fma", "div": "fma",
        "min/max": "add", "add/sub": "add", "convert/round": "add", "vector shift": "add",
        "other shuffle": "any", "logic/int add": "any"}
DISPATCH = 6  # macro ops per cycle
MEM_PER_CYCLE = 3  # 256-bit memory operations per cycle
FADD_LATENCY = 3  # scalar double add and multiply latency, cycles


def classify(mnemonic: str) -> str | None:
    for name, pat in CLASSES:
        if re.match(pat, mnemonic):
            return name
    return None


def parse_instructions(lines):
    """[(mnemonic, operands)] of the instruction lines (labels, directives and comments dropped)."""
    out = []
    for line in lines:
        s = line.strip()
        if not s or s.startswith((".", "#")) or s.endswith(":"):
            continue
        parts = s.split(None, 1)
        out.append((parts[0], parts[1] if len(parts) > 1 else ""))
    return out


def inner_loops(asm: str):
    """Bodies (instruction lists) of the innermost loops of the outlined parallel body (a label followed, later,
    by a jump back to it, containing no other such range)."""
    lines = asm.splitlines()
    start = next((i for i, line in enumerate(lines) if "parfor_gufunc" in line and line.endswith(":")
                  and not line.startswith("__gufunc__")), None)
    if start is None:
        raise SystemExit("roofline: no outlined parallel body in the kernel's assembly (numba changed?)")
    labels = {}
    for i in range(start, len(lines)):
        m = re.match(r"^(\.LBB\d+_\d+):", lines[i])
        if m:
            labels[m.group(1)] = i
    ranges = []
    for i in range(start, len(lines)):
        m = re.match(r"^\s+j\w+\s+(\.LBB\d+_\d+)\s*$", lines[i])
        if m and m.group(1) in labels and labels[m.group(1)] < i:
            ranges.append((labels[m.group(1)], i))
    inner = [(a, b) for a, b in ranges if not any(a <= c and d <= b and (c, d) != (a, b) for c, d in ranges)]
    return [parse_instructions(lines[a + 1:b + 1]) for a, b in inner]


def is_zmm(ops: str) -> bool:
    return "%zmm" in ops


def mix(body, per: float = 1.0) -> Counter:
    """Counts per unit of work: vector classes (512-bit ops only: the kernel's vector code is all zmm with
    AVX-512), 'load' (256-bit memory operations read: a zmm load or memory operand counts 2, a broadcast 1),
    'store' (zmm stores), 'instructions' (all, for dispatch), each divided by ``per``."""
    c: Counter = Counter()
    for mn, ops in body:
        c["instructions"] += 1
        cls = classify(mn)
        mem = "(" in ops
        if cls == "vector move":
            if mem and ops.rstrip().endswith(")"):
                c["store"] += 1
            elif mem:
                c["load"] += 2 if is_zmm(ops) else 1
            continue  # register-to-register moves are eliminated at rename (dispatch slots only)
        if cls == "broadcast":
            c["load"] += 1 if mem else 0
            if not mem:
                c["other shuffle"] += 1
            continue
        if cls is None:
            continue  # scalar integer work (loop control): dispatch slots only
        if mem:
            c["load"] += 1 if "{1to" in ops else 2
        if is_zmm(ops):
            c[cls] += 1
    return Counter({k: v / per for k, v in c.items()})


def find_loops(asm: str, dtype: str, k: int):
    """(product tile body, its FMAs; first-layer body for k directions, its vectors; loss body, its vectors)."""
    loops = inner_loops(asm)
    suf = "ps" if dtype == "float32" else "pd"

    def count(body, pat):
        return sum(1 for mn, _ in body if re.match(pat, mn))

    # the OB x SB register tile: only FMAs, broadcasts and loads; the most FMAs per broadcast
    tiles = [b for b in loops if count(b, rf"vfmadd\d+{suf}$") >= 16 and count(b, r"vbroadcasts") > 0
             and count(b, r"vdiv|vmul|vadd|vsub|vmin|vmax") == 0]
    if not tiles:
        raise SystemExit("roofline: the products' register tile was not found in the kernel's assembly")
    tile = max(tiles, key=lambda b: count(b, rf"vfmadd\d+{suf}$") / count(b, r"vbroadcasts"))
    # the first layer with the tanh: a division per vector, no floor/round (logistic), no z < 0 select
    # (float64 logistic), and k FMAs with a memory operand per division
    firsts = []
    for b in loops:
        nd = count(b, rf"vdiv{suf}$")
        if nd == 0 or count(b, r"vrndscale|vcmplt") or count(b, r"vcvt"):
            continue
        memfma = sum(1 for mn, ops in b if re.match(rf"vfn?m(add|sub)\d+{suf}$", mn) and "(" in ops)
        if memfma == k * nd:
            firsts.append((b, nd))
    if not firsts:
        raise SystemExit("roofline: the first layer's tanh loop was not found in the kernel's assembly")
    first, nvec = firsts[0]
    # the MSE loss (float64 vectors): lane mask compare, the target subtracted, no division
    losses = [b for b in loops if count(b, r"vpcmpgtq") and count(b, r"vsubpd") and not count(b, r"vdiv")]
    if not losses:
        raise SystemExit("roofline: the loss loop was not found in the kernel's assembly")
    loss = losses[0]
    return (tile, count(tile, rf"vfmadd\d+{suf}$")), (first, nvec), (loss, count(loss, r"vpcmpgtq"))


def per_point(asm: str, dtype: str, lanes: int, d: int, h1: int, h2: int, m: int, k: int, Q: int):
    """{part: Counter per point}: the instruction mix per point, by part of the kernel."""
    (tile, tfma), (first, nvec), (loss, lvec) = find_loops(asm, dtype, k)
    per_fma = mix(tile, tfma)
    first_vec = mix(first, nvec)
    act = Counter(first_vec)
    act["fma"] -= k
    act["load"] -= 2 * (k + 1)  # Z0 and the k planes
    act["store"] -= 1
    act["instructions"] -= k + 2  # the k FMAs, the load of Z0 and the store (the loop control stays in)
    epilogue = Counter(act)
    epilogue["add/sub"] += 1  # the bias
    epilogue["store"] += 2  # the sum with its bias, then the activation
    epilogue["load"] += 2  # the sum again (one 512-bit load)
    epilogue["instructions"] += 3
    v1, v2 = h1 * m // lanes, h2 * m // lanes

    def scale(c, n):
        return Counter({key: val * n for key, val in c.items()})

    parts = {
        "hidden products (FMAs)": scale(per_fma, h1 * h2 * m // lanes),
        "output products (FMAs)": scale(per_fma, h2 * m // lanes),
        "first layer (k FMAs + tanh)": scale(first_vec, v1),
        "hidden epilogue (bias + tanh)": scale(epilogue, v2),
        "parameters at the point": scale(per_fma, -(-k * Q // lanes)),
        "loss (MSE, float64)": scale(mix(loss, lvec), m // 8),
    }
    return parts, act, per_fma


def bound(total: Counter, cost: dict) -> dict:
    """Minimum cycles per point by resource (each a lower bound; T = the largest). ``cost``: cycles of the
    FMA pipes per division and per two-table permute, divider cycles per division (measured)."""
    fma = add = any_ = 0.0
    for cls, side in SIDE.items():
        n = total.get(cls, 0.0)
        w = cost["div_fma"] if cls == "div" else cost["perm2_fma"] if cls == "two-table permute" else 1.0
        if side == "fma":
            fma += w * n
        elif side == "add":
            add += n
        else:
            any_ += n
    return {
        "FMA pipes (0-1)": fma,
        "add pipes (2-3)": add,
        "all four FP pipes": (fma + add + any_) / 2,
        "divider": cost["div_unit"] * total.get("div", 0.0),
        "loads (3 x 256 bit per cycle)": total.get("load", 0.0) / MEM_PER_CYCLE,
        "stores (one per cycle)": total.get("store", 0.0),
        "memory ops (3 per cycle)": (total.get("load", 0.0) + 2 * total.get("store", 0.0)) / MEM_PER_CYCLE,
        "dispatch (6 per cycle)": total.get("instructions", 0.0) / DISPATCH,
    }


# ------------------------------------------------------------------ measurements
def clock_hz(repeats: int) -> tuple[float, float]:
    """(GHz from a dependent add chain, GHz from a dependent multiply chain), CPU time, best of repeats."""
    from numba import njit

    @njit(cache=False)
    def add_chain(n, x):
        s = 0.0
        for _ in range(n):
            s = s + x
        return s

    @njit(cache=False)
    def mul_chain(n, x):
        s = 1.0
        for _ in range(n):
            s = s * x
        return s

    n = 50_000_000
    out = []
    for f, x in ((add_chain, 1e-300), (mul_chain, 1.0)):
        f(10, x)
        best = float("inf")
        for _ in range(repeats):
            t = time.thread_time()
            f(n, x)
            best = min(best, time.thread_time() - t)
        out.append(FADD_LATENCY * n / best / 1e9)
    return out[0], out[1]


def _loop_ir(dtype: str, ops) -> str:
    """LLVM IR of ``double bench(i64 n, double seed)``: a loop of independent 512-bit chains, ``ops`` a list of
    (kind, count), kinds fma / div / perm2 (a two-table permute) / max (ordered compare and select, as the
    kernel's clamp) / add; every chain's value is summed into the result, so nothing is dead."""
    from llvmlite import binding as llvm
    from llvmlite import ir

    lanes = 16 if dtype == "float32" else 8
    fl = ir.FloatType() if dtype == "float32" else ir.DoubleType()
    vt, it = ir.VectorType(fl, lanes), ir.VectorType(ir.IntType(32 if dtype == "float32" else 64), lanes)
    i32, i64 = ir.IntType(32), ir.IntType(64)
    mod = ir.Module(name="calibrate")
    mod.triple = llvm.get_process_triple()
    fn = ir.Function(mod, ir.FunctionType(ir.DoubleType(), [i64, ir.DoubleType()]), name="bench")
    fma = ir.Function(mod, ir.FunctionType(vt, [vt] * 3), name=f"llvm.fma.v{lanes}{'f32' if lanes == 16 else 'f64'}")
    perm2 = ir.Function(mod, ir.FunctionType(vt, [vt, it, vt]),
                        name=f"llvm.x86.avx512.vpermi2var.{'ps' if lanes == 16 else 'pd'}.512")
    entry, loop, done = (fn.append_basic_block(n) for n in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    n, seed = fn.args
    s = b.fptrunc(seed, fl) if lanes == 16 else seed
    base = b.shuffle_vector(b.insert_element(ir.Constant(vt, ir.Undefined), s, ir.Constant(i32, 0)),
                            ir.Constant(vt, ir.Undefined), ir.Constant(ir.VectorType(i32, lanes), [0] * lanes))
    m, c = b.fmul(base, ir.Constant(vt, [0.5] * lanes)), b.fmul(base, ir.Constant(vt, [1e-3] * lanes))
    kinds = [kind for kind, count in ops for _ in range(count)]
    init = [b.fadd(base, ir.Constant(vt, [float(q)] * lanes)) for q in range(len(kinds))]
    b.branch(loop)
    b.position_at_end(loop)
    i = b.phi(i64)
    i.add_incoming(ir.Constant(i64, 0), entry)
    phis = [b.phi(vt) for _ in kinds]
    new = []
    for kind, p, v0 in zip(kinds, phis, init):
        p.add_incoming(v0, entry)
        if kind == "fma":
            new.append(b.call(fma, [p, m, c]))
        elif kind == "div":
            new.append(b.fdiv(c, p))
        elif kind == "perm2":
            new.append(b.call(perm2, [c, b.bitcast(p, it), m]))
        elif kind == "max":
            new.append(b.select(b.fcmp_ordered("<", p, m), m, p))
        else:
            new.append(b.fadd(p, c))
    for p, v in zip(phis, new):
        p.add_incoming(v, loop)
    i2 = b.add(i, ir.Constant(i64, 1))
    i.add_incoming(i2, loop)
    b.cbranch(b.icmp_signed("<", i2, n), loop, done)
    b.position_at_end(done)
    tot = new[0]
    for v in new[1:]:
        tot = b.fadd(tot, v)
    e = b.extract_element(tot, ir.Constant(i32, 0))
    b.ret(b.fpext(e, ir.DoubleType()) if lanes == 16 else e)
    return str(mod)


def loop_cycles(dtype: str, ops, ghz: float, repeats: int, n: int = 5_000_000) -> float:
    """Cycles per iteration of _loop_ir(dtype, ops), JIT-compiled for this CPU (CPU time, best of repeats)."""
    import ctypes

    from llvmlite import binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    tm = llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3)
    mod = llvm.parse_assembly(_loop_ir(dtype, ops))
    mod.verify()
    engine = llvm.create_mcjit_compiler(mod, tm)
    engine.finalize_object()
    f = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_int64, ctypes.c_double)(engine.get_function_address("bench"))
    f(1000, 1.0)
    best = float("inf")
    for _ in range(repeats):
        t = time.thread_time()
        f(n, 1.0)
        best = min(best, time.thread_time() - t)
    return best / n * ghz * 1e9


def calibrate(dtype: str, ghz: float, repeats: int) -> dict:
    """Measured costs on this CPU (cycles; 16 independent FMA chains as the yardstick): FMA-pipe cycles per
    512-bit division and per two-table permute (what they take from the FMAs beside them), the divider's
    cycles per division, and whether max and the vector shift share the FMA pipes or the add pipes."""
    def cyc(*ops):
        return loop_cycles(dtype, ops, ghz, repeats)

    f16 = cyc(("fma", 16))
    return {
        "fma16": f16,
        "div_fma": (cyc(("fma", 16), ("div", 2)) - f16) / 2,
        "div_unit": cyc(("div", 4)) / 4,
        "perm2_fma": (cyc(("fma", 16), ("perm2", 8)) - f16) / 8,
        "max_beside_fma": (cyc(("fma", 16), ("max", 8)) - f16) / 8,
        "max_beside_add": (cyc(("add", 16), ("max", 8)) - cyc(("add", 16))) / 8,
    }


def kernel_asm(impl, dtype: str) -> str:
    """The assembly of the engine's kernel for ``dtype``, compiled afresh with the same flags (numba keeps no
    assembly for a kernel loaded from its cache): 10-40 s of CPU time."""
    from numba import njit

    sig = next(s for s in impl.fused_kernel.signatures if str(s[2].dtype) == dtype)
    fresh = njit(parallel=True, fastmath=impl.FM, error_model="numpy")(impl.fused_kernel.py_func)
    fresh.compile(sig)
    return fresh.inspect_asm(sig)


def network(grid: int):
    from bettibounds.spec import ArchitectureSpec

    d, widths, m = 10, (32, 16), 256
    spec = ArchitectureSpec(inputs=d, widths=widths, activation="tanh", loss="mse", samples=m)
    rng = np.random.default_rng(0)  # as benchmarks/bench_kernels.py
    x = rng.normal(size=(m, d))
    y = np.sin(x.sum(axis=1, keepdims=True))
    P = spec.n_params
    fan_in = np.concatenate([np.full(w * i + w, i) for i, w in zip((d, *widths), (*widths, 1))])
    center = rng.normal(size=P) / np.sqrt(fan_in)
    directions = rng.normal(size=(2, P)) / np.sqrt(fan_in)
    axis = np.linspace(-1.0, 1.0, grid)
    coords = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    return spec, x, y, center, directions, coords


def fma_cycles(c: Counter, cost: dict) -> float:
    """Cycles of the FMA pipes (0-1) the counts ``c`` take (the divisions and permutes at their measured cost)."""
    w = {"div": cost["div_fma"], "two-table permute": cost["perm2_fma"]}
    return sum(w.get(cls, 1.0) * c.get(cls, 0.0) for cls, side in SIDE.items() if side == "fma")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=256, help="points per axis of the timed 2-D slice (default 256)")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats, best kept (default 5)")
    ap.add_argument("--naive", default="6300,6700",
                    help="the naive loop's points/s on two cores, low,high (issue 23's quiet runs; default 6300,6700)")
    args = ap.parse_args(argv)
    from llvmlite import binding as llvm

    if not llvm.get_host_cpu_features().get("avx512f", False):
        raise SystemExit("roofline: this script models Zen 4 with AVX-512 (x86-64); this CPU has no avx512f")
    load0 = os.getloadavg()[0]
    import torch

    from bettibounds.engines import _fused_numba as impl
    from bettibounds.engines.fused import FusedKernel
    from bettibounds.engines.layout import flops_per_point

    torch.set_num_threads(1)
    spec, x, y, center, directions, coords = network(args.grid)
    k, (h1, h2), m = 2, spec.widths, spec.samples
    Q = h1 * h2 + h2 + h2 * 1 + 1  # the later layers' parameters (W, b per layer; the output bias slot)
    flops = flops_per_point(spec, "slice", k=2)
    ghz_add, ghz_mul = clock_hz(args.repeats)
    ghz = ghz_add
    naive_lo, naive_hi = (float(v) for v in args.naive.split(","))
    print(f"# Roofline of the fused kernel (issue 23's network: d = 10, widths 32,16, m = 256, tanh, MSE, "
          f"2-D slice; {flops:,} nominal matmul FLOPs per point)\n")
    print(f"- CPU: {llvm.get_host_cpu_name()}; clock from dependent add / multiply chains (3-cycle latency): "
          f"{ghz_add:.2f} / {ghz_mul:.2f} GHz")
    for dtype in ("float64", "float32"):
        lanes = 16 if dtype == "float32" else 8
        cost = calibrate(dtype, ghz, args.repeats)
        kern = FusedKernel(spec, x, y, dtype=dtype)
        kern.evaluate_slice(center, directions, coords[:64])  # compile or load, warm up
        best = float("inf")
        for _ in range(args.repeats):
            t = time.process_time()
            kern.evaluate_slice(center, directions, coords)
            best = min(best, time.process_time() - t)
        rate = len(coords) / best
        tdt = getattr(torch, dtype)
        a, b = torch.randn(2048, 2048, dtype=tdt), torch.randn(2048, 2048, dtype=tdt)
        torch.matmul(a, b)
        tmm = float("inf")
        for _ in range(3):
            t = time.process_time()
            torch.matmul(a, b)
            tmm = min(tmm, time.process_time() - t)
        peak = 2 * 2048**3 / tmm
        parts, act, _ = per_point(kernel_asm(impl, dtype), dtype, lanes, spec.inputs, h1, h2, m, k, Q)
        total: Counter = Counter()
        for c in parts.values():
            total.update(c)
        res = bound(total, cost)
        T = max(res.values())
        binding = max(res, key=res.get)
        print(f"\n## {dtype} ({lanes} lanes per 512-bit vector)\n")
        print(f"Measured on this CPU (cycles; 16 independent 512-bit FMA chains take {cost['fma16']:.1f} per "
              f"iteration): a division takes {cost['div_fma']:.1f} cycles from the FMAs beside it and "
              f"{cost['div_unit']:.1f} of the divider; a two-table permute {cost['perm2_fma']:.2f} from the FMAs; "
              f"max {cost['max_beside_fma']:.2f} beside FMAs, {cost['max_beside_add']:.2f} beside adds "
              f"(so on the add pipes).\n")
        print("Vector instructions per point, by kind (512-bit; 'load' in 256-bit memory operations):\n")
        kinds = [c for c, _ in CLASSES if c not in ("vector move", "broadcast")] + ["load", "store", "instructions"]
        print("| part | " + " | ".join(kinds) + " |")
        print("|---|" + "---:|" * len(kinds))
        for name, c in list(parts.items()) + [("**total**", total)]:
            print(f"| {name} | " + " | ".join(f"{c.get(kk, 0):,.0f}" for kk in kinds) + " |")
        print("\nThe tanh per vector (the first layer's loop less its k FMAs): "
              + ", ".join(f"{kk} {v:g}" for kk, v in sorted(act.items()) if v and kk in SIDE))
        act_fma = fma_cycles(act, cost)
        print(f"  -> {act_fma:.1f} cycles of the FMA pipes per {lanes} values\n")
        print("Minimum cycles per point by resource:\n")
        print("| resource | cycles per point |")
        print("|---|---:|")
        for name, v in sorted(res.items(), key=lambda kv: -kv[1]):
            print(f"| {name}{' **(binding)**' if name == binding else ''} | {v:,.0f} |")
        bound_rate = ghz * 1e9 / T
        print(f"\n- bound: {T:,.0f} cycles per point = {bound_rate:,.0f} points/s per core at {ghz:.2f} GHz")
        print(f"- measured (one thread, CPU time, {len(coords):,} points, best of {args.repeats}): "
              f"{rate:,.0f} points/s per core = **{100 * rate / bound_rate:.0f} % of the bound** "
              f"({ghz * 1e9 / rate:,.0f} cycles per point)")
        peak_fma = 2 * lanes * ghz * 1e9
        print(f"- matmul peak, torch 2048^3 one thread: {peak / 1e9:.1f} GFLOP/s ({100 * peak / peak_fma:.0f} % of "
              f"the FMA peak {peak_fma / 1e9:.1f}); the kernel: {rate * flops / 1e9:.1f} GFLOP/s = "
              f"{100 * rate * flops / peak:.0f} % of the matmul peak; at the bound it would be "
              f"{100 * bound_rate * flops / peak:.0f} %")
        prod = sum(parts[p_].get("fma", 0) for p_ in ("hidden products (FMAs)", "output products (FMAs)",
                                                       "parameters at the point"))
        nact = (h1 + h2) * m // lanes
        acts = nact * act_fma
        fma_all = res["FMA pipes (0-1)"]
        print(f"- FMA-pipe cycles per point: products {prod:,.0f}, the {nact:,} tanh vectors {acts:,.0f} "
              f"({100 * acts / fma_all:.0f} %), the rest {fma_all - prod - acts:,.0f}; total {fma_all:,.0f}")
        if dtype == "float64":
            for label, naive in (("low", naive_lo), ("high", naive_hi)):
                need = 25 * naive / 2
                print(f"- 25x the naive loop ({naive:,.0f} points/s on two cores, {label}) needs {need:,.0f} points/s "
                      f"per core (perfect two-core scaling) = {100 * need / bound_rate:.0f} % of the bound, "
                      f"{need / rate:.2f}x the measured rate")
        else:
            need_T = flops / (0.8 * peak / (ghz * 1e9))
            per_vec = (need_T - (fma_all - acts)) / nact
            print(f"- 80 % of the float32 matmul peak = {0.8 * peak / flops:,.0f} points/s per core = "
                  f"{need_T:,.0f} cycles per point, at 100 % of the bound: with the products and the rest as they are "
                  f"({fma_all - acts:,.0f} FMA-pipe cycles) the tanh would need {per_vec:.1f} FMA-pipe cycles per "
                  f"{lanes} values (now {act_fma:.1f}); at the measured {100 * rate / bound_rate:.0f} % of the bound, "
                  f"{(need_T * rate / bound_rate - (fma_all - acts)) / nact:.1f}")
    print(f"\nLoad average {load0:.1f} -> {os.getloadavg()[0]:.1f}; one thread; CPU time; "
          f"{time.strftime('%Y-%m-%d %H:%M')}")


if __name__ == "__main__":
    sys.exit(main())
