"""`deploykit bench`: latency percentiles of an archive on random inputs, and with
--profile a per-node and per-op-kind breakdown (time, GFLOP/s, share of the total).

Timing uses the runtime's own per-node clock (Module.profile) for the breakdown and
wall time around each call for the latency figures; both after `warmup` untimed runs.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Dict, List, Sequence

import numpy as np

from .errors import InputError
from .ir.graph import NUMPY_DTYPES

PERCENTILES = (50, 90, 99)


def random_inputs(module, seed: int = 0) -> List[np.ndarray]:
    """One array per model input, of its dtype and shape: N(0,1) floats, small ints, bools."""
    rng = np.random.default_rng(seed)
    arrays = []
    for name, dtype, shape in module.inputs:
        np_dtype = NUMPY_DTYPES.get(dtype)
        if np_dtype is None:
            raise InputError(f"input '{name}' has dtype {dtype}, which bench cannot generate")
        if np_dtype.kind == "f":
            arrays.append(rng.standard_normal(shape).astype(np_dtype))
        else:
            arrays.append(rng.integers(0, 2 if np_dtype.kind == "b" else 10, size=shape).astype(np_dtype))
    return arrays


def latency_stats(times_ms: Sequence[float]) -> Dict[str, float]:
    t = np.asarray(times_ms, dtype=np.float64)
    stats = {"min": float(t.min()), "mean": float(t.mean()), "max": float(t.max())}
    for p in PERCENTILES:
        stats[f"p{p}"] = float(np.percentile(t, p))
    return stats


def time_runs(module, inputs: Sequence[np.ndarray], runs: int, warmup: int) -> List[float]:
    for _ in range(warmup):
        module(*inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        module(*inputs)
        times.append((time.perf_counter() - start) * 1e3)
    return times


def summarize_ops(nodes: Sequence[dict]) -> List[dict]:
    """Per op kind: node count, total ms, total FLOPs, share of the summed node time; by time."""
    total_ms = sum(n["milliseconds"] for n in nodes)
    kinds: "OrderedDict[str, dict]" = OrderedDict()
    for n in nodes:
        k = kinds.setdefault(n["op"], {"op": n["op"], "count": 0, "milliseconds": 0.0, "flops": 0.0})
        k["count"] += 1
        k["milliseconds"] += n["milliseconds"]
        k["flops"] += n["flops"]
    rows = sorted(kinds.values(), key=lambda k: -k["milliseconds"])
    for k in rows:
        k["share"] = k["milliseconds"] / total_ms if total_ms > 0 else 0.0
    return rows


def _gflops(flops: float, ms: float) -> float:
    return flops / (ms * 1e6) if ms > 0 else 0.0


def format_latency(path: str, module, runs: int, warmup: int, stats: Dict[str, float]) -> str:
    shapes = ", ".join(f"{n} {d}[{','.join(str(x) for x in s)}]" for n, d, s in module.inputs)
    lines = [f"{path}: {module.num_nodes} nodes, {module.num_threads} thread(s), inputs: {shapes}",
             f"latency over {runs} run(s) after {warmup} warm-up run(s), ms:",
             "  " + "  ".join(f"{k} {stats[k]:.3f}" for k in ("min", "p50", "p90", "p99", "mean"))]
    return "\n".join(lines) + "\n"


def format_profile(nodes: Sequence[dict], runs: int) -> str:
    total_ms = sum(n["milliseconds"] for n in nodes)
    total_flops = sum(n["flops"] for n in nodes)
    width = max([len("node")] + [len(n["name"] or "?") for n in nodes])
    opw = max([len("op")] + [len(n["op"]) for n in nodes])
    out = [f"per-node profile (mean of {runs} run(s)), sorted by time:",
           f"  {'node':<{width}}  {'op':<{opw}}  {'ms':>9}  {'GFLOP/s':>8}  {'share':>6}"]
    for n in sorted(nodes, key=lambda n: -n["milliseconds"]):
        share = n["milliseconds"] / total_ms if total_ms > 0 else 0.0
        out.append(f"  {n['name'] or '?':<{width}}  {n['op']:<{opw}}  {n['milliseconds']:>9.3f}  "
                   f"{_gflops(n['flops'], n['milliseconds']):>8.1f}  {share * 100:>5.1f}%")
    out.append("")
    out.append("per-op summary:")
    out.append(f"  {'op':<{opw}}  {'count':>5}  {'ms':>9}  {'GFLOP':>8}  {'GFLOP/s':>8}  {'share':>6}")
    for k in summarize_ops(nodes):
        out.append(f"  {k['op']:<{opw}}  {k['count']:>5}  {k['milliseconds']:>9.3f}  {k['flops'] / 1e9:>8.3f}  "
                   f"{_gflops(k['flops'], k['milliseconds']):>8.1f}  {k['share'] * 100:>5.1f}%")
    out.append(f"  {'total':<{opw}}  {len(nodes):>5}  {total_ms:>9.3f}  {total_flops / 1e9:>8.3f}  "
               f"{_gflops(total_flops, total_ms):>8.1f}  100.0%")
    return "\n".join(out) + "\n"


def cmd_bench(args) -> int:
    from .runtime import load

    for name in ("runs", "warmup"):
        value = getattr(args, name)
        if value < (1 if name == "runs" else 0):
            raise InputError(f"--{name} must be >= {1 if name == 'runs' else 0}, got {value}")
    module = load(args.model, num_threads=args.threads, compact_weights=args.compact_weights)
    inputs = random_inputs(module)
    stats = latency_stats(time_runs(module, inputs, args.runs, args.warmup))
    print(format_latency(args.model, module, args.runs, args.warmup, stats), end="")
    report = {"model": args.model, "threads": module.num_threads, "runs": args.runs, "warmup": args.warmup,
              "latency_ms": stats}
    if args.profile:
        nodes = module.profile(*inputs, runs=args.runs)
        print()
        print(format_profile(nodes, args.runs), end="")
        report["nodes"] = nodes
        report["ops"] = summarize_ops(nodes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="latency percentiles on random inputs; --profile: per-op breakdown")
    p.add_argument("model", metavar="ARCHIVE")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="threads (default: all)")
    p.add_argument("--runs", type=int, default=50, metavar="R", help="timed runs (default 50)")
    p.add_argument("--warmup", type=int, default=5, metavar="W", help="untimed runs first (default 5)")
    p.add_argument("--profile", action="store_true", help="also time every node (a separate R runs)")
    p.add_argument("--compact-weights", action="store_true",
                   help="keep weights near their archive size, at some cost in speed (load(compact_weights=True))")
    p.add_argument("--json", metavar="OUT.json", help="also write the figures as JSON")
    p.set_defaults(func=cmd_bench)
