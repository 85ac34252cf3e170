"""TorchScript frontend: nn.Module (traced or scripted), ScriptModule or saved .pt -> IR Graph.

The TorchScript graph is inlined (module calls become their bodies) and walked once in
order. Parameters are read by resolving prim::GetAttr chains on the module itself, so
they keep their qualified names ("layer1.0.conv1.weight") and torch's own frozen
optimizations (which would fold BatchNorm) never run. Shapes are static: integer and
shape computations (aten::size, prim::NumToTensor, aten::Int, int arithmetic, lists,
prim::If on a known condition) are evaluated here, at export time; only tensor ops on
runtime values become IR nodes. Every op that cannot be lowered is collected and reported
in one UnsupportedOpsError at the end.

Scripted code (method="script", a ScriptModule, a .pt file, or a scripted submodule inside
a traced model) may branch and loop on run-time values and take Python scalar inputs:
frontend/script.py lowers prim::If / prim::Loop on run-time conditions to `if` / `loop`
nodes with subgraphs, and arithmetic on run-time scalars to typed (i64 / bool) nodes.
"""

from __future__ import annotations

import math
import operator
import os
import re
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import ExportError, UnsupportedOpsError
from ..ir.graph import Graph, Value
from ..ir.ops import OpError, infer_shapes
from ..ir.verify import verify_graph
from ..passes.base import each_graph
from ..passes.dce import eliminate_dead_code
from .common import POISON as _POISON
from .common import TORCH_DIR as _TORCH_DIR
from .common import Poison as _Poison
from .common import Unsupported as _Unsupported
from .common import (addmm_linear, adaptive_output_size, check_float32, clamp_bounds, conv_pads, pool_window,
                     static_matrix)
from .common import contains as _contains
from .common import normalize_axis as _normalize_axis
from .common import pair as _pair
from .script import NOT_STATIC as _SCRIPT_NOT_STATIC
from .script import Scope, input_type, lower_loop, lower_runtime_if, scalar_constant
from .script import lowerings as _script_lowerings


# -- capture -------------------------------------------------------------------------------


class Captured:
    """A TorchScript module ready for lowering, and how it was obtained."""

    def __init__(self, module, source: str, traced: bool):
        self.module = module
        self.source = source  # metadata "source": trace | torchscript | torchscript-file
        self.traced = traced


def _check_float32_params(module, what: str) -> None:
    check_float32(list(module.named_parameters()) + list(module.named_buffers()), what)


CAPTURE_METHODS = ("trace", "script")


def capture(model, example_inputs: Tuple[Any, ...], method: str = "trace") -> Captured:
    """Trace or script an nn.Module, or take a ScriptModule / a path to a saved TorchScript file."""
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.exists(path):
            raise ExportError(f"TorchScript file '{path}' does not exist")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(path, map_location="cpu")
        except Exception as e:  # torch raises RuntimeError/ValueError with long messages
            raise ExportError(f"cannot load TorchScript file '{path}': {str(e).splitlines()[0]}") from None
        module.eval()
        _check_float32_params(module, f"'{path}'")
        return Captured(module, "torchscript-file", traced=False)
    if isinstance(model, torch.jit.ScriptModule):
        _check_float32_params(model, "the ScriptModule")
        return Captured(model, "torchscript", traced=False)
    if not isinstance(model, torch.nn.Module):
        raise ExportError(f"model must be a torch.nn.Module, a torch.jit.ScriptModule or a path to a "
                          f"TorchScript .pt file, got {type(model).__name__}")
    if method not in CAPTURE_METHODS:
        raise ExportError(f"unknown capture method '{method}' (supported: {', '.join(map(repr, CAPTURE_METHODS))})")
    _check_float32_params(model, "the model")
    if method == "script":
        return _script(model)
    scalars = [i for i, x in enumerate(example_inputs) if not isinstance(x, torch.Tensor)]
    if scalars:
        raise ExportError(f"example input {scalars[0]} is a Python {type(example_inputs[scalars[0]]).__name__}; "
                          "tracing takes tensors only, scalar inputs need method='script'")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # torch 2.x marks torch.jit.trace deprecated; the warning is noise for our users.
            warnings.simplefilter("ignore", DeprecationWarning)
            traced = torch.jit.trace(model, example_inputs, check_trace=False)
    except ExportError:
        raise
    except Exception as e:
        raise ExportError(f"torch.jit.trace failed: {str(e).strip().splitlines()[0]}") from None
    finally:
        model.train(was_training)
    return Captured(traced, "trace", traced=True)


def _script(model) -> Captured:
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.script(model)
    except Exception as e:  # torch's frontend errors carry the offending source excerpt: keep it
        raise ExportError(f"torch.jit.script failed: {str(e).strip()}") from None
    finally:
        model.train(was_training)
    return Captured(scripted, "script", traced=False)


# -- lowering --------------------------------------------------------------------------------


class _ModuleRef:
    """A (sub)module reached through prim::GetAttr, with its qualified name."""

    def __init__(self, module, qualname: str):
        self.module = module
        self.qualname = qualname


def source_location(node, traced: bool) -> str:
    """The user's source location of a node, as 'file.py:123' (or '')."""
    text = node.sourceRange()
    if not text:
        return ""
    # Scripted code records 'File "path", line N' (also for a scripted submodule inside a
    # traced model); the tracer records the Python stack, innermost first: "path(line): function".
    frames = re.findall(r'File "(.*?)", line (\d+)', text)
    if traced and not frames:
        frames = re.findall(r"^(.*?)\((\d+)\): ", text, flags=re.MULTILINE)
        frames = [(os.path.abspath(f) if f and not f.startswith("<") else f, line) for f, line in frames]
    if not frames:
        return ""
    user = [f for f in frames if not f[0].startswith(_TORCH_DIR)]
    path, line = (user or frames)[0]
    return f"{os.path.basename(path)}:{line}"


def _node_name(node) -> str:
    """Module path of the node's scope ("__module.layer1/__module.layer1.0.conv1" -> "layer1.0.conv1")."""
    scope = node.scopeName()
    if not scope:
        return ""
    last = scope.split("/")[-1]
    return last[len("__module."):] if last.startswith("__module.") else ""


def _value_name(torch_value) -> str:
    return torch_value.debugName() or "v"


# Static (export-time) evaluation of scalar, list and shape ops. Tensor ops on static
# tensors fall back to torch.ops.
_SCALAR_BINARY: Dict[str, Callable] = {
    "aten::add": operator.add, "aten::sub": operator.sub, "aten::mul": operator.mul,
    "aten::floordiv": operator.floordiv, "aten::div": operator.truediv, "aten::remainder": operator.mod,
    "aten::pow": operator.pow, "aten::eq": operator.eq, "aten::ne": operator.ne, "aten::lt": operator.lt,
    "aten::le": operator.le, "aten::gt": operator.gt, "aten::ge": operator.ge,
    "aten::__and__": operator.and_, "aten::__or__": operator.or_, "aten::__xor__": operator.xor,
    "prim::min": min, "prim::max": max, "aten::__is__": operator.is_, "aten::__isnot__": operator.is_not,
    "aten::__contains__": lambda a, b: b in a,
}


def _is_scalar(x) -> bool:
    return isinstance(x, (int, float, bool)) or x is None or isinstance(x, str)


def _static_eval(kind: str, args: List[Any], node) -> List[Any]:
    if kind in _SCALAR_BINARY and len(args) == 2 and all(_is_scalar(a) or isinstance(a, (list, tuple))
                                                           for a in args):
        return [_SCALAR_BINARY[kind](*args)]
    if kind in ("aten::neg",) and _is_scalar(args[0]):
        return [-args[0]]
    if kind == "aten::__not__":
        return [not args[0]]
    if kind in ("aten::Int", "aten::IntImplicit"):
        return [int(args[0].item() if isinstance(args[0], torch.Tensor) else args[0])]
    if kind in ("aten::Float", "aten::FloatImplicit"):
        return [float(args[0].item() if isinstance(args[0], torch.Tensor) else args[0])]
    if kind == "aten::Bool":
        return [bool(args[0].item() if isinstance(args[0], torch.Tensor) else args[0])]
    if kind == "aten::ScalarImplicit":
        return [args[0].item() if isinstance(args[0], torch.Tensor) else args[0]]
    if kind == "prim::NumToTensor":
        return [torch.tensor(args[0])]
    if kind == "aten::len":
        return [len(args[0])]
    if kind == "aten::__getitem__":
        return [args[0][args[1]]]
    if kind in ("aten::dim",) and isinstance(args[0], torch.Tensor):
        return [args[0].dim()]
    if kind == "aten::size" and isinstance(args[0], torch.Tensor):
        return [list(args[0].shape) if len(args) == 1 else args[0].shape[args[1]]]
    if kind == "aten::list":
        return [list(args[0])]
    if kind in ("aten::ceil", "aten::floor", "aten::sqrt") and _is_scalar(args[0]):
        return [{"aten::ceil": math.ceil, "aten::floor": math.floor, "aten::sqrt": math.sqrt}[kind](args[0])]
    namespace, _, name = kind.partition("::")
    if namespace != "aten":
        raise _Unsupported("")
    packet = getattr(torch.ops.aten, name, None)
    if packet is None:
        raise _Unsupported("")
    try:
        with torch.no_grad():
            result = _call_with_schema(packet, args, node)
    except Exception as e:
        raise _Unsupported(f"export-time evaluation failed: {str(e).splitlines()[0]}") from None
    if node.outputsSize() == 1:
        return [result]
    return list(result)


def _call_with_schema(packet, args: List[Any], node):
    """Calls the overload the node names, passing keyword-only arguments (dtype=, device= of
    aten::zeros, ...) by keyword, as TorchScript graphs list every argument positionally."""
    try:
        schema = node.schema()
    except RuntimeError:
        schema = "(no schema)"
    if schema == "(no schema)":
        return packet(*args)
    parsed = torch._C.parse_schema(schema)
    overload = getattr(packet, parsed.overload_name or "default", packet)
    positional, keywords = [], {}
    for spec, arg in zip(parsed.arguments, args):
        if spec.kwarg_only:
            keywords[spec.name] = arg
        else:
            positional.append(arg)
    return overload(*positional, **keywords)


class _Lowering:
    def __init__(self, captured: Captured, example_inputs: Sequence[torch.Tensor]):
        self.captured = captured
        self.traced = captured.traced
        self.example_inputs = list(example_inputs)
        self.main = Graph("main")
        # The graph being built: the main graph, or an if branch / loop body (script.Scope).
        self.scope = Scope(self.main, None)
        self.env: Dict[int, Any] = {}
        self.tensor_names: Dict[Tuple, str] = {}
        self.constant_cache: Dict[Tuple, Value] = {}
        self.array_cache: Dict[Tuple, np.ndarray] = {}
        self.keepalive: List[torch.Tensor] = []
        self.unsupported: Dict[str, List[str]] = {}
        self.current_node = None
        self.list_scopes: Dict[int, Scope] = {}  # id(Python list) -> scope that created it (script.py)

    # -- environment ------------------------------------------------------------------

    @property
    def graph(self) -> Graph:
        return self.scope.graph

    def get(self, torch_value):
        return self.env[torch_value.unique()]

    def localize(self, value: Optional[Value]) -> Optional[Value]:
        """``value`` as seen from the graph being built (a capture if it is an outer value)."""
        return self.scope.localize(value)

    def set(self, torch_value, obj) -> None:
        self.env[torch_value.unique()] = obj

    def location(self, node) -> str:
        return source_location(node, self.traced)

    def node_name(self, node) -> str:
        return _node_name(node)

    def output_name(self, node, default: str, index: int = 0) -> str:
        outputs = list(node.outputs())
        return _value_name(outputs[index]) if index < len(outputs) else default

    def report(self, node, detail: str = "") -> None:
        label = node.kind() + (f" ({detail})" if detail else "")
        loc = source_location(node, self.traced)
        locations = self.unsupported.setdefault(label, [])
        if loc and loc not in locations:
            locations.append(loc)

    # -- constants ----------------------------------------------------------------------

    @staticmethod
    def _tensor_key(t: torch.Tensor) -> Tuple:
        return (t.data_ptr(), tuple(t.shape), tuple(t.stride()), t.storage_offset(), t.dtype, t.numel())

    def name_tensor(self, t: torch.Tensor, name: str) -> None:
        if t.numel():
            self.tensor_names.setdefault(self._tensor_key(t), name)

    def constant(self, obj, name: str = "const") -> Value:
        """An IR constant for a static tensor or Python number."""
        if isinstance(obj, bool) or isinstance(obj, (int, float)):
            return self.graph.add_constant(name, np.array(float(obj), dtype=np.float32))
        if isinstance(obj, Value):
            return self.localize(obj)
        if not isinstance(obj, torch.Tensor):
            raise _Unsupported(f"expected a tensor operand, got {type(obj).__name__}")
        # Per graph: a subgraph keeps its own constants (explicit captures); a weight used in
        # several graphs shares its array, and the writer stores it once.
        key = (id(self.graph),) + self._tensor_key(obj) if obj.numel() else None
        cached = self.constant_cache.get(key) if key is not None else None
        if cached is not None and self.graph.values.get(cached.name) is cached:  # (a dropped graph's id may recur)
            return cached
        name = self.tensor_names.get(key[1:], name) if key is not None else name
        tensor = obj.detach().cpu()
        if tensor.dtype != torch.float32:
            if tensor.dim() == 0 and (tensor.is_floating_point() or tensor.dtype in (torch.int64, torch.int32,
                                                                                     torch.bool)):
                # A 0-d operand does not promote a float32 tensor in PyTorch: store it as f32.
                tensor = tensor.to(torch.float32)
            else:
                raise ExportError(f"constant '{name}' is {str(tensor.dtype).replace('torch.', '')}"
                                  f"{list(tensor.shape)}; deploykit 1.0 stores float32 tensors only "
                                  "(convert the model with model.float())")
        array = self.array_cache.get(key[1:]) if key is not None else None
        if array is None:
            array = tensor.contiguous().numpy().copy()
            if key is not None:
                self.array_cache[key[1:]] = array
        value = self.graph.add_constant(name, array)
        if key is not None:
            self.constant_cache[key] = value
            self.keepalive.append(obj)
        return value

    def tensor(self, obj, name: str = "const") -> Value:
        if isinstance(obj, Value):
            return self.localize(obj)
        return self.constant(obj, name)

    def runtime(self, obj, what: str) -> Value:
        if not isinstance(obj, Value):
            raise _Unsupported(f"{what} must be a computed tensor, got a constant")
        return obj

    # -- emitting -----------------------------------------------------------------------

    def emit(self, op: str, inputs: List[Optional[Value]], attrs: Dict[str, Any], torch_value=None,
             dtype: str = "f32", float_only: bool = True) -> Value:
        """Appends one node to the graph being built. float_only: the op computes in f32 only
        (every op but the typed ones frontend/script.py emits)."""
        node = self.current_node
        source = source_location(node, self.traced)
        inputs = [self.localize(v) for v in inputs]
        for v in inputs:
            if float_only and v is not None and v.dtype != "f32":
                raise ExportError(f"{node.kind()} at {source or '?'}: operand %{v.name} is {v.dtype}; "
                                  f"{op} computes in float32 only")
        try:
            (shape,) = infer_shapes(op, [None if v is None else v.shape for v in inputs], attrs)
        except OpError as e:
            raise ExportError(f"{node.kind()} at {source or '?'} lowered to {op}: {e}") from None
        name = _value_name(torch_value) if torch_value is not None else op
        ir_node = self.graph.add_node(op, inputs, [(name, dtype, shape)], attrs, source, _node_name(node))
        out = ir_node.outputs[0]
        if torch_value is not None:
            self.cross_check(torch_value, out)
        return out

    def cross_check(self, torch_value, value: Value) -> None:
        """Traced graphs carry PyTorch's own tensor types: ours must agree."""
        ttype = torch_value.type()
        if not isinstance(ttype, torch._C.TensorType):
            return
        sizes = ttype.sizes()
        if sizes is not None and None not in sizes and tuple(sizes) != value.shape:
            node = self.current_node
            raise ExportError(f"internal error: shape inference gives {value.type_str()} for %{value.name} "
                              f"({node.kind()} at {source_location(node, self.traced) or '?'}) but PyTorch "
                              f"traced {list(sizes)}")
        scalar = ttype.scalarType()
        expected = {"Float": "f32", "Long": "i64", "Bool": "bool"}.get(scalar) if scalar is not None else None
        if scalar is not None and expected != value.dtype:
            raise ExportError(f"{self.current_node.kind()} at {source_location(self.current_node, self.traced)}"
                              f" produces {scalar} tensors; deploykit computes them as {value.dtype}")

    # -- walking --------------------------------------------------------------------------

    def run(self) -> Graph:
        module = self.captured.module
        tgraph = module.inlined_graph
        inputs = list(tgraph.inputs())
        self.set(inputs[0], _ModuleRef(module, ""))
        user_inputs = inputs[1:]
        if len(user_inputs) != len(self.example_inputs):
            raise ExportError(f"the model's forward takes {len(user_inputs)} input(s), "
                              f"{len(self.example_inputs)} example input(s) were given")
        for i, (tv, example) in enumerate(zip(user_inputs, self.example_inputs)):
            name = re.sub(r"\.\d+$", "", tv.debugName()) or f"input{i}"
            dtype, shape = input_type(tv, example, i)
            self.set(tv, self.graph.add_input(name, dtype, shape))
        outputs = self.run_block(tgraph.nodes(), tgraph.return_node())
        if self.unsupported:
            self._raise_unsupported()
        flat: List[Any] = []
        self._flatten(outputs, flat)
        for obj in flat:
            self.graph.outputs.append(self.tensor(obj, "output"))
        if self.unsupported:  # found while lowering the outputs (a branch-dependent list, ...)
            self._raise_unsupported()
        self._prune()
        verify_graph(self.graph, ExportError)
        return self.graph

    def _raise_unsupported(self):
        ops = [(label, loc) for label, locs in self.unsupported.items() for loc in (locs or [""])]
        parts = [f"{label} ({', '.join(locs)})" if locs else label for label, locs in self.unsupported.items()]
        count = len(self.unsupported)
        raise UnsupportedOpsError(f"{count} unsupported op{'s' if count != 1 else ''}: " + ", ".join(parts), ops)

    def _flatten(self, obj, out: List[Any]) -> None:
        if isinstance(obj, (list, tuple)):
            for o in obj:
                self._flatten(o, out)
        elif isinstance(obj, (Value, torch.Tensor)):
            out.append(obj)
        elif isinstance(obj, (bool, int, float)):  # a scalar result of a scripted forward: a 0-d output
            out.append(self.localize(scalar_constant(self, obj)))
        else:
            raise ExportError(f"model outputs must be tensors (or tuples/lists of tensors), got {type(obj).__name__}")

    def run_block(self, nodes, return_node) -> List[Any]:
        for node in nodes:
            self.current_node = node
            self.run_node(node)
        return [self.get(v) for v in return_node.inputs()]

    def run_node(self, node) -> None:
        kind = node.kind()
        outputs = list(node.outputs())
        if kind == "prim::Constant":
            self.set(node.output(), node.output().toIValue())
            return
        if kind == "prim::Uninitialized":
            self.set(node.output(), None)
            return
        if kind == "aten::warn":
            return
        args = [self.get(v) for v in node.inputs()]
        if any(_contains(a, _Poison) for a in args):
            # Downstream of an op that could not be lowered: still report ops we cannot lower,
            # so that one error lists every unsupported op kind.
            if kind not in _LOWERINGS and kind not in ("prim::If", "prim::Loop"):
                self.report(node)
            for o in outputs:
                self.set(o, _POISON)
            return
        try:
            if kind == "prim::If":
                self.lower_if(node, args)
                return
            if kind == "prim::Loop":
                lower_loop(self, node, args)
                return
            if kind == "prim::GetAttr":
                self.set(node.output(), self.get_attr(args[0], node.s("name")))
                return
            handler = _LOWERINGS.get(kind)
            runtime_args = any(_contains(a, Value) for a in args)
            if not runtime_args and kind not in _NOT_STATIC:
                results = _static_eval(kind, args, node)
            elif handler is not None:
                results = handler(self, node, args)
                if not isinstance(results, list):
                    results = [results]
            else:
                raise _Unsupported("")
        except _Unsupported as e:
            self.report(node, str(e))
            for o in outputs:
                self.set(o, self.placeholder(o))
            return
        if len(results) != len(outputs):
            raise ExportError(f"internal error: lowering of {kind} produced {len(results)} results "
                              f"for {len(outputs)} outputs")
        for o, r in zip(outputs, results):
            self.set(o, r)

    def placeholder(self, torch_value):
        """Stand-in for the output of an op that could not be lowered.

        When the traced type gives its shape, lowering continues with a value that is never
        added to the graph (the export fails at the end anyway), so later ops are checked
        too; otherwise the output poisons its users.
        """
        ttype = torch_value.type()
        if isinstance(ttype, torch._C.TensorType) and ttype.scalarType() == "Float":
            sizes = ttype.sizes()
            if sizes is not None and None not in sizes:
                return Value(f"unsupported.{torch_value.debugName()}", "f32", tuple(sizes), "placeholder")
        return _POISON

    def get_attr(self, obj, name: str):
        if not isinstance(obj, _ModuleRef):
            raise _Unsupported(f"attribute '{name}' of a non-module")
        value = getattr(obj.module, name)
        qualname = f"{obj.qualname}.{name}" if obj.qualname else name
        if isinstance(value, torch.jit.ScriptModule) or isinstance(value, torch.nn.Module):
            return _ModuleRef(value, qualname)
        if isinstance(value, torch.Tensor):
            self.name_tensor(value, qualname)
        return value

    def lower_if(self, node, args) -> None:
        condition = args[0]
        if not isinstance(condition, (bool, int)):
            # Known only at run time: an `if` node with both branches as subgraphs.
            results = lower_runtime_if(self, node, condition)
            self.current_node = node
            for o, r in zip(node.outputs(), results):
                self.set(o, r)
            return
        block = list(node.blocks())[0 if condition else 1]
        results = self.run_block(block.nodes(), block.returnNode())
        self.current_node = node
        for o, r in zip(node.outputs(), results):
            self.set(o, r)

    def _prune(self) -> None:
        """Drop nodes and constants no graph output depends on (dead code left by tracing)."""
        each_graph(self.main, eliminate_dead_code)


# -- per-op lowerings: (lowering, node, args) -> result(s) ---------------------------------------

_NOT_STATIC = {"prim::RaiseException", "prim::Loop", "aten::dropout", "aten::feature_dropout"}


def _lower_conv(self: _Lowering, node, args):
    kind = node.kind()
    if kind == "aten::_convolution":
        x, w, b, stride, padding, dilation, transposed, _output_padding, groups = args[:9]
        if transposed:
            raise _Unsupported("transposed")
    else:  # aten::conv2d / aten::_convolution_mode
        x, w, b, stride, padding, dilation, groups = args[:7]
    weight = self.tensor(w, "weight")
    if weight.rank != 4:
        raise _Unsupported(f"{weight.rank - 2}-d convolution")
    x = self.runtime(x, "input")
    if x.rank != 4:
        raise _Unsupported(f"input of rank {x.rank}")
    stride = _pair(stride, "stride")
    dilation = _pair(dilation, "dilation")
    pads = conv_pads(padding, dilation, weight.shape[2:])
    bias = None if b is None else self.tensor(b, "bias")
    return self.emit("conv2d", [x, weight, bias],
                     {"stride": stride, "pads": pads, "dilation": dilation, "groups": int(groups)}, node.output())


def _lower_batch_norm(self, node, args):
    x, weight, bias, mean, var, training, _momentum, eps = args[:8]
    if training or mean is None or var is None:
        raise _Unsupported("training mode / batch statistics")
    inputs = [self.runtime(x, "input"), self.tensor(mean, "running_mean"), self.tensor(var, "running_var"),
              None if weight is None else self.tensor(weight, "weight"),
              None if bias is None else self.tensor(bias, "bias")]
    return self.emit("batch_norm", inputs, {"eps": float(eps)}, node.output())


def _unary(op):
    def lower(self, node, args):
        return self.emit(op, [self.runtime(args[0], "input")], {}, node.output())
    return lower


def _lower_add(self, node, args):
    a, b = args[0], args[1]
    alpha = args[2] if len(args) > 2 else 1
    if not isinstance(alpha, (int, float)):
        raise _Unsupported("non-scalar alpha")
    return self.emit("add", [self.tensor(a, "const"), self.tensor(b, "const")], {"alpha": float(alpha)},
                     node.output())


def _lower_sub(self, node, args):
    a, b = args[0], args[1]
    alpha = args[2] if len(args) > 2 else 1
    if node.kind().startswith("aten::rsub"):
        a, b = b, a  # rsub(a, b, alpha) = b - alpha * a
    return self.emit("add", [self.tensor(a, "const"), self.tensor(b, "const")], {"alpha": -float(alpha)},
                     node.output())


def _lower_mul(self, node, args):
    return self.emit("mul", [self.tensor(args[0], "const"), self.tensor(args[1], "const")], {}, node.output())


def _lower_max_pool(self, node, args):
    x, kernel, stride, padding, dilation, ceil_mode = args[:6]
    kernel, stride, pads = pool_window(kernel, stride, padding)
    return self.emit("max_pool2d", [self.runtime(x, "input")],
                     {"kernel": kernel, "stride": stride, "pads": pads,
                      "dilation": _pair(dilation, "dilation"), "ceil_mode": int(bool(ceil_mode))}, node.output())


def _lower_avg_pool(self, node, args):
    x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override = args[:7]
    kernel, stride, pads = pool_window(kernel, stride, padding)
    return self.emit("avg_pool2d", [self.runtime(x, "input")],
                     {"kernel": kernel, "stride": stride, "pads": pads,
                      "ceil_mode": int(bool(ceil_mode)), "count_include_pad": int(bool(count_include_pad)),
                      "divisor_override": int(divisor_override or 0)}, node.output())


def _lower_adaptive_avg_pool(self, node, args):
    x = self.runtime(args[0], "input")
    return self.emit("adaptive_avg_pool2d", [x], {"output_size": adaptive_output_size(args[1], x.shape)},
                     node.output())


def _lower_flatten(self, node, args):
    x = self.runtime(args[0], "input")
    start = args[1] if len(args) > 1 else 0
    end = args[2] if len(args) > 2 else -1
    if x.rank == 0:
        return self.emit("reshape", [x], {"shape": [1]}, node.output())
    start = _normalize_axis(start, x.rank, "flatten start_dim")
    end = _normalize_axis(end, x.rank, "flatten end_dim")
    return self.emit("flatten", [x], {"start_dim": start, "end_dim": end}, node.output())


def _lower_linear(self, node, args):
    x, w = args[0], args[1]
    b = args[2] if len(args) > 2 else None
    return self.emit("linear", [self.runtime(x, "input"), self.tensor(w, "weight"),
                                None if b is None else self.tensor(b, "bias")], {}, node.output())


def _lower_matmul(self, node, args):
    a, b = args[0], args[1]
    x = self.runtime(a, "left operand")
    weight = static_matrix(b, "right operand").t().contiguous()  # x @ W == linear(x, W^T)
    if x.rank < 1:
        raise _Unsupported("0-d operand")
    return self.emit("linear", [x, self.constant(weight, "weight"), None], {}, node.output())


def _lower_addmm(self, node, args):
    bias, mat1, mat2 = args[:3]
    beta = args[3] if len(args) > 3 else 1
    alpha = args[4] if len(args) > 4 else 1
    weight, bias = addmm_linear(bias, mat2, beta, alpha)
    return self.emit("linear", [self.runtime(mat1, "mat1"), self.constant(weight, "weight"),
                                self.constant(bias, "bias")], {}, node.output())


def _lower_hardtanh(self, node, args):
    kind = node.kind()
    x = self.runtime(args[0], "input")
    if kind.startswith("aten::relu6"):
        low, high = 0.0, 6.0
    elif kind.startswith("aten::clamp_min"):
        low, high = args[1], None
    elif kind.startswith("aten::clamp_max"):
        low, high = None, args[1]
    else:
        low, high = args[1], args[2]
    low, high = clamp_bounds(low, high)
    return self.emit("hardtanh", [x], {"min_val": low, "max_val": high}, node.output())


def _resolve_shape(shape: Sequence[int], numel: int, what: str) -> List[int]:
    shape = list(shape)
    if not all(isinstance(d, int) for d in shape):
        raise _Unsupported("non-static shape")
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in shape):
        raise ExportError(f"{what}: invalid shape {shape}")
    known = 1
    for d in shape:
        if d != -1:
            known *= d
    if unknown:
        if known == 0 or numel % known:
            raise ExportError(f"{what}: cannot infer -1 in {shape} for {numel} elements")
        shape[unknown[0]] = numel // known
    return shape


def _lower_reshape(self, node, args):
    x = self.runtime(args[0], "input")
    shape = _resolve_shape(args[1], x.numel, f"{node.kind()} of %{x.name}")
    return self.emit("reshape", [x], {"shape": shape}, node.output())


def _lower_cat(self, node, args):
    tensors = [self.tensor(t, "const") for t in args[0]]
    if not tensors:
        raise _Unsupported("empty list")
    axis = _normalize_axis(args[1] if len(args) > 1 else 0, tensors[0].rank, "cat dim")
    return self.emit("cat", tensors, {"axis": axis}, node.output())


def _lower_mean(self, node, args):
    x = self.runtime(args[0], "input")
    if len(args) == 2:  # mean(x, dtype)
        dims, keepdim, dtype = None, False, args[1]
    else:
        dims, keepdim, dtype = args[1], args[2], args[3] if len(args) > 3 else None
    if dtype is not None:
        raise _Unsupported("dtype argument")
    dims = [dims] if isinstance(dims, int) else list(dims or [])
    dims = sorted({_normalize_axis(d, x.rank, "mean dim") for d in dims}) if dims else list(range(x.rank))
    return self.emit("mean", [x], {"dims": dims, "keepdim": int(bool(keepdim))}, node.output())


def _lower_softmax(self, node, args):
    x = self.runtime(args[0], "input")
    if node.kind() == "aten::_softmax":
        if args[2]:
            raise _Unsupported("half_to_float")
    elif len(args) > 2 and args[2] is not None:
        raise _Unsupported("dtype argument")
    if x.rank == 0:
        raise _Unsupported("0-d input")
    return self.emit("softmax", [x], {"axis": _normalize_axis(args[1], x.rank, "softmax dim")}, node.output())


def _identity(self, node, args):
    return args[0]


def _lower_dropout(self, node, args):
    if args[2]:
        raise _Unsupported("training mode")
    return args[0]


def _lower_size(self, node, args):
    x = args[0]
    if not isinstance(x, Value):
        raise _Unsupported("")
    if len(args) == 1:
        return [list(x.shape)]
    return [x.shape[_normalize_axis(args[1], x.rank, "size dim")]]


def _lower_dim(self, node, args):
    return [args[0].rank]


def _lower_tuple(self, node, args):
    return [tuple(args)]


def _lower_unpack(self, node, args):
    seq = args[0]
    if not isinstance(seq, (list, tuple)) or len(seq) != node.outputsSize():
        raise _Unsupported("non-static sequence")
    return list(seq)


def _lower_unchecked_cast(self, node, args):
    return [args[0]]


def _lower_raise(self, node, args):
    if self.scope.parent is not None:
        raise _Unsupported("raise on a path chosen at run time")
    message = args[0] if args and isinstance(args[0], str) else "an exception"
    raise ExportError(f"the model raises at export time ({source_location(node, self.traced) or '?'}): {message}")


def _lower_dtype(self, node, args):
    # torch ScalarType codes: 6 Float, 4 Long, 11 Bool (the dtypes a runtime value can have).
    x = args[0]
    return [{"f32": 6, "i64": 4, "bool": 11}[x.dtype] if isinstance(x, Value) else 6]


def _lower_device(self, node, args):
    return [torch.device("cpu")]


_LOWERINGS: Dict[str, Callable] = {
    "aten::_convolution": _lower_conv, "aten::conv2d": _lower_conv, "aten::_convolution_mode": _lower_conv,
    "aten::batch_norm": _lower_batch_norm,
    "aten::relu": _unary("relu"), "aten::relu_": _unary("relu"),
    "aten::sigmoid": _unary("sigmoid"), "aten::sigmoid_": _unary("sigmoid"),
    "aten::add": _lower_add, "aten::add_": _lower_add,
    "aten::sub": _lower_sub, "aten::sub_": _lower_sub, "aten::rsub": _lower_sub,
    "aten::mul": _lower_mul, "aten::mul_": _lower_mul,
    "aten::max_pool2d": _lower_max_pool, "aten::avg_pool2d": _lower_avg_pool,
    "aten::adaptive_avg_pool2d": _lower_adaptive_avg_pool,
    "aten::flatten": _lower_flatten,
    "aten::linear": _lower_linear, "aten::matmul": _lower_matmul, "aten::mm": _lower_matmul,
    "aten::addmm": _lower_addmm,
    "aten::hardtanh": _lower_hardtanh, "aten::hardtanh_": _lower_hardtanh,
    "aten::relu6": _lower_hardtanh, "aten::relu6_": _lower_hardtanh,
    "aten::clamp": _lower_hardtanh, "aten::clamp_": _lower_hardtanh,
    "aten::clamp_min": _lower_hardtanh, "aten::clamp_min_": _lower_hardtanh,
    "aten::clamp_max": _lower_hardtanh, "aten::clamp_max_": _lower_hardtanh,
    "aten::view": _lower_reshape, "aten::reshape": _lower_reshape,
    "aten::cat": _lower_cat, "aten::concat": _lower_cat, "aten::concatenate": _lower_cat,
    "aten::mean": _lower_mean,
    "aten::softmax": _lower_softmax, "aten::_softmax": _lower_softmax,
    "aten::dropout": _lower_dropout, "aten::dropout_": _lower_dropout,
    "aten::feature_dropout": _lower_dropout, "aten::feature_dropout_": _lower_dropout,
    "aten::alpha_dropout": _lower_dropout, "aten::feature_alpha_dropout": _lower_dropout,
    "aten::contiguous": _identity, "aten::detach": _identity, "aten::detach_": _identity,
    "aten::clone": _identity,
    "aten::size": _lower_size, "aten::dim": _lower_dim,
    "aten::len": lambda self, node, args: [len(args[0])],
    "prim::TupleConstruct": _lower_tuple,
    "prim::ListUnpack": _lower_unpack, "prim::TupleUnpack": _lower_unpack,
    "prim::unchecked_cast": _lower_unchecked_cast,
    "prim::RaiseException": _lower_raise,
    "prim::dtype": _lower_dtype, "prim::device": _lower_device,
}

# Prim ops that only move static values around are always evaluated by their lowering.
for _kind in ("prim::ListConstruct", "prim::TupleConstruct", "prim::ListUnpack", "prim::TupleUnpack",
              "prim::unchecked_cast", "prim::RaiseException"):
    _NOT_STATIC.add(_kind)
# Scripted code: typed arithmetic on run-time scalars, compare / logical / sum / cast, lists.
_LOWERINGS.update(_script_lowerings(_LOWERINGS))
_NOT_STATIC.update(_SCRIPT_NOT_STATIC)
_NOT_STATIC.update({"aten::dropout_", "aten::feature_dropout_", "aten::alpha_dropout",
                    "aten::feature_alpha_dropout"})


def to_graph(model, example_inputs: Sequence[torch.Tensor], method: str = "trace") -> Tuple[Graph, Captured]:
    """Capture and lower a model. example_inputs must be float32 tensors."""
    captured = capture(model, tuple(example_inputs), method)
    # A ScriptModule reads self.training while it is lowered (dropout, batch_norm): lower
    # it in eval mode and give the caller back the mode it had.
    was_training = captured.module.training
    captured.module.eval()
    try:
        graph = _Lowering(captured, example_inputs).run()
    finally:
        captured.module.train(was_training)
    return graph, captured
