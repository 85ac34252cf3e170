// deployrt-run: run a .dkr archive on .npy inputs without Python.
//
//   deployrt-run model.dkr --input x.npy [--input y.npy ...]
//                (--output y.npy [--output ...] | --output-dir DIR) [--threads N]
//   deployrt-run model.dkr [--input ...] --bench N [--profile] [--threads N]
//   deployrt-run model.dkr --selftest [--threads N]
//
// Exit codes: 0 success, 1 usage error, 2 runtime error (archive, I/O, input, limit),
// 3 selftest failure (the runtime's outputs differ from the stored expected outputs).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "deployrt/deployrt.h"
#include "npy.h"

namespace {

const char kUsage[] =
    "usage: deployrt-run MODEL.dkr --input X.npy [--input ...]\n"
    "                    (--output Y.npy [--output ...] | --output-dir DIR) [--threads N]\n"
    "       deployrt-run MODEL.dkr [--input X.npy ...] [--bench N] [--profile] [--threads N]\n"
    "       deployrt-run MODEL.dkr --selftest [--threads N]\n"
    "\n"
    "Runs the main graph of a deploykit archive on NumPy .npy inputs (C order).\n"
    "  --input PATH      one per model input, in the model's input order\n"
    "  --output PATH     one per model output, in the model's output order\n"
    "  --output-dir DIR  instead of --output: writes DIR/<output name>.npy\n"
    "                    (output_<i>.npy for unnamed outputs)\n"
    "  --threads N       intra-op threads (default: all hardware threads)\n"
    "  --compact-weights keep weights near their archive size, at some cost in speed\n"
    "                    (LoadOptions::compact_weights)\n"
    "  --bench N         time N runs after one warm-up run; prints min/p50/p90/p99/max ms\n"
    "  --profile         per-op table: time, share and GFLOP/s of every node (over\n"
    "                    --bench N runs, default 10)\n"
    "  --selftest        run the test vectors stored in the archive (deploykit export\n"
    "                    --embed-test-vectors) and compare with PyTorch's outputs\n"
    "Without --input, --bench and --profile run on zero-filled inputs.\n"
    "Exit codes: 0 ok, 1 usage, 2 runtime error, 3 selftest failure.\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "deployrt-run: %s\n%s", message.c_str(), kUsage);
  return 1;
}

int runtime_error(const deployrt::Status& status) {
  std::fprintf(stderr, "deployrt-run: %s\n", status.to_string().c_str());
  return 2;
}

std::string shape_text(const deployrt::Tensor& t) {
  std::string s = std::string(deployrt::dtype_name(t.dtype())) + "[";
  for (size_t i = 0; i < t.shape().size(); ++i) s += (i ? "," : "") + std::to_string(t.shape()[i]);
  return s + "]";
}

// Output file names from output names: keep [A-Za-z0-9._-], replace the rest.
std::string file_name_for(const std::string& name, size_t index) {
  if (name.empty()) return "output_" + std::to_string(index) + ".npy";
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
  return out + ".npy";
}

// Parses a positive count for --threads / --bench.
bool parse_count(const char* v, long max, int* out) {
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 1 || n > max) return false;
  *out = static_cast<int>(n);
  return true;
}

double percentile(std::vector<double> sorted_ms, double p) {
  // Nearest-rank on sorted data: the smallest sample >= p% of all samples.
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * sorted_ms.size()));
  return sorted_ms[rank == 0 ? 0 : rank - 1];
}

int run_selftest(const deployrt::Module& m, const std::string& model) {
  auto report = m.try_selftest();
  if (!report.ok()) return runtime_error(report.status());
  int failed = 0;
  for (const deployrt::SelftestCheck& c : report.value().checks) {
    std::printf("%s vector %zu output %zu '%s': max abs error %.3g, max rel error %.3g, tolerance %.3g\n",
                c.passed ? "PASS" : "FAIL", c.vector, c.output, c.name.c_str(), c.max_abs_error, c.max_rel_error,
                c.tolerance);
    failed += c.passed ? 0 : 1;
  }
  if (failed) {
    std::printf("selftest FAILED: %d of %zu output check(s) exceed the tolerance (%s, isa %s)\n", failed,
                report.value().checks.size(), model.c_str(), m.isa());
    return 3;
  }
  std::printf("selftest passed: %zu test vector(s), %zu output check(s) (%s, isa %s, %d threads)\n",
              m.num_test_vectors(), report.value().checks.size(), model.c_str(), m.isa(), m.num_threads());
  return 0;
}

int run_bench(const deployrt::Module& m, const std::vector<deployrt::Tensor>& args, int runs) {
  auto warm = m.try_forward(args);  // first run: page in weights, allocate the arena
  if (!warm.ok()) return runtime_error(warm.status());
  std::vector<double> ms;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    auto out = m.try_forward(args);
    const auto t1 = std::chrono::steady_clock::now();
    if (!out.ok()) return runtime_error(out.status());
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("bench: %d runs, %d threads, isa %s: min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f ms\n", runs,
              m.num_threads(), m.isa(), ms.front(), percentile(ms, 50), percentile(ms, 90), percentile(ms, 99),
              ms.back());
  return 0;
}

int run_profile(const deployrt::Module& m, const std::vector<deployrt::Tensor>& args, int runs) {
  auto warm = m.try_forward(args);
  if (!warm.ok()) return runtime_error(warm.status());
  auto profile = m.try_profile(args, runs);
  if (!profile.ok()) return runtime_error(profile.status());
  double total = 0;
  for (const deployrt::NodeProfile& p : profile.value()) total += p.milliseconds;
  std::printf("%-4s %-20s %-36s %10s %7s %9s\n", "#", "op", "node", "ms", "%", "GFLOP/s");
  for (size_t i = 0; i < profile.value().size(); ++i) {
    const deployrt::NodeProfile& p = profile.value()[i];
    const double gflops = p.milliseconds > 0 ? p.flops / (p.milliseconds * 1e6) : 0.0;
    std::printf("%-4zu %-20s %-36s %10.4f %6.1f%% %9.2f\n", i, p.op.c_str(), p.name.c_str(), p.milliseconds,
                total > 0 ? 100.0 * p.milliseconds / total : 0.0, gflops);
  }
  std::printf("total %.4f ms per run over %d run(s), %zu nodes\n", total, runs, profile.value().size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, output_dir;
  std::vector<std::string> inputs, outputs;
  int threads = 0, bench = 0;
  bool profile = false, selftest = false, compact_weights = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next_value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--profile") {
      profile = true;
    } else if (arg == "--selftest") {
      selftest = true;
    } else if (arg == "--compact-weights") {
      compact_weights = true;
    } else if (arg == "--input" || arg == "--output" || arg == "--output-dir" || arg == "--threads" ||
               arg == "--bench") {
      const char* v = next_value();
      if (v == nullptr) return usage_error(arg + " needs a value");
      if (arg == "--input") inputs.push_back(v);
      if (arg == "--output") outputs.push_back(v);
      if (arg == "--output-dir") output_dir = v;
      if (arg == "--threads" && !parse_count(v, 1024, &threads)) {
        return usage_error(std::string("--threads expects 1..1024, got '") + v + "'");
      }
      if (arg == "--bench" && !parse_count(v, 10000000, &bench)) {
        return usage_error(std::string("--bench expects a run count >= 1, got '") + v + "'");
      }
    } else if (!arg.empty() && arg[0] == '-') {
      return usage_error("unknown option " + arg);
    } else if (model.empty()) {
      model = arg;
    } else {
      return usage_error("more than one model path: '" + model + "' and '" + arg + "'");
    }
  }
  if (model.empty()) return usage_error("no model given");
  const bool timing = bench > 0 || profile;
  if (selftest && (timing || !inputs.empty() || !outputs.empty() || !output_dir.empty())) {
    return usage_error("--selftest takes no --input, --output, --bench or --profile");
  }
  if (!selftest && !timing && outputs.empty() == output_dir.empty()) {
    return usage_error("give either --output (one per output) or --output-dir");
  }

  const auto t0 = std::chrono::steady_clock::now();
  deployrt::LoadOptions options;
  options.num_threads = threads;
  options.compact_weights = compact_weights;
  auto module = deployrt::Module::try_load(model, options);
  if (!module.ok()) return runtime_error(module.status());
  const deployrt::Module& m = module.value();
  const auto t1 = std::chrono::steady_clock::now();
  if (selftest) return run_selftest(m, model);
  if (!(timing && inputs.empty()) && inputs.size() != m.inputs().size()) {
    return usage_error("the model has " + std::to_string(m.inputs().size()) + " inputs, got " +
                       std::to_string(inputs.size()) + " --input");
  }
  if (!outputs.empty() && outputs.size() != m.outputs().size()) {
    return usage_error("the model has " + std::to_string(m.outputs().size()) + " outputs, got " +
                       std::to_string(outputs.size()) + " --output (or use --output-dir)");
  }
  std::vector<deployrt::Tensor> args;
  for (const std::string& path : inputs) {
    auto t = npy::read(path);
    if (!t.ok()) return runtime_error(t.status());
    args.push_back(std::move(t).value());
  }
  if (args.empty()) {  // timing without --input: zero-filled inputs of the model's shapes
    for (const deployrt::TensorInfo& info : m.inputs()) {
      for (int64_t d : info.shape) {
        if (d < 0) return usage_error("input '" + info.name + "' has symbolic dims (dynamic shapes): give --input");
      }
      args.push_back(deployrt::Tensor::empty(info.dtype, info.shape));
      if (args.back().nbytes() > 0) std::memset(args.back().data(), 0, args.back().nbytes());
    }
  }
  if (timing) {
    if (bench > 0) {
      int rc = run_bench(m, args, bench);
      if (rc != 0) return rc;
    }
    if (profile) {
      int rc = run_profile(m, args, bench > 0 ? bench : 10);
      if (rc != 0) return rc;
    }
    if (outputs.empty() && output_dir.empty()) return 0;
  }
  const auto t2_start = std::chrono::steady_clock::now();
  auto result = m.try_forward(args);
  if (!result.ok()) return runtime_error(result.status());
  const auto t2 = std::chrono::steady_clock::now();
  std::string shapes;
  for (size_t k = 0; k < result.value().size(); ++k) {
    const std::string path = outputs.empty() ? output_dir + "/" + file_name_for(m.outputs()[k].name, k) : outputs[k];
    deployrt::Status st = npy::write(path, result.value()[k]);
    if (!st.ok()) return runtime_error(st);
    shapes += (k ? " " : "") + shape_text(result.value()[k]) + " -> " + path;
  }
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::fprintf(stderr, "deployrt-run: %s: %zu nodes, %d threads, arena %zu bytes, load %.2f ms, forward %.2f ms; %s\n",
               model.c_str(), m.num_nodes(), m.num_threads(), m.arena_bytes(), ms(t0, t1), ms(t2_start, t2),
               shapes.c_str());
  return 0;
}
