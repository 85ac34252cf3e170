// The contract between the graph layer and the ops.
//
// Layering: graph (verify, plan, execute) → op (validate attributes and shapes,
// prepack weights, choose a microkernel) → kernel (compute only: never allocates,
// logs or validates). Each op lives in ops/<name>.cc and exposes one OpDef.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "deployrt/deployrt.h"

namespace deployrt {

class ThreadPool;
class WeightCache;
class Executor;

/// Op codes: the archive's node.op field (docs/ops.md). Never renumber.
enum class OpKind : uint32_t {
  kInvalid = 0,
  kConv2d = 1,
  kBatchNorm = 2,
  kRelu = 3,
  kAdd = 4,
  kMaxPool2d = 5,
  kAvgPool2d = 6,
  kAdaptiveAvgPool2d = 7,
  kFlatten = 8,
  kLinear = 9,
  kHardtanh = 10,
  kSigmoid = 11,
  kMul = 12,
  kReshape = 13,
  kCat = 14,
  kMean = 15,
  kSoftmax = 16,
  kIf = 17,
  kLoop = 18,
  kSub = 19,
  kDiv = 20,
  kCompare = 21,
  kLogicalNot = 22,
  kLogical = 23,
  kSum = 24,
  kCast = 25,
  kSize = 26,
  kCount  // one past the last code
};

/// dtype + shape of a value, as verified from the archive or inferred.
struct TensorDesc {
  DType dtype = DType::kInvalid;
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  /// numel; callers only use it after the verifier checked it cannot overflow.
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
  bool same_as(const TensorDesc& o) const;
  /// Like same_as, but a negative dim of `pattern` (a symbolic dim of a format 1.2
  /// archive) matches any size.
  bool fits(const TensorDesc& pattern) const;
  std::string to_string() const;  // "f32[1,3,224,224]"
};

enum class AttrType : uint32_t { kInt = 1, kFloat = 2, kInts = 3, kFloats = 4, kString = 5, kGraph = 6 };

/// One attribute, copied out of the archive at load time.
struct Attr {
  std::string name;
  AttrType type = AttrType::kInt;
  int64_t i = 0;               // kInt; also the graph index for kGraph
  double f = 0.0;              // kFloat
  std::vector<int64_t> ints;   // kInts
  std::vector<double> floats;  // kFloats
  std::string s;               // kString
  /// Set by NodeInfo::find when infer() looks the attribute up; the graph builder
  /// rejects attributes the op never asked for (an unknown name in a 1.0 archive).
  mutable bool read = false;
};

/// Everything an op may look at when validating and preparing one node.
struct NodeInfo {
  OpKind op = OpKind::kInvalid;
  std::string name;    // node name (may be empty)
  std::string source;  // user's source location (may be empty)
  /// One per input slot; present[i] is false for an absent optional input.
  std::vector<TensorDesc> inputs;
  std::vector<bool> present;
  /// Non-null when input i is a constant (weight): its data, valid for the Module's life.
  std::vector<const void*> constant_data;
  /// Filled by OpDef::infer.
  std::vector<TensorDesc> outputs;
  std::vector<Attr> attrs;
  /// Packed weights shared by every shape specialization of a Module (ops/weight_cache.h);
  /// null packs afresh (static archives, tests).
  WeightCache* weight_cache = nullptr;
  /// Set by the graph builder (graph/subgraph.h) for the ops with GRAPH attributes (if,
  /// loop): prepares and plans archive graph `graph_index` as a sub-program whose inputs
  /// have `input_descs`. Null outside a loading archive (an op test's NodeInfo).
  std::function<Result<std::shared_ptr<const Executor>>(uint32_t graph_index,
                                                        const std::vector<TensorDesc>& input_descs)>
      prepare_subgraph;
  /// Filled by infer() of if/loop with the prepared sub-programs, which create() hands to
  /// the kernel: each subgraph is prepared once, and its output descs are what infer() needs.
  std::vector<std::shared_ptr<const Executor>> subgraphs;

  const Attr* find(std::string_view attr_name) const;
  /// Errors name the op, the node and its source: "conv2d 'layer1.0.conv1' (model.py:12): ...".
  Status error(const std::string& message) const;
  /// Typed attribute access; a missing or mistyped attribute is an archive error.
  Status get_int(std::string_view attr_name, int64_t* out) const;
  Status get_float(std::string_view attr_name, double* out) const;
  Status get_ints(std::string_view attr_name, size_t expected_count, std::vector<int64_t>* out) const;
  /// expected_count = SIZE_MAX accepts any length.
  /// GRAPH attribute: the graph index it names (the verifier proved it in 1..graph_count-1).
  Status get_graph(std::string_view attr_name, uint32_t* out) const;
};

/// Raw view of a tensor during execution. data is null for an absent optional input
/// (OpDef::input_slots).
struct TensorRef {
  void* data = nullptr;
  const TensorDesc* desc = nullptr;
  template <class T>
  T* as() const { return static_cast<T*>(data); }
};

/// A prepared node: weights prepacked, kernel chosen. run() is const and must be safe
/// to call from several threads at once on different buffers.
class OpKernel {
 public:
  virtual ~OpKernel() = default;
  /// Scratch bytes run() needs (64-byte aligned by the caller), planned into the arena.
  virtual size_t workspace_bytes() const { return 0; }
  /// Whether run() reads input k's data. A kernel that packed a constant weight at create
  /// says no for that input: the executor then binds the archive's bytes without copying
  /// them out (graph/executor.cc copies small constants a kernel reads).
  virtual bool reads_input(size_t k) const {
    (void)k;
    return true;
  }
  virtual void run(const TensorRef* inputs, TensorRef* outputs, void* workspace,
                   ThreadPool& pool) const = 0;
};

struct OpDef {
  OpKind kind;
  const char* name;  // as in docs/ops.md
  int min_inputs;
  int max_inputs;  // -1: no upper bound
  int num_outputs;  // -1: as many as the archive lists (if, loop; their infer() checks the count)
  /// Validates attributes and input descs, fills node.outputs. Never trusts the archive.
  Status (*infer)(NodeInfo& node);
  /// Builds the kernel for a node whose infer() succeeded.
  Result<std::unique_ptr<OpKernel>> (*create)(const NodeInfo& node);

  /// How many entries the `inputs` array passed to run() holds for a node of
  /// `node_inputs` inputs: its own and every further slot the op declares, those past its
  /// own empty (null data and desc). So a kernel tells an absent optional input by its
  /// null data alone, whether the archive lists the slot or not.
  size_t input_slots(size_t node_inputs) const {
    return max_inputs < 0 ? node_inputs : std::max(node_inputs, static_cast<size_t>(max_inputs));
  }
};

/// The op table, indexed by code. Null for codes without an op (0, and gaps).
const OpDef* find_op(uint32_t code);
/// Name of an op code for messages ("conv2d", or "op#123" when unknown).
std::string op_name(uint32_t code);

}  // namespace deployrt
