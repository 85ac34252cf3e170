// loop (docs/ops.md code 18): ONNX Loop without scan outputs.
//   inputs: max_trip_count (i64[] or absent = unbounded), cond (bool[] or absent = true),
//           carried v1..vn, captures c1..ck;  attributes: body GRAPH, num_carried INT n.
//   body(iter i64[], cond_in bool[], v1..vn, c1..ck) -> (cond_out bool[], v1'..vn').
//   i = 0; c = cond; while (i < M && c) { (c, v) = body(i, c, v, captures); ++i; }
// The node's outputs are the final v (the initial values when the body never runs).
//
// With no max_trip_count and a body whose cond never turns false the loop runs forever:
// that is the model's own semantics (TorchScript's `while`), so there is no hidden cap.
//
// Workspace (inside the caller's per-call arena, so run() is const and calls never share
// it): [body arena][carried values, buffer A][carried values, buffer B][iter, cond_in,
// cond_out]. Iteration t reads the carried values from the node inputs (t = 0) or the
// buffer the previous iteration wrote, and writes the other buffer: the body's outputs
// never alias its inputs, as Executor::run requires. The last values are then copied out.
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/aligned_alloc.h"
#include "core/checked_math.h"
#include "ops/control_flow.h"
#include "ops/ops.h"
#include "ops/validate.h"

namespace deployrt {

namespace {

constexpr size_t kFirstCarried = 2;  // inputs: max_trip_count, cond, then the carried values

Status read_num_carried(const NodeInfo& node, size_t* out) {
  int64_t n = 0;
  Status st = node.get_int("num_carried", &n);
  if (!st.ok()) return st;
  const int64_t available = static_cast<int64_t>(node.inputs.size()) - static_cast<int64_t>(kFirstCarried);
  if (n < 0 || n > available) {
    return node.error("attribute 'num_carried' = " + std::to_string(n) + " is out of range: the node has " +
                      std::to_string(available) + " inputs after max_trip_count and cond");
  }
  *out = static_cast<size_t>(n);
  return Status::Ok();
}

TensorDesc scalar_desc(DType dtype) {
  TensorDesc d;
  d.dtype = dtype;
  d.rank = 0;
  return d;
}

Status infer_loop(NodeInfo& node) {
  // max_trip_count and cond are optional slots (NONE when absent): 2 slots, none required.
  Status st = check_input_count(node, 0, -1);
  if (st.ok() && node.inputs.size() < kFirstCarried) {
    st = node.error("has " + std::to_string(node.inputs.size()) + " inputs, expected at least 2 (max_trip_count, cond)");
  }
  if (st.ok() && input_present(node, 0)) st = check_input(node, 0, "max_trip_count", {DType::kI64}, 0);
  if (st.ok() && input_present(node, 1)) st = check_input(node, 1, "cond", {DType::kBool}, 0);
  size_t n = 0;
  if (st.ok()) st = read_num_carried(node, &n);
  std::vector<TensorDesc> body_inputs = {scalar_desc(DType::kI64), scalar_desc(DType::kBool)};
  for (size_t k = kFirstCarried; st.ok() && k < node.inputs.size(); ++k) {
    const std::string role = k < kFirstCarried + n ? "carried " + std::to_string(k - kFirstCarried)
                                                   : "capture " + std::to_string(k - kFirstCarried - n);
    st = check_operand(node, k, role.c_str());
    body_inputs.push_back(node.inputs[k]);
  }
  std::shared_ptr<const Executor> body;
  if (st.ok()) st = prepare_branch(node, "body", body_inputs, &body);
  if (!st.ok()) return st;
  const std::vector<TensorDesc>& out = body->output_descs();
  if (out.size() != 1 + n) {
    return node.error("body returns " + std::to_string(out.size()) + " values, expected cond_out and the " +
                      std::to_string(n) + " carried values");
  }
  if (!out[0].same_as(scalar_desc(DType::kBool))) {
    return node.error("body output 0 (cond_out) is " + out[0].to_string() + ", expected bool[]");
  }
  node.outputs.clear();
  for (size_t j = 0; j < n; ++j) {
    const TensorDesc& carried = node.inputs[kFirstCarried + j];
    if (!out[1 + j].same_as(carried)) {
      return node.error("body output " + std::to_string(1 + j) + " is " + out[1 + j].to_string() +
                        ", carried value " + std::to_string(j) + " is " + carried.to_string() +
                        " (a loop-carried value keeps its dtype and shape)");
    }
    node.outputs.push_back(carried);
  }
  node.subgraphs = {body};
  return Status::Ok();
}

class LoopKernel final : public OpKernel {
 public:
  LoopKernel(std::shared_ptr<const Executor> body, size_t num_carried, std::vector<size_t> carried_bytes,
             std::vector<uint64_t> buffer_offsets[2], uint64_t scalars_offset, uint64_t workspace)
      : body_(std::move(body)),
        num_carried_(num_carried),
        carried_bytes_(std::move(carried_bytes)),
        buffer_offsets_{std::move(buffer_offsets[0]), std::move(buffer_offsets[1])},
        scalars_offset_(scalars_offset),
        workspace_(workspace) {}

  size_t workspace_bytes() const override { return static_cast<size_t>(workspace_); }

  void run(const TensorRef* inputs, TensorRef* outputs, void* workspace, ThreadPool& pool) const override {
    auto* ws = static_cast<uint8_t*>(workspace);
    const int64_t max_trips =
        inputs[0].data != nullptr ? *inputs[0].as<const int64_t>() : std::numeric_limits<int64_t>::max();
    bool cond = inputs[1].data == nullptr || *inputs[1].as<const uint8_t>() != 0;
    auto* iter = reinterpret_cast<int64_t*>(ws + scalars_offset_);
    uint8_t* cond_in = ws + scalars_offset_ + 8;
    uint8_t* cond_out = ws + scalars_offset_ + 16;

    const size_t num_inputs = body_->input_descs().size();
    std::vector<const void*> body_in(num_inputs);
    std::vector<void*> body_out(1 + num_carried_);
    body_in[0] = iter;
    body_in[1] = cond_in;
    for (size_t k = kFirstCarried; k < num_inputs; ++k) body_in[k] = inputs[k].data;  // carried (initial), captures
    body_out[0] = cond_out;
    int parity = 0;
    // No cap without max_trip_count: an always-true cond loops forever, as the model says.
    for (int64_t i = 0; i < max_trips && cond; ++i) {
      *iter = i;
      *cond_in = cond ? 1 : 0;
      for (size_t j = 0; j < num_carried_; ++j) body_out[1 + j] = ws + buffer_offsets_[parity][j];
      body_->run(body_in, ws, pool, body_out);
      cond = *cond_out != 0;
      for (size_t j = 0; j < num_carried_; ++j) body_in[kFirstCarried + j] = body_out[1 + j];
      parity ^= 1;
    }
    for (size_t j = 0; j < num_carried_; ++j) {
      if (carried_bytes_[j] > 0) std::memcpy(outputs[j].data, body_in[kFirstCarried + j], carried_bytes_[j]);
    }
  }

 private:
  std::shared_ptr<const Executor> body_;
  size_t num_carried_;
  std::vector<size_t> carried_bytes_;
  std::vector<uint64_t> buffer_offsets_[2];  // per carried value, in each of the two buffers
  uint64_t scalars_offset_;
  uint64_t workspace_;
};

Result<std::unique_ptr<OpKernel>> create_loop(const NodeInfo& node) {
  if (node.subgraphs.size() != 1) {
    return Status(ErrorCode::kInternal, node.error("create() without the body infer() prepares").message());
  }
  size_t n = 0;
  Status st = read_num_carried(node, &n);
  if (!st.ok()) return st;
  const std::shared_ptr<const Executor>& body = node.subgraphs[0];
  // Lay out the workspace with overflow checks: every piece 64-byte aligned.
  uint64_t end = 0;
  bool ok = checked_align_up(body->arena_bytes(), kBufferAlignment, &end);
  std::vector<size_t> bytes(n);
  std::vector<uint64_t> offsets[2];
  for (int b = 0; b < 2; ++b) {
    for (size_t j = 0; j < n && ok; ++j) {
      bytes[j] = desc_bytes(node.inputs[kFirstCarried + j]);
      uint64_t size = 0;
      offsets[b].push_back(end);
      ok = checked_align_up(std::max<uint64_t>(bytes[j], 1), kBufferAlignment, &size) && checked_add(end, size, &end);
    }
  }
  const uint64_t scalars = end;
  ok = ok && checked_add(end, kBufferAlignment, &end) && end <= std::numeric_limits<size_t>::max();
  if (!ok) return Status(ErrorCode::kLimit, node.error("the loop's workspace size overflows").message());
  return std::unique_ptr<OpKernel>(new LoopKernel(body, n, std::move(bytes), offsets, scalars, end));
}

}  // namespace

const OpDef kLoopOp = {OpKind::kLoop, "loop", 2, -1, -1, infer_loop, create_loop};

}  // namespace deployrt
