"""Scripted TorchScript: control flow and run-time scalars, lowered to docs/ops.md ops.

torchscript.py evaluates everything it can at export time (shapes are static). What
remains here is what only the run time knows:

- prim::If on a run-time condition -> an ``if`` node whose branches are subgraphs;
- prim::Loop whose trip count or condition is a run-time value -> a ``loop`` node; a
  ``for`` over a range known at export is unrolled instead (like tracing), so lists built
  in it keep a known length;
- Python scalars computed at run time (int/float/bool inputs, ``x.sum() > 0``, the loop
  counter) -> 0-d i64 / f32 / bool values and typed ops (add, sub, mul, div, compare,
  logical, logical_not, cast, sum).

Subgraphs use explicit captures (ir/graph.py): a Scope localizes every outer value a
branch or body reads by adding a subgraph input for it, which the node then passes in.
Shapes are static: a value whose shape or dtype differs between the two branches, or
between a loop's entry and its next iteration, is reported with the construct and its
source line, like every other unsupported construct (all at once, at the end).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..archive.format import DTYPE_CODES
from ..errors import ExportError
from ..ir.graph import CONSTANT, NUMPY_DTYPES, Graph, Value
from ..passes.base import each_graph
from ..passes.dce import eliminate_dead_code
from .common import POISON, Poison, Unsupported, scalar_dtype

# A `for` over range(n) with n known at export is unrolled up to this many iterations
# (further, it becomes a loop node); up to LIST_UNROLL when its body grows a list.
MAX_UNROLL = 64
LIST_UNROLL = 4096
# TorchScript's trip count for `while` loops: "no bound".
_UNBOUNDED = 2 ** 63 - 1

_LIST_MUTATIONS = {"aten::append", "aten::insert", "aten::pop", "aten::extend", "aten::clear", "aten::_set_item",
                   "aten::remove", "aten::reverse", "aten::sort"}


# -- scopes: the graph being built and its captures -------------------------------------------------


class Scope:
    """A graph under construction: the main graph, or an if branch / loop body nested in a parent."""

    def __init__(self, graph: Graph, parent: Optional["Scope"], kind: str = "main"):
        self.graph = graph
        self.parent = parent
        self.kind = kind  # "main", "if" (a branch) or "loop" (a body)
        # Outer Python lists this branch appended to: id -> (list, contents before the branch).
        self.list_snapshots: Dict[int, Tuple[list, list]] = {}
        self.captured: List[Value] = []  # outer values (in the parent's graph), in input order
        self.capture_inputs: List[Value] = []  # this graph's input standing for each of them
        self._local: Dict[int, Value] = {}  # id(outer value) -> its stand-in here

    def owns(self, value: Value) -> bool:
        return self.graph.values.get(value.name) is value

    def localize(self, value: Optional[Value]) -> Optional[Value]:
        if value is None or value.kind == "placeholder" or self.owns(value):
            return value
        local = self._local.get(id(value))
        if local is not None:
            return local
        if self.parent is None:
            raise ExportError(f"internal error: %{value.name} belongs to no enclosing graph")
        if value.kind == CONSTANT:
            # Constants are copied in (sharing their array), not passed: the writer stores one tensor.
            scope = self.parent
            while scope is not None and not scope.owns(value):
                scope = scope.parent
            if scope is None:
                raise ExportError(f"internal error: constant %{value.name} belongs to no enclosing graph")
            local = self.graph.add_constant(value.name, scope.graph.constants[value.name])
        else:
            outer = self.parent.localize(value)
            local = self.graph.add_input(value.name, value.dtype, value.shape)
            self.captured.append(outer)
            self.capture_inputs.append(local)
        self._local[id(value)] = local
        return local


def _enter(lowering, scope: Scope):
    class _Entered:
        def __enter__(self):
            self.outer = lowering.scope
            lowering.scope = scope

        def __exit__(self, *exc):
            lowering.scope = self.outer
            return False

    return _Entered()


# -- typed values ------------------------------------------------------------------------------------


def scalar_constant(lowering, obj, dtype: Optional[str] = None, name: str = "const") -> Value:
    """A 0-d constant of the graph being built (Python int -> i64, float -> f32, bool -> bool)."""
    dtype = dtype or scalar_dtype(obj)
    return lowering.graph.add_constant(name, np.array(obj, dtype=NUMPY_DTYPES[dtype]))


def input_type(torch_value, example, index: int) -> Tuple[str, Tuple[int, ...]]:
    """(dtype, shape) of a model input from its TorchScript type and the example given for it."""
    kind = torch_value.type().kind()
    name = torch_value.debugName().split(".")[0] or f"input{index}"
    expected = {"IntType": int, "FloatType": float, "BoolType": bool}.get(kind)
    if expected is not None:
        if expected is bool:
            ok = isinstance(example, bool)
        else:  # an int where a float is declared is what Python itself accepts; a bool is neither here
            ok = isinstance(example, (int, float) if expected is float else int) and not isinstance(example, bool)
        if not ok:
            raise ExportError(f"input {index} ('{name}') is declared {expected.__name__} in the scripted signature; "
                              f"the example is {type(example).__name__}")
        return {"IntType": "i64", "FloatType": "f32", "BoolType": "bool"}[kind], ()
    if not isinstance(example, torch.Tensor):
        raise ExportError(f"input {index} ('{name}') is a {torch_value.type()} in the model's signature; the "
                          f"example is a Python {type(example).__name__} (declare it int, float or bool)")
    return "f32", tuple(example.shape)


def _value_dtype(obj) -> Optional[str]:
    if isinstance(obj, Value):
        return obj.dtype
    if isinstance(obj, torch.Tensor):
        return {torch.float32: "f32", torch.int64: "i64", torch.bool: "bool"}.get(obj.dtype, "f32")
    if isinstance(obj, (bool, int, float)):
        return scalar_dtype(obj)
    return None


def promote(*objs) -> str:
    """PyTorch's promotion for the operands deploykit has: any float makes f32, else i64."""
    return "f32" if any(_value_dtype(o) == "f32" for o in objs) else "i64"


def cast(lowering, value: Value, dtype: str) -> Value:
    if value.dtype == dtype:
        return value
    return lowering.emit("cast", [value], {"to": DTYPE_CODES[dtype]}, dtype=dtype, float_only=False)


def typed(lowering, obj, dtype: str) -> Value:
    """obj (a value, a Python number or a static tensor) as a value of dtype in the graph being built."""
    if isinstance(obj, Value):
        return cast(lowering, lowering.localize(obj), dtype)
    if isinstance(obj, (bool, int, float)):
        return scalar_constant(lowering, obj, dtype)
    if isinstance(obj, torch.Tensor):
        if obj.dtype in (torch.int64, torch.bool) and obj.dim() > 0:
            array = obj.detach().cpu().numpy().astype(NUMPY_DTYPES[dtype])
            return lowering.graph.add_constant("const", array)
        return cast(lowering, lowering.constant(obj), dtype)
    raise Unsupported(f"a {type(obj).__name__} operand")


def scalar_of(lowering, value: Value) -> Value:
    """A one-element tensor as a 0-d value (torch's Bool()/Int()/Float() of a tensor)."""
    value = lowering.localize(value)
    if value.shape == ():
        return value
    if value.numel != 1:
        raise Unsupported(f"converting a {value.type_str()} tensor to a number (one element needed)")
    if value.dtype != "f32":
        value = cast(lowering, value, "f32")
    return lowering.emit("reshape", [value], {"shape": []})


def condition(lowering, obj) -> Value:
    """A bool[] value for an if / loop condition."""
    if isinstance(obj, (bool, int)):
        return scalar_constant(lowering, bool(obj), "bool", "cond")
    if not isinstance(obj, Value):
        raise Unsupported(f"a condition of type {type(obj).__name__}")
    return cast(lowering, scalar_of(lowering, obj), "bool")


# -- lowerings of aten / prim ops on run-time scalars and typed tensors -------------------------------


def _arith(op: str, f32_lowering: Optional[Callable]):
    """add / sub / rsub / mul / div with PyTorch promotion; all-f32 operands keep the f32 lowering."""

    def lower(self, node, args):
        a, b = args[0], args[1]
        alpha = args[2] if op in ("add", "sub", "rsub") and len(args) > 2 else 1
        if op == "add" and isinstance(a, list) and isinstance(b, list):
            return [a + b]  # list concatenation
        if isinstance(a, str) or isinstance(b, str):
            raise Unsupported("string operands")
        dtype = "f32" if op == "div" else promote(a, b)
        if dtype == "f32" and f32_lowering is not None:
            # Run-time ints meeting floats become f32 first (the loop counter in `y + i`).
            cast_args = [typed(self, x, "f32") if isinstance(x, Value) and x.dtype != "f32" else x for x in args]
            return f32_lowering(self, node, cast_args)
        if op == "rsub":
            a, b = b, a
        if not isinstance(alpha, (int, float)):
            raise Unsupported("non-scalar alpha")
        x, y = typed(self, a, dtype), typed(self, b, dtype)
        if alpha != 1:
            y = self.emit("mul", [y, scalar_constant(self, alpha, dtype)], {}, dtype=dtype, float_only=False)
        name = {"add": "add", "sub": "sub", "rsub": "sub", "mul": "mul", "div": "div"}[op]
        attrs = {"alpha": 1.0} if name == "add" else {}
        return self.emit(name, [x, y], attrs, node.output(), dtype=dtype, float_only=False)

    return lower


_COMPARE_MODES = {"eq": 0, "ne": 1, "lt": 2, "le": 3, "gt": 4, "ge": 5}


def _compare(mode: str):
    def lower(self, node, args):
        a, b = args[0], args[1]
        dtype = promote(a, b)
        return self.emit("compare", [typed(self, a, dtype), typed(self, b, dtype)], {"mode": _COMPARE_MODES[mode]},
                         node.output(), dtype="bool", float_only=False)

    return lower


def _logical(mode: int):
    def lower(self, node, args):
        if any(_value_dtype(a) not in ("bool", None) for a in args[:2]):
            raise Unsupported("bitwise operation on numbers (bool operands only)")
        return self.emit("logical", [typed(self, args[0], "bool"), typed(self, args[1], "bool")], {"mode": mode},
                         node.output(), dtype="bool", float_only=False)

    return lower


def _lower_not(self, node, args):
    return self.emit("logical_not", [typed(self, args[0], "bool")], {}, node.output(), dtype="bool",
                     float_only=False)


def _lower_neg(self, node, args):
    x = self.localize(args[0])
    if x.dtype == "f32":
        return self.emit("mul", [x, scalar_constant(self, -1.0)], {}, node.output())
    return self.emit("sub", [scalar_constant(self, 0, x.dtype), x], {}, node.output(), dtype=x.dtype,
                     float_only=False)


def _to_number(dtype: Optional[str]):
    """aten::Bool / Int / Float (dtype) and the implicit conversions (None: keep the dtype)."""

    def lower(self, node, args):
        value = scalar_of(self, args[0])
        return cast(self, value, dtype) if dtype is not None else value

    return lower


def _lower_sum(self, node, args):
    x = self.localize(args[0])
    if len(args) <= 2:  # sum(x, dtype)
        dims, keepdim, dtype = None, False, args[1] if len(args) > 1 else None
    else:
        dims, keepdim, dtype = args[1], args[2], args[3] if len(args) > 3 else None
    if dtype is not None:
        raise Unsupported("dtype argument")
    if x.dtype == "bool":
        x = cast(self, x, "i64")  # torch sums bools as int64
    dims = [dims] if isinstance(dims, int) else list(dims or [])
    if not all(isinstance(d, int) for d in dims):
        raise Unsupported("run-time dims")
    rank = max(x.rank, 1)
    if any(not -rank <= d < rank for d in dims):
        raise ExportError(f"sum dims {dims} are out of range for rank {x.rank}")
    dims = sorted({d + x.rank if d < 0 else d for d in dims}) if dims else list(range(x.rank))
    return self.emit("sum", [x], {"dims": dims, "keepdim": int(bool(keepdim))}, node.output(), dtype=x.dtype,
                     float_only=False)


def before_list_mutation(self, target: list) -> None:
    """Lists are Python lists of values, mutated in place (TorchScript aliasing). An if branch
    that grows an outer list works on it and restores it afterwards (lower_runtime_if merges
    both branches' contents); a loop run a run-time number of times cannot grow one."""
    owner = self.list_scopes.get(id(target))
    scope = self.scope
    if scope is owner or scope.parent is None:
        return
    walk = scope
    while walk is not None and walk is not owner:
        if walk.kind == "loop":
            raise Unsupported("append to an outer list inside a loop run a run-time number of times "
                              "(its length would not be known at export)")
        walk = walk.parent
    scope.list_snapshots.setdefault(id(target), (target, list(target)))


def _list_mutation(apply: Callable[[list, List[Any]], List[Any]]):
    """A list method run on the Python list itself (TorchScript lists alias: every holder sees
    the change). Indices must be known at export."""

    def lower(self, node, args):
        target = args[0]
        if not isinstance(target, list):
            raise Unsupported("mutating a list not known at export")
        if node.kind() in ("aten::insert", "aten::pop", "aten::_set_item") and len(args) > 1 \
                and isinstance(args[1], Value):
            raise Unsupported("a run-time index")
        before_list_mutation(self, target)
        return apply(target, list(args[1:]))

    return lower


def _pop(target: list, rest: List[Any]) -> List[Any]:
    return [target.pop(rest[0] if rest else -1)]


def _set_item(target: list, rest: List[Any]) -> List[Any]:
    target[rest[0]] = rest[1]
    return [target]


_LIST_METHODS: Dict[str, Callable] = {
    "aten::append": _list_mutation(lambda t, r: (t.append(r[0]), [t])[1]),
    "aten::extend": _list_mutation(lambda t, r: (t.extend(r[0]), [])[1]),
    "aten::insert": _list_mutation(lambda t, r: (t.insert(r[0], r[1]), [])[1]),
    "aten::pop": _list_mutation(_pop),
    "aten::clear": _list_mutation(lambda t, r: (t.clear(), [])[1]),
    "aten::reverse": _list_mutation(lambda t, r: (t.reverse(), [])[1]),
    "aten::_set_item": _list_mutation(_set_item),
}


def _lower_list_construct(self, node, args):
    result = list(args)
    self.list_scopes[id(result)] = self.scope
    self.keepalive.append(result)  # ids must stay unique while the lowering runs
    return [result]


def _lower_stack(self, node, args):
    tensors = [self.tensor(t, "const") for t in args[0]]
    if not tensors:
        raise Unsupported("empty list")
    dim = args[1] if len(args) > 1 else 0
    rank = tensors[0].rank + 1
    if not -rank <= dim < rank:
        raise ExportError(f"stack dim {dim} is out of range for rank {rank}")
    dim = dim + rank if dim < 0 else dim
    unsqueezed = [self.emit("reshape", [t], {"shape": list(t.shape[:dim]) + [1] + list(t.shape[dim:])})
                  for t in tensors]
    return self.emit("cat", unsqueezed, {"axis": dim}, node.output())


def _lower_full_like(fill: Optional[float]):
    def lower(self, node, args):
        x = self.localize(args[0])
        value = args[1] if fill is None else fill
        if not isinstance(value, (bool, int, float)):
            raise Unsupported("run-time fill value")
        dtype = args[2] if fill is None and len(args) > 2 else (args[1] if len(args) > 1 else None)
        if dtype not in (None, 6):  # 6: torch.float32
            raise Unsupported("dtype argument")
        return self.graph.add_constant("const", np.full(x.shape, value, dtype=np.float32))

    return lower


def _lower_getitem(self, node, args):
    if isinstance(args[1], Value):
        raise Unsupported("indexing with a run-time index")
    if isinstance(args[0], Value):
        raise Unsupported("indexing a tensor")
    return [args[0][args[1]]]


def lowerings(f32: Dict[str, Callable]) -> Dict[str, Callable]:
    """The op lowerings of this file; typed arithmetic wraps the f32 ones of torchscript.py (f32)."""
    table: Dict[str, Callable] = {}
    for kind in ("add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "rsub"):
        op = kind.rstrip("_")
        table[f"aten::{kind}"] = _arith(op, f32.get(f"aten::{kind}"))
    for mode in _COMPARE_MODES:
        table[f"aten::{mode}"] = _compare(mode)
    for i, name in enumerate(("and", "or", "xor")):
        table[f"aten::__{name}__"] = _logical(i)
        table[f"aten::logical_{name}"] = _logical(i)
        table[f"aten::bitwise_{name}"] = _logical(i)
    table.update({
        "aten::__not__": _lower_not, "aten::logical_not": _lower_not, "aten::bitwise_not": _lower_not,
        "aten::neg": _lower_neg,
        "aten::Bool": _to_number("bool"), "aten::Int": _to_number("i64"), "aten::Float": _to_number("f32"),
        "aten::IntImplicit": _to_number("i64"), "aten::FloatImplicit": _to_number("f32"),
        "aten::ScalarImplicit": _to_number(None), "aten::item": _to_number(None),
        "prim::NumToTensor": _to_number(None),
        "aten::sum": _lower_sum,
        "prim::ListConstruct": _lower_list_construct, **_LIST_METHODS,
        "aten::stack": _lower_stack, "aten::__getitem__": _lower_getitem,
        "aten::zeros_like": _lower_full_like(0.0), "aten::ones_like": _lower_full_like(1.0),
        "aten::full_like": _lower_full_like(None),
    })
    return table


# Always run by their lowering, even on static operands: they mutate or create Python lists
# (torch.ops would work on a copy). Other list mutations (remove, sort) are unsupported.
NOT_STATIC = {"prim::ListConstruct"} | set(_LIST_METHODS) | {"aten::remove", "aten::sort"}


# -- if ----------------------------------------------------------------------------------------------


class _Leaf:
    """Position of a run-time result in the structure (lists, tuples) an if returns."""

    def __init__(self, index: int):
        self.index = index


def _same_static(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, (bool, int, float, str)) and type(a) is type(b):
        return a == b
    return False


def _type_of(obj) -> Optional[Tuple[str, Tuple[int, ...]]]:
    if isinstance(obj, Value):
        return obj.dtype, obj.shape
    if isinstance(obj, (bool, int, float)):
        return scalar_dtype(obj), ()
    if isinstance(obj, torch.Tensor):
        return _value_dtype(obj), tuple(obj.shape)
    return None


def _materialize(lowering, obj, dtype: str, shape: Tuple[int, ...]) -> Optional[Value]:
    """obj as a value of the graph being built; None (an Uninitialized slot: a variable set on the
    other path only, never read on this one) becomes zeros. None when obj cannot be a tensor."""
    if obj is None:
        return lowering.graph.add_constant("uninitialized", np.zeros(shape, dtype=NUMPY_DTYPES[dtype]))
    if isinstance(obj, Value):
        return lowering.localize(obj)
    if isinstance(obj, (bool, int, float)):
        return scalar_constant(lowering, obj)  # its own dtype: the caller compares
    if isinstance(obj, torch.Tensor):
        return typed(lowering, obj, dtype)
    return None


def _merge(a, b, leaves: List[Tuple[Any, Any]]):
    if isinstance(a, Poison) or isinstance(b, Poison):
        return POISON
    if _same_static(a, b) or (a is None and b is None):
        return a
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b) and len(a) == len(b):
        return type(a)(_merge(x, y, leaves) for x, y in zip(a, b))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        raise Unsupported("the branches give lists of different lengths (a list's length must be known at export)")
    leaves.append((a, b))
    return _Leaf(len(leaves) - 1)


def _rebuild(obj, outputs: List[Value]):
    if isinstance(obj, _Leaf):
        return outputs[obj.index]
    if isinstance(obj, (list, tuple)):
        return type(obj)(_rebuild(o, outputs) for o in obj)
    return obj


def _fmt_type(t) -> str:
    return "nothing" if t is None else f"{t[0]}[{','.join(map(str, t[1]))}]"


def lower_runtime_if(self, node, cond) -> List[Any]:
    """prim::If on a run-time condition -> one `if` node; returns the results per node output."""
    cond_value = condition(self, cond)
    base = self.output_name(node, "if")
    scopes: List[Scope] = []
    results: List[List[Any]] = []
    grown: Dict[int, list] = {}  # outer lists a branch appended to
    contents: List[Dict[int, list]] = []
    for which, block in zip(("then", "else"), node.blocks()):
        scope = Scope(Graph(f"{base}_{which}"), self.scope, "if")
        try:
            with _enter(self, scope):
                results.append(self.run_block(block.nodes(), block.returnNode()))
        finally:
            # Each branch starts from the lists as they were before the if.
            contents.append({k: list(lst) for k, (lst, _) in scope.list_snapshots.items()})
            for k, (lst, before) in scope.list_snapshots.items():
                lst[:] = before
                grown[k] = lst
        self.current_node = node
        scopes.append(scope)
    # A grown list is one more result of the if: its contents on each path, element by element.
    grown_lists = list(grown.values())
    for branch, side in zip(results, contents):
        branch.extend(side.get(id(lst), list(lst)) for lst in grown_lists)
    leaves: List[Tuple[Any, Any]] = []
    structure, names = [], []
    for k, (a, b) in enumerate(zip(*results)):
        structure.append(_merge(a, b, leaves))
        names += [self.output_name(node, "if", k)] * (len(leaves) - len(names))
    if not leaves:
        return _set_lists(self, grown_lists, structure)  # the same static values on both paths
    types = []
    for k, (a, b) in enumerate(leaves):
        ta, tb = _type_of(a), _type_of(b)
        if ta is None and tb is None:
            raise Unsupported(f"a branch result of type {type(a if a is not None else b).__name__}")
        if ta is not None and tb is not None and ta != tb:
            raise Unsupported(f"result {k} is {_fmt_type(ta)} in the then branch and {_fmt_type(tb)} in the else "
                              "branch (shapes and dtypes must not depend on the branch taken)")
        types.append(ta if isinstance(a, Value) or tb is None else tb)
    for scope, side in zip(scopes, (0, 1)):
        with _enter(self, scope):
            for (pair, (dtype, shape)) in zip(leaves, types):
                value = _materialize(self, pair[side], dtype, shape)
                if value is None or (value.dtype, value.shape) != (dtype, shape):
                    raise Unsupported(f"a branch result is {_fmt_type(_type_of(pair[side]))}, the other branch "
                                      f"gives {_fmt_type((dtype, shape))}")
                scope.graph.outputs.append(value)
    captures = _unify_captures(scopes)
    ir_node = self.graph.add_node("if", [cond_value] + captures, [(n, d, s) for n, (d, s) in zip(names, types)],
                                  {"then_branch": scopes[0].graph, "else_branch": scopes[1].graph},
                                  self.location(node), self.node_name(node))
    return _set_lists(self, grown_lists, [_rebuild(o, ir_node.outputs) for o in structure])


def _set_lists(self, grown_lists: List[list], results: List[Any]) -> List[Any]:
    """Stores the merged contents of the lists the branches grew; returns the if's own results."""
    if not grown_lists:
        return results
    for lst, merged in zip(grown_lists, results[-len(grown_lists):]):
        before_list_mutation(self, lst)
        lst[:] = merged
    return results[:-len(grown_lists)]


def _unify_captures(scopes: List[Scope]) -> List[Value]:
    """Both branches take the union of what either captured, in one order (docs/ops.md `if`)."""
    union: List[Value] = []
    position: Dict[int, int] = {}
    for scope in scopes:
        for outer in scope.captured:
            if id(outer) not in position:
                position[id(outer)] = len(union)
                union.append(outer)
    for scope in scopes:
        mine = {id(o): v for o, v in zip(scope.captured, scope.capture_inputs)}
        inputs = []
        for outer in union:
            local = mine.get(id(outer))
            if local is None:
                local = scope.graph.add_input(outer.name, outer.dtype, outer.shape)
            inputs.append(local)
        scope.graph.inputs = inputs
        each_graph(scope.graph, eliminate_dead_code)
    return union


# -- loop --------------------------------------------------------------------------------------------


def mutates_list(block) -> bool:
    for n in block.nodes():
        if n.kind() in _LIST_MUTATIONS or any(mutates_list(b) for b in n.blocks()):
            return True
    return False


def _static_true(self, torch_value) -> bool:
    if torch_value.unique() in self.env:
        return self.env[torch_value.unique()] is True
    producer = torch_value.node()
    return producer.kind() == "prim::Constant" and producer.output().toIValue() is True


def lower_loop(self, node, args) -> None:
    """prim::Loop(max_trip_count, cond, carried...) with block (iter, carried...) -> (cond, carried...)."""
    max_trip, cond0, initial = args[0], args[1], list(args[2:])
    block = next(iter(node.blocks()))
    params = list(block.inputs())
    returned = list(block.returnNode().inputs())
    static_entry = isinstance(max_trip, int) and isinstance(cond0, (bool, int))
    if static_entry and (not cond0 or max_trip <= 0):
        results = initial  # runs zero times
    elif static_entry and _static_true(self, returned[0]) and \
            max_trip <= (LIST_UNROLL if mutates_list(block) else MAX_UNROLL):
        results = _unroll(self, node, block, params, max_trip, initial)
    else:
        results = _runtime_loop(self, node, block, params, max_trip, cond0, initial)
    self.current_node = node
    for o, r in zip(node.outputs(), results):
        self.set(o, r)


def _unroll(self, node, block, params, trips: int, carried: List[Any]) -> List[Any]:
    for i in range(trips):
        self.set(params[0], i)
        for p, c in zip(params[1:], carried):
            self.set(p, c)
        carried = self.run_block(block.nodes(), block.returnNode())[1:]
        self.current_node = node
    return carried


def _carried_value(self, obj, k: int) -> Value:
    if isinstance(obj, Value):
        return self.localize(obj)
    if isinstance(obj, (bool, int, float)):
        return scalar_constant(self, obj, name="carried")
    if isinstance(obj, torch.Tensor):
        return self.constant(obj, "carried")
    what = "a list" if isinstance(obj, (list, tuple)) else ("an unset variable" if obj is None else
                                                            type(obj).__name__)
    raise Unsupported(f"loop-carried value {k} is {what}; a loop run a run-time number of times can carry "
                      "tensors and numbers only")


def _runtime_loop(self, node, block, params, max_trip, cond0, initial: List[Any]) -> List[Any]:
    trip = None if isinstance(max_trip, int) and max_trip >= _UNBOUNDED else scalar_of(self, typed(self, max_trip, "i64"))
    cond = None if cond0 is True or (isinstance(cond0, int) and not isinstance(cond0, bool) and cond0) \
        else condition(self, cond0)
    carried = [_carried_value(self, obj, k) for k, obj in enumerate(initial)]
    base = self.output_name(node, "loop")
    scope = Scope(Graph(f"{base}_body"), self.scope, "loop")
    body = scope.graph
    iteration = body.add_input(params[0].debugName().split(".")[0] or "iter", "i64", ())
    body.add_input("cond", "bool", ())
    self.set(params[0], iteration)
    for p, v in zip(params[1:], carried):
        self.set(p, body.add_input(p.debugName().split(".")[0] or v.name, v.dtype, v.shape))
    with _enter(self, scope):
        returned = self.run_block(block.nodes(), block.returnNode())
        self.current_node = node
        body.outputs.append(condition(self, returned[0]))
        for k, (obj, v) in enumerate(zip(returned[1:], carried)):
            if isinstance(obj, Poison):
                return [POISON] * len(carried)
            after = _type_of(obj)
            value = _materialize(self, obj, v.dtype, v.shape) if after is not None else None
            if value is None or (value.dtype, value.shape) != (v.dtype, v.shape):
                name = params[k + 1].debugName().split(".")[0]
                raise Unsupported(f"loop-carried '{name}' is {v.type_str()} on entry and {_fmt_type(after)} after an "
                                  "iteration (its shape and dtype must not change from one iteration to the next)")
            body.outputs.append(value)
    each_graph(body, eliminate_dead_code)
    if not carried:
        return []  # nothing leaves the loop: it has no effect
    names = [self.output_name(node, "loop", k) for k in range(len(carried))]
    ir_node = self.graph.add_node("loop", [trip, cond] + carried + scope.captured,
                                  [(n, v.dtype, v.shape) for n, v in zip(names, carried)],
                                  {"body": body, "num_carried": len(carried)}, self.location(node),
                                  self.node_name(node))
    return list(ir_node.outputs)
