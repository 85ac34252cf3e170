"""The graph as an ONNX model (opset 17), e.g. to open it in Netron.

Needs the optional ``onnx`` package (``pip install 'deploykit[onnx]'``). Every op of
docs/ops.md maps to standard ONNX ops; a fused epilogue is written out as what it
computes (Conv, then Add of the residual, then Relu or Clip), since ONNX has no fused form.
Constants become initializers under their own names; node names are the module paths.
"""

from __future__ import annotations

import math
from typing import List, Optional

import numpy as np

from ..errors import DeployError, UnsupportedError
from ..ir.graph import Graph, Node

OPSET = 17


def _require_onnx():
    try:
        import onnx  # noqa: F401
        from onnx import helper, numpy_helper  # noqa: F401
    except ImportError:
        raise DeployError("writing ONNX needs the optional 'onnx' package: pip install 'deploykit[onnx]' "
                          "(or pip install onnx)") from None
    return onnx


class _Builder:
    def __init__(self, graph: Graph, onnx):
        self.graph = graph
        self.onnx = onnx
        self.helper = onnx.helper
        self.nodes = []
        self.initializers = []
        self.names = set(graph.values)
        self.counter = 0

    def fresh(self, base: str) -> str:
        while True:
            self.counter += 1
            name = f"{base}__{self.counter}"
            if name not in self.names:
                self.names.add(name)
                return name

    def const(self, base: str, array: np.ndarray) -> str:
        name = self.fresh(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def add(self, op: str, inputs: List[str], outputs: List[str], name: str = "", **attrs) -> None:
        self.nodes.append(self.helper.make_node(op, inputs, outputs, name=name or self.fresh(op), **attrs))

    def epilogue(self, node: Node, result: str, final: str) -> None:
        """Residual add and clamp after a conv2d/linear/add whose raw output is ``result``."""
        current = result
        residual = node.inputs[3] if node.op in ("conv2d", "linear") and len(node.inputs) > 3 else None
        low = float(node.attrs.get("act_min", -math.inf))
        high = float(node.attrs.get("act_max", math.inf))
        clamp = (low, high) != (-math.inf, math.inf)
        if residual is not None:
            nxt = final if not clamp else self.fresh(final + "_residual")
            self.add("Add", [current, residual.name], [nxt])
            current = nxt
        if clamp:
            if (low, high) == (0.0, math.inf):
                self.add("Relu", [current], [final])
            else:
                lo = self.const(final + "_min", np.array(low if low != -math.inf else np.finfo(np.float32).min,
                                                         dtype=np.float32))
                hi = self.const(final + "_max", np.array(high if high != math.inf else np.finfo(np.float32).max,
                                                         dtype=np.float32))
                self.add("Clip", [current, lo, hi], [final])

    def lower(self, node: Node) -> None:
        a = node.attrs
        ins = [None if v is None else v.name for v in node.inputs]
        out = node.outputs[0].name
        name = node.name or ""
        op = node.op
        has_epilogue = (op in ("conv2d", "linear") and len(ins) > 3 and ins[3] is not None) or \
            "act_min" in a or "act_max" in a
        raw = self.fresh(out + "_raw") if has_epilogue else out
        if op == "conv2d":
            kernel = list(node.inputs[1].shape[2:])
            self.add("Conv", [i for i in ins[:3] if i is not None], [raw], name, strides=a["stride"], pads=a["pads"],
                     dilations=a["dilation"], group=a["groups"], kernel_shape=kernel)
        elif op == "linear":
            x = node.inputs[0]
            if x.rank == 2:
                self.add("Gemm", [i for i in ins[:3] if i is not None], [raw], name, transB=1)
            else:
                weight_t = self.const(ins[1] + "_T", self.graph.constants[ins[1]].T.copy())
                if ins[2] is None:
                    self.add("MatMul", [ins[0], weight_t], [raw], name)
                else:
                    mm = self.fresh(out + "_matmul")
                    self.add("MatMul", [ins[0], weight_t], [mm], name)
                    self.add("Add", [mm, ins[2]], [raw])
        elif op == "batch_norm":
            c = node.inputs[0].shape[1]
            scale = ins[3] if len(ins) > 3 and ins[3] is not None else self.const(out + "_scale", np.ones(c, np.float32))
            bias = ins[4] if len(ins) > 4 and ins[4] is not None else self.const(out + "_bias", np.zeros(c, np.float32))
            self.add("BatchNormalization", [ins[0], scale, bias, ins[1], ins[2]], [out], name, epsilon=float(a["eps"]))
        elif op == "relu":
            self.add("Relu", [ins[0]], [out], name)
        elif op == "sigmoid":
            self.add("Sigmoid", [ins[0]], [out], name)
        elif op == "hardtanh":
            lo = self.const(out + "_min", np.array(max(a["min_val"], float(np.finfo(np.float32).min)), np.float32))
            hi = self.const(out + "_max", np.array(min(a["max_val"], float(np.finfo(np.float32).max)), np.float32))
            self.add("Clip", [ins[0], lo, hi], [out], name)
        elif op == "add":
            b = ins[1]
            if a["alpha"] != 1.0:
                scaled = self.fresh(out + "_scaled")
                self.add("Mul", [b, self.const(out + "_alpha", np.array(a["alpha"], np.float32))], [scaled])
                b = scaled
            self.add("Add", [ins[0], b], [raw], name)
        elif op == "mul":
            self.add("Mul", ins[:2], [out], name)
        elif op in ("max_pool2d", "avg_pool2d"):
            common = dict(kernel_shape=a["kernel"], strides=a["stride"], pads=a["pads"], ceil_mode=a["ceil_mode"])
            if op == "max_pool2d":
                self.add("MaxPool", [ins[0]], [out], name, dilations=a["dilation"], **common)
            elif a["divisor_override"]:
                # sum over the window / divisor = (average over the full padded window) * area / divisor
                if a["ceil_mode"]:
                    raise UnsupportedError(f"{name or out}: avg_pool2d with divisor_override and ceil_mode has no "
                                           "ONNX equivalent")
                avg = self.fresh(out + "_avg")
                self.add("AveragePool", [ins[0]], [avg], name, count_include_pad=1, **common)
                factor = a["kernel"][0] * a["kernel"][1] / a["divisor_override"]
                self.add("Mul", [avg, self.const(out + "_factor", np.array(factor, np.float32))], [out])
            else:
                self.add("AveragePool", [ins[0]], [out], name, count_include_pad=a["count_include_pad"], **common)
        elif op == "adaptive_avg_pool2d":
            h, w = node.inputs[0].shape[2:]
            oh, ow = a["output_size"]
            if (oh, ow) == (1, 1):
                self.add("GlobalAveragePool", [ins[0]], [out], name)
            elif h % oh == 0 and w % ow == 0:
                self.add("AveragePool", [ins[0]], [out], name, kernel_shape=[h // oh, w // ow],
                         strides=[h // oh, w // ow])
            else:
                raise UnsupportedError(f"{name or out}: adaptive_avg_pool2d from {h}x{w} to {oh}x{ow} (not a divisor) "
                                       "has no ONNX equivalent")
        elif op in ("flatten", "reshape"):
            shape = self.const(out + "_shape", np.array(node.outputs[0].shape, dtype=np.int64))
            self.add("Reshape", [ins[0], shape], [out], name)
        elif op == "cat":
            self.add("Concat", ins, [out], name, axis=a["axis"])
        elif op == "mean":
            self.add("ReduceMean", [ins[0]], [out], name, axes=a["dims"], keepdims=a["keepdim"])
        elif op == "softmax":
            self.add("Softmax", [ins[0]], [out], name, axis=a["axis"])
        else:
            raise UnsupportedError(f"op {op} has no ONNX mapping")
        if has_epilogue:
            self.epilogue(node, raw, out)


def to_onnx(graph: Graph, producer_version: Optional[str] = None):
    """An onnx.ModelProto of the graph, checked by onnx.checker."""
    onnx = _require_onnx()
    from onnx import TensorProto, helper

    from .. import __version__

    builder = _Builder(graph, onnx)
    for name, array in graph.constants.items():
        builder.initializers.append(onnx.numpy_helper.from_array(array, name))
    for node in graph.nodes:
        builder.lower(node)
    dtypes = {"f32": TensorProto.FLOAT}

    def info(v):
        return helper.make_tensor_value_info(v.name, dtypes[v.dtype], list(v.shape))

    value_info = [info(v) for n in graph.nodes for v in n.outputs if v not in graph.outputs]
    onnx_graph = helper.make_graph(builder.nodes, graph.name, [info(v) for v in graph.inputs],
                                   [info(v) for v in graph.outputs], builder.initializers, value_info=value_info)
    model = helper.make_model(onnx_graph, producer_name="deploykit",
                              producer_version=producer_version or __version__,
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = min(model.ir_version, 8)
    onnx.checker.check_model(model)
    return model


def write_onnx(graph: Graph, path) -> None:
    onnx = _require_onnx()
    onnx.save(to_onnx(graph), str(path))
