"""The optimized kernels' shape classes against PyTorch: depthwise conv2d (kernels/f32-dwconv)
over output widths around the 8- and 16-lane vectors and the 4-vector blocks, with the fused
epilogue MobileNetV2 uses (BN folded, ReLU6, residual add); linear (kernels/f32-gemv) over row
and column tails, ResNet/MobileNet classifier sizes and a fused ReLU; Winograd F(4x4, 3x3)
(kernels/f32-winograd: dense stride-1 3x3 convs with >= 16 channels and >= 16 tiles) over
output sizes that are not multiples of 4, padding 0/1, odd channels, batch 2, and a ResNet
basic block (BN folded, ReLU, residual add fused), also loaded with compact_weights=True (the
one-chunk convs transform their weights on every call); indirect GEMM (kernels/f32-igemm: strided
dense convs with output rows >= 16 wide) over odd widths, 7x7/3x3 stems, stride 3, groups,
and ResNet's downsampling block (BN folded, ReLU fused into the strided conv). test_isa_levels.py re-runs
this file at every ISA level. Small tensors: the whole file stays fast.
"""

import numpy as np
import pytest
import torch
import torch.nn as nn

from helpers import check_parity, export_and_load
from models import randomize_batchnorm


def _params(cases):
    return pytest.mark.parametrize("case", cases, ids=[c[0] for c in cases])


def _dw(c, k, stride, padding, dilation=1, mult=1, bias=True):
    return lambda: nn.Conv2d(c, c * mult, k, stride=stride, padding=padding, dilation=dilation, groups=c, bias=bias)


DEPTHWISE_CASES = [
    *[(f"dw3x3_s{s}_w{w}", _dw(3, 3, s, 1), (1, 3, 5, w)) for s in (1, 2) for w in (1, 7, 15, 16, 17, 33, 65, 97)],
    ("dw3x3_s1_112", _dw(4, 3, 1, 1), (1, 4, 6, 112)),
    ("dw3x3_s2_113", _dw(4, 3, 2, 1, bias=False), (1, 4, 7, 113)),
    ("dw5x5_s2", _dw(3, 5, 2, 2), (2, 3, 11, 37)),
    ("dw7x7_s1", _dw(2, 7, 1, 3), (1, 2, 9, 40)),
    ("dw3x3_s3", _dw(3, 3, 3, 1), (1, 3, 10, 50)),
    ("dw3x3_dil2", _dw(3, 3, 1, 2, dilation=2), (1, 3, 9, 35)),
    ("dw3x5_rect", lambda: nn.Conv2d(3, 3, (3, 5), stride=(1, 2), padding=(1, 2), groups=3), (1, 3, 8, 41)),
    ("dw3x3_mult2", _dw(3, 3, 1, 1, mult=2), (1, 3, 6, 19)),
    ("dw3x3_pad0", _dw(3, 3, 1, 0), (1, 3, 6, 21)),
]


@_params(DEPTHWISE_CASES)
def test_depthwise_conv2d(case, tmp_path):
    name, build, shape = case
    torch.manual_seed(0)
    check_parity(build(), (torch.randn(*shape, generator=torch.Generator().manual_seed(1)),), tmp_path / f"{name}.dkr")


class _DepthwiseBlock(nn.Module):
    """MobileNetV2's depthwise stage: dw conv -> BN -> ReLU6, then a pointwise conv, plus the residual."""

    def __init__(self, c, stride):
        super().__init__()
        self.dw = nn.Sequential(nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU6())
        self.pw = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))
        self.stride = stride

    def forward(self, x):
        y = self.pw(self.dw(x))
        return x + y if self.stride == 1 else y


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_block_with_fused_epilogue(stride, tmp_path):
    torch.manual_seed(0)
    model = randomize_batchnorm(_DepthwiseBlock(16, stride))
    x = torch.randn(1, 16, 14, 19, generator=torch.Generator().manual_seed(2)) * 2
    check_parity(model, (x,), tmp_path / "block.dkr")


LINEAR_CASES = [
    ("resnet_fc", 2048, 1000, (1, 2048)),
    ("mobilenet_fc", 1280, 1000, (1, 1280)),
    ("rows3_out33", 65, 33, (3, 65)),
    ("rows5_out31", 130, 31, (5, 130)),
    ("rows2_out1", 9, 1, (2, 9)),
    ("3d_input", 40, 70, (2, 3, 40)),
]


@_params(LINEAR_CASES)
def test_linear(case, tmp_path):
    name, fin, fout, shape = case
    torch.manual_seed(0)
    check_parity(nn.Linear(fin, fout), (torch.randn(*shape, generator=torch.Generator().manual_seed(3)),),
                 tmp_path / f"{name}.dkr")


def test_linear_with_fused_relu(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(100, 50), nn.ReLU())
    check_parity(model, (torch.randn(3, 100, generator=torch.Generator().manual_seed(4)),), tmp_path / "lr.dkr")


def _conv3x3(c, oc, padding=1, bias=True):
    return lambda: nn.Conv2d(c, oc, 3, padding=padding, bias=bias)


# Every case has >= 16 channels and >= 16 4x4 output tiles, so the runtime takes Winograd.
WINOGRAD_CASES = [
    ("w3x3_15x13", _conv3x3(16, 24), (1, 16, 15, 13)),         # right and bottom tail tiles
    ("w3x3_pad0_18x17", _conv3x3(17, 33, padding=0), (1, 17, 18, 17)),  # odd channels, no padding
    ("w3x3_batch2", _conv3x3(32, 16, bias=False), (2, 32, 9, 11)),      # tiles of two images
    ("w3x3_wide", _conv3x3(16, 40), (1, 16, 5, 70)),            # 5 rows: a full and a 1-row tile row, 18 tiles wide
    ("w3x3_14x14_oc75", _conv3x3(48, 75), (1, 48, 14, 14)),     # ResNet layer3's 16 tiles; OC 75: a partial A panel at every MR
    ("w3x3_chunks", _conv3x3(64, 64), (1, 64, 30, 30)),         # 64 tiles: several chunks (U packed in either mode)
]


@_params(WINOGRAD_CASES)
@pytest.mark.parametrize("compact", [False, True], ids=["packed", "compact"])
def test_winograd_conv2d(case, compact, tmp_path):
    name, build, shape = case
    torch.manual_seed(0)
    check_parity(build(), (torch.randn(*shape, generator=torch.Generator().manual_seed(5)),), tmp_path / f"{name}.dkr",
                 compact_weights=compact)


class _BasicBlock(nn.Module):
    """ResNet's basic block: conv-BN-ReLU, conv-BN, + x, ReLU (both convs 3x3, stride 1)."""

    def __init__(self, c):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return torch.relu(x + self.b(self.a(x)))


@pytest.mark.parametrize("compact", [False, True], ids=["packed", "compact"])
def test_winograd_basic_block_with_fused_epilogue(compact, tmp_path):
    torch.manual_seed(0)
    model = randomize_batchnorm(_BasicBlock(32))
    x = torch.randn(1, 32, 19, 17, generator=torch.Generator().manual_seed(6)) * 2
    check_parity(model, (x,), tmp_path / "basic.dkr", compact_weights=compact)


def _conv(c, oc, k, stride, padding, dilation=1, groups=1, bias=True):
    return lambda: nn.Conv2d(c, oc, k, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)


# Strided, not 1x1, output rows >= 16 wide and small weights: the runtime takes indirect GEMM
# (ops/conv2d_igemm.cc igemm_wins). Widths hit row tails of the 8- and 16-wide tiles.
IGEMM_CASES = [
    ("ig7x7_s2_stem_w37", _conv(3, 20, 7, 2, 3, bias=False), (1, 3, 11, 37)),   # OW 19
    ("ig3x3_s2_stem_w33", _conv(3, 32, 3, 2, 1), (2, 3, 9, 33)),                 # OW 17, batch 2
    ("ig3x3_s2_w63", _conv(16, 29, 3, 2, 1), (1, 16, 7, 63)),                    # OW 32, 29 channels
    ("ig3x3_s2_pad0_w41", _conv(8, 16, 3, 2, 0, bias=False), (1, 8, 8, 41)),     # OW 20, no padding
    ("ig3x3_s3_w52", _conv(4, 12, 3, 3, 1), (1, 4, 10, 52)),                     # stride 3: three phases
    ("ig5x5_s2_dil2_w45", _conv(4, 8, 5, 2, 4, dilation=2), (1, 4, 9, 45)),      # dilation: one phase
    ("ig3x3_s2_groups2_w35", _conv(16, 24, 3, 2, 1, groups=2), (1, 16, 6, 35)),
    ("ig3x5_s21_w19", lambda: nn.Conv2d(6, 10, (3, 5), stride=(2, 1), padding=(1, 2)), (1, 6, 9, 19)),
]


@_params(IGEMM_CASES)
def test_igemm_conv2d(case, tmp_path):
    name, build, shape = case
    torch.manual_seed(0)
    check_parity(build(), (torch.randn(*shape, generator=torch.Generator().manual_seed(7)),), tmp_path / f"{name}.dkr")


class _Downsample(nn.Module):
    """ResNet's downsampling block: 3x3 stride-2 conv-BN-ReLU, 3x3 conv-BN, + 1x1 stride-2 shortcut, ReLU."""

    def __init__(self, c, oc):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(c, oc, 3, 2, 1, bias=False), nn.BatchNorm2d(oc), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(oc, oc, 3, 1, 1, bias=False), nn.BatchNorm2d(oc))
        self.down = nn.Sequential(nn.Conv2d(c, oc, 1, 2, bias=False), nn.BatchNorm2d(oc))

    def forward(self, x):
        return torch.relu(self.down(x) + self.b(self.a(x)))


def test_igemm_downsample_block_with_fused_epilogue(tmp_path):
    torch.manual_seed(0)
    model = randomize_batchnorm(_Downsample(16, 24))
    x = torch.randn(1, 16, 10, 37, generator=torch.Generator().manual_seed(8)) * 2
    check_parity(model, (x,), tmp_path / "downsample.dkr")


# Packed GEMM at 7x7 and 14x14 outputs, where the AVX-512 8x49 tile serves (kernels/f32-gemm:
# 49 columns per tile, the 49th kept transposed in a ymm): row counts that pick it (24, 40,
# 100 = 12 tiles + 4 rows), outputs of one whole tile (7x7), 48 columns (no 49th), four
# tiles (14x14) and 140 = 2 tiles + a 42-column tail, B read in place (1x1, <= 8 row tiles)
# or packed (3x3, stride 1 with too few tiles for Winograd, and stride 2 onto 7x7).
GEMM49_CASES = [
    ("g1x1_7x7", _conv(32, 40, 1, 1, 0), (1, 32, 7, 7)),
    ("g1x1_6x8", _conv(32, 40, 1, 1, 0), (1, 32, 6, 8)),
    ("g1x1_10x14", _conv(24, 40, 1, 1, 0, bias=False), (1, 24, 10, 14)),
    ("g1x1_14x14", _conv(16, 40, 1, 1, 0), (1, 16, 14, 14)),
    ("g1x1_rows100", _conv(16, 100, 1, 1, 0), (1, 16, 7, 7)),
    ("g3x3_7x7_batch2", _conv(32, 24, 3, 1, 1), (2, 32, 7, 7)),
    ("g3x3_s2_to_7x7", _conv(16, 40, 3, 2, 1), (1, 16, 14, 14)),
    # MobileNetV2-like projections to 16/24/32 channels over whole 49-column tiles (8x49 wins
    # the tie with 16x16 and 8x32), B in place; 16 rows (two A panels) walk columns-first at
    # any K (here 8). 150 columns: 3 tiles + a 3-column tail.
    ("g1x1_16out_k8_28x28", _conv(8, 16, 1, 1, 0), (1, 8, 28, 28)),
    ("g1x1_24out_14x21", _conv(12, 24, 1, 1, 0), (1, 12, 14, 21)),
    ("g1x1_32out_k40_14x14", _conv(40, 32, 1, 1, 0, bias=False), (1, 40, 14, 14)),
    ("g1x1_16out_k5_10x15", _conv(5, 16, 1, 1, 0), (2, 5, 10, 15)),
]


@_params(GEMM49_CASES)
def test_gemm_7x7_outputs(case, tmp_path):
    name, build, shape = case
    torch.manual_seed(0)
    check_parity(build(), (torch.randn(*shape, generator=torch.Generator().manual_seed(9)),), tmp_path / f"{name}.dkr")


# Packed GEMM in the column-first order (ops/conv2d.cc columns_first): weights and B both past
# 1 MiB (ResNet-50's layer3.0.conv2 class: 3x3 stride 2 onto 16x16, 1152 x 240 weights), and
# a pointwise conv whose B is packed (K > 192 over rows 4 KiB apart), both packing every panel
# of a thread's range into one workspace slot, over 1061 columns (a panel tail) and 150 rows
# (row tail).
GEMM_COLUMNS_CASES = [
    ("gc3x3_s2_large_a_and_b", _conv(128, 240, 3, 2, 1), (1, 128, 32, 32)),
    ("gc1x1_packed_k256", _conv(256, 150, 1, 1, 0), (1, 256, 1, 1061)),
]


@_params(GEMM_COLUMNS_CASES)
def test_gemm_column_first(case, tmp_path):
    name, build, shape = case
    torch.manual_seed(0)
    check_parity(build(), (torch.randn(*shape, generator=torch.Generator().manual_seed(10)),), tmp_path / f"{name}.dkr")


def test_projection_16ch_block_with_fused_residual(tmp_path):
    torch.manual_seed(0)
    model = randomize_batchnorm(_DepthwiseBlock(16, 1))  # 1x1 16->16 on 8x49 tiles, columns-first, + x fused
    x = torch.randn(1, 16, 14, 28, generator=torch.Generator().manual_seed(11)) * 2
    check_parity(model, (x,), tmp_path / "proj16.dkr")


def test_gemm_7x7_basic_block_with_fused_epilogue(tmp_path):
    torch.manual_seed(0)
    model = randomize_batchnorm(_BasicBlock(24))  # both 3x3 convs on 8x49 tiles; + x and ReLU fused
    x = torch.randn(1, 24, 7, 7, generator=torch.Generator().manual_seed(10)) * 2
    check_parity(model, (x,), tmp_path / "basic7.dkr")


def test_compact_weights_from_a_file_and_from_bytes_match_the_packed_path(tmp_path):
    # A ResNet layer3-like block (256 channels would be slow here; 48 at 14x14 is one chunk
    # of 16 tiles, as there): compact_weights gives bit-identical outputs through load() and
    # load_bytes().
    import deploykit

    torch.manual_seed(0)
    model = randomize_batchnorm(_BasicBlock(48)).eval()
    x = torch.randn(1, 48, 14, 14, generator=torch.Generator().manual_seed(7))
    path = tmp_path / "block.dkr"
    packed = export_and_load(model, (x,), path)(x.numpy())
    from_file = deploykit.load(str(path), compact_weights=True)(x.numpy())
    from_bytes = deploykit.load_bytes(path.read_bytes(), compact_weights=True)(x.numpy())
    np.testing.assert_array_equal(from_file, packed)
    np.testing.assert_array_equal(from_bytes, packed)
