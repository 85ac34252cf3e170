"""ONNX frontend: an ONNX model (file or onnx.ModelProto) -> IR Graph.

Needs the optional ``onnx`` package (``pip install 'deploykit[onnx]'``). Shapes are static:
the model's input shapes (or the ones the caller gives) are propagated with
onnx.shape_inference, and every node whose inputs are all known at import time
(initializers, Constant nodes, Shape of a static tensor, ...) is evaluated here with
onnx's reference evaluator, so shape arithmetic never reaches the runtime. The remaining
nodes are mapped onto the ops of docs/ops.md, each mapping checking that the runtime op
computes exactly what the ONNX op specifies for that attribute combination; everything
else is collected and reported at once in an UnsupportedOpsError naming op, node and reason.

If on a run-time condition and Loop (without scan outputs) become `if` / `loop` nodes. ONNX
subgraphs read outer values by name; the IR's take each as an explicit capture, a subgraph
input the node passes in (_ScopedEnv), like the TorchScript and torch.export frontends do.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..archive.format import DTYPE_CODES
from ..errors import ExportError, UnsupportedOpsError
from ..ir.graph import NODE_OUTPUT, Graph, Value
from ..ir.ops import BY_NAME, OpError, infer_shapes
from ..ir.verify import verify_graph


def require_onnx():
    try:
        import onnx  # noqa: F401
        import onnx.reference  # noqa: F401
        import onnx.shape_inference  # noqa: F401
    except ImportError:
        raise ExportError("importing ONNX needs the optional 'onnx' package: pip install 'deploykit[onnx]' "
                          "(or pip install onnx)") from None
    return onnx


def is_onnx_model(model) -> bool:
    """An ONNX file path (by extension) or an onnx.ModelProto."""
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model).lower().endswith(".onnx")
    return type(model).__name__ == "ModelProto" and type(model).__module__.startswith("onnx")


class _Unsupported(Exception):
    """A node (or attribute combination) the runtime cannot compute; reported with the node."""


class _NeedsStandIn(Exception):
    """A node needs at import a value that comes from an already-reported node: not reported again."""


# ONNX TensorProto element types the runtime has, and their IR dtype names.
_ONNX_DTYPES = {1: "f32", 7: "i64", 9: "bool"}


def _onnx_dtype_name(elem_type: int) -> str:
    from onnx import TensorProto

    try:
        return TensorProto.DataType.Name(elem_type).lower()
    except ValueError:
        return f"element type {elem_type}"


def _ir_dtype(elem_type: int, what: str) -> str:
    if elem_type not in _ONNX_DTYPES:
        raise _Unsupported(f"{what} is {_onnx_dtype_name(elem_type)}; the runtime computes in float32, int64 and "
                           "bool")
    return _ONNX_DTYPES[elem_type]


def _numpy_ir_dtype(array: np.ndarray, what: str) -> str:
    for name, dtype in (("f32", np.float32), ("i64", np.int64), ("bool", np.bool_)):
        if array.dtype == dtype:
            return name
    raise _Unsupported(f"{what} is {array.dtype}; the runtime computes in float32, int64 and bool")


def _fmt(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -max(rank, 1) <= axis < max(rank, 1):
        raise _Unsupported(f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def _attrs(node) -> Dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _static_shape(type_proto) -> Optional[Tuple[int, ...]]:
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    dims = []
    for d in type_proto.tensor_type.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(int(d.dim_value))
    return tuple(dims)


# Ops whose result differs from call to call: never evaluated at import.
_NONDETERMINISTIC = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial",
                     "Bernoulli"}


class _ScopedEnv(dict):
    """The env of a subgraph (If branch, Loop body): ONNX subgraphs read outer values by name, the IR's
    take them as explicit captures (docs/ops.md). An outer name read here for the first time becomes
    a subgraph input (a Value: the node passes the outer value in) or is the outer array itself (known
    at import: materialized as this graph's own constant)."""

    def __init__(self, importer: "_Importer", outer: Dict[str, Any]):
        super().__init__()
        self.importer = importer
        self.outer = outer

    def __contains__(self, name) -> bool:
        return dict.__contains__(self, name) or name in self.outer

    def get(self, name, default=None):
        return self[name] if name in self else default

    def __missing__(self, name):
        local = self.importer.capture(self.outer[name])
        self[name] = local
        return local


class _Importer:
    """Walks one ONNX graph. env maps ONNX value names to a numpy array (known at import) or a Value.

    A subgraph's importer (parent given) builds its own IR graph and shares the reporting state
    with the parent: ONNX value names are unique across a model's graphs."""

    def __init__(self, model, graph: Graph, opset: int, parent: Optional["_Importer"] = None):
        self.model = model
        self.graph = graph
        self.opset = opset
        self.parent = parent
        self.env: Dict[str, Union[np.ndarray, Value]] = {} if parent is None else _ScopedEnv(self, parent.env)
        self.materialized: Dict[int, Value] = {}
        self.captured: List[Value] = []  # outer values this subgraph reads, in input order
        self.capture_inputs: List[Value] = []  # the subgraph input standing for each of them
        if parent is not None:
            for shared in ("types", "unsupported", "poisoned", "needs_constant", "stand_ins", "empty_inputs"):
                setattr(self, shared, getattr(parent, shared))
            return
        self.types: Dict[str, Any] = {}  # ONNX value name -> TypeProto from shape inference
        self.unsupported: List[Tuple[str, str, str]] = []  # (op_type, node name, reason)
        self.poisoned: set = set()
        self.needs_constant: set = set()  # graph inputs an op needs to know at import (e.g. Reshape's shape)
        # Values standing in for outputs of unsupported nodes (typed from ONNX shape inference), so that
        # the nodes after them are still checked and every unsupported node is reported in one go.
        self.stand_ins: set = set()
        self.empty_inputs: set = set()  # graph inputs with a 0 dim (reported; stand-ins until then)

    def child(self, name: str) -> "_Importer":
        return _Importer(self.model, Graph(name), self.opset, self)

    def capture(self, outer):
        """This subgraph's stand-in for an outer value (see _ScopedEnv)."""
        if not isinstance(outer, Value):
            return outer  # an array: known at import, a constant wherever it is used
        if id(outer) in self.stand_ins:
            local = Value(outer.name, outer.dtype, outer.shape, NODE_OUTPUT)  # an already reported node's
            self.stand_ins.add(id(local))
            return local
        local = self.graph.add_input(outer.name, outer.dtype, outer.shape)
        self.captured.append(outer)
        self.capture_inputs.append(local)
        return local

    # -- values ------------------------------------------------------------------------------

    def is_const(self, name: str) -> bool:
        return name == "" or isinstance(self.env.get(name), np.ndarray)

    def const(self, name: str, what: str) -> Optional[np.ndarray]:
        """An input that must be known at import time (absent optional input: None)."""
        if name == "":
            return None
        value = self.env[name]
        if name in self.empty_inputs:
            self.needs_constant.add(name)
        if id(value) in self.stand_ins:
            raise _NeedsStandIn()
        if not isinstance(value, np.ndarray):
            if isinstance(value, Value) and self._is_model_input(value):
                self.needs_constant.add(name)
            raise _Unsupported(f"{what} '{name}' must be a constant (an initializer or computable at import), "
                               "it is computed at run time")
        return value

    def _is_model_input(self, value: Value) -> bool:
        """Whether value is a graph input of the model (seen through the captures of subgraphs)."""
        importer = self
        while importer.parent is not None:
            index = next((i for i, v in enumerate(importer.capture_inputs) if v is value), None)
            if index is None:
                return False  # a subgraph's own input (loop counter, carried value)
            value, importer = importer.captured[index], importer.parent
        return any(value is v for v in importer.graph.inputs)

    def value(self, name: str, what: str = "input") -> Value:
        """An input as an IR value; arrays known at import become IR constants (once each)."""
        value = self.env[name]
        if isinstance(value, Value):
            return value
        key = id(value)
        if key not in self.materialized:
            _numpy_ir_dtype(value, f"constant {what} '{name}'")
            self.materialized[key] = self.graph.add_constant(name or "const", value)
        return self.materialized[key]

    def add_const(self, base: str, array: np.ndarray) -> Value:
        return self.graph.add_constant(base, np.asarray(array))

    def shape_of(self, name: str) -> Tuple[int, ...]:
        value = self.env[name]
        return tuple(value.shape)

    def emit(self, op: str, inputs: Sequence[Optional[Value]], attrs: Dict[str, Any], out_name: str,
             node_name: str = "", dtype: Optional[str] = None) -> Value:
        """Adds one runtime node; its output shape is deploykit's shape inference (checked by the verifier)."""
        if op not in BY_NAME:
            raise _Unsupported(f"needs the runtime op '{op}', which this build of deploykit does not have")
        schema = BY_NAME[op]
        if any(v is not None and id(v) in self.stand_ins and 0 in v.shape for v in inputs):
            raise _NeedsStandIn()  # an empty graph input, already reported
        if schema.infer_dtypes is None:  # a float32-only op
            for i, v in enumerate(inputs):
                if v is not None and v.dtype not in schema.dtypes:
                    raise _Unsupported(f"input {i} is {_dtype_long(v.dtype)}; the runtime's {op} takes "
                                       f"{', '.join(_dtype_long(d) for d in schema.dtypes)}")
        try:
            shapes = infer_shapes(op, [None if v is None else v.shape for v in inputs], attrs)
            if schema.infer_dtypes is not None:  # typed ops (i64 / bool): the runtime's own dtype rule
                (inferred,) = schema.infer_dtypes([None if v is None else v.dtype for v in inputs], attrs)
                if dtype is not None and dtype != inferred:
                    raise ExportError(f"internal error: {op} gives {inferred}, the ONNX mapping expected {dtype}")
                dtype = inferred
        except OpError as e:
            raise _Unsupported(f"{op}: {e}") from None
        if any(d == 0 for d in shapes[0]):
            raise _Unsupported(f"the output {_fmt(shapes[0])} is empty; the runtime has no empty tensors")
        if dtype is None:
            dtype = next(v.dtype for v in inputs if v is not None)
        node = self.graph.add_node(op, inputs, [(out_name or op, dtype, shapes[0])], attrs, name=node_name)
        return node.outputs[0]

    # -- the walk ------------------------------------------------------------------------------

    def run_nodes(self, nodes) -> None:
        for index, node in enumerate(nodes):
            label = node.name or f"#{index} ({node.op_type})"
            ins = [n for n in node.input if n != ""]
            if any(n in self.poisoned for n in ins):
                self.poisoned.update(node.output)
                continue
            missing = [n for n in ins if n not in self.env]
            if missing:
                self._report(node, label, f"input '{missing[0]}' is not defined before this node")
                continue
            try:
                if node.domain not in ("", "ai.onnx"):
                    raise _Unsupported(f"custom domain '{node.domain}'")
                outputs = self._fold(node)
                if outputs is None:
                    handler = _HANDLERS.get(node.op_type)
                    if handler is None:
                        raise _Unsupported("no runtime op computes it")
                    outputs = handler(self, node, _attrs(node), label)
                for name, result in zip(node.output, outputs):
                    if name == "":
                        continue
                    if result is None:
                        self.poisoned.add(name)  # an unused optional output (e.g. MaxPool Indices)
                        continue
                    if isinstance(result, Value):
                        self._check_inferred(node, name, result)
                    self.env[name] = result
            except _Unsupported as e:
                self._report(node, label, str(e))
            except _NeedsStandIn:
                self._stand_in(node)

    def _report(self, node, label: str, reason: str) -> None:
        self.unsupported.append((node.op_type, label, reason))
        self._stand_in(node)

    def _stand_in(self, node) -> None:
        for name in node.output:
            if not name:
                continue
            type_proto = self.types.get(name)
            shape = None if type_proto is None else _static_shape(type_proto)
            dtype = None if type_proto is None else _ONNX_DTYPES.get(type_proto.tensor_type.elem_type)
            if shape is None or dtype is None:
                self.poisoned.add(name)  # nothing to check the nodes after it with
                continue
            value = Value(name, dtype, shape, NODE_OUTPUT)
            self.stand_ins.add(id(value))
            self.env[name] = value

    def _check_inferred(self, node, name: str, value: Value) -> None:
        """deploykit's shape and dtype of an output must equal ONNX's (when ONNX inferred them)."""
        type_proto = self.types.get(name)
        if type_proto is None:
            return
        shape = _static_shape(type_proto)
        if shape is not None and shape != value.shape:
            raise _Unsupported(f"deploykit computes output '{name}' as {_fmt(value.shape)}, ONNX as {_fmt(shape)}")
        elem = type_proto.tensor_type.elem_type
        if elem and _ONNX_DTYPES.get(elem) != value.dtype:
            raise _Unsupported(f"output '{name}' is {_onnx_dtype_name(elem)} in ONNX, {value.dtype} here")

    def _fold(self, node) -> Optional[List[Any]]:
        """Evaluates a node whose inputs are all known at import (and Shape/Size of static tensors)."""
        if node.op_type in ("Shape", "Size") and node.input[0] in self.env:
            shape = self.shape_of(node.input[0])
            if node.op_type == "Size":
                return [np.array(_numel(shape), dtype=np.int64)]
            a = _attrs(node)
            rank = len(shape)
            start = a.get("start", 0)
            end = a.get("end", rank)
            start = min(max(start + rank if start < 0 else start, 0), rank)
            end = min(max(end + rank if end < 0 else end, 0), rank)
            return [np.array(shape[start:end], dtype=np.int64)]
        if node.op_type in _NONDETERMINISTIC or node.op_type in ("If", "Loop", "Scan"):
            return None
        if any(a.type in (5, 10) for a in node.attribute):  # GRAPH / GRAPHS: subgraphs may read outer scope
            return None
        if not all(self.is_const(n) for n in node.input):
            return None
        from onnx.reference import ReferenceEvaluator

        feeds = {n: self.env[n] for n in node.input if n != ""}
        try:
            results = ReferenceEvaluator(node, opsets={"": self.opset}).run(None, feeds)
        except Exception as e:  # the reference evaluator raises many kinds of errors for unsupported inputs
            raise _Unsupported(f"evaluating it at import failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        return [None if r is None else np.asarray(r) for r in results]


def _dtype_long(dtype: str) -> str:
    return {"f32": "float32", "i64": "int64", "bool": "bool"}.get(dtype, dtype)


# -- op mappings ------------------------------------------------------------------------------------
# Each takes (importer, node, attrs, label) and returns the node's outputs (Value, array or None).


def _unary(op: str):
    def lower(im: _Importer, node, a, label):
        return [im.emit(op, [im.value(node.input[0])], {}, node.output[0], label)]
    return lower


def _binary(op: str, extra: Optional[Dict[str, Any]] = None, dtype: Optional[str] = None):
    def lower(im: _Importer, node, a, label):
        if a.get("broadcast", 0) and "axis" in a:
            raise _Unsupported("legacy broadcast with an axis attribute (opset < 7)")
        x, y = im.value(node.input[0]), im.value(node.input[1])
        if x.dtype != y.dtype:
            raise _Unsupported(f"mixed dtypes {x.dtype} and {y.dtype}")
        return [im.emit(op, [x, y], dict(extra or {}), node.output[0], label, dtype)]
    return lower


def _identity(im: _Importer, node, a, label):
    return [im.env[node.input[0]]] + [None] * (len(node.output) - 1)


def _dropout(im: _Importer, node, a, label):
    if len(node.input) > 2 and node.input[2] != "":
        training = im.const(node.input[2], "training_mode")
        if bool(np.asarray(training)):
            raise _Unsupported("training_mode=true (dropout at inference is the identity only)")
    if len(node.output) > 1 and node.output[1]:
        raise _Unsupported("the mask output is used")
    return [im.env[node.input[0]]]


def _clip(im: _Importer, node, a, label):
    x = im.value(node.input[0])
    if im.opset < 11:
        low = float(a.get("min", -np.finfo(np.float32).max))
        high = float(a.get("max", np.finfo(np.float32).max))
    else:
        lo = im.const(node.input[1], "min") if len(node.input) > 1 else None
        hi = im.const(node.input[2], "max") if len(node.input) > 2 else None
        low = -math.inf if lo is None else float(lo)
        high = math.inf if hi is None else float(hi)
    if x.dtype != "f32":
        raise _Unsupported(f"Clip on {_dtype_long(x.dtype)}; the runtime's hardtanh takes float32")
    if low > high:
        raise _Unsupported(f"min {low} > max {high} (ONNX then returns max everywhere; hardtanh needs min <= max)")
    if low == 0.0 and high == math.inf:
        return [im.emit("relu", [x], {}, node.output[0], label)]
    return [im.emit("hardtanh", [x], {"min_val": low, "max_val": high}, node.output[0], label)]


def _reshape(im: _Importer, node, a, label):
    x = im.value(node.input[0])
    if im.opset < 5:
        shape = list(a["shape"])
    else:
        shape = [int(d) for d in im.const(node.input[1], "shape").reshape(-1)]
    allowzero = a.get("allowzero", 0)
    out = []
    for i, d in enumerate(shape):
        if d == 0 and not allowzero:
            if i >= x.rank:
                raise _Unsupported(f"shape {shape}: 0 at position {i} copies a dim the input lacks")
            d = x.shape[i]
        out.append(d)
    if out.count(-1) > 1:
        raise _Unsupported(f"shape {shape} has more than one -1")
    if -1 in out:
        known = _numel([d for d in out if d != -1])
        if known == 0 or x.numel % known:
            raise _Unsupported(f"cannot reshape {_fmt(x.shape)} to {shape}")
        out[out.index(-1)] = x.numel // known
    return [_reshape_to(im, x, out, node.output[0], label)]


def _reshape_to(im: _Importer, x: Value, shape: Sequence[int], out_name: str, label: str) -> Value:
    if tuple(shape) == x.shape:
        return x  # a no-op reshape is the value itself
    return im.emit("reshape", [x], {"shape": [int(d) for d in shape]}, out_name, label)


def _flatten(im: _Importer, node, a, label):
    x = im.value(node.input[0])
    axis = a.get("axis", 1)
    axis = axis + x.rank if axis < 0 else axis
    if not 0 <= axis <= x.rank:
        raise _Unsupported(f"axis {a.get('axis', 1)} out of range for rank {x.rank}")
    return [_reshape_to(im, x, [_numel(x.shape[:axis]), _numel(x.shape[axis:])], node.output[0], label)]


def _squeeze_unsqueeze(im: _Importer, node, a, label):
    """Static shapes: both are reshapes to the shape ONNX inferred."""
    x = im.value(node.input[0])
    shape = _static_shape(im.types[node.output[0]]) if node.output[0] in im.types else None
    if shape is None:
        raise _Unsupported("the output shape is not known statically")
    return [_reshape_to(im, x, shape, node.output[0], label)]


def _concat(im: _Importer, node, a, label):
    xs = [im.value(n) for n in node.input if n != ""]
    axis = _norm_axis(a["axis"], xs[0].rank)
    if len(xs) == 1:
        return [xs[0]]
    return [im.emit("cat", xs, {"axis": axis}, node.output[0], label)]


def _softmax(im: _Importer, node, a, label):
    x = im.value(node.input[0])
    if x.rank == 0:
        raise _Unsupported("softmax of a scalar")
    if im.opset >= 13:
        axis = _norm_axis(a.get("axis", -1), x.rank)
        return [im.emit("softmax", [x], {"axis": axis}, node.output[0], label)]
    # Before opset 13 the input is coerced to 2-D [prod(dims < axis), prod(dims >= axis)] and
    # normalized over the second dim: a softmax over one axis of that 2-D view, then back.
    axis = _norm_axis(a.get("axis", 1), x.rank)
    if axis == x.rank - 1:
        return [im.emit("softmax", [x], {"axis": axis}, node.output[0], label)]
    flat = _reshape_to(im, x, [_numel(x.shape[:axis]), _numel(x.shape[axis:])], node.output[0] + "_2d", label)
    y = im.emit("softmax", [flat], {"axis": 1}, node.output[0] + "_softmax", label)
    return [_reshape_to(im, y, x.shape, node.output[0], label)]


def _reduce(op: str, axes_input_opset: int):
    def lower(im: _Importer, node, a, label):
        x = im.value(node.input[0])
        if im.opset >= axes_input_opset:
            axes = im.const(node.input[1], "axes") if len(node.input) > 1 and node.input[1] else None
            axes = None if axes is None else [int(v) for v in axes.reshape(-1)]
        else:
            axes = a.get("axes")
        keepdims = int(a.get("keepdims", 1))
        if not axes:
            if a.get("noop_with_empty_axes", 0):
                return [x]
            axes = list(range(x.rank))
        dims = sorted({_norm_axis(d, x.rank, "axes entry") for d in axes})
        if x.rank == 0:
            return [x]
        return [im.emit(op, [x], {"dims": dims, "keepdim": keepdims}, node.output[0], label)]
    return lower


def _global_average_pool(im: _Importer, node, a, label):
    x = im.value(node.input[0])
    if x.rank < 3:
        raise _Unsupported(f"input {_fmt(x.shape)} has no spatial dims")
    if x.rank == 4:
        return [im.emit("adaptive_avg_pool2d", [x], {"output_size": [1, 1]}, node.output[0], label)]
    return [im.emit("mean", [x], {"dims": list(range(2, x.rank)), "keepdim": 1}, node.output[0], label)]


def _pool_pads(x: Value, a, kernel, strides, dilations) -> List[int]:
    """[top, left, bottom, right] from pads or auto_pad (ONNX's SAME_UPPER / SAME_LOWER rule)."""
    auto_pad = a.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad in ("NOTSET", ""):
        pads = list(a.get("pads", [0, 0, 0, 0]))
        if len(pads) != 4:
            raise _Unsupported(f"pads {pads} (2-D only)")
        return pads
    if auto_pad == "VALID":
        return [0, 0, 0, 0]
    begin, end = [], []
    for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        small, large = total // 2, total - total // 2
        begin.append(large if auto_pad == "SAME_LOWER" else small)
        end.append(small if auto_pad == "SAME_LOWER" else large)
    return begin + end


def _pool2d_common(x: Value, a, what: str):
    if x.rank != 4:
        raise _Unsupported(f"{what} on {_fmt(x.shape)} (the runtime pools 2-D NCHW only)")
    kernel = list(a["kernel_shape"])
    if len(kernel) != 2:
        raise _Unsupported(f"kernel_shape {kernel} (2-D only)")
    strides = list(a.get("strides", [1, 1]))
    dilations = list(a.get("dilations", [1, 1]))
    pads = _pool_pads(x, a, kernel, strides, dilations)
    if any(pads[i] > kernel[i % 2] // 2 for i in range(4)):
        raise _Unsupported(f"pads {pads} larger than half the kernel {kernel} (the runtime follows PyTorch, "
                           "which requires pads <= kernel/2)")
    return kernel, strides, dilations, pads, int(a.get("ceil_mode", 0))


def _max_pool(im: _Importer, node, a, label):
    if len(node.output) > 1 and node.output[1]:
        raise _Unsupported("the Indices output is used")
    x = im.value(node.input[0])
    if x.dtype != "f32":
        raise _Unsupported(f"MaxPool on {_dtype_long(x.dtype)}; the runtime's max_pool2d takes float32")
    kernel, strides, dilations, pads, ceil_mode = _pool2d_common(x, a, "MaxPool")
    return [im.emit("max_pool2d", [x], {"kernel": kernel, "stride": strides, "pads": pads, "dilation": dilations,
                                        "ceil_mode": ceil_mode}, node.output[0], label)]


def _average_pool(im: _Importer, node, a, label):
    x = im.value(node.input[0])
    kernel, strides, dilations, pads, ceil_mode = _pool2d_common(x, a, "AveragePool")
    if dilations != [1, 1]:
        raise _Unsupported(f"dilations {dilations} (the runtime's avg_pool2d has no dilation)")
    count_include_pad = int(a.get("count_include_pad", 0))
    if ceil_mode and count_include_pad:
        # PyTorch (and so the runtime) divides a window that runs past the padded input by its
        # clipped size; ONNX divides by the full kernel area there.
        raise _Unsupported("ceil_mode with count_include_pad (ONNX and the runtime divide windows that run past "
                           "the padding differently)")
    return [im.emit("avg_pool2d", [x], {"kernel": kernel, "stride": strides, "pads": pads, "ceil_mode": ceil_mode,
                                        "count_include_pad": count_include_pad, "divisor_override": 0},
                    node.output[0], label)]


def _conv(im: _Importer, node, a, label):
    x = im.value(node.input[0])
    w = im.value(node.input[1], "weight")
    if x.rank != 4 or w.rank != 4:
        raise _Unsupported(f"Conv on {_fmt(x.shape)} with weight {_fmt(w.shape)} (the runtime convolves 2-D NCHW "
                           "only)")
    kernel = list(a.get("kernel_shape", w.shape[2:]))
    if kernel != list(w.shape[2:]):
        raise _Unsupported(f"kernel_shape {kernel} differs from the weight's {list(w.shape[2:])}")
    strides = list(a.get("strides", [1, 1]))
    dilations = list(a.get("dilations", [1, 1]))
    pads = _pool_pads(x, a, kernel, strides, dilations)
    bias = im.value(node.input[2], "bias") if len(node.input) > 2 and node.input[2] else None
    return [im.emit("conv2d", [x, w, bias], {"stride": strides, "pads": pads, "dilation": dilations,
                                            "groups": int(a.get("group", 1))}, node.output[0], label)]


def _batch_norm(im: _Importer, node, a, label):
    if a.get("training_mode", 0):
        raise _Unsupported("training_mode=1 (batch statistics)")
    if any(n for n in node.output[1:]):
        raise _Unsupported("the running-statistics outputs are used (training)")
    if im.opset < 7 and a.get("is_test", 0) == 0:
        raise _Unsupported("is_test=0 (training, opset < 7)")
    x = im.value(node.input[0])
    if x.rank < 2:
        raise _Unsupported(f"input {_fmt(x.shape)} has no channel dim")
    scale, bias, mean, var = (im.value(n, role) for n, role in zip(node.input[1:5],
                                                                     ("scale", "bias", "mean", "var")))
    eps = float(a.get("epsilon", 1e-5))
    return [im.emit("batch_norm", [x, mean, var, scale, bias], {"eps": eps}, node.output[0], label)]


def _linear(im: _Importer, x: Value, weight: np.ndarray, bias: Optional[np.ndarray], out: str, label: str) -> Value:
    """x @ weight.T + bias with the weight [OUT, IN] known at import."""
    w = im.add_const(out + "_weight", np.ascontiguousarray(weight, dtype=np.float32))
    b = None if bias is None else im.add_const(out + "_bias", np.ascontiguousarray(bias, dtype=np.float32))
    return im.emit("linear", [x, w, b], {}, out, label)


def _gemm(im: _Importer, node, a, label):
    """Y = alpha * A' B' + beta * C as a linear layer: A' a runtime matrix, B a constant."""
    if a.get("transA", 0):
        raise _Unsupported("transA=1 (only A @ B' with A [M,K] is a linear layer)")
    x = im.value(node.input[0])
    if x.rank != 2 or x.dtype != "f32":
        raise _Unsupported(f"A is {x.dtype}{_fmt(x.shape)}; a linear layer takes a float32 matrix")
    b = im.const(node.input[1], "B")
    if b.dtype != np.float32:
        raise _Unsupported(f"B is {b.dtype}; the runtime's linear takes float32")
    weight = b if a.get("transB", 0) else b.T  # linear wants [N, K]
    weight = weight * np.float32(a.get("alpha", 1.0))
    n = weight.shape[0]
    beta = np.float32(a.get("beta", 1.0))
    c_name = node.input[2] if len(node.input) > 2 else ""
    if c_name == "":
        return [_linear(im, x, weight, None, node.output[0], label)]
    if im.is_const(c_name):
        c = im.const(c_name, "C") * beta
        if c.ndim <= 1 or (c.ndim == 2 and c.shape[0] == 1):
            return [_linear(im, x, weight, np.broadcast_to(c.reshape(-1), (n,)), node.output[0], label)]
        y = _linear(im, x, weight, None, node.output[0] + "_matmul", label)
        return [im.emit("add", [y, im.add_const(node.output[0] + "_c", c.astype(np.float32))], {"alpha": 1.0},
                        node.output[0], label)]
    y = _linear(im, x, weight, None, node.output[0] + "_matmul", label)
    return [im.emit("add", [y, im.value(c_name)], {"alpha": float(beta)}, node.output[0], label)]


def _matmul(im: _Importer, node, a, label):
    x = im.value(node.input[0])
    if not im.is_const(node.input[1]):
        raise _Unsupported("both operands are computed at run time (the runtime has MatMul only as a linear layer "
                           "with a constant [K, N] matrix)")
    b = im.const(node.input[1], "B")
    if b.ndim != 2 or x.rank < 1 or x.dtype != "f32" or b.dtype != np.float32:
        raise _Unsupported(f"{x.dtype}{_fmt(x.shape)} @ {b.dtype}{_fmt(b.shape)} (a linear layer is float32 "
                           "[..., K] @ [K, N])")
    return [_linear(im, x, b.T, None, node.output[0], label)]


_COMPARE_MODES = {"Equal": 0, "Less": 2, "LessOrEqual": 3, "Greater": 4, "GreaterOrEqual": 5}
_NOT_EQUAL = 1  # `compare` mode ne (no ONNX op of its own)
_LOGICAL_MODES = {"And": 0, "Or": 1, "Xor": 2}


def _cast(im: _Importer, node, a, label):
    x = im.value(node.input[0])
    target = _ir_dtype(int(a["to"]), "the target type")
    if target == x.dtype:
        return [x]
    return [im.emit("cast", [x], {"to": DTYPE_CODES[target]}, node.output[0], label, target)]


def _if(im: _Importer, node, a, label):
    """An If on a condition known at import is its taken branch, inlined; on a run-time condition it is
    an `if` node whose branches are subgraphs with explicit captures."""
    if not im.is_const(node.input[0]):
        return _runtime_if(im, node, a, label)
    branch = a["then_branch"] if bool(np.asarray(im.const(node.input[0], "cond")).reshape(-1)[0]) \
        else a["else_branch"]
    before = len(im.unsupported)
    im.run_nodes(branch.node)
    if len(im.unsupported) > before or any(o.name in im.poisoned for o in branch.output):
        raise _NeedsStandIn()  # the branch's own nodes are reported
    return [im.env[o.name] for o in branch.output]


def _scalar(im: _Importer, name: str, dtype: str, what: str, label: str) -> Value:
    """A run-time if/loop control input as the dtype[] scalar the runtime takes."""
    value = im.value(name, what)
    if value.dtype != dtype or value.numel != 1:
        raise _Unsupported(f"{what} is {value.dtype}{_fmt(value.shape)}; the runtime takes one {_dtype_long(dtype)}")
    if value.rank == 0:
        return value
    # ONNX allows any one-element tensor ([1], [1,1]); the runtime's if/loop take rank 0. The sum of
    # the one element is that element, as a rank-0 value (sum takes numbers: a bool goes through i64).
    dims = {"dims": list(range(value.rank)), "keepdim": 0}
    if dtype == "i64":
        return im.emit("sum", [value], dims, f"{name}_scalar", label)
    as_int = im.emit("cast", [value], {"to": DTYPE_CODES["i64"]}, f"{name}_i64", label, "i64")
    total = im.emit("sum", [as_int], dims, f"{name}_sum", label)
    zero = im.add_const(f"{name}_zero", np.array(0, np.int64))
    return im.emit("compare", [total, zero], {"mode": _NOT_EQUAL}, f"{name}_scalar", label, "bool")


def _run_subgraph(im: _Importer, sub: _Importer, onnx_graph) -> List[Value]:
    """Imports an ONNX subgraph's nodes into sub; returns its outputs as values of sub's graph."""
    before = len(im.unsupported)
    sub.run_nodes(onnx_graph.node)
    if len(im.unsupported) > before or any(o.name in im.poisoned for o in onnx_graph.output):
        raise _NeedsStandIn()  # the subgraph's own nodes are reported
    outputs = []
    for o in onnx_graph.output:
        if id(sub.env[o.name]) in im.stand_ins:
            raise _NeedsStandIn()  # an outer value from a reported node
        outputs.append(sub.value(o.name, "output"))
    return outputs


def _runtime_if(im: _Importer, node, a, label):
    cond = _scalar(im, node.input[0], "bool", "the condition", label)
    branches, results = [], []
    for which in ("then_branch", "else_branch"):
        sub = im.child(f"{node.output[0] or 'if'}_{which.split('_')[0]}")
        results.append(_run_subgraph(im, sub, a[which]))
        branches.append(sub)
    then_out, else_out = results
    if len(then_out) != len(else_out):
        raise _Unsupported(f"then_branch returns {len(then_out)} values, else_branch {len(else_out)}")
    for k, (t, e) in enumerate(zip(then_out, else_out)):
        if (t.dtype, t.shape) != (e.dtype, e.shape):
            raise _Unsupported(f"output {k} is {t.dtype}{_fmt(t.shape)} in then_branch and {e.dtype}{_fmt(e.shape)} "
                               "in else_branch (the runtime's shapes do not depend on the branch taken)")
    # Both branches take the union of what either captured, in one order (docs/ops.md `if`).
    captures: List[Value] = []
    for sub in branches:
        captures += [v for v in sub.captured if all(v is not c for c in captures)]
    for sub, outputs in zip(branches, results):
        mine = {id(outer): local for outer, local in zip(sub.captured, sub.capture_inputs)}
        sub.graph.inputs = [mine[id(outer)] if id(outer) in mine
                            else sub.graph.add_input(outer.name, outer.dtype, outer.shape) for outer in captures]
        sub.graph.outputs = outputs
    names = [n or f"{label}_out{k}" for k, n in enumerate(node.output)]
    ir_node = im.graph.add_node("if", [cond] + captures,
                                [(name, v.dtype, v.shape) for name, v in zip(names, then_out)],
                                {"then_branch": branches[0].graph, "else_branch": branches[1].graph}, name=label)
    return list(ir_node.outputs)


def _loop(im: _Importer, node, a, label):
    """Loop without scan outputs -> a `loop` node (docs/ops.md): body(iter, cond, carried..., captures...)."""
    body = a["body"]
    carried_names = [n for n in node.input[2:]]
    n_carried = len(carried_names)
    if len(body.output) != 1 + n_carried:
        raise _Unsupported(f"{len(body.output) - 1 - n_carried} scan output(s) (per-iteration results stacked "
                           "into a tensor): the runtime's loop has carried values only")
    if len(body.input) != 2 + n_carried:
        raise _Unsupported(f"the body takes {len(body.input)} inputs, expected 2 + {n_carried} carried")
    trip = _scalar(im, node.input[0], "i64", "M (the trip count)", label) if node.input[0] else None
    cond = _scalar(im, node.input[1], "bool", "cond", label) if len(node.input) > 1 and node.input[1] else None
    carried = [im.value(n, "loop-carried value") for n in carried_names]
    sub = im.child(f"{node.output[0] or 'loop'}_body")
    # Typed by the runtime's contract: iter i64[], cond bool[], each carried value as it enters.
    for proto, (dtype, shape) in zip(body.input, [("i64", ()), ("bool", ())] + [(v.dtype, v.shape) for v in carried]):
        sub.env[proto.name] = sub.graph.add_input(proto.name, dtype, shape)
    outputs = _run_subgraph(im, sub, body)
    if (outputs[0].dtype, outputs[0].shape) != ("bool", ()):
        raise _Unsupported(f"the body's condition output is {outputs[0].dtype}{_fmt(outputs[0].shape)}, the "
                           "runtime takes bool[]")
    for k, (out, v) in enumerate(zip(outputs[1:], carried)):
        if (out.dtype, out.shape) != (v.dtype, v.shape):
            raise _Unsupported(f"loop-carried value {k} enters as {v.dtype}{_fmt(v.shape)} and leaves the body as "
                               f"{out.dtype}{_fmt(out.shape)} (the runtime's shapes are fixed)")
    sub.graph.inputs = sub.graph.inputs[:2 + n_carried] + sub.capture_inputs
    sub.graph.outputs = outputs
    names = [n or f"{label}_out{k}" for k, n in enumerate(node.output)]
    ir_node = im.graph.add_node("loop", [trip, cond] + carried + sub.captured,
                                [(name, v.dtype, v.shape) for name, v in zip(names, carried)],
                                {"body": sub.graph, "num_carried": n_carried}, name=label)
    return list(ir_node.outputs)


_HANDLERS: Dict[str, Callable] = {
    "Relu": _unary("relu"),
    "Sigmoid": _unary("sigmoid"),
    "Add": _binary("add", {"alpha": 1.0}),
    "Mul": _binary("mul"),
    "Sub": _binary("sub"),
    "Div": _binary("div"),
    "Not": _unary("logical_not"),
    "Identity": _identity,
    "Dropout": _dropout,
    "Clip": _clip,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Squeeze": _squeeze_unsqueeze,
    "Unsqueeze": _squeeze_unsqueeze,
    "Concat": _concat,
    "Softmax": _softmax,
    "ReduceMean": _reduce("mean", 18),
    "ReduceSum": _reduce("sum", 13),
    "GlobalAveragePool": _global_average_pool,
    "MaxPool": _max_pool,
    "AveragePool": _average_pool,
    "Conv": _conv,
    "BatchNormalization": _batch_norm,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Cast": _cast,
    "If": _if,
    "Loop": _loop,
}
for _op, _mode in _COMPARE_MODES.items():
    _HANDLERS[_op] = _binary("compare", {"mode": _mode}, "bool")
for _op, _mode in _LOGICAL_MODES.items():
    _HANDLERS[_op] = _binary("logical", {"mode": _mode}, "bool")

# ONNX ops this frontend maps onto runtime ops (docs/CONFORMANCE.md reports their node tests).
SUPPORTED_OPS = tuple(sorted(op for op in _HANDLERS if op not in ("Identity", "Dropout")))


# -- entry points ------------------------------------------------------------------------------------


def _load(model):
    onnx = require_onnx()
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.exists(path):
            raise ExportError(f"ONNX file '{path}' does not exist")
        try:
            return onnx.load(path), os.path.basename(path)
        except Exception as e:
            raise ExportError(f"cannot read ONNX file '{path}': {str(e).splitlines()[0] if str(e) else e}") from None
    return model, model.graph.name or "model"


def import_onnx(model, input_shapes: Optional[Dict[str, Sequence[int]]] = None,
                constant_inputs: Optional[Dict[str, np.ndarray]] = None) -> Graph:
    """An ONNX file path or onnx.ModelProto as an IR Graph (verified, not yet optimized).

    input_shapes fixes the shapes of inputs the model declares with symbolic dims.
    constant_inputs binds graph inputs to fixed values: they become constants and leave the
    archive's inputs (for models that feed e.g. Reshape's shape or a weight as an input).
    Raises UnsupportedOpsError listing every node the runtime cannot compute; its
    ``inputs_needed_constant`` names the graph inputs that binding would make importable.
    """
    onnx = require_onnx()
    model, source = _load(model)
    # A model without the default domain has only nodes of other domains, each reported below.
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                 onnx.defs.onnx_opset_version())
    initializers = {t.name: t for t in model.graph.initializer}
    input_shapes = {k: tuple(int(d) for d in v) for k, v in (input_shapes or {}).items()}
    model = _with_input_shapes(model, initializers, input_shapes)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as e:
        raise ExportError(f"ONNX shape inference failed: {str(e).splitlines()[0]}") from None

    graph = Graph(model.graph.name or "main")
    im = _Importer(inferred, graph, opset)
    _collect_types(inferred.graph, im.types)
    from onnx import numpy_helper

    for name, tensor in initializers.items():
        im.env[name] = numpy_helper.to_array(tensor)
    constant_inputs = dict(constant_inputs or {})
    unknown = set(input_shapes) | set(constant_inputs)
    unknown -= {vi.name for vi in inferred.graph.input if vi.name not in initializers}
    if unknown:
        raise ExportError(f"no graph input named {', '.join(map(repr, sorted(unknown)))}")
    for name, array in constant_inputs.items():
        im.env[name] = np.asarray(array)
    bad_inputs = []
    for vi in inferred.graph.input:
        if vi.name in initializers or vi.name in constant_inputs:
            continue
        shape = _static_shape(vi.type)
        if not vi.type.HasField("tensor_type"):
            bad_inputs.append((vi.name, "is not a tensor"))
            continue
        if shape is None:
            dims = [d.dim_param or "?" if not d.HasField("dim_value") else str(d.dim_value)
                    for d in vi.type.tensor_type.shape.dim]
            bad_inputs.append((vi.name, f"has dynamic shape [{','.join(dims)}]; give a static shape "
                                        "(input_shapes= / --input-shape)"))
            continue
        try:
            dtype = _ir_dtype(vi.type.tensor_type.elem_type, f"input '{vi.name}'")
        except _Unsupported as e:
            bad_inputs.append((vi.name, str(e).replace(f"input '{vi.name}' ", "")))
            continue
        if any(d == 0 for d in shape):
            bad_inputs.append((vi.name, f"is empty {_fmt(shape)}; the runtime has no empty tensors"))
            # Kept as a stand-in: an op that needs it at import (an empty `axes`) still asks for it.
            im.env[vi.name] = Value(vi.name, dtype, shape, NODE_OUTPUT)
            im.stand_ins.add(id(im.env[vi.name]))
            im.empty_inputs.add(vi.name)
            continue
        im.env[vi.name] = graph.add_input(vi.name, dtype, shape)
    for name, reason in bad_inputs:
        im.unsupported.append(("graph input", name, reason))
        if name not in im.empty_inputs:
            im.poisoned.add(name)

    im.run_nodes(inferred.graph.node)
    outputs = []
    for vi in inferred.graph.output:
        if vi.name in im.poisoned:
            continue
        try:
            value = im.value(vi.name, "output") if vi.name in im.env else None
            if value is None:
                raise _Unsupported("never computed")
            outputs.append(value)
        except _Unsupported as e:
            im.unsupported.append(("graph output", vi.name, str(e)))
    if im.unsupported:
        lines = [f"  {op} '{name}': {reason}" if op.startswith("graph ") else f"  {op} (node '{name}'): {reason}"
                 for op, name, reason in im.unsupported]
        error = UnsupportedOpsError(f"the ONNX model '{source}' uses {len(im.unsupported)} construct(s) the "
                                    "deploykit runtime does not support:\n" + "\n".join(lines),
                                    [(op, name) for op, name, _ in im.unsupported])
        error.inputs_needed_constant = sorted(im.needs_constant)
        raise error
    graph.outputs = outputs
    verify_graph(graph, ExportError)
    return graph


def _collect_types(graph, types: Dict[str, Any]) -> None:
    """Value name -> TypeProto from shape inference, subgraphs (If branches) included."""
    for vi in list(graph.value_info) + list(graph.output) + list(graph.input):
        types.setdefault(vi.name, vi.type)
    for node in graph.node:
        for attr in node.attribute:
            for sub in ([attr.g] if attr.type == 5 else list(attr.graphs) if attr.type == 10 else []):
                _collect_types(sub, types)


def _with_input_shapes(model, initializers, input_shapes):
    """A copy of the model whose inputs have the given static shapes."""
    if not input_shapes:
        return model
    copy = type(model)()
    copy.CopyFrom(model)
    for vi in copy.graph.input:
        if vi.name in input_shapes and vi.name not in initializers:
            dims = vi.type.tensor_type.shape.dim
            shape = input_shapes[vi.name]
            if len(dims) and len(dims) != len(shape):
                raise ExportError(f"input '{vi.name}' has rank {len(dims)}, input_shapes gives {list(shape)}")
            del dims[:]
            for d in shape:
                dims.add().dim_value = d
    return copy


def import_for_export(model, example_inputs=None):
    """(graph, onnx.ModelProto, example arrays or None) for deploykit.export_onnx.

    example_inputs: None, or one array (numpy or torch) per graph input, fixing its shape.
    """
    model, _ = _load(model)
    names = [vi.name for vi in model.graph.input if vi.name not in {t.name for t in model.graph.initializer}]
    arrays = None
    input_shapes = None
    if example_inputs is not None:
        if not isinstance(example_inputs, (list, tuple)):
            example_inputs = (example_inputs,)
        arrays = [np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x) for x in example_inputs]
        if len(arrays) != len(names):
            raise ExportError(f"the ONNX model has {len(names)} input(s) ({', '.join(names)}), "
                              f"{len(arrays)} example input(s) were given")
        input_shapes = {name: array.shape for name, array in zip(names, arrays)}
    return import_onnx(model, input_shapes), model, arrays


def reference_test_vectors(model, graph: Graph, arrays: Optional[List[np.ndarray]]):
    """One test vector: the inputs (random when None, seeded) and onnx's reference outputs for them."""
    from onnx.reference import ReferenceEvaluator

    from ..archive.test_vectors import TestVectors
    from ..ir.graph import NUMPY_DTYPES

    if arrays is None:
        rng = np.random.default_rng(0)
        arrays = [rng.standard_normal(v.shape).astype(np.float32) if v.dtype == "f32"
                  else np.zeros(v.shape, NUMPY_DTYPES[v.dtype]) for v in graph.inputs]
    arrays = [np.ascontiguousarray(a, dtype=NUMPY_DTYPES[v.dtype]) for a, v in zip(arrays, graph.inputs)]
    try:
        outputs = ReferenceEvaluator(model).run(None, {v.name: a for v, a in zip(graph.inputs, arrays)})
    except Exception as e:
        raise ExportError(f"embed_test_vectors: onnx's reference evaluator failed: {str(e).splitlines()[0]}") from None
    return TestVectors(vectors=[(arrays, [np.ascontiguousarray(o) for o in outputs])])
