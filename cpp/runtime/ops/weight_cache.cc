#include "ops/weight_cache.h"

#include <cstdlib>
#include <utility>

#include "threadpool/thread_pool.h"

namespace deployrt {
namespace {

thread_local ThreadPool* t_load_pool = nullptr;
thread_local int t_kernel_threads = 0;  // ScopedKernelThreads

std::shared_ptr<const void> share(AlignedBuffer buffer) {
  if (!buffer) return nullptr;
  const void* p = buffer.release();
  return std::shared_ptr<const void>(p, [](const void* q) { std::free(const_cast<void*>(q)); });
}

}  // namespace

void WeightCache::set_prepacked(const std::vector<PrepackedWeight>& prepacked) {
  std::lock_guard<std::mutex> lock(mutex_);
  prepacked_.clear();
  for (const PrepackedWeight& p : prepacked) prepacked_.emplace(p.key, p);
}

std::shared_ptr<const void> WeightCache::get(const WeightPackKey& key, size_t bytes,
                                             const std::function<AlignedBuffer()>& pack) {
  // Packing runs under the lock: it happens once per weight and layout, and holding the
  // lock is what guarantees "once" when concurrent calls specialize at the same time.
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = packed_.find(key);
  if (it != packed_.end() && it->second.bytes == bytes) {
    ++it->second.uses;
    return it->second.data;
  }
  Entry entry;
  entry.key = key;
  entry.bytes = bytes;
  entry.uses = 1;
  auto pre = prepacked_.find(key);
  // A size that differs from what this runtime's packing makes means another packing
  // (another tile shape or runtime version): pack afresh rather than read it.
  if (pre != prepacked_.end() && pre->second.bytes == bytes) {
    entry.data = std::shared_ptr<const void>(pre->second.data, [](const void*) {});  // lives in the archive
    entry.in_place = true;
  } else {
    entry.data = share(pack());
    if (!entry.data) return nullptr;
    ++packings_;
  }
  packed_[key] = entry;
  return entry.data;
}

std::vector<WeightCache::Entry> WeightCache::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Entry> out;
  for (const auto& kv : packed_) out.push_back(kv.second);
  return out;
}

uint64_t WeightCache::packings() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return packings_;
}

std::shared_ptr<const void> packed_weights(const NodeInfo& node, const WeightPackKey& key, size_t bytes,
                                           const std::function<AlignedBuffer()>& pack) {
  if (node.weight_cache != nullptr) return node.weight_cache->get(key, bytes, pack);
  return share(pack());
}

ScopedLoadPool::ScopedLoadPool(ThreadPool* pool) : previous_(t_load_pool) { t_load_pool = pool; }
ScopedLoadPool::~ScopedLoadPool() { t_load_pool = previous_; }

ScopedKernelThreads::ScopedKernelThreads(int threads) : previous_(t_kernel_threads) { t_kernel_threads = threads; }
ScopedKernelThreads::~ScopedKernelThreads() { t_kernel_threads = previous_; }

int load_pool_threads() {
  if (t_load_pool != nullptr) return t_load_pool->num_threads();
  return t_kernel_threads > 0 ? t_kernel_threads : 1;
}

void parallel_pack(int64_t n, int64_t item_bytes, const std::function<void(int64_t, int64_t)>& fn) {
  // A worker asleep between two packs takes tens of microseconds to wake: small weights
  // (most of MobileNetV2's) are packed inline.
  constexpr int64_t kMinPieceBytes = int64_t{512} << 10;
  // Set only while a graph is prepared, before any forward() runs on the pool: a pack
  // never nests inside one of the pool's jobs.
  if (t_load_pool != nullptr) {
    t_load_pool->parallel_for(n, fn, item_bytes > 0 ? (kMinPieceBytes + item_bytes - 1) / item_bytes : n);
  } else if (n > 0) {
    fn(0, n);
  }
}

}  // namespace deployrt
