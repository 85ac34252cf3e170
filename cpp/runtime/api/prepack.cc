#include "api/prepack.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "api/module_impl.h"
#include "archive/packed_weights.h"
#include "core/str_cat.h"

namespace deployrt {

Result<std::vector<PrepackedRecord>> prepack_weights(const std::string& path, Isa max_isa) {
  LoadOptions options;
  options.max_isa = max_isa;
  options.num_threads = 0;  // packing runs on every core
  // A copy, not a map: nothing is released while the packed bytes are read.
  options.copy_file = true;
  Result<Module> module = Module::try_load(path, options);
  if (!module.ok()) return module.status();
  const Module::Impl* impl = Module::Impl::of(module.value());
  const archive::ArchiveView& view = impl->view();
  std::map<const void*, uint32_t> tensor_of;
  for (uint32_t t = 0; t < view.tensor_count(); ++t) tensor_of.emplace(view.tensor_data(t), t);
  std::vector<PrepackedRecord> records;
  for (const WeightCache::Entry& e : impl->weight_cache().entries()) {
    auto it = tensor_of.find(e.key.data);
    if (it == tensor_of.end()) {
      return Status(ErrorCode::kInternal, str_cat(path, ": a packed weight (layout ", e.key.layout,
                                                  ") is not the data of any tensor of the archive"));
    }
    PrepackedRecord r;
    r.source_tensor = it->second;
    r.layout = e.key.layout;
    for (int k = 0; k < 3; ++k) r.params[k] = e.key.params[k];
    r.isa = archive::kPackedIsaScalar + static_cast<uint32_t>(impl->isa);
    const auto* p = static_cast<const uint8_t*>(e.data.get());
    r.bytes.assign(p, p + e.bytes);
    records.push_back(std::move(r));
  }
  std::sort(records.begin(), records.end(), [](const PrepackedRecord& a, const PrepackedRecord& b) {
    return a.source_tensor != b.source_tensor ? a.source_tensor < b.source_tensor : a.layout < b.layout;
  });
  return records;
}

}  // namespace deployrt
