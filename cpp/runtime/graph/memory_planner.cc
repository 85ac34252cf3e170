#include "graph/memory_planner.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <utility>

#include "core/aligned_alloc.h"
#include "core/checked_math.h"
#include "core/str_cat.h"

namespace deployrt {
namespace {

// Free blocks, indexed both by offset (to coalesce neighbours) and by size (best fit).
class FreeList {
 public:
  // Takes the smallest block of at least `bytes`; false if none.
  bool take_best_fit(uint64_t bytes, uint64_t* offset) {
    auto it = by_size_.lower_bound({bytes, 0});
    if (it == by_size_.end()) return false;
    const auto [size, at] = *it;
    erase(at, size);
    if (size > bytes) insert(at + bytes, size - bytes);
    *offset = at;
    return true;
  }

  // Returns a block, merging it with adjacent free blocks.
  void release(uint64_t at, uint64_t size) {
    auto next = by_offset_.lower_bound(at);
    if (next != by_offset_.end() && at + size == next->first) {
      const uint64_t next_size = next->second;
      erase(next->first, next_size);
      size += next_size;
    }
    auto prev = by_offset_.lower_bound(at);
    if (prev != by_offset_.begin()) {
      --prev;
      if (prev->first + prev->second == at) {
        const uint64_t prev_at = prev->first, prev_size = prev->second;
        erase(prev_at, prev_size);
        at = prev_at;
        size += prev_size;
      }
    }
    insert(at, size);
  }

  // The free block that ends at `end`, if any (so the arena can grow into it).
  bool block_ending_at(uint64_t end, uint64_t* at, uint64_t* size) const {
    if (by_offset_.empty()) return false;
    auto last = std::prev(by_offset_.end());
    if (last->first + last->second != end) return false;
    *at = last->first;
    *size = last->second;
    return true;
  }

  void erase(uint64_t at, uint64_t size) {
    by_offset_.erase(at);
    by_size_.erase({size, at});
  }

 private:
  void insert(uint64_t at, uint64_t size) {
    by_offset_[at] = size;
    by_size_.insert({size, at});
  }
  std::map<uint64_t, uint64_t> by_offset_;
  std::set<std::pair<uint64_t, uint64_t>> by_size_;
};

Status too_big(uint64_t limit) {
  return Status(ErrorCode::kLimit, str_cat("the model needs an activation arena larger than the limit of ", limit,
                                           " bytes (", limit >> 30, " GiB)"));
}

}  // namespace

Result<MemoryPlan> plan_memory(const std::vector<BufferRequest>& requests, uint64_t workspace_bytes,
                               uint64_t limit_bytes) {
  MemoryPlan plan;
  plan.offsets.assign(requests.size(), 0);
  std::vector<uint64_t> sizes(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].last < requests[i].first) {
      return Status(ErrorCode::kInternal, str_cat("buffer ", i, ": last use ", requests[i].last, " before its definition ",
                                                  requests[i].first));
    }
    if (!checked_align_up(std::max<uint64_t>(requests[i].bytes, 1), kBufferAlignment, &sizes[i]) ||
        sizes[i] > limit_bytes) {
      return too_big(limit_bytes);
    }
  }
  // Events in step order: allocations by first use, frees by last use.
  std::vector<uint32_t> by_first(requests.size()), by_last(requests.size());
  std::iota(by_first.begin(), by_first.end(), 0u);
  std::iota(by_last.begin(), by_last.end(), 0u);
  std::stable_sort(by_first.begin(), by_first.end(),
                   [&](uint32_t a, uint32_t b) { return requests[a].first < requests[b].first; });
  std::stable_sort(by_last.begin(), by_last.end(),
                   [&](uint32_t a, uint32_t b) { return requests[a].last < requests[b].last; });

  FreeList free_list;
  uint64_t arena_end = 0;
  size_t next_alloc = 0, next_free = 0;
  while (next_alloc < by_first.size()) {
    const uint32_t step = requests[by_first[next_alloc]].first;
    // Free everything whose last use is before this step: a node's inputs stay live
    // while it writes its outputs, so outputs never alias inputs.
    while (next_free < by_last.size() && requests[by_last[next_free]].last < step) {
      const uint32_t b = by_last[next_free++];
      free_list.release(plan.offsets[b], sizes[b]);
    }
    while (next_alloc < by_first.size() && requests[by_first[next_alloc]].first == step) {
      const uint32_t b = by_first[next_alloc++];
      uint64_t offset;
      if (!free_list.take_best_fit(sizes[b], &offset)) {
        // Grow the arena, reusing a free block at its end if there is one.
        uint64_t tail_at, tail_size;
        if (free_list.block_ending_at(arena_end, &tail_at, &tail_size)) {
          free_list.erase(tail_at, tail_size);
          offset = tail_at;
        } else {
          offset = arena_end;
        }
        uint64_t end;
        if (!checked_add(offset, sizes[b], &end) || end > limit_bytes) return too_big(limit_bytes);
        arena_end = end;
      }
      plan.offsets[b] = offset;
    }
  }
  plan.activation_bytes = arena_end;
  plan.workspace_offset = arena_end;
  uint64_t workspace, total;
  if (!checked_align_up(workspace_bytes, kBufferAlignment, &workspace) || !checked_add(arena_end, workspace, &total) ||
      total > limit_bytes) {
    return too_big(limit_bytes);
  }
  plan.arena_bytes = total;
  return plan;
}

}  // namespace deployrt
