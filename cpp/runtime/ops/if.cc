// if (docs/ops.md code 17): inputs cond (bool[]) and captures c1..ck; attributes
// then_branch and else_branch (GRAPH). Each branch takes exactly the captures and returns
// the node's outputs (same count, dtypes and shapes); exactly one branch runs per call.
//
// Each branch is a prepared sub-program (graph/subgraph.h) planned into its own arena;
// the node's workspace is the larger of the two, inside the caller's per-call arena, so
// concurrent calls never share branch memory and run() stays const.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "ops/control_flow.h"
#include "ops/ops.h"
#include "ops/validate.h"

namespace deployrt {

namespace {

Status infer_if(NodeInfo& node) {
  Status st = check_input_count(node, 1, -1);
  if (st.ok()) st = check_input(node, 0, "cond", {DType::kBool}, 0);
  std::vector<TensorDesc> captures;
  for (size_t k = 1; st.ok() && k < node.inputs.size(); ++k) {
    const std::string role = "capture " + std::to_string(k - 1);
    st = check_operand(node, k, role.c_str());
    captures.push_back(node.inputs[k]);
  }
  std::shared_ptr<const Executor> then_branch, else_branch;
  if (st.ok()) st = prepare_branch(node, "then_branch", captures, &then_branch);
  if (st.ok()) st = prepare_branch(node, "else_branch", captures, &else_branch);
  if (!st.ok()) return st;
  const std::vector<TensorDesc>& then_out = then_branch->output_descs();
  const std::vector<TensorDesc>& else_out = else_branch->output_descs();
  if (then_out.size() != else_out.size()) {
    return node.error("then_branch returns " + std::to_string(then_out.size()) + " values, else_branch returns " +
                      std::to_string(else_out.size()));
  }
  for (size_t k = 0; k < then_out.size(); ++k) {
    if (!then_out[k].same_as(else_out[k])) {
      return node.error("output " + std::to_string(k) + ": then_branch returns " + then_out[k].to_string() +
                        ", else_branch returns " + else_out[k].to_string() + " (both must match the node's outputs)");
    }
  }
  node.outputs = then_out;
  node.subgraphs = {then_branch, else_branch};
  return Status::Ok();
}

class IfKernel final : public OpKernel {
 public:
  IfKernel(std::shared_ptr<const Executor> then_branch, std::shared_ptr<const Executor> else_branch)
      : then_(std::move(then_branch)), else_(std::move(else_branch)) {}

  size_t workspace_bytes() const override {
    return static_cast<size_t>(std::max(then_->arena_bytes(), else_->arena_bytes()));
  }

  void run(const TensorRef* inputs, TensorRef* outputs, void* workspace, ThreadPool& pool) const override {
    const Executor& branch = *inputs[0].as<const uint8_t>() != 0 ? *then_ : *else_;
    const size_t num_captures = branch.input_descs().size();
    const size_t num_outputs = branch.output_descs().size();
    std::vector<const void*> in(num_captures);
    std::vector<void*> out(num_outputs);
    for (size_t k = 0; k < num_captures; ++k) in[k] = inputs[1 + k].data;
    // Branch outputs go straight into the node's outputs (which never overlap its inputs).
    for (size_t k = 0; k < num_outputs; ++k) out[k] = outputs[k].data;
    branch.run(in, static_cast<uint8_t*>(workspace), pool, out);
  }

 private:
  std::shared_ptr<const Executor> then_, else_;
};

Result<std::unique_ptr<OpKernel>> create_if(const NodeInfo& node) {
  if (node.subgraphs.size() != 2) {
    return Status(ErrorCode::kInternal, node.error("create() without the branches infer() prepares").message());
  }
  return std::unique_ptr<OpKernel>(new IfKernel(node.subgraphs[0], node.subgraphs[1]));
}

}  // namespace

const OpDef kIfOp = {OpKind::kIf, "if", 1, -1, -1, infer_if, create_if};

}  // namespace deployrt
