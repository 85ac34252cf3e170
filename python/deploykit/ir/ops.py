"""One schema per op of docs/ops.md: code, inputs, attributes and shape inference.

The codes are the archive's node.op field and must equal docs/ops.md and
cpp/runtime/ops/op.h (OpKind). Shape inference mirrors PyTorch's own output-size
rules so that a graph the verifier accepts computes what PyTorch computes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

Shape = Tuple[int, ...]

# Attribute types (the archive stores them as codes, see archive/format.py).
INT = "int"
FLOAT = "float"
INTS = "ints"
FLOATS = "floats"
STRING = "string"
GRAPH = "graph"  # the Python value is an ir.Graph (if/loop subgraphs)


class OpError(ValueError):
    """An op's inputs or attributes are invalid. verify.py re-raises it with node context."""


@dataclass(frozen=True)
class InputSpec:
    name: str
    optional: bool = False


@dataclass(frozen=True)
class AttrSpec:
    type: str
    length: Optional[int] = None  # fixed list length for INTS/FLOATS, None = any
    optional: bool = False  # may be absent (docs/ops.md marks it optional and gives its default)


@dataclass(frozen=True)
class OpSchema:
    code: int
    name: str
    inputs: Tuple[InputSpec, ...]
    attrs: Dict[str, AttrSpec]
    # infer(input shapes (None for an absent optional input), attrs) -> output shapes
    infer: Callable[[List[Optional[Shape]], Dict[str, object]], List[Shape]]
    variadic: bool = False  # the single input spec repeats (cat: x0 ... xn-1, n >= 1)
    num_outputs: Optional[int] = 1  # None: as many as the subgraphs return (if, loop)
    # Version 1.0 computes in f32: every present input and every output is f32.
    dtypes: Tuple[str, ...] = field(default=("f32",))
    # Ops with other element types (codes 4, 12, 17-26): (input dtypes, None for absent;
    # attrs) -> output dtypes, raising OpError for a dtype the op does not take. Replaces
    # the `dtypes` rule when set.
    infer_dtypes: Optional[Callable[[List[Optional[str]], Dict[str, object]], List[str]]] = None

    @property
    def min_inputs(self) -> int:
        # Variadic: the last spec repeats. With one spec (cat) it must appear at least once;
        # with leading specs (if, loop) every leading slot must exist (NONE when optional).
        if self.variadic:
            return 1 if len(self.inputs) == 1 else len(self.inputs) - 1
        return sum(1 for spec in self.inputs if not spec.optional)

    @property
    def max_inputs(self) -> Optional[int]:
        return None if self.variadic else len(self.inputs)

    def input_optional(self, index: int) -> bool:
        if self.variadic:
            return index < len(self.inputs) - 1 and self.inputs[index].optional
        return self.inputs[index].optional

    def input_name(self, index: int) -> str:
        if self.variadic:
            lead = len(self.inputs) - 1
            return self.inputs[index].name if index < lead else f"{self.inputs[-1].name}{index - lead}"
        return self.inputs[index].name


# -- helpers ---------------------------------------------------------------------------


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise OpError(message)


def _fmt(shape: Optional[Shape]) -> str:
    return "absent" if shape is None else "[" + ",".join(str(d) for d in shape) + "]"


def _rank(shape: Shape, rank: int, what: str) -> None:
    _require(len(shape) == rank, f"{what} must have rank {rank}, got {_fmt(shape)}")


def broadcast_shapes(a: Shape, b: Shape) -> Shape:
    """NumPy / PyTorch broadcasting."""
    rank = max(len(a), len(b))
    pa = (1,) * (rank - len(a)) + tuple(a)
    pb = (1,) * (rank - len(b)) + tuple(b)
    out = []
    for i, (x, y) in enumerate(zip(pa, pb)):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise OpError(f"shapes {_fmt(a)} and {_fmt(b)} cannot be broadcast (dim {i}: {x} vs {y})")
    return tuple(out)


def pooling_output_size(size: int, kernel: int, pad_begin: int, pad_end: int, stride: int,
                        dilation: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape, generalized to asymmetric padding."""
    numerator = size + pad_begin + pad_end - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1  # floor division, as PyTorch's div_rtn
    if ceil_mode and (out - 1) * stride >= size + pad_begin:
        # The last window must start inside the input or the left padding.
        out -= 1
    return out


def _check_positive(values: Sequence[int], what: str) -> None:
    _require(all(v >= 1 for v in values), f"{what} must be >= 1, got {list(values)}")


def _check_pads(pads: Sequence[int]) -> None:
    _require(all(p >= 0 for p in pads), f"pads must be >= 0, got {list(pads)}")


def _same(inputs: List[Optional[Shape]], attrs) -> List[Shape]:
    return [inputs[0]]


# -- shape inference per op ----------------------------------------------------------------


# The fused epilogue of docs/ops.md ("Fused epilogues"): conv2d and linear take an optional
# `residual` input of exactly the output's shape; conv2d, linear and add take optional
# act_min / act_max (defaults -inf / +inf), y = clamp(op + residual, act_min, act_max).
_EPILOGUE_ATTRS = {"act_min": AttrSpec(FLOAT, optional=True), "act_max": AttrSpec(FLOAT, optional=True)}


def _check_epilogue(attrs, output: Shape, residual: Optional[Shape] = None) -> None:
    low = attrs.get("act_min", -math.inf)
    high = attrs.get("act_max", math.inf)
    _require(not math.isnan(low) and not math.isnan(high), f"act_min {low} and act_max {high} must not be NaN")
    _require(low <= high, f"act_min {low} must be <= act_max {high}")
    if residual is not None:
        _require(tuple(residual) == tuple(output),
                 f"residual must have exactly the output's shape {_fmt(output)}, got {_fmt(residual)}")


def _infer_conv2d(inputs, attrs):
    x, w, bias, residual = inputs
    _rank(x, 4, "x")
    _rank(w, 4, "weight")
    stride, pads, dilation, groups = attrs["stride"], attrs["pads"], attrs["dilation"], attrs["groups"]
    _check_positive(stride, "stride")
    _check_positive(dilation, "dilation")
    _check_pads(pads)
    _require(groups >= 1, f"groups must be >= 1, got {groups}")
    n, c, h, wd = x
    oc, cg, kh, kw = w
    _require(c % groups == 0 and c // groups == cg,
             f"x has {c} channels but weight {_fmt(w)} with groups={groups} expects {cg * groups}")
    _require(oc % groups == 0, f"groups={groups} does not divide the {oc} output channels")
    _require(kh >= 1 and kw >= 1, f"kernel must be >= 1, got {kh}x{kw}")
    if bias is not None:
        _require(tuple(bias) == (oc,), f"bias must be [{oc}], got {_fmt(bias)}")
    out_h = (h + pads[0] + pads[2] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    out_w = (wd + pads[1] + pads[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    _require(out_h >= 1 and out_w >= 1,
             f"output size {out_h}x{out_w} is too small (input {h}x{wd}, kernel {kh}x{kw})")
    _check_epilogue(attrs, (n, oc, out_h, out_w), residual)
    return [(n, oc, out_h, out_w)]


def _infer_batch_norm(inputs, attrs):
    x = inputs[0]
    _require(len(x) >= 2, f"x must have rank >= 2, got {_fmt(x)}")
    _require(attrs["eps"] > 0, f"eps must be > 0, got {attrs['eps']}")
    c = x[1]
    for name, shape in zip(("running_mean", "running_var", "weight", "bias"), inputs[1:]):
        if shape is not None:
            _require(tuple(shape) == (c,), f"{name} must be [{c}], got {_fmt(shape)}")
    return [x]


def _infer_add(inputs, attrs):
    out = broadcast_shapes(inputs[0], inputs[1])
    _check_epilogue(attrs, out)
    return [out]


def _infer_mul(inputs, attrs):
    return [broadcast_shapes(inputs[0], inputs[1])]


def _pool_common(x, attrs, dilation):
    _rank(x, 4, "x")
    kernel, stride, pads = attrs["kernel"], attrs["stride"], attrs["pads"]
    _check_positive(kernel, "kernel")
    _check_positive(stride, "stride")
    _check_positive(dilation, "dilation")
    _check_pads(pads)
    _require(pads[0] <= kernel[0] // 2 and pads[2] <= kernel[0] // 2
             and pads[1] <= kernel[1] // 2 and pads[3] <= kernel[1] // 2,
             f"pads {list(pads)} must be at most half the kernel {list(kernel)}")
    ceil_mode = bool(attrs["ceil_mode"])
    n, c, h, w = x
    out_h = pooling_output_size(h, kernel[0], pads[0], pads[2], stride[0], dilation[0], ceil_mode)
    out_w = pooling_output_size(w, kernel[1], pads[1], pads[3], stride[1], dilation[1], ceil_mode)
    _require(out_h >= 1 and out_w >= 1,
             f"output size {out_h}x{out_w} is too small (input {h}x{w}, kernel {list(kernel)})")
    return [(n, c, out_h, out_w)]


def _infer_max_pool2d(inputs, attrs):
    return _pool_common(inputs[0], attrs, attrs["dilation"])


def _infer_avg_pool2d(inputs, attrs):
    _require(attrs["divisor_override"] >= 0, f"divisor_override must be >= 0, got {attrs['divisor_override']}")
    return _pool_common(inputs[0], attrs, (1, 1))


def _infer_adaptive_avg_pool2d(inputs, attrs):
    x = inputs[0]
    _rank(x, 4, "x")
    size = attrs["output_size"]
    _check_positive(size, "output_size")
    _require(x[2] >= 1 and x[3] >= 1, f"x must have non-empty spatial dims, got {_fmt(x)}")
    return [(x[0], x[1], size[0], size[1])]


def _infer_flatten(inputs, attrs):
    x = inputs[0]
    start, end = attrs["start_dim"], attrs["end_dim"]
    _require(0 <= start <= end < len(x),
             f"need 0 <= start_dim <= end_dim < rank, got start_dim={start} end_dim={end} for {_fmt(x)}")
    inner = 1
    for d in x[start:end + 1]:
        inner *= d
    return [tuple(x[:start]) + (inner,) + tuple(x[end + 1:])]


def _infer_linear(inputs, attrs):
    x, w, bias, residual = inputs
    _require(len(x) >= 1, f"x must have rank >= 1, got {_fmt(x)}")
    _rank(w, 2, "weight")
    _require(x[-1] == w[1], f"x {_fmt(x)} has {x[-1]} features but weight {_fmt(w)} expects {w[1]}")
    if bias is not None:
        _require(tuple(bias) == (w[0],), f"bias must be [{w[0]}], got {_fmt(bias)}")
    out = tuple(x[:-1]) + (w[0],)
    _check_epilogue(attrs, out, residual)
    return [out]


def _infer_hardtanh(inputs, attrs):
    _require(attrs["min_val"] <= attrs["max_val"],
             f"min_val {attrs['min_val']} must be <= max_val {attrs['max_val']}")
    return [inputs[0]]


def _infer_reshape(inputs, attrs):
    x = inputs[0]
    shape = tuple(attrs["shape"])
    # One -1 (format 1.2, dynamic shapes) takes the size that keeps numel; the rest are fixed.
    _require(all(d >= -1 for d in shape) and list(shape).count(-1) <= 1,
             f"shape entries must be >= 0, with at most one -1, got {list(shape)}")
    numel_in = 1
    for d in x:
        numel_in *= d
    if -1 in shape:
        known = 1
        for d in shape:
            known *= d if d != -1 else 1
        _require(known > 0 and numel_in % known == 0, f"cannot reshape {_fmt(x)} ({numel_in} elements) to {list(shape)}")
        shape = tuple(numel_in // known if d == -1 else d for d in shape)
    numel_out = 1
    for d in shape:
        numel_out *= d
    _require(numel_in == numel_out, f"cannot reshape {_fmt(x)} ({numel_in} elements) to {list(shape)}")
    return [shape]


def _infer_cat(inputs, attrs):
    first = inputs[0]
    axis = attrs["axis"]
    _require(0 <= axis < len(first), f"axis {axis} out of range for rank {len(first)}")
    total = 0
    for i, shape in enumerate(inputs):
        _require(len(shape) == len(first), f"x{i} {_fmt(shape)} has a different rank than x0 {_fmt(first)}")
        for d in range(len(first)):
            if d != axis:
                _require(shape[d] == first[d], f"x{i} {_fmt(shape)} differs from x0 {_fmt(first)} in dim {d}")
        total += shape[axis]
    out = list(first)
    out[axis] = total
    return [tuple(out)]


def _infer_mean(inputs, attrs):
    x = inputs[0]
    dims = list(attrs["dims"])
    _require(all(0 <= d < len(x) for d in dims), f"dims {dims} out of range for rank {len(x)}")
    _require(len(set(dims)) == len(dims), f"dims {dims} are not unique")
    _require(dims or len(x) == 0, "dims must list the reduced dims explicitly")
    keepdim = bool(attrs["keepdim"])
    out = []
    for i, d in enumerate(x):
        if i in dims:
            if keepdim:
                out.append(1)
        else:
            out.append(d)
    return [tuple(out)]


def _infer_softmax(inputs, attrs):
    x = inputs[0]
    _require(0 <= attrs["axis"] < max(len(x), 1), f"axis {attrs['axis']} out of range for rank {len(x)}")
    return [x]


def _pool_attrs(with_dilation: bool) -> Dict[str, AttrSpec]:
    attrs = {"kernel": AttrSpec(INTS, 2), "stride": AttrSpec(INTS, 2), "pads": AttrSpec(INTS, 4)}
    if with_dilation:
        attrs["dilation"] = AttrSpec(INTS, 2)
    attrs["ceil_mode"] = AttrSpec(INT)
    return attrs


# -- control flow and scalar ops (codes 17-26; docs/ops.md) -------------------------------

_COMPARE_MODES = ("eq", "ne", "lt", "le", "gt", "ge")
_LOGICAL_MODES = ("and", "or", "xor")
_CAST_CODES = {1: "f32", 8: "i64", 9: "bool"}


def _dtypes_same(allowed: Tuple[str, ...], out: Optional[str] = None):
    """Dtype rule of a broadcasting binary op: both inputs one dtype of `allowed`."""
    def infer(dtypes, attrs):
        a, b = dtypes[0], dtypes[1]
        _require(a in allowed and b in allowed, f"inputs must be {'/'.join(allowed)}, got {a} and {b}")
        _require(a == b, f"inputs must have the same dtype, got {a} and {b}")
        return [out or a]
    return infer


def _dtypes_add(dtypes, attrs):
    out = _dtypes_same(("f32", "i64"))(dtypes, attrs)
    if out[0] == "i64":
        alpha = attrs.get("alpha", 1)
        _require(float(alpha).is_integer(), f"alpha must be a whole number for i64 inputs, got {alpha}")
        _require("act_min" not in attrs and "act_max" not in attrs, "act_min/act_max are only allowed on f32 inputs")
    return out


def _dtypes_unary(allowed: Tuple[str, ...], out: Optional[str] = None):
    def infer(dtypes, attrs):
        _require(dtypes[0] in allowed, f"input must be {'/'.join(allowed)}, got {dtypes[0]}")
        return [out or dtypes[0]]
    return infer


def _infer_broadcast(inputs, attrs):
    return [broadcast_shapes(inputs[0], inputs[1])]


def _infer_compare(inputs, attrs):
    _require(0 <= attrs["mode"] < len(_COMPARE_MODES), f"mode must be 0..5 ({', '.join(_COMPARE_MODES)}), got {attrs['mode']}")
    return _infer_broadcast(inputs, attrs)


def _infer_logical(inputs, attrs):
    _require(0 <= attrs["mode"] < len(_LOGICAL_MODES), f"mode must be 0..2 ({', '.join(_LOGICAL_MODES)}), got {attrs['mode']}")
    return _infer_broadcast(inputs, attrs)


def _infer_cast(inputs, attrs):
    _require(attrs["to"] in _CAST_CODES, f"to must be a dtype code 1 (f32), 8 (i64) or 9 (bool), got {attrs['to']}")
    return [inputs[0]]


def _dtypes_cast(dtypes, attrs):
    _require(dtypes[0] in ("f32", "i64", "bool"), f"input must be f32/i64/bool, got {dtypes[0]}")
    _require(attrs["to"] in _CAST_CODES, f"to must be a dtype code 1, 8 or 9, got {attrs['to']}")
    return [_CAST_CODES[attrs["to"]]]


def _infer_size(inputs, attrs):
    rank = len(inputs[0])
    _require(-rank <= attrs["dim"] < rank, f"dim {attrs['dim']} out of range for rank {rank}")
    return [()]


def _signature(values) -> List[Tuple[str, Shape]]:
    return [(v.dtype, tuple(v.shape)) for v in values]


def _fmt_sig(sig) -> str:
    return "(" + ", ".join(f"{d}{_fmt(s)}" for d, s in sig) + ")"


def _infer_if(inputs, attrs):
    _require(inputs[0] == (), f"cond must be a scalar (bool[]), got {_fmt(inputs[0])}")
    captures = [tuple(s) for s in inputs[1:]]
    then_g, else_g = attrs["then_branch"], attrs["else_branch"]
    for name, g in (("then_branch", then_g), ("else_branch", else_g)):
        shapes = [tuple(v.shape) for v in g.inputs]
        _require(shapes == captures, f"{name} takes inputs {[_fmt(s) for s in shapes]}, "
                                     f"the node passes {[_fmt(s) for s in captures]}")
    then_out, else_out = _signature(then_g.outputs), _signature(else_g.outputs)
    _require(then_out == else_out, f"then_branch returns {_fmt_sig(then_out)}, else_branch returns {_fmt_sig(else_out)}")
    return [s for _, s in then_out]


def _dtypes_if(dtypes, attrs):
    _require(dtypes[0] == "bool", f"cond must be bool, got {dtypes[0]}")
    for name in ("then_branch", "else_branch"):
        got = [v.dtype for v in attrs[name].inputs]
        _require(got == list(dtypes[1:]), f"{name} takes dtypes {got}, the node passes {list(dtypes[1:])}")
    return [v.dtype for v in attrs["then_branch"].outputs]


def _loop_parts(inputs, attrs):
    n = attrs["num_carried"]
    _require(0 <= n <= len(inputs) - 2, f"num_carried {n} out of range for {len(inputs)} inputs")
    return list(inputs[2:2 + n]), list(inputs[2 + n:])


def _infer_loop(inputs, attrs):
    _require(inputs[0] is None or inputs[0] == (), f"max_trip_count must be a scalar (i64[]), got {_fmt(inputs[0])}")
    _require(inputs[1] is None or inputs[1] == (), f"cond must be a scalar (bool[]), got {_fmt(inputs[1])}")
    carried, captures = _loop_parts(inputs, attrs)
    _require(all(s is not None for s in carried + captures), "carried values and captures must be present")
    body = attrs["body"]
    expected = [(), ()] + [tuple(s) for s in carried + captures]
    got = [tuple(v.shape) for v in body.inputs]
    _require(got == expected, f"body takes inputs {[_fmt(s) for s in got]}, expected (iter, cond, carried..., "
                              f"captures...) = {[_fmt(s) for s in expected]}")
    outs = [tuple(v.shape) for v in body.outputs]
    _require(len(outs) == 1 + len(carried), f"body returns {len(outs)} values, expected cond and {len(carried)} carried")
    _require(outs[0] == (), f"body output 0 (cond) must be a scalar, got {_fmt(outs[0])}")
    for j, (o, c) in enumerate(zip(outs[1:], carried)):
        _require(o == tuple(c), f"body output {j + 1} is {_fmt(o)}, carried value {j} is {_fmt(c)}")
    return [tuple(c) for c in carried]


def _dtypes_loop(dtypes, attrs):
    _require(dtypes[0] in (None, "i64"), f"max_trip_count must be i64, got {dtypes[0]}")
    _require(dtypes[1] in (None, "bool"), f"cond must be bool, got {dtypes[1]}")
    carried, captures = _loop_parts(dtypes, attrs)
    body = attrs["body"]
    got = [v.dtype for v in body.inputs]
    expected = ["i64", "bool"] + carried + captures
    _require(got == expected, f"body takes dtypes {got}, expected {expected}")
    outs = [v.dtype for v in body.outputs]
    _require(outs[:1] == ["bool"] and outs[1:] == carried, f"body returns dtypes {outs}, expected {['bool'] + carried}")
    return carried


_X = (InputSpec("x"),)
_AB = (InputSpec("a"), InputSpec("b"))

SCHEMAS: Tuple[OpSchema, ...] = (
    OpSchema(1, "conv2d", (InputSpec("x"), InputSpec("weight"), InputSpec("bias", True), InputSpec("residual", True)),
             {"stride": AttrSpec(INTS, 2), "pads": AttrSpec(INTS, 4), "dilation": AttrSpec(INTS, 2),
              "groups": AttrSpec(INT), **_EPILOGUE_ATTRS}, _infer_conv2d),
    OpSchema(2, "batch_norm", (InputSpec("x"), InputSpec("running_mean"), InputSpec("running_var"),
                               InputSpec("weight", True), InputSpec("bias", True)),
             {"eps": AttrSpec(FLOAT)}, _infer_batch_norm),
    OpSchema(3, "relu", _X, {}, _same),
    OpSchema(4, "add", (InputSpec("a"), InputSpec("b")), {"alpha": AttrSpec(FLOAT), **_EPILOGUE_ATTRS}, _infer_add,
             infer_dtypes=_dtypes_add),
    OpSchema(5, "max_pool2d", _X, _pool_attrs(True), _infer_max_pool2d),
    OpSchema(6, "avg_pool2d", _X,
             {**_pool_attrs(False), "count_include_pad": AttrSpec(INT), "divisor_override": AttrSpec(INT)},
             _infer_avg_pool2d),
    OpSchema(7, "adaptive_avg_pool2d", _X, {"output_size": AttrSpec(INTS, 2)}, _infer_adaptive_avg_pool2d),
    OpSchema(8, "flatten", _X, {"start_dim": AttrSpec(INT), "end_dim": AttrSpec(INT)}, _infer_flatten),
    OpSchema(9, "linear", (InputSpec("x"), InputSpec("weight"), InputSpec("bias", True), InputSpec("residual", True)),
             dict(_EPILOGUE_ATTRS), _infer_linear),
    OpSchema(10, "hardtanh", _X, {"min_val": AttrSpec(FLOAT), "max_val": AttrSpec(FLOAT)}, _infer_hardtanh),
    OpSchema(11, "sigmoid", _X, {}, _same),
    OpSchema(12, "mul", (InputSpec("a"), InputSpec("b")), {}, _infer_mul, infer_dtypes=_dtypes_same(("f32", "i64"))),
    OpSchema(13, "reshape", _X, {"shape": AttrSpec(INTS)}, _infer_reshape),
    OpSchema(14, "cat", (InputSpec("x"),), {"axis": AttrSpec(INT)}, _infer_cat, variadic=True),
    OpSchema(15, "mean", _X, {"dims": AttrSpec(INTS), "keepdim": AttrSpec(INT)}, _infer_mean),
    OpSchema(16, "softmax", _X, {"axis": AttrSpec(INT)}, _infer_softmax),
    OpSchema(17, "if", (InputSpec("cond"), InputSpec("captures")),
             {"then_branch": AttrSpec(GRAPH), "else_branch": AttrSpec(GRAPH)}, _infer_if, variadic=True,
             num_outputs=None, infer_dtypes=_dtypes_if),
    OpSchema(18, "loop", (InputSpec("max_trip_count", True), InputSpec("cond", True), InputSpec("carried")),
             {"body": AttrSpec(GRAPH), "num_carried": AttrSpec(INT)}, _infer_loop, variadic=True,
             num_outputs=None, infer_dtypes=_dtypes_loop),
    OpSchema(19, "sub", _AB, {}, _infer_broadcast, infer_dtypes=_dtypes_same(("f32", "i64"))),
    OpSchema(20, "div", _AB, {}, _infer_broadcast, infer_dtypes=_dtypes_same(("f32", "i64"))),
    OpSchema(21, "compare", _AB, {"mode": AttrSpec(INT)}, _infer_compare,
             infer_dtypes=_dtypes_same(("f32", "i64"), "bool")),
    OpSchema(22, "logical_not", _X, {}, _same, infer_dtypes=_dtypes_unary(("bool",))),
    OpSchema(23, "logical", _AB, {"mode": AttrSpec(INT)}, _infer_logical, infer_dtypes=_dtypes_same(("bool",))),
    OpSchema(24, "sum", _X, {"dims": AttrSpec(INTS), "keepdim": AttrSpec(INT)}, _infer_mean,
             infer_dtypes=_dtypes_unary(("f32", "i64"))),
    OpSchema(25, "cast", _X, {"to": AttrSpec(INT)}, _infer_cast, infer_dtypes=_dtypes_cast),
    OpSchema(26, "size", _X, {"dim": AttrSpec(INT)}, _infer_size,
             infer_dtypes=lambda dtypes, attrs: ["i64"]),
)

BY_NAME: Dict[str, OpSchema] = {s.name: s for s in SCHEMAS}
BY_CODE: Dict[int, OpSchema] = {s.code: s for s in SCHEMAS}


def schema(op: str) -> OpSchema:
    try:
        return BY_NAME[op]
    except KeyError:
        raise OpError(f"unknown op '{op}'") from None


def check_attrs(op_schema: OpSchema, attrs: Dict[str, object]) -> None:
    """Every listed attribute present, of the right type and length; no unknown attributes."""
    for name in attrs:
        _require(name in op_schema.attrs, f"unknown attribute '{name}'")
    for name, spec in op_schema.attrs.items():
        if name not in attrs:
            _require(spec.optional, f"missing attribute '{name}'")
            continue
        value = attrs[name]
        if spec.type == INT:
            _require(isinstance(value, int), f"attribute '{name}' must be an int, got {value!r}")
        elif spec.type == FLOAT:
            _require(isinstance(value, (int, float)) and not isinstance(value, bool),
                     f"attribute '{name}' must be a float, got {value!r}")
        elif spec.type == STRING:
            _require(isinstance(value, str), f"attribute '{name}' must be a string, got {value!r}")
        elif spec.type == GRAPH:
            from .graph import Graph  # graph.py does not import ops.py; this keeps it that way
            _require(isinstance(value, Graph), f"attribute '{name}' must be a subgraph (ir.Graph), got {value!r}")
        else:
            element = int if spec.type == INTS else (int, float)
            _require(isinstance(value, (list, tuple)) and all(isinstance(v, element) for v in value),
                     f"attribute '{name}' must be a list of {'ints' if spec.type == INTS else 'floats'}, got {value!r}")
            if spec.length is not None:
                _require(len(value) == spec.length,
                         f"attribute '{name}' must have {spec.length} entries, got {len(value)}")


def infer_shapes(op: str, input_shapes: List[Optional[Shape]], attrs: Dict[str, object]) -> List[Shape]:
    """Checks arity and attributes and returns the output shapes. Raises OpError."""
    op_schema = schema(op)
    count = len(input_shapes)
    _require(count >= op_schema.min_inputs and (op_schema.max_inputs is None or count <= op_schema.max_inputs),
             f"{op} takes {op_schema.min_inputs}"
             + ("+" if op_schema.max_inputs is None else
                ("" if op_schema.max_inputs == op_schema.min_inputs else f"..{op_schema.max_inputs}"))
             + f" inputs, got {count}")
    for i, shape in enumerate(input_shapes):
        required = not op_schema.input_optional(i)
        _require(shape is not None or not required, f"required input '{op_schema.input_name(i)}' is absent")
    check_attrs(op_schema, attrs)
    if not op_schema.variadic:
        input_shapes = list(input_shapes) + [None] * (len(op_schema.inputs) - count)
    shapes = op_schema.infer([None if s is None else tuple(s) for s in input_shapes], attrs)
    return [tuple(int(d) for d in s) for s in shapes]
