"""torch.export frontend: nn.Module (exported here) or ExportedProgram -> IR Graph.

The program is functionalized with ``run_decompositions({})`` (in-place ops become their
functional forms, batch_norm becomes _native_batch_norm_legit_no_training, dropout
disappears) and its FX graph is walked once in order. The graph signature says which
placeholders are parameters, buffers and lifted constants (they become IR constants under
their qualified names) and which are user inputs. Every FX node carries its own result type
(``node.meta["val"]``), so output dtypes and shapes come from PyTorch and shape inference
is cross-checked against them. Nodes whose arguments are all known at export time are
evaluated here; only ops on runtime values become IR nodes. ``torch.cond`` becomes an
``if`` node whose branches are subgraphs with explicit captures (docs/ops.md). Every op
that cannot be lowered is collected and reported in one UnsupportedOpsError.
"""

from __future__ import annotations

import operator
import os
import re
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..archive.format import DTYPE_CODES
from ..errors import ExportError, UnsupportedOpsError
from ..ir.graph import NUMPY_DTYPES, Graph, Value
from ..ir.ops import OpError, infer_shapes
from ..ir.verify import verify_graph
from ..passes.dce import eliminate_dead_code
from .common import TORCH_DIR as _TORCH_DIR
from .common import Unsupported as _Unsupported
from .common import (addmm_linear, adaptive_output_size, check_float32, clamp_bounds, conv_pads, pool_window,
                     scalar_dtype, static_matrix)
from .common import contains as _contains
from .common import normalize_axis as _normalize_axis
from .common import pair as _pair

# torch dtype -> IR dtype of the values the runtime computes with (cf_spec: f32, i64, bool).
_DTYPES = {torch.float32: "f32", torch.int64: "i64", torch.bool: "bool"}
# `compare` attribute `mode`, keyed by the aten op name.
_COMPARE_MODES = {"eq": 0, "ne": 1, "lt": 2, "le": 3, "gt": 4, "ge": 5}
# `logical` attribute `mode`.
_LOGICAL_MODES = {"and": 0, "or": 1, "xor": 2}


# -- capture -------------------------------------------------------------------------------------


class _ProgramModule(torch.nn.Module):
    """Calls an ExportedProgram like a module (for test vectors).

    ep.module() refuses train()/eval(), so it is kept out of the submodule tree.
    """

    def __init__(self, program):
        super().__init__()
        object.__setattr__(self, "_program_module", program.module())

    def forward(self, *inputs):
        return self._program_module(*inputs)


class Captured:
    """An ExportedProgram ready for lowering, and how it was obtained."""

    def __init__(self, program, source: str):
        self.program = program
        self.module = _ProgramModule(program)
        self.source = source  # metadata "source": torch.export | exported-program
        self.traced = False


def is_exported_program(model) -> bool:
    return isinstance(model, torch.export.ExportedProgram)


def capture(model, example_inputs: Tuple[torch.Tensor, ...]) -> Captured:
    """torch.export.export an nn.Module in eval mode, or take an ExportedProgram as it is."""
    if is_exported_program(model):
        program, source = model, "exported-program"
    elif isinstance(model, torch.nn.Module) and not isinstance(model, torch.jit.ScriptModule):
        was_training = model.training
        model.eval()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch-internal pytree deprecations
                program = torch.export.export(model, tuple(example_inputs))
        except ExportError:
            raise
        except Exception as e:  # torch raises many types, with long multi-line messages
            raise ExportError(f"torch.export.export failed: {_summary(e)}") from None
        finally:
            model.train(was_training)
        source = "torch.export"
    else:
        raise ExportError(f"method='export' takes a torch.nn.Module or a torch.export.ExportedProgram, "
                          f"got {type(model).__name__}")
    try:
        # Functional ATen: in-place ops and inference-mode batch_norm in the forms lowered below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            program = program.run_decompositions({})
    except Exception as e:
        raise ExportError(f"run_decompositions failed: {str(e).strip().splitlines()[0]}") from None
    check_float32(program.state_dict.items(), "the program")
    return Captured(program, source)


def _summary(error: Exception, lines: int = 3) -> str:
    """The head of a torch error: its first line alone is often just a preamble ("Got graph break:")."""
    text = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    head = " ".join(text[:lines])
    return head[:400] + ("..." if len(head) > 400 or len(text) > lines else "")


# -- helpers -------------------------------------------------------------------------------------


class _Unavailable:
    """An output the runtime does not compute (max_pool2d indices, batch statistics)."""

    def __init__(self, what: str):
        self.what = what


def source_location(node) -> str:
    """The innermost user frame of node.meta["stack_trace"] as 'file.py:123' (or '')."""
    text = node.meta.get("stack_trace") or ""
    frames = re.findall(r'File "(.*?)", line (\d+)', text)
    user = [(f, line) for f, line in frames if not f.startswith("<") and not os.path.abspath(f).startswith(_TORCH_DIR)]
    if not user:
        return ""
    path, line = user[-1]
    return f"{os.path.basename(path)}:{line}"


def _module_name(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    entry = list(stack.values())[-1]
    return entry[0] if isinstance(entry, tuple) and isinstance(entry[0], str) else ""


def _op_label(target) -> str:
    if isinstance(target, torch._ops.OpOverload):
        return f"aten::{target.overloadpacket.__name__}" if target.namespace == "aten" else str(target)
    if isinstance(target, torch._ops.HigherOrderOperator):
        return f"higher_order::{target.name()}"
    return getattr(target, "__name__", str(target))


def _bind(node, args, kwargs) -> List[Any]:
    """All schema arguments of an aten call, positional, with defaults filled in."""
    schema = node.target._schema
    bound = []
    for i, arg in enumerate(schema.arguments):
        if i < len(args):
            bound.append(args[i])
        elif arg.name in kwargs:
            bound.append(kwargs[arg.name])
        elif arg.has_default_value():
            bound.append(arg.default_value)
        else:
            raise ExportError(f"internal error: {_op_label(node.target)} is missing argument '{arg.name}'")
    return bound


def _ir_dtype(dtype: torch.dtype, what: str) -> str:
    if dtype not in _DTYPES:
        raise _Unsupported(f"{what} is {str(dtype).replace('torch.', '')} (supported: float32, int64, bool)")
    return _DTYPES[dtype]


def _static_shape(shape, what: str) -> Tuple[int, ...]:
    if not all(isinstance(d, int) for d in shape):
        raise _Unsupported(f"{what} has a symbolic shape {list(shape)}")
    return tuple(int(d) for d in shape)


def _promote(dtypes: Sequence[str]) -> str:
    """The dtype two operands compute in (PyTorch promotion restricted to f32 > i64 > bool)."""
    if "f32" in dtypes:
        return "f32"
    return "i64" if "i64" in dtypes else "bool"


# -- lowering ---------------------------------------------------------------------------------------


class _Lowering:
    """Lowers one FX graph into one IR graph; torch.cond branches get child lowerings."""

    def __init__(self, graph: Graph, parent: Optional["_Lowering"] = None, context_source: str = ""):
        self.graph = graph
        self.env: Dict[Any, Any] = {}
        self.constant_cache: Dict[Tuple, Value] = {}
        # Shared by a program's graph and its subgraphs: a weight used in both is one array (one
        # tensor in the archive), and keepalive keeps the id() keys of both tables unique.
        self.keepalive: List[torch.Tensor] = [] if parent is None else parent.keepalive
        self.arrays: Dict[Tuple, np.ndarray] = {} if parent is None else parent.arrays
        self.tensor_names: Dict[int, str] = {} if parent is None else parent.tensor_names
        self.unsupported: Dict[str, List[str]] = {} if parent is None else parent.unsupported
        self.context_source = context_source  # the enclosing cond's location, for branch nodes
        self.current = None

    # -- reporting ------------------------------------------------------------------------------

    def location(self, node) -> str:
        return source_location(node) or self.context_source

    def report(self, node, detail: str = "") -> None:
        label = _op_label(node.target) + (f" ({detail})" if detail else "")
        loc = self.location(node)
        locations = self.unsupported.setdefault(label, [])
        if loc and loc not in locations:
            locations.append(loc)

    # -- constants --------------------------------------------------------------------------------

    def constant(self, obj, dtype: Optional[str] = None, name: str = "const") -> Value:
        """An IR constant for a static tensor or Python number, converted to dtype if given."""
        if isinstance(obj, (bool, int, float)):
            dtype = dtype or scalar_dtype(obj)
            key = ("scalar", type(obj), obj, dtype)
            if key not in self.constant_cache:
                self.constant_cache[key] = self.graph.add_constant(name, np.array(obj, dtype=NUMPY_DTYPES[dtype]))
            return self.constant_cache[key]
        if not isinstance(obj, torch.Tensor):
            raise _Unsupported(f"expected a tensor operand, got {type(obj).__name__}")
        tensor = obj.detach().cpu()
        if dtype is None:
            if tensor.dtype == torch.float64 and tensor.dim() == 0:
                dtype = "f32"  # a 0-d double does not promote a float32 tensor; cf_spec narrows it
            else:
                dtype = _ir_dtype(tensor.dtype, f"constant {list(tensor.shape)}")
        key = ("tensor", id(obj), dtype)
        if key in self.constant_cache:
            return self.constant_cache[key]
        name = self.tensor_names.get(id(obj), name)
        if key not in self.arrays:
            self.arrays[key] = tensor.contiguous().numpy().astype(NUMPY_DTYPES[dtype], copy=True)
            self.keepalive.append(obj)
        value = self.graph.add_constant(name, self.arrays[key])
        self.constant_cache[key] = value
        return value

    def operand(self, obj, dtype: str) -> Value:
        """obj as a value of dtype: constants are converted at export time, runtime values by `cast`."""
        if isinstance(obj, Value):
            return obj if obj.dtype == dtype else self.cast(obj, dtype)
        return self.constant(obj, dtype)

    def runtime(self, obj, what: str) -> Value:
        if not isinstance(obj, Value):
            raise _Unsupported(f"{what} must be a computed tensor")
        return obj

    # -- emitting ----------------------------------------------------------------------------------

    def add_node(self, op: str, inputs: List[Optional[Value]], attrs: Dict[str, Any],
                 outputs: List[Tuple[str, str, Tuple[int, ...]]]) -> List[Value]:
        node = self.current
        ir_node = self.graph.add_node(op, inputs, outputs, attrs, self.location(node), _module_name(node))
        return ir_node.outputs

    def emit(self, op: str, inputs: List[Optional[Value]], attrs: Dict[str, Any],
             dtype: Optional[str] = None, result: bool = True) -> Value:
        """One-output node. For the FX node's result (result=True) the dtype defaults to PyTorch's
        (meta["val"]) and the inferred shape must equal PyTorch's; helper nodes (casts of operands)
        give their dtype and are not cross-checked."""
        node = self.current
        try:
            (shape,) = infer_shapes(op, [None if v is None else v.shape for v in inputs], attrs)
        except OpError as e:
            if str(e).startswith("unknown op"):
                raise _Unsupported(f"needs the runtime op '{op}'") from None
            raise ExportError(f"{_op_label(node.target)} at {self.location(node) or '?'} lowered to {op}: {e}") \
                from None
        val = node.meta.get("val")
        if isinstance(val, (tuple, list)):
            val = val[0]  # ops returning (result, extras...): the IR node computes the result
        if dtype is None:
            dtype = _ir_dtype(val.dtype, "the result") if isinstance(val, torch.Tensor) else "f32"
        if result and isinstance(val, torch.Tensor):
            expected = (_DTYPES.get(val.dtype), _static_shape(val.shape, "the result"))
            if expected != (dtype, tuple(shape)):
                raise ExportError(f"internal error: deploykit gives {dtype}{list(shape)} for {node.name} "
                                  f"({_op_label(node.target)} at {self.location(node) or '?'}) but torch.export "
                                  f"recorded {val.dtype}{list(expected[1])}")
        (out,) = self.add_node(op, inputs, attrs, [(node.name, dtype, tuple(shape))])
        return out

    def cast(self, value: Value, dtype: str) -> Value:
        return self.emit("cast", [value], {"to": DTYPE_CODES[dtype]}, dtype=dtype, result=False)

    # -- walking -------------------------------------------------------------------------------------

    def get(self, obj):
        """An FX argument with every Node replaced by what it lowered to."""
        if isinstance(obj, torch.fx.Node):
            return self.env[obj]
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.get(o) for o in obj)
        if isinstance(obj, dict):
            return {k: self.get(v) for k, v in obj.items()}
        return obj

    def placeholder(self, val):
        """Stand-in for the result of an op that could not be lowered: lowering goes on (so that one
        error lists every unsupported op) with a value of PyTorch's type that never joins the graph."""
        if isinstance(val, (list, tuple)):
            return type(val)(self.placeholder(v) for v in val)
        if isinstance(val, torch.Tensor) and val.dtype in _DTYPES and all(isinstance(d, int) for d in val.shape):
            return Value("unsupported", _DTYPES[val.dtype], tuple(val.shape), "placeholder")
        return _Unavailable("the result of an unsupported op")

    def run_nodes(self, fx_graph, graph_module) -> List[Any]:
        """Lowers every call node; placeholders must already be bound. Returns the output node's values."""
        for node in fx_graph.nodes:
            self.current = node
            if node.op == "placeholder":
                continue
            if node.op == "output":
                outputs = self.get(node.args[0])
                return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
            if node.op == "get_attr":
                self.env[node] = operator.attrgetter(node.target)(graph_module)
                continue
            if node.op != "call_function":
                raise ExportError(f"unexpected FX node {node.op} '{node.name}' in the exported program")
            self.env[node] = self.run_call(node)
        raise ExportError("the exported graph has no output node")

    def run_call(self, node):
        args, kwargs = self.get(node.args), self.get(node.kwargs)
        if _contains(args, _Unavailable) or _contains(kwargs, _Unavailable):
            # Downstream of something unavailable: report this op too unless it is only indexing.
            if node.target is not operator.getitem:
                for a in list(args) + list(kwargs.values()):
                    for leaf in (a if isinstance(a, (list, tuple)) else [a]):
                        if isinstance(leaf, _Unavailable) and leaf.what != "the result of an unsupported op":
                            self.report(node, f"uses {leaf.what}")
                            break
            if node.target is operator.getitem and isinstance(args[0], (list, tuple)):
                return args[0][args[1]]
            return self.placeholder(node.meta.get("val"))
        try:
            if node.target is operator.getitem:
                return args[0][args[1]]
            if node.target is torch.ops.higher_order.cond:
                return self.lower_cond(node, args)
            runtime_args = _contains(args, Value) or _contains(kwargs, Value)
            if not runtime_args:
                return self.static_eval(node, args, kwargs)
            lower = _LOWERINGS.get(node.target) or _LOWERINGS.get(getattr(node.target, "overloadpacket", None))
            if lower is None:
                raise _Unsupported("")
            bound = _bind(node, args, kwargs) if isinstance(node.target, torch._ops.OpOverload) else list(args)
            return lower(self, node, bound)
        except _Unsupported as e:
            self.report(node, str(e))
            return self.placeholder(node.meta.get("val"))

    def static_eval(self, node, args, kwargs):
        """A node whose inputs are all known at export time (shape arithmetic, lifted constants)."""
        if isinstance(node.target, torch._ops.HigherOrderOperator):
            raise _Unsupported("")
        try:
            with torch.no_grad():
                return node.target(*args, **kwargs)
        except Exception as e:
            raise _Unsupported(f"export-time evaluation failed: {str(e).strip().splitlines()[0]}") from None

    # -- torch.cond ---------------------------------------------------------------------------------------

    def lower_cond(self, node, args):
        pred, true_gm, false_gm, operands = args[:4]
        operands = list(operands)
        if not isinstance(pred, Value):
            # Known at export time (a Python bool or a constant tensor): only one branch exists.
            taken = true_gm if bool(pred) else false_gm
            child = _Lowering(self.graph, parent=self, context_source=self.location(node))
            child.constant_cache = self.constant_cache
            for ph, obj in zip(self._placeholders(taken), operands):
                child.env[ph] = obj
            return tuple(child.run_nodes(taken.graph, taken))
        if pred.numel != 1:
            raise _Unsupported(f"predicate of shape {list(pred.shape)} (one element needed)")
        if pred.shape != ():
            pred = self.emit("reshape", [pred], {"shape": []}, dtype=pred.dtype, result=False)
        if pred.dtype != "bool":
            pred = self.cast(pred, "bool")
        captures = [o for o in operands if isinstance(o, Value)]
        vals = node.meta.get("val")
        vals = list(vals) if isinstance(vals, (list, tuple)) else [vals]
        out_types = []
        for i, v in enumerate(vals):
            if not isinstance(v, torch.Tensor):
                raise _Unsupported(f"branch output {i} is {type(v).__name__}, not a tensor")
            out_types.append((f"{node.name}_{i}" if len(vals) > 1 else node.name,
                              _ir_dtype(v.dtype, f"branch output {i}"), _static_shape(v.shape, f"branch output {i}")))
        branches = [self.lower_branch(node, gm, which, operands, out_types)
                    for gm, which in ((true_gm, "then"), (false_gm, "else"))]
        self.current = node
        return tuple(self.add_node("if", [pred] + captures,
                                   {"then_branch": branches[0], "else_branch": branches[1]}, out_types))

    @staticmethod
    def _placeholders(graph_module) -> List[torch.fx.Node]:
        return [n for n in graph_module.graph.nodes if n.op == "placeholder"]

    def lower_branch(self, node, graph_module, which: str, operands, out_types) -> Graph:
        """One branch as a subgraph: its inputs are the runtime operands (the if node's captures, in
        order); operands known at export time become the subgraph's own constants."""
        graph = Graph(f"{node.name}_{which}")
        child = _Lowering(graph, parent=self, context_source=self.location(node))
        placeholders = self._placeholders(graph_module)
        if len(placeholders) != len(operands):
            raise ExportError(f"internal error: torch.cond {which} branch takes {len(placeholders)} inputs, "
                              f"{len(operands)} operands were given")
        for ph, obj in zip(placeholders, operands):
            child.env[ph] = graph.add_input(ph.name, obj.dtype, obj.shape) if isinstance(obj, Value) else obj
        results = child.run_nodes(graph_module.graph, graph_module)
        child.current = node
        if len(results) != len(out_types):
            raise ExportError(f"internal error: torch.cond {which} branch returns {len(results)} values, "
                              f"the cond node has {len(out_types)}")
        for i, (obj, (_, dtype, shape)) in enumerate(zip(results, out_types)):
            if _contains(obj, _Unavailable):
                continue  # already reported
            value = obj if isinstance(obj, Value) else child.constant(obj, dtype, "output")
            if (value.dtype, value.shape) != (dtype, shape):
                raise _Unsupported(f"{which} branch output {i} is {value.type_str()}, the cond gives "
                                   f"{dtype}{list(shape)}")
            graph.outputs.append(value)
        eliminate_dead_code(graph)
        return graph


# -- per-op lowerings: (lowering, node, bound args) -> result ----------------------------------------------


def _lower_conv(self: _Lowering, node, a):
    if node.target.overloadpacket is torch.ops.aten.convolution:
        x, w, b, stride, padding, dilation, transposed, _output_padding, groups = a[:9]
        if transposed:
            raise _Unsupported("transposed")
    else:  # aten.conv2d(.default | .padding)
        x, w, b, stride, padding, dilation, groups = a[:7]
    if isinstance(w, Value):
        raise _Unsupported("weight must be a constant")
    weight = self.constant(w, "f32", "weight")
    if weight.rank != 4:
        raise _Unsupported(f"{weight.rank - 2}-d convolution")
    x = self.runtime(x, "input")
    if x.rank != 4:
        raise _Unsupported(f"input of rank {x.rank}")
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    pads = conv_pads(padding, dilation, weight.shape[2:])
    if isinstance(b, Value):
        raise _Unsupported("bias must be a constant")
    bias = None if b is None else self.constant(b, "f32", "bias")
    return self.emit("conv2d", [x, weight, bias],
                     {"stride": stride, "pads": pads, "dilation": dilation, "groups": int(groups)})


def _batch_norm(self, node, x, weight, bias, mean, var, eps):
    if mean is None or var is None:
        raise _Unsupported("batch statistics (no running stats)")
    for t, what in ((weight, "weight"), (bias, "bias"), (mean, "running_mean"), (var, "running_var")):
        if isinstance(t, Value):
            raise _Unsupported(f"{what} must be a constant")
    inputs = [self.runtime(x, "input"), self.constant(mean, "f32", "running_mean"),
              self.constant(var, "f32", "running_var"),
              None if weight is None else self.constant(weight, "f32", "weight"),
              None if bias is None else self.constant(bias, "f32", "bias")]
    return self.emit("batch_norm", inputs, {"eps": float(eps)})


def _lower_batch_norm(self, node, a):
    packet = node.target.overloadpacket
    if packet is torch.ops.aten._native_batch_norm_legit_no_training:
        x, weight, bias, mean, var, _momentum, eps = a[:7]
    elif packet in (torch.ops.aten._native_batch_norm_legit, torch.ops.aten._native_batch_norm_legit_functional):
        raise _Unsupported("training mode: call model.eval() before torch.export")
    else:  # batch_norm / native_batch_norm: (x, weight, bias, mean, var, training, momentum, eps, ...)
        x, weight, bias, mean, var, training, _momentum, eps = a[:8]
        if training:
            raise _Unsupported("training mode: call model.eval() before torch.export")
    out = _batch_norm(self, node, x, weight, bias, mean, var, eps)
    if packet is torch.ops.aten.batch_norm:
        return out
    unavailable = _Unavailable("batch_norm's saved statistics")
    return (out, unavailable, unavailable)


def _unary(op):
    def lower(self, node, a):
        x = self.runtime(a[0], "input")
        if x.dtype != "f32":
            raise _Unsupported(f"{x.dtype} input")
        return self.emit(op, [x], {})
    return lower


def _result_dtype(node) -> str:
    val = node.meta.get("val")
    if not isinstance(val, torch.Tensor):
        raise _Unsupported("non-tensor result")
    return _ir_dtype(val.dtype, "the result")


def _lower_add_sub(self, node, a):
    name = node.target.overloadpacket.__name__
    x, y, alpha = a[0], a[1], a[2] if len(a) > 2 else 1
    if name == "rsub":
        x, y = y, x  # rsub(x, y, alpha) = y - alpha * x
    if not isinstance(alpha, (int, float)):
        raise _Unsupported("non-scalar alpha")
    dtype = _result_dtype(node)
    if dtype not in ("f32", "i64"):
        raise _Unsupported(f"{dtype} operands")
    x, y = self.operand(x, dtype), self.operand(y, dtype)
    sign = 1.0 if name == "add" else -1.0
    if dtype == "f32":  # f32 subtraction is add with a negative alpha, which the fusion passes know
        return self.emit("add", [x, y], {"alpha": sign * float(alpha)})
    if alpha != 1:
        raise _Unsupported("alpha on integer tensors")
    return self.emit("add" if sign > 0 else "sub", [x, y], {"alpha": 1.0} if sign > 0 else {})


def _lower_mul(self, node, a):
    dtype = _result_dtype(node)
    if dtype not in ("f32", "i64"):
        raise _Unsupported(f"{dtype} operands")
    return self.emit("mul", [self.operand(a[0], dtype), self.operand(a[1], dtype)], {})


def _lower_div(self, node, a):
    rounding = a[2] if len(a) > 2 else None
    dtype = _result_dtype(node)
    if rounding is None:
        if dtype != "f32":
            raise _Unsupported(f"{dtype} result")
        return self.emit("div", [self.operand(a[0], "f32"), self.operand(a[1], "f32")], {})
    if rounding == "trunc" and dtype == "i64":
        return self.emit("div", [self.operand(a[0], "i64"), self.operand(a[1], "i64")], {})
    raise _Unsupported(f"rounding_mode='{rounding}' on {dtype}")


def _operand_dtype(obj) -> str:
    if isinstance(obj, Value):
        return obj.dtype
    if isinstance(obj, torch.Tensor):
        return "f32" if obj.is_floating_point() else _ir_dtype(obj.dtype, "constant operand")
    return scalar_dtype(obj)


def _lower_compare(self, node, a):
    dtype = _promote([_operand_dtype(a[0]), _operand_dtype(a[1])])
    if dtype == "bool":
        dtype = "i64"  # compare takes numbers; bools compare as 0/1
    return self.emit("compare", [self.operand(a[0], dtype), self.operand(a[1], dtype)],
                     {"mode": _COMPARE_MODES[node.target.overloadpacket.__name__]}, dtype="bool")


def _lower_logical_not(self, node, a):
    x = self.runtime(a[0], "input")
    if node.target.overloadpacket is torch.ops.aten.bitwise_not and x.dtype != "bool":
        raise _Unsupported(f"bitwise not of {x.dtype}")
    return self.emit("logical_not", [self.operand(x, "bool")], {}, dtype="bool")


def _lower_logical(self, node, a):
    name = node.target.overloadpacket.__name__
    mode = name.strip("_").split("_")[-1]  # logical_and, bitwise_and, __and__ -> "and"
    if not name.startswith("logical"):
        if _operand_dtype(a[0]) != "bool" or _operand_dtype(a[1]) != "bool":
            raise _Unsupported("bitwise ops on numbers")
    return self.emit("logical", [self.operand(a[0], "bool"), self.operand(a[1], "bool")],
                     {"mode": _LOGICAL_MODES[mode]}, dtype="bool")


def _lower_pool_max(self, node, a):
    x, kernel, stride, padding, dilation, ceil_mode = a[:6]
    kernel, stride, pads = pool_window(kernel, stride, padding)
    out = self.emit("max_pool2d", [self.runtime(x, "input")],
                    {"kernel": kernel, "stride": stride, "pads": pads,
                     "dilation": _pair(dilation, "dilation"), "ceil_mode": int(bool(ceil_mode))})
    if node.target.overloadpacket is torch.ops.aten.max_pool2d_with_indices:
        return (out, _Unavailable("max_pool2d indices"))
    return out


def _lower_avg_pool(self, node, a):
    x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override = a[:7]
    kernel, stride, pads = pool_window(kernel, stride, padding)
    return self.emit("avg_pool2d", [self.runtime(x, "input")],
                     {"kernel": kernel, "stride": stride, "pads": pads,
                      "ceil_mode": int(bool(ceil_mode)), "count_include_pad": int(bool(count_include_pad)),
                      "divisor_override": int(divisor_override or 0)})


def _lower_adaptive_avg_pool(self, node, a):
    x = self.runtime(a[0], "input")
    if x.rank != 4:
        raise _Unsupported(f"input of rank {x.rank}")
    return self.emit("adaptive_avg_pool2d", [x], {"output_size": adaptive_output_size(a[1], x.shape)})


def _reduce(op):
    def lower(self, node, a):
        x = self.runtime(a[0], "input")
        overload = node.target._overloadname
        if overload == "default":  # mean(x, dtype) / sum(x, dtype): every dim
            dims, keepdim, dtype = None, False, a[1]
        else:
            dims, keepdim, dtype = a[1], a[2], a[3] if len(a) > 3 else None
        if dtype is not None and _DTYPES.get(dtype) != x.dtype:
            raise _Unsupported("dtype argument")
        if op == "sum" and x.dtype == "bool":
            x = self.cast(x, "i64")  # PyTorch sums bools as int64
        if op == "mean" and x.dtype != "f32":
            raise _Unsupported(f"{x.dtype} input")
        dims = [dims] if isinstance(dims, int) else list(dims or [])
        dims = sorted({_normalize_axis(d, x.rank, f"{op} dim") for d in dims}) if dims else list(range(x.rank))
        return self.emit(op, [x], {"dims": dims, "keepdim": int(bool(keepdim))})
    return lower


def _lower_reshape(self, node, a):
    """view / reshape / squeeze / unsqueeze / flatten: element order is kept; PyTorch's result shape is
    the new shape."""
    x = self.runtime(a[0], "input")
    shape = _static_shape(node.meta["val"].shape, "the result")
    if shape == x.shape:
        return x
    return self.emit("reshape", [x], {"shape": list(shape)}, dtype=x.dtype)


def _lower_linear(self, node, a):
    x, w, b = a[0], a[1], a[2]
    if isinstance(w, Value) or isinstance(b, Value):
        raise _Unsupported("weight and bias must be constants")
    return self.emit("linear", [self.runtime(x, "input"), self.constant(w, "f32", "weight"),
                                None if b is None else self.constant(b, "f32", "bias")], {})


def _lower_mm(self, node, a):
    x = self.runtime(a[0], "left operand")
    if x.rank < 1:
        raise _Unsupported("0-d operand")
    weight = static_matrix(a[1], "right operand").t().contiguous()  # x @ W == linear(x, W^T)
    return self.emit("linear", [x, self.constant(weight, "f32", "weight"), None], {})


def _lower_addmm(self, node, a):
    bias, mat1, mat2, beta, alpha = a[:5]
    weight, bias = addmm_linear(bias, mat2, beta, alpha)
    return self.emit("linear", [self.runtime(mat1, "mat1"), self.constant(weight, "f32", "weight"),
                                self.constant(bias, "f32", "bias")], {})


def _lower_hardtanh(self, node, a):
    name = node.target.overloadpacket.__name__
    x = self.runtime(a[0], "input")
    if x.dtype != "f32":
        raise _Unsupported(f"{x.dtype} input")
    if name == "relu6":
        low, high = 0.0, 6.0
    elif name == "clamp_min":
        low, high = a[1], None
    elif name == "clamp_max":
        low, high = None, a[1]
    else:
        low, high = a[1], a[2]
    low, high = clamp_bounds(low, high)
    return self.emit("hardtanh", [x], {"min_val": low, "max_val": high})


def _lower_cat(self, node, a):
    dtype = _result_dtype(node)
    tensors = [self.operand(t, dtype) for t in a[0]]
    if not tensors:
        raise _Unsupported("empty list")
    axis = _normalize_axis(a[1], tensors[0].rank, "cat dim")
    return self.emit("cat", tensors, {"axis": axis})


def _lower_softmax(self, node, a):
    x = self.runtime(a[0], "input")
    if node.target.overloadpacket is torch.ops.aten._softmax:
        if a[2]:
            raise _Unsupported("half_to_float")
    elif a[2] is not None and _DTYPES.get(a[2]) != "f32":
        raise _Unsupported("dtype argument")
    if x.rank == 0:
        raise _Unsupported("0-d input")
    return self.emit("softmax", [x], {"axis": _normalize_axis(a[1], x.rank, "softmax dim")})


def _lower_identity(self, node, a):
    return a[0]


def _lower_dropout(self, node, a):
    if a[2]:
        raise _Unsupported("training mode")
    if node.target.overloadpacket is torch.ops.aten.native_dropout:
        return (a[0], _Unavailable("dropout's mask"))
    return a[0]


def _lower_to(self, node, a):
    """_to_copy / to.dtype: a dtype change is a cast; anything else (device, layout) is an identity."""
    x = self.runtime(a[0], "input")
    dtype = _result_dtype(node)
    return x if dtype == x.dtype else self.cast(x, dtype)


def _lower_sym_size(self, node, a):
    x = self.runtime(a[0], "input")
    return x.shape[_normalize_axis(a[1], x.rank, "size dim")]


def _lower_no_op(self, node, a):
    """A check torch.export inserts (dtype/shape of a tensor): shapes are static and were checked by it."""
    return None


def _lower_neg(self, node, a):
    x = self.runtime(a[0], "input")
    if x.dtype not in ("f32", "i64"):
        raise _Unsupported(f"{x.dtype} input")
    return self.emit("mul", [x, self.constant(-1 if x.dtype == "i64" else -1.0, x.dtype)], {})


_aten = torch.ops.aten
# Each lowering with the aten ops it serves.
_LOWERING_TARGETS: Tuple[Tuple[Callable, Tuple[Any, ...]], ...] = (
    (_lower_conv, (_aten.convolution, _aten.conv2d)),
    (_lower_batch_norm, (_aten._native_batch_norm_legit_no_training, _aten._native_batch_norm_legit,
                         _aten._native_batch_norm_legit_functional, _aten.batch_norm, _aten.native_batch_norm)),
    (_unary("relu"), (_aten.relu,)),
    (_unary("sigmoid"), (_aten.sigmoid,)),
    (_lower_add_sub, (_aten.add, _aten.sub, _aten.rsub)),
    (_lower_mul, (_aten.mul,)),
    (_lower_div, (_aten.div,)),
    (_lower_neg, (_aten.neg,)),
    (_lower_compare, (_aten.eq, _aten.ne, _aten.lt, _aten.le, _aten.gt, _aten.ge)),
    (_lower_logical_not, (_aten.logical_not, _aten.bitwise_not)),
    (_lower_logical, (_aten.logical_and, _aten.logical_or, _aten.logical_xor, _aten.bitwise_and, _aten.bitwise_or,
                      _aten.bitwise_xor, _aten.__and__, _aten.__or__, _aten.__xor__)),
    (_lower_pool_max, (_aten.max_pool2d, _aten.max_pool2d_with_indices)),
    (_lower_avg_pool, (_aten.avg_pool2d,)),
    (_lower_adaptive_avg_pool, (_aten.adaptive_avg_pool2d, _aten._adaptive_avg_pool2d)),
    (_reduce("mean"), (_aten.mean,)),
    (_reduce("sum"), (_aten.sum,)),
    (_lower_reshape, (_aten.view, _aten._unsafe_view, _aten.reshape, _aten.flatten, _aten.squeeze, _aten.unsqueeze)),
    (_lower_linear, (_aten.linear,)),
    (_lower_mm, (_aten.mm, _aten.matmul)),
    (_lower_addmm, (_aten.addmm,)),
    (_lower_hardtanh, (_aten.hardtanh, _aten.relu6, _aten.clamp, _aten.clamp_min, _aten.clamp_max)),
    (_lower_cat, (_aten.cat, _aten.concat)),
    (_lower_softmax, (_aten._softmax, _aten.softmax)),
    (_lower_identity, (_aten.clone, _aten.alias, _aten.detach, _aten.contiguous, _aten.lift_fresh_copy)),
    (_lower_dropout, (_aten.dropout, _aten.native_dropout)),
    (_lower_to, (_aten._to_copy, _aten.to)),
    (_lower_sym_size, (_aten.sym_size,)),
    (_lower_no_op, (_aten._assert_tensor_metadata,)),
)
_LOWERINGS: Dict[Any, Callable] = {target: lower for lower, targets in _LOWERING_TARGETS for target in targets}


# -- entry point ----------------------------------------------------------------------------------------------


def _bind_signature(lowering: _Lowering, program, example_inputs: Sequence[torch.Tensor]) -> None:
    """Placeholders: parameters, buffers and lifted constants become constants (named by their qualified
    names); user inputs become graph inputs of the example inputs' shapes."""
    from torch.export.graph_signature import InputKind

    placeholders = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    user = 0
    for spec in program.graph_signature.input_specs:
        node = placeholders[spec.arg.name]
        if spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
            if spec.target in program.state_dict:
                tensor = program.state_dict[spec.target]
            elif spec.target in program.constants:
                tensor = program.constants[spec.target]
            else:
                raise ExportError(f"the program has no data for its {spec.kind.name.lower()} '{spec.target}'")
            if not isinstance(tensor, torch.Tensor):
                raise ExportError(f"{spec.kind.name.lower()} '{spec.target}' is a {type(tensor).__name__}, "
                                  "not a tensor")
            tensor = tensor.detach()
            lowering.tensor_names.setdefault(id(tensor), spec.target)
            lowering.keepalive.append(tensor)
            lowering.env[node] = tensor
        elif spec.kind == InputKind.USER_INPUT:
            val = node.meta.get("val")
            if not isinstance(val, torch.Tensor):
                raise ExportError(f"input '{spec.arg.name}' is a {type(val).__name__}; method='export' takes "
                                  "tensor inputs")
            if user >= len(example_inputs):
                raise ExportError(f"the program takes more inputs than the {len(example_inputs)} example "
                                  "input(s) given")
            example = example_inputs[user]
            if not all(isinstance(d, int) for d in val.shape):
                raise ExportError(f"input '{spec.arg.name}' has symbolic dims {list(val.shape)}: export the program "
                                  "with static shapes (and pass deploykit's dynamic_dims= for symbolic ones)")
            shape = tuple(int(d) for d in val.shape)
            if tuple(example.shape) != shape or example.dtype != val.dtype:
                raise ExportError(f"example input {user} is {str(example.dtype).replace('torch.', '')}"
                                  f"{list(example.shape)}; the program's input '{spec.arg.name}' is "
                                  f"{str(val.dtype).replace('torch.', '')}{list(shape)}")
            dtype = _DTYPES.get(val.dtype)
            if dtype is None:
                raise ExportError(f"input '{spec.arg.name}' is {val.dtype}; supported: float32, int64, bool")
            lowering.env[node] = lowering.graph.add_input(spec.arg.name, dtype, shape)
            user += 1
        else:
            raise ExportError(f"the program takes a {spec.kind.name.lower()} input '{spec.arg.name}', which "
                              "deploykit cannot export")
    if user != len(example_inputs):
        raise ExportError(f"the program takes {user} input(s), {len(example_inputs)} example input(s) were given")


def _user_outputs(program) -> List[int]:
    """Indices of the user outputs; a program that mutates its inputs or buffers cannot be exported."""
    from torch.export.graph_signature import OutputKind

    keep = []
    for i, spec in enumerate(program.graph_signature.output_specs):
        if spec.kind == OutputKind.USER_OUTPUT:
            keep.append(i)
        else:
            raise ExportError(f"the program's forward has a side effect ({spec.kind.name.lower()} of "
                              f"'{spec.target}'); deploykit exports pure functions of the inputs")
    return keep


def lower_program(program, example_inputs: Sequence[torch.Tensor]) -> Graph:
    graph = Graph("main")
    lowering = _Lowering(graph)
    _bind_signature(lowering, program, example_inputs)
    outputs = lowering.run_nodes(program.graph, program.graph_module)
    if lowering.unsupported:
        ops = [(label, loc) for label, locs in lowering.unsupported.items() for loc in (locs or [""])]
        parts = [f"{label} ({', '.join(locs)})" if locs else label for label, locs in lowering.unsupported.items()]
        count = len(lowering.unsupported)
        raise UnsupportedOpsError(f"{count} unsupported op{'s' if count != 1 else ''}: " + ", ".join(parts), ops)
    for i in _user_outputs(program):
        obj = outputs[i]
        if isinstance(obj, Value):
            graph.outputs.append(obj)
        elif isinstance(obj, torch.Tensor):
            graph.outputs.append(lowering.constant(obj, None, "output"))
        else:
            raise ExportError(f"model output {i} is a {type(obj).__name__}; outputs must be tensors")
    eliminate_dead_code(graph)
    verify_graph(graph, ExportError)
    return graph


def to_graph(model, example_inputs: Sequence[torch.Tensor]) -> Tuple[Graph, Captured]:
    """torch.export (or take) the program and lower it."""
    captured = capture(model, tuple(example_inputs))
    return lower_program(captured.program, example_inputs), captured
