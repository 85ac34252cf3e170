"""The `deploykit` command line: export | run | inspect | bench | demo.

User errors print one line, "deploykit: error: <message>", and exit with code 2; only
bugs show a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import time
from typing import List, Optional, Sequence, Tuple

from . import __version__
from .errors import DeployError, ExportError, InputError

EXIT_USER_ERROR = 2


def _parse_shape(text: str) -> Tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid shape '{text}' (expected e.g. 1,3,224,224)") from None
    if not dims or any(d < 0 for d in dims):
        raise argparse.ArgumentTypeError(f"invalid shape '{text}' (expected e.g. 1,3,224,224)")
    return dims


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- export ---------------------------------------------------------------------------------


def _load_model(spec: str):
    """A TorchScript .pt path, or `package.module:factory` (called with no arguments)."""
    if os.path.exists(spec):
        return spec
    if ":" not in spec:
        raise ExportError(f"MODEL '{spec}' is neither an existing TorchScript file nor 'package.module:factory'")
    module_name, _, factory_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ExportError(f"cannot import module '{module_name}': {e}") from None
    factory = getattr(module, factory_name, None)
    if factory is None or not callable(factory):
        raise ExportError(f"module '{module_name}' has no callable '{factory_name}'")
    model = factory()
    return model


def _load_exported_program(path: str):
    """A .pt2 file written by torch.export.save."""
    import torch

    if not os.path.exists(path):
        raise ExportError(f"ExportedProgram file '{path}' does not exist")
    try:
        return torch.export.load(path)
    except Exception as e:  # torch raises many types for a bad file
        raise ExportError(f"cannot load ExportedProgram file '{path}': {str(e).strip().splitlines()[0]}") from None


def cmd_export(args) -> int:
    if args.model.lower().endswith(".onnx"):
        return _export_onnx(args)
    import torch

    from .export import export

    # A saved ExportedProgram (torch.export.save) carries its example inputs: --input-shape is optional.
    program_file = args.model.lower().endswith(".pt2")
    if not args.input_shape and not program_file:
        raise ExportError("give the shape of every model input with --input-shape, e.g. --input-shape 1,3,224,224")
    model = _load_exported_program(args.model) if program_file else _load_model(args.model)
    torch.manual_seed(0)
    inputs = tuple(torch.randn(*shape) for shape in args.input_shape) or None
    passes = None
    if args.passes is not None:
        passes = [p.strip() for p in args.passes.split(",") if p.strip()]
    dynamic_dims = None
    if getattr(args, "dynamic", None):
        from .dynamic import parse_dynamic_spec

        dynamic_dims = parse_dynamic_spec(args.dynamic)
    graph = export(model, inputs, args.output, optimize=not args.no_optimize, passes=passes,
                   print_after_all=args.print_after_all, embed_test_vectors=args.embed_test_vectors,
                   dynamic_dims=dynamic_dims, method=args.method, prepack=args.prepack or False)
    size = os.path.getsize(args.output)
    print(f"wrote {args.output}: {len(graph.nodes)} nodes, {graph.num_parameters():,} parameters, "
          f"{size / 1e6:.1f} MB")
    return 0


def _export_onnx(args) -> int:
    """An ONNX file: its own static input shapes, or --input-shape for each input (fixing dynamic dims)."""
    import numpy as np

    from .export import export_onnx

    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(shape).astype(np.float32) for shape in args.input_shape] or None
    passes = None
    if args.passes is not None:
        passes = [p.strip() for p in args.passes.split(",") if p.strip()]
    graph = export_onnx(args.model, args.output, inputs, optimize=not args.no_optimize, passes=passes,
                        print_after_all=args.print_after_all, embed_test_vectors=args.embed_test_vectors)
    size = os.path.getsize(args.output)
    print(f"wrote {args.output}: {len(graph.nodes)} nodes, {graph.num_parameters():,} parameters, "
          f"{size / 1e6:.1f} MB")
    return 0


# -- run --------------------------------------------------------------------------------------


def cmd_run(args) -> int:
    import numpy as np

    from .runtime import load

    arrays = []
    for path in args.input:
        try:
            arrays.append(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read input '{path}': {e}") from None
    module = load(args.model, num_threads=args.threads, compact_weights=args.compact_weights)
    start = time.perf_counter()
    result = module(*arrays)
    elapsed = time.perf_counter() - start
    outputs = list(result) if isinstance(result, tuple) else [result]
    if args.output and len(args.output) != len(outputs):
        raise InputError(f"the model has {len(outputs)} output(s), {len(args.output)} --output path(s) were given")
    for i, array in enumerate(outputs):
        name, dtype, shape = module.outputs[i]
        line = f"output {i} '{name}': {dtype}{list(shape)}"
        if args.output:
            np.save(args.output[i], array)
            line += f" -> {args.output[i]}"
        print(line)
    print(f"ran in {elapsed * 1e3:.2f} ms on {module.num_threads} thread(s)")
    return 0


# -- inspect ----------------------------------------------------------------------------------


def _shape_str(value) -> str:
    return f"{value.dtype}[{','.join(str(d) for d in value.shape)}]"


def cmd_inspect(args) -> int:
    from .archive.reader import read

    archive = read(args.model)
    graph = archive.graph
    meta = archive.metadata
    print(f"archive:      {args.model} ({archive.file_size:,} bytes)")
    print(f"format:       {archive.version[0]}.{archive.version[1]}")
    producer = meta.get("producer", "?")
    if meta.get("producer_version"):
        producer += " " + str(meta["producer_version"])
    if meta.get("torch_version"):
        producer += f" (torch {meta['torch_version']})"
    print(f"producer:     {producer}")
    if meta.get("source"):
        print(f"source:       {meta['source']}")
    if meta.get("created"):
        print(f"created:      {meta['created']}")
    if archive.metadata_error:
        print(f"metadata:     {archive.metadata_error}")
    print("inputs:")
    for v in graph.inputs:
        print(f"  {v.name}: {_shape_str(v)}")
    print("outputs:")
    for v in graph.outputs:
        print(f"  {v.name}: {_shape_str(v)}")
    # The histogram below counts subgraph (if branch, loop body) nodes too: say how many.
    in_subgraphs = sum(len(g.nodes) for g in graph.all_graphs()) - len(graph.nodes)
    print(f"nodes:        {len(graph.nodes)}" + (f" (+{in_subgraphs} in subgraphs)" if in_subgraphs else ""))
    for op, count in sorted(graph.op_histogram().items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {op:<22}{count}")
    print(f"parameters:   {graph.num_parameters():,}")
    print(f"weights:      {graph.weights_bytes():,} bytes")
    if "passes" in meta:
        print(f"passes:       {', '.join(meta['passes']) if meta['passes'] else '(none: exported unoptimized)'}")
    print(f"prepacked:    {_prepacked_str(archive)}")
    print("checksums:    " + ("per section and per tensor (load reads only the tensors it uses)"
                              if archive.tensor_crcs is not None else "per section"))
    _inspect_views(args, graph)
    return 0


def _prepacked_str(archive) -> str:
    """Which ISA levels' packed weights the archive holds (format 1.4 PACKED_WEIGHTS)."""
    from .archive.packed_weights import ISAS

    if not archive.packed_weights:
        return "no (weights are packed at load)"
    counts = {}
    for e in archive.packed_weights:
        counts[ISAS[e.isa]] = counts.get(ISAS[e.isa], 0) + 1
    return "yes: " + ", ".join(f"{n} weights for {isa}" for isa, n in sorted(counts.items())) + \
        " (used in place at that ISA level)"


def _inspect_views(args, graph) -> None:
    """The --graph / --code / --stats / --dot texts and the --html / --onnx files."""
    from .ir.printer import format_graph
    from .views.code import format_code
    from .views.dot import format_dot
    from .views.stats import format_stats

    for flag, render in (("graph", lambda g: format_graph(g, show_constants=False)), ("code", format_code),
                         ("stats", format_stats), ("dot", format_dot)):
        if getattr(args, flag):
            print()
            print(render(graph), end="")
    if args.html:
        from .views.html import write_html

        write_html(graph, args.html, title=os.path.basename(args.model))
        print(f"wrote {args.html}")
    if args.onnx:
        from .views.onnx_export import write_onnx

        write_onnx(graph, args.onnx)
        print(f"wrote {args.onnx}")


# -- verify -------------------------------------------------------------------------------------


def cmd_verify(args) -> int:
    from .verify import verify

    model = inputs = None
    if args.torch_model is not None:
        import torch

        model = _load_model(args.torch_model)
        if args.input_shape:
            torch.manual_seed(0)
            inputs = [torch.randn(*shape).numpy() for shape in args.input_shape]
    elif args.input_shape or args.per_op:
        raise InputError("--input-shape and --per-op compare with a PyTorch model: give it with --model")
    report = verify(args.model, model=model, inputs=inputs, per_op=args.per_op, num_threads=args.threads)
    print(report.format(), end="")
    return 0 if report.passed else 1


class _PrintSdkPath(argparse.Action):
    """--cmake-dir / --pkgconfig-dir: print a path of the installed C++ SDK and exit (like --version)."""

    def __init__(self, option_strings, dest, getter, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)
        self.getter = getter

    def __call__(self, parser, namespace, values, option_string=None):
        from . import sdk

        try:
            print(getattr(sdk, self.getter)())
        except DeployError as e:
            parser.exit(EXIT_USER_ERROR, f"deploykit: error: {e}\n")
        parser.exit(0)


# -- demo ---------------------------------------------------------------------------------------


def _median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def cmd_demo(args) -> int:
    import numpy as np
    import torch

    from .export import export
    from .models.resnet import random_resnet
    from .runtime import load

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    _progress(f"[1/5] building ResNet-{args.depth} (torchvision architecture, random weights and BatchNorm stats)")
    model = random_resnet(args.depth, seed=0)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with tempfile.TemporaryDirectory(prefix="deploykit-demo-") as tmp:
        path = os.path.join(tmp, f"resnet{args.depth}.dkr")
        _progress("[2/5] exporting with torch.jit.trace")
        start = time.perf_counter()
        graph = export(model, (x,), path)
        _progress(f"      {len(graph.nodes)} nodes, {graph.num_parameters():,} parameters, "
                  f"{os.path.getsize(path) / 1e6:.1f} MB in {time.perf_counter() - start:.1f} s")
        _progress(f"[3/5] loading in the C++ runtime ({threads} thread(s))")
        module = load(path, num_threads=threads)
        x_np = x.numpy()
        _progress("[4/5] checking against PyTorch")
        with torch.no_grad():
            expected = model(x).numpy()
        actual = module(x_np)
        max_diff = float(np.max(np.abs(actual - expected)))
        _progress(f"[5/5] timing {args.runs} runs each")
        with torch.no_grad():
            model(x)
            torch_ms = _median_ms(lambda: model(x), args.runs)
        module(x_np)
        runtime_ms = _median_ms(lambda: module(x_np), args.runs)
    print(f"ResNet-{args.depth}, batch 1, 224x224, {threads} thread(s)")
    print(f"  max |deploykit - torch|: {max_diff:.3g}")
    print(f"  torch eager median:      {torch_ms:.2f} ms")
    print(f"  deploykit median:        {runtime_ms:.2f} ms")
    return 0


# -- main -----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deploykit", description="Export PyTorch models to .dkr archives and "
                                     "run them with the deploykit C++ runtime.")
    parser.add_argument("--version", action="version", version=f"deploykit {__version__}")
    parser.add_argument("--cmake-dir", action=_PrintSdkPath, getter="cmake_dir",
                        help="print the directory of the installed deployrt CMake package (deployrt_DIR) and exit")
    parser.add_argument("--pkgconfig-dir", action=_PrintSdkPath, getter="pkgconfig_dir",
                        help="print the directory holding deployrt.pc (for PKG_CONFIG_PATH) and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("export", help="export a TorchScript file or a model factory to an archive")
    p.add_argument("model", metavar="MODEL", help="a TorchScript .pt file, an ONNX .onnx file (needs the 'onnx' "
                                                  "package), a torch.export .pt2 file or package.module:factory")
    p.add_argument("-o", "--output", required=True, help="archive to write (.dkr)")
    p.add_argument("--input-shape", action="append", type=_parse_shape, default=[], metavar="SHAPE",
                   help="shape of one model input, e.g. 1,3,224,224 (repeat for several inputs)")
    p.add_argument("--method", default="trace", metavar="METHOD",
                   help="how a factory's nn.Module is captured: trace (torch.jit.trace, the default), script "
                        "(torch.jit.script: if/loop on run-time values) or export "
                        "(torch.export; a saved ExportedProgram .pt2 file always goes this way)")
    p.add_argument("--no-optimize", action="store_true", help="write the graph as captured, without passes")
    p.add_argument("--passes", metavar="A,B,C", default=None,
                   help="run these passes in this order instead of the default pipeline "
                        "(inline, remove_identity, constant_fold, cse, dce, fold_batchnorm, fuse_residual, "
                        "fuse_activation, memory_plan)")
    p.add_argument("--print-after-all", action="store_true", help="print the graph after every pass")
    p.add_argument("--embed-test-vectors", action="store_true",
                   help="store the example inputs and PyTorch's outputs in the archive "
                        "(for `deployrt-run --selftest` and `deploykit verify`)")
    p.add_argument("--prepack", nargs="?", const="best", default=None, choices=("best", "scalar", "avx2", "avx512"),
                   help="also store the weights packed by the runtime for this host's best ISA level (or the "
                        "one given): a runtime at that level reads them in place instead of packing at load "
                        "(faster start-up); about doubles the archive")
    p.add_argument("--dynamic", action="append", default=[], metavar="INPUT:DIM=SYM,...",
                   help="symbolic input dims, e.g. x:0=N,2=H,3=W (repeat per input): the archive runs any "
                        "size of them the model can take")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("run", help="run an archive on .npy inputs")
    p.add_argument("model", metavar="ARCHIVE")
    p.add_argument("--input", action="append", default=[], metavar="X.npy", help="one input (repeat in order)")
    p.add_argument("--output", action="append", default=[], metavar="Y.npy", help="where to save each output")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="threads (default: all)")
    p.add_argument("--compact-weights", action="store_true",
                   help="keep weights near their archive size, at some cost in speed (load(compact_weights=True))")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("inspect", help="describe an archive (works without the C++ runtime)")
    p.add_argument("model", metavar="ARCHIVE")
    p.add_argument("--graph", action="store_true", help="also print the graph as typed SSA text, one node per line")
    p.add_argument("--code", action="store_true", help="also print the graph as a Python-like forward()")
    p.add_argument("--stats", action="store_true",
                   help="also print parameters, FLOPs and bytes per node, the planned arena and an op histogram")
    p.add_argument("--dot", action="store_true", help="also print the graph in Graphviz dot syntax")
    p.add_argument("--html", metavar="OUT.html", help="write a self-contained interactive drawing of the graph")
    p.add_argument("--onnx", metavar="OUT.onnx", help="write the graph as ONNX (needs the 'onnx' package)")
    p.set_defaults(func=cmd_inspect)

    from .bench import add_parser as add_bench_parser

    add_bench_parser(sub)

    p = sub.add_parser("verify", help="parity report: the runtime vs stored test vectors or a PyTorch model")
    p.add_argument("model", metavar="ARCHIVE")
    p.add_argument("--model", dest="torch_model", metavar="MODEL", default=None,
                   help="compare with this PyTorch model (TorchScript .pt or package.module:factory) instead of "
                        "the stored test vectors")
    p.add_argument("--input-shape", action="append", type=_parse_shape, default=[], metavar="SHAPE",
                   help="with --model: random inputs of these shapes (default: the stored test vector inputs)")
    p.add_argument("--per-op", action="store_true",
                   help="with --model: compare every node's output with PyTorch's matching intermediate")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="threads (default: all)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("demo", help="export a ResNet, run it, compare with PyTorch")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="threads for both engines (default: all)")
    p.add_argument("--depth", type=int, choices=(18, 34, 50), default=18, help="ResNet depth (default 18)")
    p.add_argument("--runs", type=int, default=10, metavar="N", help="timed runs per engine (default 10)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "threads", None) is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    try:
        return args.func(args)
    except BrokenPipeError:
        # `deploykit inspect m.dkr --graph | head`: the reader left; stop quietly, as Unix
        # tools do, and keep Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the pipe
    except DeployError as e:
        print(f"deploykit: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except ImportError as e:
        if getattr(e, "name", None) == "torch":
            print("deploykit: error: this command needs PyTorch: pip install 'deploykit[torch]'", file=sys.stderr)
            return EXIT_USER_ERROR
        raise
    except KeyboardInterrupt:
        print("deploykit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
