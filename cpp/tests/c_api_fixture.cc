// Writes the archives cpp/tests/c_api_test.c loads (ctest fixture "c_api_archives"):
//   DIR/model.dkr    small_model (z = relu(x) + c + 0.5 w, r = relu(x); x, w: f32[2,3])
//                    with one embedded test vector that matches
//   DIR/wrong.dkr    the same with a stored expected z that is off by 0.5 at one element
//   DIR/corrupt.dkr  model.dkr with one weight byte flipped (fails its section CRC)
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "archive/test_vectors.h"
#include "archive_builder.h"

namespace {

std::vector<uint8_t> model(float z3) {
  dkr_test::ArchiveBuilder b = dkr_test::small_model();
  const std::vector<float> x = {-1, 2, -3, 4, -5, 6}, w = {2, 2, 2, 2, 2, 2}, r = {0, 2, 0, 4, 0, 6};
  const std::vector<float> z = {2, 5, 4, z3, 6, 13};
  const uint32_t idx[4] = {b.tensor("tv.x", {2, 3}, x), b.tensor("tv.w", {2, 3}, w), b.tensor("tv.z", {2, 3}, z),
                           b.tensor("tv.r", {2, 3}, r)};
  std::vector<uint8_t> s(64 + 16, 0);
  const double rtol = 1e-4, atol = 1e-5;
  dkr_test::put_u32(s, 0, 1);
  dkr_test::put_u32(s, 4, 2);
  dkr_test::put_u32(s, 8, 2);
  std::memcpy(&s[16], &rtol, 8);
  std::memcpy(&s[24], &atol, 8);
  for (int k = 0; k < 4; ++k) dkr_test::put_u32(s, 64 + 4 * k, idx[k]);
  b.version_minor = 1;
  b.extra_sections.push_back({deployrt::archive::kSectionTestVectors, s});
  return b.build();
}

bool write(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: c_api_fixture DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  mkdir(dir.c_str(), 0755);
  std::vector<uint8_t> good = model(9), corrupt = good;
  corrupt[dkr_test::section_offset(corrupt, 3)] ^= 0x40;  // first WEIGHTS byte: CRC mismatch
  if (!write(dir + "/model.dkr", good) || !write(dir + "/wrong.dkr", model(9.5f)) ||
      !write(dir + "/corrupt.dkr", corrupt)) {
    std::fprintf(stderr, "c_api_fixture: cannot write into %s\n", dir.c_str());
    return 1;
  }
  return 0;
}
