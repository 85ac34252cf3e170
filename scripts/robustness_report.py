#!/usr/bin/env python3
"""Robustness figures of docs/SECURITY.md, and the commands that produce them.

  robustness_report.py corpus DIR                  seed corpus for the fuzzers (real exported archives)
  robustness_report.py fuzz --build B --seconds N  run both libFuzzer harnesses for N seconds in total
  robustness_report.py sweep --sweep-bin BIN       deterministic sweeps over real archives (JSON)
  robustness_report.py report --asan B --tsan T --sweep-bin BIN [--seconds N]
                                                   all of the above plus the sanitizer test runs;
                                                   rewrites the figures block of docs/SECURITY.md

`make fuzz` and `make robustness-report` call this; `make test` runs a bounded fuzz slice.
Exit status is non-zero when any crash, sanitizer report or failed test is seen.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
SAN_ENV = {
    # The runtime reports failed allocations as kLimit: malloc must return null, not abort.
    "ASAN_OPTIONS": "allocator_may_return_null=1:detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    "TSAN_OPTIONS": "halt_on_error=1:second_deadlock_stack=1:allocator_may_return_null=1",
}
MARK_BEGIN, MARK_END = "<!-- robustness-figures:begin -->", "<!-- robustness-figures:end -->"


def real_archives(directory: Path):
    """Small real archives: the every-op model (with and without passes) and a tiny conv net."""
    import torch

    import deploykit
    from every_op_model import INPUT_SHAPE, export_every_op, make_every_op_model
    from models import make_tiny_conv_net

    directory.mkdir(parents=True, exist_ok=True)
    out = []
    path = directory / "every_op.dkr"
    export_every_op(path)
    out.append(path)
    path = directory / "every_op_optimized.dkr"
    deploykit.export(make_every_op_model(), (torch.randn(*INPUT_SHAPE),), str(path))
    out.append(path)
    path = directory / "tiny_conv.dkr"
    deploykit.export(make_tiny_conv_net(), (torch.randn(1, 3, 8, 8),), str(path))
    out.append(path)
    return out


def cmd_corpus(args):
    paths = real_archives(Path(args.dir))
    print("\n".join(str(p) for p in paths))


def run_fuzz(build: Path, seconds: int, workdir: Path):
    seeds = workdir / "seeds"
    if not seeds.is_dir() or not any(seeds.iterdir()):
        real_archives(seeds)
    results = {}
    for harness, share in (("fuzz_load", 0.5), ("fuzz_load_run", 0.5)):
        corpus = workdir / f"corpus_{harness}"
        artifacts = workdir / "artifacts"
        corpus.mkdir(parents=True, exist_ok=True)
        artifacts.mkdir(parents=True, exist_ok=True)
        budget = max(1, int(seconds * share))
        cmd = [str(build / harness), str(corpus), str(seeds), f"-max_total_time={budget}", "-timeout=20",
               "-rss_limit_mb=2048", "-max_len=65536", "-print_final_stats=1", f"-artifact_prefix={artifacts}/"]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **SAN_ENV},
                              timeout=budget + 300)
        log = proc.stderr
        runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
        crashed = proc.returncode != 0
        results[harness] = {"seconds": budget, "executions": int(runs[-1]) if runs else 0, "crashes": int(crashed),
                            "exit": proc.returncode}
        if crashed:
            sys.stderr.write(log[-6000:])
    return results


def cmd_fuzz(args):
    results = run_fuzz(Path(args.build), args.seconds, Path(args.workdir))
    print(json.dumps(results, indent=2))
    return 1 if any(r["crashes"] for r in results.values()) else 0


def run_sweeps(sweep_bin: str):
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for path in real_archives(Path(tmp)):
            proc = subprocess.run([sweep_bin, str(path)], capture_output=True, text=True, timeout=1800,
                                  env={**os.environ, **SAN_ENV})
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-6000:])
                results[path.name] = {"crashed": True, "exit": proc.returncode}
            else:
                results[path.name] = json.loads(proc.stdout)
        return results


def cmd_sweep(args):
    results = run_sweeps(args.sweep_bin)
    print(json.dumps(results, indent=2))
    return 1 if any(r.get("crashed") for r in results.values()) else 0


def gtest_count(binary: str, gtest_filter: str):
    start = time.time()
    proc = subprocess.run([binary, f"--gtest_filter={gtest_filter}", "--gtest_brief=1"], capture_output=True, text=True,
                          env={**os.environ, **SAN_ENV}, timeout=3600)
    passed = re.search(r"\[  PASSED  \] (\d+) test", proc.stdout)
    return {"filter": gtest_filter, "passed": int(passed.group(1)) if passed else 0, "exit": proc.returncode,
            "seconds": round(time.time() - start, 1)}


def cmd_report(args):
    figures = {
        "asan_ubsan_tests": gtest_count(str(Path(args.asan) / "deployrt_tests"), "*"),
        "tsan_tests": gtest_count(str(Path(args.tsan) / "deployrt_thread_tests"), "Concurrency*:ThreadPool*:Module.Concurrent*"),
        "sweeps": run_sweeps(args.sweep_bin),
        "fuzz": run_fuzz(Path(args.asan), args.seconds, Path(args.workdir)),
    }
    lines = [MARK_BEGIN, "", f"Measured {time.strftime('%Y-%m-%d')} by `make robustness-report` "
             f"(fuzz budget {args.seconds} s).", "",
             "| what | result |", "|---|---|"]
    a, t = figures["asan_ubsan_tests"], figures["tsan_tests"]
    lines.append(f"| C++ suite under ASan+UBSan (`{Path(args.asan).name}/deployrt_tests`) | {a['passed']} tests passed, "
                 f"exit {a['exit']}, {a['seconds']} s |")
    lines.append(f"| threading tests under TSan (`{t['filter']}`) | {t['passed']} tests passed, exit {t['exit']}, "
                 f"{t['seconds']} s |")
    for name, s in figures["sweeps"].items():
        if s.get("crashed"):
            lines.append(f"| sweep {name} | CRASHED (exit {s['exit']}) |")
            continue
        tr, fl, fx = s["truncations"], s["flips"], s["flips_crc_recomputed"]
        lines.append(f"| sweep `{name}` ({s['archive_bytes']} bytes) | truncations: {tr['typed_error']} typed error, "
                     f"0 crashes; byte flips: {fl['typed_error']} typed error; flips with CRCs recomputed: "
                     f"{fx['typed_error']} typed error, {fx['ran']} loaded and ran, {fx['run_rejected']} run refused "
                     f"(typed), 0 crashes |")
    for name, f in figures["fuzz"].items():
        lines.append(f"| libFuzzer `{name}` (ASan+UBSan, {f['seconds']} s) | {f['executions']} executions, "
                     f"{f['crashes']} crashes |")
    lines += ["", MARK_END]
    doc = REPO / "docs" / "SECURITY.md"
    text = doc.read_text()
    block = "\n".join(lines)
    if MARK_BEGIN in text and MARK_END in text:
        text = text[: text.index(MARK_BEGIN)] + block + text[text.index(MARK_END) + len(MARK_END):]
        doc.write_text(text)
    print(json.dumps(figures, indent=2))
    bad = (a["exit"] or t["exit"] or any(s.get("crashed") for s in figures["sweeps"].values())
           or any(f["crashes"] for f in figures["fuzz"].values()))
    return 1 if bad else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("corpus")
    p.add_argument("dir")
    p.set_defaults(fn=cmd_corpus)
    p = sub.add_parser("fuzz")
    p.add_argument("--build", required=True, help="build dir holding fuzz_load and fuzz_load_run")
    p.add_argument("--seconds", type=int, default=60, help="total budget, split between the two harnesses")
    p.add_argument("--workdir", default=str(REPO / "build" / "fuzz"))
    p.set_defaults(fn=cmd_fuzz)
    p = sub.add_parser("sweep")
    p.add_argument("--sweep-bin", required=True)
    p.set_defaults(fn=cmd_sweep)
    p = sub.add_parser("report")
    p.add_argument("--asan", required=True)
    p.add_argument("--tsan", required=True)
    p.add_argument("--sweep-bin", required=True)
    p.add_argument("--seconds", type=int, default=600)
    p.add_argument("--workdir", default=str(REPO / "build" / "fuzz"))
    p.set_defaults(fn=cmd_report)
    args = parser.parse_args()
    sys.exit(args.fn(args) or 0)


if __name__ == "__main__":
    main()
