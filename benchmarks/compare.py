#!/usr/bin/env python
"""Side-by-side latency: deploykit vs torch eager, TorchScript, ONNX Runtime (and OpenVINO).

    pip install '.[bench]'            # torch, onnx, onnxruntime, openvino
    python benchmarks/compare.py      # ResNet-18, ResNet-50, MobileNetV2 at 1 and 2 threads
    python benchmarks/compare.py --models resnet50 --threads 2 --runs 50 --json out.json --markdown

Method (docs/PERFORMANCE.md, /work/shared/DESIGN.md "Measuring fairly"):
- batch 1, 224x224, fp32; every engine gets the same input array;
- each engine's output is checked against torch eager first; an engine outside the
  project's parity bound (max|d - t| <= 1e-4 * max|t| + 1e-5) is reported as such;
- engines are interleaved round by round in one process (the order rotates each round,
  so none always runs right after the same neighbour), and every timed call is preceded
  by untimed calls of the same engine for at least --settle-ms (one call at least): a
  peer's thread pool that keeps spinning after its call (OpenMP, ONNX Runtime and TBB all
  do, briefly) then burns those settle calls, not the next engine's timed one;
- thread counts: torch.set_num_threads(n); ONNX Runtime intra_op_num_threads=n,
  inter_op_num_threads=1; OpenVINO INFERENCE_NUM_THREADS=n, INFERENCE_PRECISION_HINT=f32
  (otherwise it runs bf16 on CPUs with AVX512_BF16); deploykit num_threads=n.
- --passive-peers: torch's OpenMP and ONNX Runtime wait passively (see its help);
- startup: a fresh Python process loads the archive and runs it once (load + first
  inference), then runs it --runs more times (steady state), per thread count;
- memory: peak RSS (ru_maxrss from wait4) of `deployrt-run` on each model, against the
  archive size + the activation arena: on the prepacked archive, on the plain archive, and on
  the plain archive with --compact-weights.
- deploykit runs archives exported with prepack=True (weights packed for this host's best ISA
  level, read in place at load: format 1.4 PACKED_WEIGHTS), for every other figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from typing import Callable, Dict, List, Optional

import numpy as np

# --passive-peers must reach libgomp before torch loads it: OMP_WAIT_POLICY is read once,
# at OpenMP start-up. (Why it exists: docs/PERFORMANCE.md, "torch eager on a busy machine".)
if "--passive-peers" in sys.argv[1:]:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import torch  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
try:
    import deploykit  # an installed copy, or the one on PYTHONPATH (scripts/dev-build.sh --env)
except ImportError:
    sys.path.insert(0, os.path.join(REPO, "python"))
    import deploykit
from deploykit.models.mobilenet_v2 import random_mobilenet_v2  # noqa: E402
from deploykit.models.resnet import random_resnet  # noqa: E402

PARITY_REL, PARITY_ABS = 1e-4, 1e-5

MODELS: Dict[str, Callable[[], torch.nn.Module]] = {
    "resnet18": lambda: random_resnet(18, seed=0),
    "resnet50": lambda: random_resnet(50, seed=0),
    "mobilenet_v2": lambda: random_mobilenet_v2(seed=0),
}
ENGINES = ("deploykit", "torch", "torchscript", "onnxruntime", "openvino")


# -- engines ---------------------------------------------------------------------------------
# Each factory returns a no-argument callable that runs one inference on the prepared input
# and returns the output as a numpy array.


class Prepared:
    """One model exported once for every engine: the torch module, a frozen TorchScript
    module, an ONNX file and a deploykit archive."""

    def __init__(self, name: str, tmp: str):
        self.name = name
        self.model = MODELS[name]()
        self.x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
        self.x_np = self.x.numpy()
        with torch.no_grad():
            self.reference = self.model(self.x).numpy()
        # Prepacked (format 1.4 PACKED_WEIGHTS, for this host's best ISA): the kernels read the
        # packed weights in place from the map, which is how deploykit is meant to be deployed.
        self.dkr = os.path.join(tmp, f"{name}.dkr")
        deploykit.export(self.model, (self.x,), self.dkr, prepack=True)
        # Plain (weights packed at load), for the memory figures only.
        self.plain_dkr = os.path.join(tmp, f"{name}.plain.dkr")
        deploykit.export(self.model, (self.x,), self.plain_dkr)
        self.onnx = os.path.join(tmp, f"{name}.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(self.model, (self.x,), self.onnx, dynamo=False, input_names=["x"],
                              output_names=["y"], opset_version=17)
        with torch.no_grad():
            traced = torch.jit.trace(self.model, (self.x,))
            self.scripted = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))


def make_deploykit(p: Prepared, threads: int):
    module = deploykit.load(p.dkr, num_threads=threads)
    x = p.x_np
    return lambda: module(x)


def make_torch(p: Prepared, threads: int):
    model, x = p.model, p.x

    def run():
        with torch.no_grad():
            return model(x).numpy()
    return run


def make_torchscript(p: Prepared, threads: int):
    scripted, x = p.scripted, p.x

    def run():
        with torch.no_grad():
            return scripted(x).numpy()
    return run


def make_onnxruntime(p: Prepared, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if os.environ.get("OMP_WAIT_POLICY") == "PASSIVE":  # --passive-peers
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(p.onnx, opts, providers=["CPUExecutionProvider"])
    feed = {"x": p.x_np}
    return lambda: session.run(None, feed)[0]


def make_openvino(p: Prepared, threads: int):
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(p.onnx), "CPU", {
        "INFERENCE_NUM_THREADS": threads,
        "INFERENCE_PRECISION_HINT": "f32",
        "PERFORMANCE_HINT": "LATENCY",
    })
    request = compiled.create_infer_request()
    x = p.x_np

    def run():
        request.infer({0: x})
        return request.get_output_tensor(0).data.copy()
    return run


FACTORIES = {
    "deploykit": make_deploykit,
    "torch": make_torch,
    "torchscript": make_torchscript,
    "onnxruntime": make_onnxruntime,
    "openvino": make_openvino,
}


def available_engines(requested: List[str]) -> List[str]:
    out = []
    for e in requested:
        module = {"onnxruntime": "onnxruntime", "openvino": "openvino"}.get(e)
        if module is not None:
            try:
                __import__(module)
            except ImportError:
                print(f"note: {e} is not installed (pip install '.[bench]'); skipped", file=sys.stderr)
                continue
        out.append(e)
    return out


def parity(actual: np.ndarray, expected: np.ndarray) -> Dict[str, float]:
    diff = float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64))))
    bound = PARITY_REL * float(np.max(np.abs(expected))) + PARITY_ABS
    return {"max_abs_diff": diff, "bound": bound, "within": bool(diff <= bound)}


def percentile(values: List[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# -- the interleaved measurement ---------------------------------------------------------------


def measure(p: Prepared, threads: int, engines: List[str], runs: int, warmup: int,
            settle_ms: float) -> List[dict]:
    torch.set_num_threads(threads)
    runners, records = {}, {}
    for e in engines:
        try:
            runners[e] = FACTORIES[e](p, threads)
            out = np.asarray(runners[e]())
        except Exception as exc:  # a peer that cannot run this model is reported, not fatal
            print(f"note: {e} failed on {p.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            runners.pop(e, None)
            continue
        records[e] = {"model": p.name, "threads": threads, "engine": e, **parity(out, p.reference)}
        if not records[e]["within"]:
            print(f"note: {e} on {p.name} is OUTSIDE the parity bound: max|d-t| = "
                  f"{records[e]['max_abs_diff']:.3g} > {records[e]['bound']:.3g}", file=sys.stderr)
    names = list(runners)
    for _ in range(warmup):
        for e in names:
            runners[e]()
    times: Dict[str, List[float]] = {e: [] for e in names}
    for r in range(runs):
        order = names[r % len(names):] + names[:r % len(names)]
        for e in order:
            # Settle: the engine runs untimed for at least settle_ms (one call at least), so
            # the previous engine's workers that keep spinning after their call have stopped
            # before the timed call; one call was too short for MobileNetV2 at 2 threads
            # (~10 ms), where a peer still spinning on the other core halved the next engine.
            settle_end = time.perf_counter() + settle_ms / 1e3
            runners[e]()
            while time.perf_counter() < settle_end:
                runners[e]()
            start = time.perf_counter()
            runners[e]()
            times[e].append((time.perf_counter() - start) * 1e3)
    out = []
    for e in names:
        rec = records[e]
        rec["median_ms"] = statistics.median(times[e])
        rec["p90_ms"] = percentile(times[e], 90)
        rec["min_ms"] = min(times[e])
        rec["runs"] = runs
        out.append(rec)
    return out


# -- startup and memory (fresh processes) ------------------------------------------------------

_STARTUP_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import deploykit
t1 = time.perf_counter()
path, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x = np.load(sys.argv[4])
t2 = time.perf_counter()
m = deploykit.load(path, num_threads=threads)
t3 = time.perf_counter()
m(x)
t4 = time.perf_counter()
steady = []
for _ in range(runs):
    s = time.perf_counter(); m(x); steady.append((time.perf_counter() - s) * 1e3)
steady.sort()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "load_ms": (t3 - t2) * 1e3, "first_ms": (t4 - t3) * 1e3,
                  "steady_median_ms": steady[len(steady) // 2]}))
"""


def child_env() -> dict:
    env = dict(os.environ)
    # The child must import the same deploykit as this process.
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(deploykit.__file__)))
    env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def measure_startup(p: Prepared, threads: int, tmp: str, repeats: int, runs: int) -> dict:
    x_path = os.path.join(tmp, f"{p.name}.x.npy")
    np.save(x_path, p.x_np)
    samples = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _STARTUP_CHILD, p.dkr, str(threads), str(runs), x_path],
                             capture_output=True, text=True, env=child_env(), check=True)
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    med["load_plus_first_ms"] = statistics.median(s["load_ms"] + s["first_ms"] for s in samples)
    med["ratio_to_steady"] = med["load_plus_first_ms"] / med["steady_median_ms"]
    return {"model": p.name, "threads": threads, "repeats": repeats, **med}


def find_deployrt_run() -> Optional[str]:
    # pip installs deployrt-run beside the interpreter (a venv's bin/), which is not on
    # PATH when the venv's python is run without activating it.
    for candidate in (os.environ.get("DEPLOYRT_RUN"), shutil.which("deployrt-run"),
                      os.path.join(os.path.dirname(sys.executable), "deployrt-run"),
                      os.path.join(REPO, "build", "cpp", "deployrt-run")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


# ru_maxrss of a process counts the resident pages it had before exec: a child forked
# from this process (torch, ONNX Runtime and OpenVINO loaded: ~1 GB) would report ~1 GB.
# So a fresh, minimal interpreter (a few MB resident) forks and execs deployrt-run and
# reports that grandchild's ru_maxrss from wait4: exact whenever deployrt-run peaks above
# the launcher's own few MB, as any real model does.
_RSS_LAUNCHER = r"""
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss}))
"""


# Archive and deployrt-run options of each memory figure.
RSS_CONFIGS = (("prepacked", False), ("plain", False), ("plain --compact-weights", True))


def measure_rss(p: Prepared, threads: int, tmp: str, tool: str, config: str, compact: bool) -> dict:
    """Peak RSS of one `deployrt-run` process (load + one inference + writing the output)."""
    x_path = os.path.join(tmp, f"{p.name}.x.npy")
    np.save(x_path, p.x_np)
    y_path = os.path.join(tmp, f"{p.name}.y.npy")
    dkr = p.dkr if config == "prepacked" else p.plain_dkr
    out = subprocess.run([sys.executable, "-S", "-c", _RSS_LAUNCHER, tool, dkr, "--input", x_path,
                          "--output", y_path, "--threads", str(threads)] + (["--compact-weights"] if compact else []),
                         capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {"exit": out.returncode}
    if result["exit"] != 0:
        raise RuntimeError(f"deployrt-run failed ({result['exit']}): {out.stderr}")
    archive = os.path.getsize(dkr)
    arena = deploykit.load(dkr, num_threads=1).arena_bytes
    peak = result["maxrss_kb"] * 1024  # kilobytes on Linux
    budget = archive + arena + 20 * 2**20
    return {"model": p.name, "archive": config, "threads": threads, "peak_rss_bytes": peak, "archive_bytes": archive,
            "arena_bytes": arena, "budget_bytes": budget, "within_budget": peak <= budget,
            "deployrt_run": out.stderr.strip()}


# -- reporting -----------------------------------------------------------------------------------


def ratios(results: List[dict]) -> List[dict]:
    """deploykit / ORT and deploykit / TorchScript per (model, threads), and the 2-thread speedup."""
    by = {(r["model"], r["threads"], r["engine"]): r for r in results}
    out = []
    for (model, threads, engine), r in by.items():
        if engine != "deploykit":
            continue
        row = {"model": model, "threads": threads}
        for peer in ("onnxruntime", "torchscript", "openvino", "torch"):
            if (model, threads, peer) in by:
                row[f"vs_{peer}"] = r["median_ms"] / by[(model, threads, peer)]["median_ms"]
        one = by.get((model, 1, "deploykit"))
        if threads > 1 and one is not None:
            row["speedup_vs_1_thread"] = one["median_ms"] / r["median_ms"]
        out.append(row)
    return out


def format_table(results: List[dict], markdown: bool) -> str:
    header = ["model", "threads", "engine", "median ms", "p90 ms", "parity max|d-t|", "within bound"]
    rows = [[r["model"], str(r["threads"]), r["engine"], f"{r['median_ms']:.2f}", f"{r['p90_ms']:.2f}",
             f"{r['max_abs_diff']:.2e}", "yes" if r["within"] else "NO"] for r in results]
    return _table(header, rows, markdown)


def format_ratios(rows: List[dict], markdown: bool) -> str:
    header = ["model", "threads", "dk/ORT", "dk/TorchScript", "dk/OpenVINO", "dk/torch", "dk speedup 2t/1t"]
    keys = ["vs_onnxruntime", "vs_torchscript", "vs_openvino", "vs_torch", "speedup_vs_1_thread"]
    body = [[r["model"], str(r["threads"])] + [f"{r[k]:.2f}" if k in r else "-" for k in keys] for r in rows]
    return _table(header, body, markdown)


def _table(header: List[str], rows: List[List[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header)] + [fmt.format(*r) for r in rows]) + "\n"


def machine() -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
            "deploykit": getattr(deploykit, "__version__", "?")}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    for mod in ("onnxruntime", "openvino"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            pass
    info["loadavg_at_start"] = os.getloadavg()
    info["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY", "(default)")
    return info


def csv_list(text: str) -> List[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=csv_list, default=list(MODELS), help=f"comma list of {', '.join(MODELS)}")
    ap.add_argument("--threads", type=lambda s: [int(t) for t in csv_list(s)], default=[1, 2],
                    help="comma list of thread counts (default 1,2)")
    ap.add_argument("--engines", type=csv_list, default=list(ENGINES), help=f"comma list of {', '.join(ENGINES)}")
    ap.add_argument("--runs", type=int, default=30, help="timed rounds per (model, threads) (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    ap.add_argument("--settle-ms", type=float, default=100.0,
                    help="before each timed call, run the same engine untimed for at least this long "
                         "(default 100; 0: one call)")
    ap.add_argument("--startup-repeats", type=int, default=15,
                    help="fresh processes per startup figure (0: skip startup and RSS)")
    ap.add_argument("--passive-peers", action="store_true",
                    help="make torch's OpenMP (OMP_WAIT_POLICY=PASSIVE) and ONNX Runtime "
                         "(allow_spinning=0) sleep instead of spin while waiting, as deploykit's pool "
                         "does; on a machine shared with other jobs, spinning peers collapse at 2 threads")
    ap.add_argument("--json", metavar="OUT.json", help="write every figure as JSON")
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    args = ap.parse_args(argv)
    for m in args.models:
        if m not in MODELS:
            ap.error(f"unknown model '{m}' (choose from {', '.join(MODELS)})")
    for e in args.engines:
        if e not in ENGINES:
            ap.error(f"unknown engine '{e}' (choose from {', '.join(ENGINES)})")
    if args.runs < 1 or any(t < 1 for t in args.threads):
        ap.error("--runs and --threads must be >= 1")
    engines = available_engines(args.engines)
    report = {"machine": machine(), "args": vars(args), "results": [], "startup": [], "rss": []}
    tool = find_deployrt_run()
    with tempfile.TemporaryDirectory(prefix="deploykit-compare-") as tmp:
        for name in args.models:
            print(f"[{name}] exporting", file=sys.stderr, flush=True)
            p = Prepared(name, tmp)
            for n in args.threads:
                print(f"[{name}] {n} thread(s): {args.runs} interleaved rounds of {', '.join(engines)}",
                      file=sys.stderr, flush=True)
                report["results"] += measure(p, n, engines, args.runs, args.warmup, args.settle_ms)
                if args.startup_repeats > 0 and "deploykit" in engines:
                    report["startup"].append(measure_startup(p, n, tmp, args.startup_repeats, max(args.runs, 10)))
            if args.startup_repeats > 0 and tool is not None:
                for config, compact in RSS_CONFIGS:
                    report["rss"].append(measure_rss(p, max(args.threads), tmp, tool, config, compact))
    report["ratios"] = ratios(report["results"])
    if args.startup_repeats > 0 and tool is None:
        print("note: deployrt-run not found (set DEPLOYRT_RUN or put it on PATH): no RSS figures", file=sys.stderr)

    md = args.markdown
    m = report["machine"]
    print(f"{m.get('cpu', '?')}, {m['cpus']} CPUs; torch {m['torch']}, onnxruntime {m.get('onnxruntime', '-')}, "
          f"openvino {m.get('openvino', '-')}; load average at start {m['loadavg_at_start'][0]:.2f}; "
          f"OMP_WAIT_POLICY {m['omp_wait_policy']}")
    print()
    print(format_table(report["results"], md))
    print(format_ratios(report["ratios"], md))
    if report["startup"]:
        header = ["model", "threads", "load ms", "first inference ms", "load+first ms", "steady median ms",
                  "(load+first)/steady"]
        rows = [[s["model"], str(s["threads"]), f"{s['load_ms']:.2f}", f"{s['first_ms']:.2f}",
                 f"{s['load_plus_first_ms']:.2f}", f"{s['steady_median_ms']:.2f}", f"{s['ratio_to_steady']:.2f}"]
                for s in report["startup"]]
        print("startup (fresh process, medians of %d; deploykit archives prepacked for this host's ISA):"
              % args.startup_repeats)
        print(_table(header, rows, md))
    if report["rss"]:
        header = ["model", "archive", "threads", "peak RSS MB", "archive MB", "arena MB", "archive+arena+20 MB",
                  "within"]
        rows = [[r["model"], r["archive"], str(r["threads"]), f"{r['peak_rss_bytes'] / 2**20:.1f}",
                 f"{r['archive_bytes'] / 2**20:.1f}", f"{r['arena_bytes'] / 2**20:.1f}",
                 f"{r['budget_bytes'] / 2**20:.1f}", "yes" if r["within_budget"] else "NO"] for r in report["rss"]]
        print("peak RSS of deployrt-run (one inference; a prepacked archive's size includes its packed weights):")
        print(_table(header, rows, md))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
