// Arithmetic work of one prepared node, from its shapes alone: what the profiler
// divides by time to report GFLOP/s. Conventions (one multiply-add = 2 FLOPs):
//   conv2d   2 * N*OC*OH*OW * (C/groups)*KH*KW
//   linear   2 * rows * in * out
//   pooling  one operation per window element: output numel * KH*KW
//            (adaptive_avg_pool2d and mean: input numel)
//   shape-only ops (flatten, reshape, cat): 0
//   everything else (elementwise, batch_norm, softmax): output numel
#pragma once

#include "ops/op.h"

namespace deployrt {

double node_flops(const NodeInfo& node);

}  // namespace deployrt
