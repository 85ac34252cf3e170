// The OpDef of every op in docs/ops.md, one per ops/<name>.cc; op_table.cc indexes them by code.
#pragma once

#include "ops/op.h"

namespace deployrt {

extern const OpDef kConv2dOp;
extern const OpDef kBatchNormOp;
extern const OpDef kReluOp;
extern const OpDef kAddOp;
extern const OpDef kMaxPool2dOp;
extern const OpDef kAvgPool2dOp;
extern const OpDef kAdaptiveAvgPool2dOp;
extern const OpDef kFlattenOp;
extern const OpDef kLinearOp;
extern const OpDef kHardtanhOp;
extern const OpDef kSigmoidOp;
extern const OpDef kMulOp;
extern const OpDef kReshapeOp;
extern const OpDef kCatOp;
extern const OpDef kMeanOp;
extern const OpDef kSoftmaxOp;
extern const OpDef kIfOp;
extern const OpDef kLoopOp;
extern const OpDef kSubOp;
extern const OpDef kDivOp;
extern const OpDef kCompareOp;
extern const OpDef kLogicalNotOp;
extern const OpDef kLogicalOp;
extern const OpDef kSumOp;
extern const OpDef kCastOp;
extern const OpDef kSizeOp;

}  // namespace deployrt
