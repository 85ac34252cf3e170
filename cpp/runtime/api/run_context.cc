#include "api/run_context.h"

#include "core/str_cat.h"

namespace deployrt {

Result<std::unique_ptr<RunContext>> RunContextPool::acquire() {
  std::unique_ptr<RunContext> context;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    returned_.wait(lock, [&] { return !idle_.empty() || created_ < max_contexts_; });
    if (!idle_.empty()) {
      context = std::move(idle_.back());
      idle_.pop_back();
      return Result<std::unique_ptr<RunContext>>(std::move(context));
    }
    ++created_;  // reserve the slot; the allocation below runs outside the lock
  }
  context = std::make_unique<RunContext>();
  context->arena.reset(aligned_malloc_or_null(static_cast<size_t>(arena_bytes_)));
  context->arena_capacity = arena_bytes_;
  if (!context->arena) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --created_;
    }
    returned_.notify_one();
    return Status(ErrorCode::kLimit, str_cat("cannot allocate the ", arena_bytes_, "-byte activation arena"));
  }
  return Result<std::unique_ptr<RunContext>>(std::move(context));
}

void* RunContextPool::preallocate(uint64_t* bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (created_ > 0) return nullptr;
    ++created_;
  }
  auto context = std::make_unique<RunContext>();
  context->arena.reset(aligned_malloc_or_null(static_cast<size_t>(arena_bytes_)));
  context->arena_capacity = arena_bytes_;
  void* arena = context->arena.get();
  std::lock_guard<std::mutex> lock(mutex_);
  if (!arena) {
    --created_;
    return nullptr;
  }
  idle_.push_back(std::move(context));
  *bytes = arena_bytes_;
  return arena;
}

Status RunContext::reserve(uint64_t bytes) {
  if (bytes <= arena_capacity && arena) return Status::Ok();
  AlignedBuffer grown(aligned_malloc_or_null(static_cast<size_t>(bytes)));
  if (!grown) return Status(ErrorCode::kLimit, str_cat("cannot allocate the ", bytes, "-byte activation arena"));
  arena = std::move(grown);
  arena_capacity = bytes;
  return Status::Ok();
}

void RunContextPool::release(std::unique_ptr<RunContext> context) {
  if (!context) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(context));
  }
  returned_.notify_one();
}

size_t RunContextPool::created() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return created_;
}

}  // namespace deployrt
