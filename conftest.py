"""Root conftest: doctest collection of modules whose optional dependencies are missing is skipped."""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("torch") is None:
    collect_ignore += ["bettibounds/empirical/kernels.py", "bettibounds/empirical/sequential.py",
                       "bettibounds/engines/torch_kernel.py", "bettibounds/engines/torch_ops.py",
                       "bettibounds/engines/workspace.py", "bettibounds/_lib/devices.py"]
if importlib.util.find_spec("flint") is None:
    collect_ignore.append("bettibounds/certified/witness.py")
if importlib.util.find_spec("hypothesis") is None:
    collect_ignore.append("bettibounds/strategies.py")
if importlib.util.find_spec("numba") is None:
    collect_ignore += ["bettibounds/engines/_fused_numba.py", "bettibounds/engines/fused.py"]
