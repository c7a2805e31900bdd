"""Where a point's time goes in the model engine, stage by stage, against loss-landscapes' time per point.

For the ``mlp`` and ``cnn`` of ``bench_models.py`` (digits, cross entropy), each stage of the model engine's
evaluation of a 2-D slice is timed alone on its real shapes (``mlp``: a chunk of 64 points, ``cnn``: one point,
the engine's chunks), the best of ``--repeat`` runs, per point: the slice trick's table product, the fast tanh
(and torch's tanh for comparison), the layers after the activation (``cnn``: the average pooling on the
channels-last activations, the flatten and the last Linear; ``mlp``: the second Linear as vmap evaluates it, a
batched product plus the bias) and the cross entropy. Beside them: the engine's own time per point on the slice
and loss-landscapes' ``random_plane`` per point (``--ll-points`` points). The sum of the stages is what any
evaluation that runs these torch kernels one after the other pays; ``budget`` is loss-landscapes' time / 5,
the issue's target.

Usage: python benchmarks/bench_model_stages.py [--dtype float64] [--threads 1] [--repeat 20]. Writes nothing.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_models as bm  # noqa: E402
from _machine import cpu_model  # noqa: E402


def best(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def stages(name: str, dt, repeat: int) -> dict:
    import torch
    from torch.func import vmap

    from bettibounds.engines.fast_activations import fast_tanh

    x, y = bm.data_for(name, dt)
    model = bm.models(dt)[name]
    m = x.shape[0]
    g = torch.Generator().manual_seed(0)
    out: dict = {}
    with torch.inference_mode():
        if name == "cnn":
            B = 1
            conv, lin = model[1], model[5]
            z = conv(model[0](x))  # (m, 8, 8, 8)
            table = torch.randn(3, z.numel(), generator=g, dtype=dt)
            t1 = torch.tensor([[1.0, 0.3, -0.2]], dtype=dt)
            zc = z.contiguous(memory_format=torch.channels_last)
            a = torch.tanh(zc)
            pooled = model[3](a)
            out["table product"] = best(lambda: t1 @ table, repeat)
            out["tanh (torch)"] = best(lambda: torch.tanh(zc), repeat)
            out["tanh (fast)"] = best(lambda: fast_tanh(zc), repeat)
            out["avg_pool2d"] = best(lambda: model[3](a), repeat)
            out["flatten + Linear"] = best(lambda: lin(pooled.flatten(1)), repeat)
            logits = lin(pooled.flatten(1)).unsqueeze(0)
        else:
            B = 64
            l1, l2 = model[0], model[2]
            h = torch.tanh(l1(x))
            table = torch.randn(3, h.numel(), generator=g, dtype=dt)
            t1 = torch.randn(B, 3, generator=g, dtype=dt)
            zb = (t1 @ table).view(B, m, -1)
            hb = torch.tanh(zb)
            W = l2.weight.expand(B, -1, -1).clone()
            b = l2.bias.expand(B, -1).clone()
            out["table product"] = best(lambda: t1 @ table, repeat)
            out["tanh (torch)"] = best(lambda: torch.tanh(zb), repeat)
            out["tanh (fast)"] = best(lambda: fast_tanh(zb), repeat)
            out["second Linear (vmap)"] = best(lambda: vmap(torch.nn.functional.linear)(hb, W, b), repeat)
            logits = vmap(torch.nn.functional.linear)(hb, W, b)
        flat = logits.reshape(B * m, -1)
        tgt = y.expand(B, m).reshape(-1)
        from bettibounds.engines.model_losses import _cross_entropy

        out["cross entropy"] = best(lambda: _cross_entropy(flat, tgt, False), repeat)
    return {k: v / B for k, v in out.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--ll-points", type=int, default=100)
    ap.add_argument("--models", default="mlp,cnn")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    dt = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    print(f"# bench_model_stages  {_dt.datetime.now().isoformat(timespec='minutes')}  {cpu_model()}  torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, {args.dtype}, load average "
          f"{os.getloadavg()[0]:.1f}")
    ax = np.linspace(-1, 1, 31)
    t = np.stack(np.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    for name in args.models.split(","):
        x, y = bm.data_for(name, dt)
        model = bm.models(dt)[name]
        c, D = bm.directions(model)
        steps = max(2, int(round(np.sqrt(args.ll_points))))
        ll = min(bm.run_loss_landscapes(model, x, y, steps, bm.torch_loss(name)) for _ in range(3)) / steps ** 2
        eng = min(bm.run_engine(model, x, y, c, D, t, args.dtype, loss="cross_entropy")[1] for _ in range(3)) / len(t)
        st = stages(name, dt, args.repeat)
        fast = sum(v for k, v in st.items() if k != "tanh (torch)")
        print(f"{name}: loss-landscapes {ll * 1e6:8.1f} us/point   budget for 5x {ll / 5 * 1e6:8.1f} us   "
              f"engine {eng * 1e6:8.1f} us ({ll / eng:.2f}x)")
        for k, v in st.items():
            print(f"    {k:<22} {v * 1e6:8.1f} us/point")
        print(f"    {'sum (fast tanh)':<22} {fast * 1e6:8.1f} us/point -> at most {ll / fast:.2f}x loss-landscapes")


if __name__ == "__main__":
    main()
