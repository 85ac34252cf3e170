// deployrt-sweep ARCHIVE: runs the deterministic sweeps of sweep.h over one archive and
// prints one JSON object of counts. On a crash, the signal handler names the case
// (kind and byte index) before the process dies, so the caller can reproduce it.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sweep.h"

namespace {

char g_case[96] = "none";

void record(const char* kind, size_t index) { std::snprintf(g_case, sizeof g_case, "%s %zu", kind, index); }

void on_fatal(int sig) {
  const char prefix[] = "\ndeployrt-sweep: crashed on case ";
  (void)!write(2, prefix, sizeof prefix - 1);
  (void)!write(2, g_case, std::strlen(g_case));
  (void)!write(2, "\n", 1);
  signal(sig, SIG_DFL);
  raise(sig);
}

void print(const char* name, const dkr_fuzz::SweepCounts& c, bool last) {
  std::printf("  \"%s\": {\"cases\": %zu, \"typed_error\": %zu, \"ran\": %zu, \"run_rejected\": %zu, "
              "\"loaded_not_run\": %zu, \"crashes\": 0}%s\n",
              name, c.cases, c.typed_error, c.ran, c.run_rejected, c.loaded_not_run, last ? "" : ",");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: deployrt-sweep ARCHIVE\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "deployrt-sweep: cannot open %s\n", argv[1]);
    return 2;
  }
  const std::vector<uint8_t> archive((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) signal(sig, on_fatal);
  // The intact archive must load and run, or the sweep would measure nothing.
  if (dkr_fuzz::exercise(archive.data(), archive.size(), true) != dkr_fuzz::Outcome::kRan) {
    std::fprintf(stderr, "deployrt-sweep: %s does not load and run intact\n", argv[1]);
    return 3;
  }
  const auto truncations = dkr_fuzz::sweep_truncations(archive, record);
  const auto flips = dkr_fuzz::sweep_flips(archive, false, record);
  const auto flips_fixed = dkr_fuzz::sweep_flips(archive, true, record);
  std::printf("{\n  \"archive_bytes\": %zu,\n", archive.size());
  print("truncations", truncations, false);
  print("flips", flips, false);
  print("flips_crc_recomputed", flips_fixed, true);
  std::printf("}\n");
  return 0;
}
