#include "ops/weight_cache.h"

#include <cstdlib>
#include <utility>

namespace deployrt {
namespace {

std::shared_ptr<const void> share(AlignedBuffer buffer) {
  if (!buffer) return nullptr;
  const void* p = buffer.release();
  return std::shared_ptr<const void>(p, [](const void* q) { std::free(const_cast<void*>(q)); });
}

}  // namespace

std::shared_ptr<const void> WeightCache::get(const WeightPackKey& key, const std::function<AlignedBuffer()>& pack) {
  // Packing runs under the lock: it happens once per weight and layout, and holding the
  // lock is what guarantees "once" when concurrent calls specialize at the same time.
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = packed_.find(key);
  if (it != packed_.end()) return it->second;
  std::shared_ptr<const void> packed = share(pack());
  if (!packed) return nullptr;
  ++packings_;
  packed_.emplace(key, packed);
  return packed;
}

uint64_t WeightCache::packings() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return packings_;
}

std::shared_ptr<const void> packed_weights(const NodeInfo& node, const WeightPackKey& key,
                                           const std::function<AlignedBuffer()>& pack) {
  if (node.weight_cache != nullptr) return node.weight_cache->get(key, pack);
  return share(pack());
}

}  // namespace deployrt
