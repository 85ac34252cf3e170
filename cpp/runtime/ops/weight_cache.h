// Packed weights shared by every shape specialization of one Module.
//
// A Module whose archive has symbolic dims prepares its graph again for each new input
// shape (api/shape_specializer.h). The packed form of a constant weight depends only on
// the constant and on how it is packed (the microkernel's tile), never on the activation
// shape, so every specialization takes it from here instead of packing its own copy:
// memory stays one packed copy per (weight, layout) and a new shape costs no repacking.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/aligned_alloc.h"
#include "ops/op.h"

namespace deployrt {

/// Which packed layout of a weight: the packing routine and its parameters.
struct WeightPackKey {
  const void* data = nullptr;  // the constant's bytes (inside the archive)
  uint32_t layout = 0;         // one code per packing routine (kConvGemmPacking, ...)
  int64_t params[3] = {};      // what the layout depends on besides the data (tile sizes, groups)
  bool operator<(const WeightPackKey& o) const {
    return std::tie(data, layout, params[0], params[1], params[2]) <
           std::tie(o.data, o.layout, o.params[0], o.params[1], o.params[2]);
  }
};

/// Packing layouts (WeightPackKey::layout).
enum : uint32_t { kConvGemmPacking = 1, kGemvPacking = 2, kWinogradPacking = 3 };

/// A weight packed at export (archive PACKED_WEIGHTS, format 1.4) for the Module's ISA
/// level: `bytes` bytes at `data`, inside the archive's bytes.
struct PrepackedWeight {
  WeightPackKey key;
  const void* data = nullptr;
  size_t bytes = 0;
};

class WeightCache {
 public:
  /// Weights the archive holds already packed, for the ISA level the ops are created at.
  /// Call before the first get(). The bytes must outlive the cache and every kernel.
  void set_prepacked(const std::vector<PrepackedWeight>& prepacked);
  /// The packed buffer for `key`, of `bytes` bytes: a prepacked one of exactly that size
  /// used in place (non-owning: it lives in the archive's bytes), else packed by `pack` on
  /// first request, shared afterwards. Null when `pack` returns null (out of memory;
  /// nothing is cached). Thread-safe; a weight is packed once even when several threads
  /// ask for it at once.
  std::shared_ptr<const void> get(const WeightPackKey& key, size_t bytes, const std::function<AlignedBuffer()>& pack);
  /// How many times a weight was packed (tests prove specializations share the packs).
  uint64_t packings() const;

  /// Everything get() handed out: what the ops read. deployrt::prepack_weights writes the
  /// packed ones into an archive; the Module keeps the in-place ones resident.
  struct Entry {
    WeightPackKey key;
    size_t bytes = 0;
    std::shared_ptr<const void> data;
    bool in_place = false;  // prepacked, read from the archive
    uint64_t uses = 0;      // get() calls that returned it: one per kernel created on it
  };
  std::vector<Entry> entries() const;

 private:
  mutable std::mutex mutex_;
  std::map<WeightPackKey, Entry> packed_;
  std::map<WeightPackKey, PrepackedWeight> prepacked_;
  uint64_t packings_ = 0;
};

/// The packed form (`bytes` bytes) of the constant input of `node`, through
/// node.weight_cache when it has one (prepacked in the archive, or packed once per
/// Module), else packed directly by `pack` (op tests).
std::shared_ptr<const void> packed_weights(const NodeInfo& node, const WeightPackKey& key, size_t bytes,
                                           const std::function<AlignedBuffer()>& pack);

/// The Module's thread pool while it prepares its graph, so packing (which dominated load
/// time) runs on all of the module's threads: set for the scope of a ScopedLoadPool on
/// the loading thread, like ScopedIsaCap (op tests set it too). Without one (shape
/// specializations prepared during a call) packing runs on the calling thread.
class ScopedLoadPool {
 public:
  explicit ScopedLoadPool(ThreadPool* pool);
  ~ScopedLoadPool();
  ScopedLoadPool(const ScopedLoadPool&) = delete;
  ScopedLoadPool& operator=(const ScopedLoadPool&) = delete;

 private:
  ThreadPool* previous_;
};

/// The thread count kernels prepared on this thread will run with, when no load pool is
/// set: a shape specialization is prepared during a call, without the pool, but runs on
/// all of the Module's threads (ShapeSpecializer sets it). Packing still runs inline.
class ScopedKernelThreads {
 public:
  explicit ScopedKernelThreads(int threads);
  ~ScopedKernelThreads();
  ScopedKernelThreads(const ScopedKernelThreads&) = delete;
  ScopedKernelThreads& operator=(const ScopedKernelThreads&) = delete;

 private:
  int previous_;
};

/// Threads the op's kernel will run on, so it can plan per-thread workspace: the load
/// pool's, else a ScopedKernelThreads', else 1.
int load_pool_threads();

/// fn(begin, end) over [0, n) items of `item_bytes` packed bytes each, spread over the
/// load pool when one is set and the weight is large enough to be worth waking a worker
/// for (pieces of at least 512 KiB), else inline. For packing routines whose items
/// (panels) are independent.
void parallel_pack(int64_t n, int64_t item_bytes, const std::function<void(int64_t begin, int64_t end)>& fn);

}  // namespace deployrt
