// Shared by the reductions over a set of dims (mean, sum): the `dims` / `keepdim`
// attributes, shape inference and the walk plan their reference kernels take.
#pragma once

#include <initializer_list>

#include "kernels/reference/mean_ref.h"
#include "ops/op.h"

namespace deployrt {

/// infer(): one input of a dtype among `dtypes`; `dims` normalized and unique (empty:
/// every dim), `keepdim` 0/1. The output has the input's dtype.
Status infer_reduce(NodeInfo& node, std::initializer_list<DType> dtypes);

/// The walk over x for a node whose infer_reduce() succeeded.
Result<MeanPlan> make_reduce_plan(const NodeInfo& node);

}  // namespace deployrt
