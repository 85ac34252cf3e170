// Attributes shared by conv2d and the pooling ops: kernel, stride, pads and dilation, plus
// PyTorch's output-size rules. Values are validated when read.
#pragma once

#include <cstdint>

#include "ops/op.h"

namespace deployrt {

struct Window2d {
  int64_t kernel[2] = {1, 1};              // [h, w]
  int64_t stride[2] = {1, 1};              // [h, w], >= 1
  int64_t pads[4] = {0, 0, 0, 0};          // [top, left, bottom, right], >= 0
  int64_t dilation[2] = {1, 1};            // [h, w], >= 1
};

/// Reads INTS[2] `name`, each in [1, 2^31).
Status read_pair_attr(const NodeInfo& node, const char* name, int64_t out[2]);
/// Reads `pads` INTS[4], each in [0, 2^31).
Status read_pads_attr(const NodeInfo& node, int64_t out[4]);
/// Pooling rule from PyTorch: each pad at most half the kernel size in its dimension.
Status check_pool_pads(const NodeInfo& node, const Window2d& w);

/// conv output size along one dim (dim 0 = h, 1 = w):
/// floor((in + pad_begin + pad_end - d*(k-1) - 1) / s) + 1, which must be >= 1.
Status conv_output_size(const NodeInfo& node, const Window2d& w, int dim, int64_t in_size, int64_t* out);
/// Pooling output size along one dim, PyTorch's pooling_output_shape_pad_lr including the
/// ceil_mode rule that the last window must start inside the input or the left padding.
Status pool_output_size(const NodeInfo& node, const Window2d& w, int dim, int64_t in_size, bool ceil_mode,
                        int64_t* out);

}  // namespace deployrt
