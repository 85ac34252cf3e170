// The op table: one entry per code of docs/ops.md, indexed by OpKind. An explicit array
// (not self-registration from static constructors) so every op is linked in and a
// missing entry fails to compile.
#include <string>

#include "ops/op.h"
#include "ops/ops.h"

namespace deployrt {

namespace {

const OpDef* const kOpTable[] = {
    nullptr,                // 0: kInvalid
    &kConv2dOp,             // 1
    &kBatchNormOp,          // 2
    &kReluOp,               // 3
    &kAddOp,                // 4
    &kMaxPool2dOp,          // 5
    &kAvgPool2dOp,          // 6
    &kAdaptiveAvgPool2dOp,  // 7
    &kFlattenOp,            // 8
    &kLinearOp,             // 9
    &kHardtanhOp,           // 10
    &kSigmoidOp,            // 11
    &kMulOp,                // 12
    &kReshapeOp,            // 13
    &kCatOp,                // 14
    &kMeanOp,               // 15
    &kSoftmaxOp,            // 16
};
static_assert(sizeof(kOpTable) / sizeof(kOpTable[0]) == static_cast<size_t>(OpKind::kCount),
              "kOpTable needs exactly one entry per OpKind code");

}  // namespace

const OpDef* find_op(uint32_t code) {
  if (code >= static_cast<uint32_t>(OpKind::kCount)) return nullptr;
  return kOpTable[code];
}

std::string op_name(uint32_t code) {
  const OpDef* def = find_op(code);
  if (def == nullptr) return "op#" + std::to_string(code);
  return def->name;
}

}  // namespace deployrt
