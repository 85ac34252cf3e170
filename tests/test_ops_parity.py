"""Every op in docs/ops.md against PyTorch, over grids of shapes and attributes that hit edges.

Each case builds a tiny nn.Module, exports it with torch.jit.trace (deploykit.export),
loads the archive in the C++ runtime (deploykit.load) and compares with torch
under the project's parity bound. Tensors are small so the whole file stays fast.
"""

import itertools
from dataclasses import dataclass
from typing import Callable, Sequence, Tuple

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers import assert_close_to_torch, check_parity, export_and_load, torch_reference
from models import randomize_batchnorm


class Fn(nn.Module):
    """Wraps a function of the inputs as a module, so functional ops can be traced."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


@dataclass
class Case:
    id: str
    build: Callable[[], nn.Module]
    shapes: Sequence[Tuple[int, ...]]
    scale: float = 1.0  # inputs are randn * scale (+ shift)
    shift: float = 0.0


def params(cases):
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), f"duplicate case ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    return pytest.mark.parametrize("case", cases, ids=ids)


def run_case(case: Case, archive_dir, gen):
    torch.manual_seed(0)  # parameters of the case's module
    model = case.build()
    inputs = tuple(torch.randn(*s, generator=gen) * case.scale + case.shift for s in case.shapes)
    check_parity(model, inputs, archive_dir / f"{case.id}.dkr")


# --- conv2d -------------------------------------------------------------------


def conv_case(cin, cout, k, stride=1, padding=0, dilation=1, groups=1, bias=True, hw=(7, 9), batch=1, tag=""):
    def ident(v):
        return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)

    cid = (
        f"c{cin}to{cout}_k{ident(k)}_s{ident(stride)}_p{ident(padding)}_d{ident(dilation)}_g{groups}"
        f"_{'bias' if bias else 'nobias'}_n{batch}_{hw[0]}x{hw[1]}{tag}"
    )
    return Case(
        cid,
        lambda: nn.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias),
        [(batch, cin, *hw)],
    )


CONV_CASES = [
    # kernel x stride x padding sweep on an odd, non-square input
    *[
        conv_case(3, 4, k, stride=s, padding=p)
        for k, s, p in itertools.product([1, 3, 5, 7], [1, 2, 3], [0, 1, 2])
        if not (k == 1 and p > 0)  # covered once below; k1 with padding is legal but redundant x3
    ],
    conv_case(3, 4, 1, padding=1),  # 1x1 with padding: a border of pure bias
    # dilation
    conv_case(3, 4, 3, padding=2, dilation=2),
    conv_case(3, 4, 3, stride=2, padding=1, dilation=2),
    conv_case(3, 4, 5, padding=0, dilation=2, hw=(11, 12)),
    conv_case(3, 4, 3, padding=(1, 2), dilation=(1, 2)),
    # padding='same' (traced as aten::_convolution_mode); even kernels pad asymmetrically
    conv_case(3, 4, 3, padding="same"),
    conv_case(3, 4, 5, padding="same", dilation=2),
    conv_case(3, 4, 4, padding="same"),
    conv_case(3, 4, (2, 5), padding="same"),
    # groups: 2, depthwise (groups = C), depthwise with channel multiplier
    conv_case(4, 6, 3, padding=1, groups=2),
    conv_case(4, 6, 3, stride=2, padding=1, groups=2, bias=False),
    conv_case(17, 17, 3, padding=1, groups=17),
    conv_case(17, 17, 3, stride=2, padding=1, groups=17, bias=False),
    conv_case(17, 17, 5, padding=2, groups=17, dilation=1, hw=(9, 7)),
    conv_case(3, 6, 3, padding=1, groups=3),
    conv_case(8, 8, 3, padding=2, dilation=2, groups=8),
    # channel counts 1 / 3 / 17 and bias off
    conv_case(1, 1, 3, padding=1),
    conv_case(1, 17, 3, padding=1, bias=False),
    conv_case(17, 3, 3, padding=1),
    conv_case(17, 17, 1),
    conv_case(3, 4, 3, padding=1, bias=False),
    conv_case(3, 4, 7, stride=2, padding=3, bias=False, batch=2),  # ResNet stem on a tiny image
    # non-square kernels, strides, paddings
    conv_case(3, 4, (1, 3), stride=(1, 2), padding=(0, 1)),
    conv_case(3, 4, (3, 1), stride=(2, 1), padding=(1, 0)),
    # kernel larger than the unpadded input, 1x1 images, batch > 1
    conv_case(3, 4, 5, padding=2, hw=(3, 3)),
    conv_case(3, 4, 1, hw=(1, 1), batch=3),
    conv_case(3, 5, 3, hw=(3, 3), batch=2),
]


@params(CONV_CASES)
def test_conv2d(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


def test_conv2d_with_batchnorm_and_relu(archive_dir, torch_gen):
    """The conv -> BN -> ReLU chain the exporter is most likely to fuse."""
    torch.manual_seed(0)
    model = randomize_batchnorm(
        nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
    )
    check_parity(model, (torch.randn(2, 3, 7, 9, generator=torch_gen),), archive_dir / "cbr.dkr")


# --- batch_norm -----------------------------------------------------------------


def bn_case(cid, make_bn, shape):
    def build():
        return randomize_batchnorm(make_bn(), seed=3)

    return Case(cid, build, [shape])


BN_CASES = [
    bn_case("bn2d_c3", lambda: nn.BatchNorm2d(3), (2, 3, 5, 7)),
    bn_case("bn2d_c17_eps1e-3", lambda: nn.BatchNorm2d(17, eps=1e-3), (1, 17, 4, 3)),
    bn_case("bn2d_eps0.1", lambda: nn.BatchNorm2d(4, eps=0.1), (1, 4, 3, 3)),
    bn_case("bn2d_no_affine", lambda: nn.BatchNorm2d(5, affine=False), (2, 5, 3, 4)),
    bn_case("bn2d_c1_1x1", lambda: nn.BatchNorm2d(1), (3, 1, 1, 1)),
    bn_case("bn1d_2d_input", lambda: nn.BatchNorm1d(6), (4, 6)),
    bn_case("bn1d_3d_input", lambda: nn.BatchNorm1d(6), (2, 6, 5)),
]


@params(BN_CASES)
def test_batch_norm(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


def test_batch_norm_uses_running_stats_not_batch_stats(archive_dir, torch_gen):
    """Inference mode: a runtime normalizing with the batch's own statistics would fail this."""
    bn = randomize_batchnorm(nn.BatchNorm2d(3), seed=5).eval()
    x = torch.randn(4, 3, 5, 5, generator=torch_gen) * 3 + 2  # batch stats far from the running ones
    check_parity(bn, (x,), archive_dir / "bn_eval.dkr")


# --- relu / relu_ ------------------------------------------------------------------


RELU_CASES = [
    Case("relu_functional", lambda: Fn(F.relu), [(2, 3, 4, 5)]),
    Case("relu_module_2d", lambda: nn.ReLU(), [(3, 7)]),
    Case("relu_tensor_method_1d", lambda: Fn(lambda x: x.relu()), [(11,)]),
    Case("relu_inplace_after_conv", lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True)), [(1, 3, 6, 6)]),
    Case("relu_inplace_method_after_mul", lambda: Fn(lambda a, b: (a * b).relu_()), [(2, 3, 4), (2, 3, 4)]),
    Case("relu_all_negative", lambda: Fn(F.relu), [(1, 2, 3, 3)], scale=0.1, shift=-5.0),
]


@params(RELU_CASES)
def test_relu(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- add / add_ ----------------------------------------------------------------------


class AddParam(nn.Module):
    """x + a learned constant of a broadcastable shape (a constant operand, not an input)."""

    def __init__(self, shape):
        super().__init__()
        self.p = nn.Parameter(torch.randn(*shape))

    def forward(self, x):
        return x + self.p


ADD_CASES = [
    Case("add_same_shape", lambda: Fn(lambda a, b: a + b), [(2, 3, 4, 5), (2, 3, 4, 5)]),
    Case("add_alpha_0.5", lambda: Fn(lambda a, b: torch.add(a, b, alpha=0.5)), [(2, 3, 4, 5), (2, 3, 4, 5)]),
    Case("add_alpha_-2", lambda: Fn(lambda a, b: torch.add(a, b, alpha=-2)), [(3, 4), (3, 4)]),
    Case("add_broadcast_channel", lambda: Fn(lambda a, b: a + b), [(2, 3, 4, 5), (3, 1, 1)]),
    Case("add_broadcast_both_sides", lambda: Fn(lambda a, b: a + b), [(1, 3, 1, 5), (2, 1, 4, 1)]),
    Case("add_broadcast_last_dim", lambda: Fn(lambda a, b: a + b), [(2, 3, 4, 5), (5,)]),
    Case("add_broadcast_lower_rank_first", lambda: Fn(lambda a, b: a + b), [(4, 1), (2, 3, 4, 5)]),
    Case("add_scalar", lambda: Fn(lambda x: x + 1.5), [(2, 3, 4)]),
    Case("add_scalar_reversed", lambda: Fn(lambda x: 2.5 + x), [(2, 3, 4)]),
    Case("add_self", lambda: Fn(lambda x: x + x), [(2, 3, 4)]),
    Case("add_constant_param", lambda: AddParam((3, 1, 1)), [(2, 3, 4, 5)]),
    Case("add_inplace", lambda: Fn(lambda a, b: torch.sigmoid(a).add_(b)), [(2, 3, 4, 5), (2, 3, 4, 5)]),
    Case("add_inplace_alpha", lambda: Fn(lambda a, b: torch.sigmoid(a).add_(b, alpha=3.0)), [(2, 3), (2, 3)]),
    Case("add_inplace_broadcast", lambda: Fn(lambda a, b: torch.sigmoid(a).add_(b)), [(2, 3, 4, 5), (1, 3, 1, 1)]),
]


@params(ADD_CASES)
def test_add(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- max_pool2d ------------------------------------------------------------------------


def maxpool_case(k, s=None, p=0, d=1, ceil=False, hw=(8, 8), c=3, shift=0.0, tag=""):
    cid = f"k{k}_s{s}_p{p}_d{d}_{'ceil' if ceil else 'floor'}_{hw[0]}x{hw[1]}{tag}"
    return Case(
        cid,
        lambda: nn.MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=ceil),
        [(2, c, *hw)],
        shift=shift,
    )


MAXPOOL_CASES = [
    maxpool_case(2, 2),
    maxpool_case(2),  # stride defaults to the kernel
    maxpool_case(3, 2, 1, hw=(9, 9)),  # ResNet's stem pool
    maxpool_case(3, 2, 1, hw=(9, 9), shift=-10.0, tag="_all_negative"),  # padding must act as -inf, not 0
    maxpool_case(3, 2, 1, ceil=True),  # ceil_mode adds a 5th window: 8 -> 5 (floor: 4)
    maxpool_case(2, 2, 0, ceil=True, hw=(7, 9)),  # ceil adds a partial window on both axes
    maxpool_case(2, 3, 1, ceil=True, hw=(5, 5)),  # ceil would give 3, but the last window starts in padding: 2
    maxpool_case(3, 3, 1, ceil=True, hw=(10, 11)),
    maxpool_case(3, 1, 1, d=2, hw=(7, 7)),
    maxpool_case(3, 2, 0, d=2, ceil=True, hw=(9, 8)),
    maxpool_case(1, 2, 0, hw=(7, 9)),  # pure subsampling
    maxpool_case((3, 2), (2, 1), (1, 0), hw=(7, 6)),
    maxpool_case(2, 1, 1, hw=(3, 4)),
    maxpool_case(7, 1, 3, hw=(7, 7)),  # kernel = image
    maxpool_case(3, 2, 1, ceil=True, hw=(1, 1)),
    # Wide rows reach the SIMD kernels' 4-vector interior blocks, single vectors and
    # masked tails (kernels/f32-pool): stride 1, 2 (deinterleaved loads) and 3 (gathers).
    maxpool_case(3, 1, 1, hw=(4, 83)),
    maxpool_case(3, 2, 1, hw=(5, 150), tag="_resnet_stem_wide"),
    maxpool_case(3, 2, 1, ceil=True, hw=(6, 141)),
    maxpool_case(3, 3, 1, ceil=True, hw=(4, 110)),
    maxpool_case(3, 2, 1, d=2, hw=(5, 97)),
    # The SIMD kernels' stride-2 row path (kernels/f32-pool/stride2_rows.h): ResNet's stem
    # pool at its real size, odd sizes, padding 0 and 1, and rows wider than one pass.
    maxpool_case(3, 2, 1, hw=(112, 112), c=8, tag="_resnet_stem"),
    maxpool_case(3, 2, 1, hw=(7, 37)),
    maxpool_case(3, 2, 1, ceil=True, hw=(9, 39)),
    maxpool_case(3, 2, 0, ceil=True, hw=(8, 35)),
    maxpool_case(2, 2, 1, ceil=True, hw=(9, 33)),
    maxpool_case(2, 2, 0, hw=(5, 301), tag="_two_passes"),
]


@params(MAXPOOL_CASES)
def test_max_pool2d(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- avg_pool2d --------------------------------------------------------------------------


def avgpool_case(k, s=None, p=0, ceil=False, cip=True, div=None, hw=(8, 8)):
    cid = f"k{k}_s{s}_p{p}_{'ceil' if ceil else 'floor'}_{'incpad' if cip else 'excpad'}_div{div}_{hw[0]}x{hw[1]}"
    return Case(
        cid,
        lambda: nn.AvgPool2d(k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div),
        [(2, 3, *hw)],
        shift=2.0,  # positive-mean inputs make a wrong divisor visible
    )


AVGPOOL_CASES = [
    avgpool_case(2, 2),
    avgpool_case(2),
    avgpool_case(3, 2, 1, hw=(7, 9)),
    avgpool_case(3, 2, 1, cip=False, hw=(7, 9)),
    avgpool_case(3, 2, 1, ceil=True),  # extra window reaching past the padded region
    avgpool_case(3, 2, 1, ceil=True, cip=False),
    avgpool_case(2, 2, 0, ceil=True, hw=(7, 7)),  # partial window, no padding: divides by what is inside
    avgpool_case(2, 2, 0, ceil=True, cip=False, hw=(7, 7)),
    avgpool_case(3, 3, 1, div=5, hw=(7, 9)),
    avgpool_case(3, 2, 1, ceil=True, div=2),
    avgpool_case(3, 1, 0, hw=(5, 5)),
    avgpool_case((2, 3), (1, 2), (1, 1), hw=(5, 7)),
    avgpool_case((2, 3), (1, 2), (1, 1), cip=False, hw=(5, 7)),
    avgpool_case(3, 2, 1, ceil=True, cip=False, hw=(1, 2)),
]


@params(AVGPOOL_CASES)
def test_avg_pool2d(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- adaptive_avg_pool2d ---------------------------------------------------------------


ADAPTIVE_CASES = [
    Case(f"out{o[0]}x{o[1]}_in{i[0]}x{i[1]}", lambda o=o: nn.AdaptiveAvgPool2d(o), [(2, 3, *i)])
    for o, i in [
        ((1, 1), (7, 9)),  # global average
        ((1, 1), (1, 1)),
        ((2, 2), (8, 8)),  # divides
        ((3, 3), (7, 7)),  # does not divide: overlapping windows
        ((5, 3), (7, 9)),
        ((4, 4), (3, 3)),  # output larger than input
        ((7, 7), (7, 7)),  # identity
        ((1, 4), (6, 10)),
    ]
] + [Case("out_int_2", lambda: nn.AdaptiveAvgPool2d(2), [(1, 4, 5, 6)])]


@params(ADAPTIVE_CASES)
def test_adaptive_avg_pool2d(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- flatten ---------------------------------------------------------------------------------


FLATTEN_CASES = [
    Case(f"start{s}_end{e}_rank{len(shape)}", lambda s=s, e=e: Fn(lambda x: torch.flatten(x, s, e)), [shape])
    for s, e, shape in [
        (0, -1, (2, 3, 4, 5)),
        (1, -1, (2, 3, 4, 5)),
        (1, 2, (2, 3, 4, 5)),
        (2, 3, (2, 3, 4, 5)),
        (0, 1, (2, 3, 4, 5)),
        (2, 2, (2, 3, 4, 5)),
        (-3, -2, (2, 3, 4, 5)),
        (1, -1, (2, 3, 4)),
        (0, 0, (6,)),
    ]
] + [Case("module_default", lambda: nn.Flatten(), [(2, 3, 1, 1)])]


@params(FLATTEN_CASES)
def test_flatten(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- linear ---------------------------------------------------------------------------------


LINEAR_CASES = [
    Case(f"in7_out{o}_{'bias' if b else 'nobias'}_x{'x'.join(map(str, shape))}",
         lambda o=o, b=b: nn.Linear(7, o, bias=b), [shape])
    for o, b, shape in [
        (5, True, (1, 7)),
        (5, False, (1, 7)),
        (5, True, (4, 7)),
        (5, False, (4, 7)),
        (1, True, (3, 7)),
        (5, True, (2, 3, 7)),  # 3-d input: applied to the last dim
        (5, False, (2, 3, 7)),
        (33, True, (2, 2, 2, 7)),
        (5, True, (7,)),  # 1-d input
    ]
]


@params(LINEAR_CASES)
def test_linear(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- hardtanh / relu6 / clamp ------------------------------------------------------------------


HARDTANH_CASES = [
    Case("hardtanh_default", lambda: nn.Hardtanh(), [(2, 3, 4, 5)], scale=3.0),
    Case("hardtanh_-0.5_0.7", lambda: Fn(lambda x: F.hardtanh(x, -0.5, 0.7)), [(2, 3, 4, 5)], scale=2.0),
    Case("hardtanh_inplace", lambda: Fn(lambda a: F.hardtanh_(torch.sigmoid(a), 0.3, 0.6)), [(2, 3, 4)]),
    Case("relu6_functional", lambda: Fn(F.relu6), [(2, 3, 4, 5)], scale=5.0),
    Case("relu6_module_inplace_after_conv", lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU6(inplace=True)),
         [(1, 3, 6, 6)], scale=4.0),
    Case("clamp_-1_1", lambda: Fn(lambda x: torch.clamp(x, -1.0, 1.0)), [(3, 7)], scale=3.0),
    Case("clamp_0_6", lambda: Fn(lambda x: x.clamp(0.0, 6.0)), [(2, 3, 4, 5)], scale=5.0),
    Case("hardtanh_min_eq_max", lambda: Fn(lambda x: F.hardtanh(x, 0.25, 0.25)), [(2, 5)]),
]


@params(HARDTANH_CASES)
def test_hardtanh(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- sigmoid ------------------------------------------------------------------------------------


SIGMOID_CASES = [
    Case("sigmoid_function", lambda: Fn(torch.sigmoid), [(2, 3, 4, 5)]),
    Case("sigmoid_method", lambda: Fn(lambda x: x.sigmoid()), [(3, 7)]),
    Case("sigmoid_module", lambda: nn.Sigmoid(), [(5,)]),
    Case("sigmoid_saturating", lambda: Fn(torch.sigmoid), [(2, 3, 8, 8)], scale=60.0),  # no NaN at +-large
]


@params(SIGMOID_CASES)
def test_sigmoid(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- mul ---------------------------------------------------------------------------------------


class MulParam(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.p = nn.Parameter(torch.randn(*shape))

    def forward(self, x):
        return x * self.p


MUL_CASES = [
    Case("mul_same_shape", lambda: Fn(lambda a, b: a * b), [(2, 3, 4, 5), (2, 3, 4, 5)]),
    Case("mul_broadcast_channel", lambda: Fn(lambda a, b: a * b), [(2, 3, 4, 5), (3, 1, 1)]),
    Case("mul_broadcast_both_sides", lambda: Fn(lambda a, b: torch.mul(a, b)), [(1, 3, 1, 5), (2, 1, 4, 1)]),
    Case("mul_scalar", lambda: Fn(lambda x: x * 2.5), [(2, 3, 4)]),
    Case("mul_self", lambda: Fn(lambda x: x * x), [(2, 3, 4)]),
    Case("mul_constant_param", lambda: MulParam((1, 3, 1, 1)), [(2, 3, 4, 5)]),
    Case("mul_squeeze_excite_gate", lambda: Fn(lambda x: x * torch.sigmoid(x.mean((2, 3), keepdim=True))),
         [(2, 4, 5, 5)]),
]


@params(MUL_CASES)
def test_mul(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- view / reshape -------------------------------------------------------------------------------


RESHAPE_CASES = [
    Case("view_2_-1", lambda: Fn(lambda x: x.view(2, -1)), [(2, 3, 4, 5)]),
    Case("reshape_-1_5", lambda: Fn(lambda x: x.reshape(-1, 5)), [(2, 3, 4, 5)]),
    Case("view_size0_-1", lambda: Fn(lambda x: x.view(x.size(0), -1)), [(3, 2, 2, 2)]),
    Case("reshape_-1", lambda: Fn(lambda x: x.reshape(-1)), [(2, 3, 4)]),
    Case("view_1_-1_5", lambda: Fn(lambda x: x.view(1, -1, 5)), [(2, 3, 5)]),
    Case("reshape_insert_unit_dims", lambda: Fn(lambda x: torch.reshape(x, (2, 1, 12, 1))), [(2, 3, 4)]),
    Case("reshape_chain", lambda: Fn(lambda x: x.reshape(6, 20).view(3, -1, 5)), [(2, 3, 4, 5)]),
    Case("view_then_compute", lambda: Fn(lambda x: torch.sigmoid(x.view(4, -1)) * 2.0), [(2, 2, 3, 3)]),
]


@params(RESHAPE_CASES)
def test_reshape(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- cat ----------------------------------------------------------------------------------------


CAT_CASES = [
    Case("cat_dim0", lambda: Fn(lambda a, b: torch.cat([a, b], 0)), [(1, 3, 4, 5), (2, 3, 4, 5)]),
    Case("cat_dim1", lambda: Fn(lambda a, b: torch.cat([a, b], 1)), [(2, 3, 4, 5), (2, 2, 4, 5)]),
    Case("cat_dim2", lambda: Fn(lambda a, b: torch.cat((a, b), dim=2)), [(2, 3, 1, 5), (2, 3, 4, 5)]),
    Case("cat_dim3", lambda: Fn(lambda a, b: torch.cat([a, b], 3)), [(2, 3, 4, 5), (2, 3, 4, 2)]),
    Case("cat_dim-1", lambda: Fn(lambda a, b: torch.cat([a, b], -1)), [(2, 3, 4), (2, 3, 7)]),
    Case("cat_dim-3_three_inputs", lambda: Fn(lambda a, b, c: torch.cat([a, b, c], -3)),
         [(2, 1, 4, 5), (2, 3, 4, 5), (2, 2, 4, 5)]),
    Case("cat_single_input", lambda: Fn(lambda a: torch.cat([a], 1)), [(2, 3, 4)]),
    Case("cat_same_value_twice", lambda: Fn(lambda a: torch.cat([a, a], 1)), [(2, 3, 4)]),
    Case("cat_2d_dim1", lambda: Fn(lambda a, b: torch.cat([a, b], 1)), [(3, 1), (3, 6)]),
]


@params(CAT_CASES)
def test_cat(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- mean ---------------------------------------------------------------------------------------


MEAN_CASES = [
    Case(f"dims{'_'.join(map(str, d))}_{'keep' if k else 'drop'}", lambda d=d, k=k: Fn(lambda x: x.mean(d, keepdim=k)),
         [(2, 3, 4, 5)])
    for d, k in [
        ((2, 3), False),
        ((2, 3), True),
        ((-1,), False),
        ((1,), True),
        ((0, 2), False),
        ((0, 1, 2, 3), False),
        ((0, 1, 2, 3), True),
        ((-2, -1), True),
        ((3, 1), False),  # unsorted dims
    ]
] + [
    Case("mean_int_dim", lambda: Fn(lambda x: torch.mean(x, 1)), [(4, 6)]),
    Case("mean_3d_dim1_keep", lambda: Fn(lambda x: torch.mean(x, dim=1, keepdim=True)), [(2, 7, 3)]),
]


@params(MEAN_CASES)
def test_mean(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- softmax -------------------------------------------------------------------------------------


SOFTMAX_CASES = [
    Case(f"rank{len(shape)}_dim{d}", lambda d=d: Fn(lambda x: torch.softmax(x, d)), [shape])
    for d, shape in [
        (1, (2, 3, 4, 5)),
        (-1, (2, 3, 4, 5)),
        (0, (2, 3, 4, 5)),
        (2, (2, 3, 4, 5)),
        (-3, (2, 3, 4, 5)),
        (1, (4, 10)),
        (-1, (4, 10)),
        (0, (7,)),
    ]
] + [
    Case("module_dim1", lambda: nn.Softmax(dim=1), [(3, 5)]),
    Case("functional_dim-1", lambda: Fn(lambda x: F.softmax(x, dim=-1)), [(2, 3, 6)]),
    Case("large_logits", lambda: Fn(lambda x: torch.softmax(x, -1)), [(4, 16)], scale=80.0),  # exp overflows naively
    Case("single_element_axis", lambda: Fn(lambda x: torch.softmax(x, 1)), [(3, 1, 4)]),
]


@params(SOFTMAX_CASES)
def test_softmax(case, archive_dir, torch_gen):
    run_case(case, archive_dir, torch_gen)


# --- NaN / Inf propagate as in PyTorch (docs: BAD_INPUTS.md, item 22) --------------------------------


SPECIAL_VALUE_CASES = [
    Case("relu", lambda: Fn(F.relu), [(1, 2, 4, 4)]),
    Case("relu6", lambda: Fn(F.relu6), [(1, 2, 4, 4)]),
    Case("hardtanh", lambda: Fn(F.hardtanh), [(1, 2, 4, 4)]),
    Case("sigmoid", lambda: Fn(torch.sigmoid), [(1, 2, 4, 4)]),
    Case("max_pool2d", lambda: nn.MaxPool2d(2), [(1, 2, 4, 4)]),
    Case("avg_pool2d", lambda: nn.AvgPool2d(2), [(1, 2, 4, 4)]),
    Case("add_mul", lambda: Fn(lambda x: x * 2.0 + x), [(1, 2, 4, 4)]),
    Case("softmax", lambda: Fn(lambda x: torch.softmax(x, -1)), [(1, 2, 4, 4)]),
    Case("conv2d_nan_only", lambda: nn.Conv2d(2, 3, 3, padding=1), [(1, 2, 4, 4)]),
]


@params(SPECIAL_VALUE_CASES)
def test_nan_and_inf_propagate_like_torch(case, archive_dir, torch_gen):
    torch.manual_seed(0)
    model = case.build().eval()
    x = torch.randn(*case.shapes[0], generator=torch_gen)
    x[0, 0, 0, 0] = float("nan")
    if case.id != "conv2d_nan_only":  # with Inf, a conv's inf - inf depends on summation order
        x[0, 0, 1, 2] = float("inf")
        x[0, 1, 3, 1] = float("-inf")
    # Exported from finite inputs (trace values do not matter), then run on the special ones.
    clean = torch.randn(*case.shapes[0], generator=torch_gen)
    module = export_and_load(model, (clean,), archive_dir / f"{case.id}.dkr")
    actual = module(x.numpy().copy())
    expected = torch_reference(model, (x,))
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg="NaN positions differ")
    np.testing.assert_array_equal(np.isposinf(actual), np.isposinf(expected), err_msg="+inf positions differ")
    np.testing.assert_array_equal(np.isneginf(actual), np.isneginf(expected), err_msg="-inf positions differ")
    finite = np.isfinite(expected)
    assert_close_to_torch(actual[finite], expected[finite], what="finite elements")
