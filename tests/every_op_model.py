"""A small model whose archive uses every op kind of docs/ops.md (codes 1..16).

Shared by the robustness sweeps (tests/test_sweep.py), the bad-input corpus
(tests/test_bad_inputs.py) and the fuzz seed corpus (scripts/robustness_report.py):
a few kilobytes, so that sweeping every byte stays cheap.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT_SHAPE = (1, 3, 8, 8)
ALL_OP_CODES = set(range(1, 17))


class EveryOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)  # conv2d
        self.bn = nn.BatchNorm2d(4)  # batch_norm (after a pool, so no pass could fold it)
        self.fc = nn.Linear(8, 5)  # linear

    def forward(self, x):
        y = F.relu(self.conv(x))  # relu                               [1,4,8,8]
        y = F.max_pool2d(y, 2)  # max_pool2d                             [1,4,4,4]
        y = self.bn(y)
        a = F.avg_pool2d(y, 2)  # avg_pool2d                             [1,4,2,2]
        b = F.adaptive_avg_pool2d(y, (2, 2))  # adaptive_avg_pool2d       [1,4,2,2]
        c = torch.cat([a, b], dim=1)  # cat                              [1,8,2,2]
        c = torch.sigmoid(c) * F.hardtanh(c, -0.5, 0.5)  # sigmoid, hardtanh, mul
        c = c + torch.mean(c, dim=(2, 3), keepdim=True)  # add, mean
        f = torch.flatten(c, 1)  # flatten                                [1,32]
        f = f.reshape(4, 8)  # reshape                                    [4,8]
        return torch.softmax(self.fc(f), dim=1)  # linear, softmax        [4,5]


def make_every_op_model(seed: int = 0) -> EveryOp:
    torch.manual_seed(seed)
    model = EveryOp().eval()
    with torch.no_grad():  # non-trivial running statistics, so batch_norm is not an identity
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
    return model


def export_every_op(path, seed: int = 0):
    """Exports the model without optimization passes (every op stays a node); returns (model, x)."""
    import deploykit

    model = make_every_op_model(seed)
    x = torch.randn(*INPUT_SHAPE, generator=torch.Generator().manual_seed(seed))
    deploykit.export(model, (x,), str(path), optimize=False)
    return model, x
