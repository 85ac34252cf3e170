#include "archive/test_vectors.h"

#include <cmath>

#include "archive/bytes.h"
#include "archive/format.h"
#include "core/str_cat.h"
#include "graph/graph_builder.h"

namespace deployrt {
namespace archive {
namespace {

Status fail(const std::string& message) { return Status(ErrorCode::kArchive, "TEST_VECTORS: " + message); }

std::string describe(const TensorDesc& d) { return d.to_string(); }

TensorDesc tensor_desc(const ArchiveView& view, uint32_t index) {
  const TensorEntry t = view.tensor(index);
  TensorDesc desc;
  desc.dtype = t.dtype;
  desc.rank = t.rank;
  for (int i = 0; i < t.rank; ++i) desc.dims[i] = t.dims[i];
  return desc;
}

}  // namespace

Result<TestVectors> parse_test_vectors(const ArchiveView& view) {
  Result<OptionalSection> section = find_optional_section(view, kSectionTestVectors, "TEST_VECTORS");
  if (!section.ok()) return section.status();
  const uint8_t* s = section.value().data;
  const uint64_t size = section.value().size;
  TestVectors tv;
  if (s == nullptr) return tv;
  if (view.version_minor() < 1) return fail("the section needs format version 1.1 or later, the archive is 1.0");
  if (size < kTestVectorsHeader) return fail(str_cat("section is ", size, " bytes, shorter than its 64-byte header"));
  const uint32_t count = load_u32(s), in = load_u32(s + 4), out = load_u32(s + 8);
  if (load_u32(s + 12) != 0) return fail("reserved field at section offset 12 is not zero");
  tv.rtol = load_f64(s + 16);
  tv.atol = load_f64(s + 24);
  for (uint64_t k = 32; k < kTestVectorsHeader; ++k) {
    if (s[k] != 0) return fail(str_cat("reserved byte at section offset ", k, " is not zero"));
  }
  if (!(std::isfinite(tv.rtol) && tv.rtol >= 0)) return fail(str_cat("rtol is ", tv.rtol, ", expected finite and >= 0"));
  if (!(std::isfinite(tv.atol) && tv.atol >= 0)) return fail(str_cat("atol is ", tv.atol, ", expected finite and >= 0"));
  if (count == 0) return fail("count is 0, expected >= 1");
  const GraphEntry graph = view.graph(0);
  if (in != graph.input_count) return fail(str_cat("input_count is ", in, ", graph 0 has ", graph.input_count, " inputs"));
  if (out != graph.output_count) {
    return fail(str_cat("output_count is ", out, ", graph 0 has ", graph.output_count, " outputs"));
  }
  // 64 + 4 * count * (in + out) <= 64 + 4 * 2^32 * 2^33: fits in u64.
  const uint64_t per_vector = uint64_t{in} + out;
  const uint64_t expected = kTestVectorsHeader + 4 * uint64_t{count} * per_vector;
  if (size != expected) {
    return fail(str_cat("count ", count, " x (", in, " inputs + ", out, " outputs) implies ", expected,
                        " bytes, the section has ", size));
  }
  std::vector<TensorDesc> wanted;
  for (uint32_t k = 0; k < in; ++k) wanted.push_back(value_desc(view, view.index_at(uint64_t{graph.input_begin} + k)));
  for (uint32_t k = 0; k < out; ++k) wanted.push_back(value_desc(view, view.index_at(uint64_t{graph.output_begin} + k)));
  tv.input_count = in;
  tv.output_count = out;
  tv.vectors.resize(count);
  const uint8_t* p = s + kTestVectorsHeader;
  for (uint32_t v = 0; v < count; ++v) {
    for (uint64_t k = 0; k < per_vector; ++k, p += 4) {
      const uint32_t index = load_u32(p);
      const std::string what = k < in ? str_cat("vector ", v, " input ", k) : str_cat("vector ", v, " output ", k - in);
      if (index >= view.tensor_count()) {
        return fail(str_cat(what, ": tensor index ", index, " >= tensor count ", view.tensor_count()));
      }
      const TensorDesc got = tensor_desc(view, index);
      if (!got.fits(wanted[k])) {  // a symbolic dim (format 1.2) takes the vector's size
        return fail(str_cat(what, ": tensor ", index, " is ", describe(got), ", expected ", describe(wanted[k])));
      }
      tv.vectors[v].push_back(index);
    }
  }
  return tv;
}

}  // namespace archive
}  // namespace deployrt
