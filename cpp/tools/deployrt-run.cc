// deployrt-run: run a .dkr archive on .npy inputs without Python.
//
//   deployrt-run model.dkr --input x.npy [--input y.npy ...]
//                (--output y.npy [--output ...] | --output-dir DIR) [--threads N]
//
// Exit codes: 0 success, 1 usage error, 2 runtime error (archive, I/O, input, limit).
#include <cctype>
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
    "\n"
    "Runs the main graph of a deploykit archive on NumPy .npy inputs (C order).\n"
    "  --input PATH      one per model input, in the model's input order\n"
    "  --output PATH     one per model output, in the model's output order\n"
    "  --output-dir DIR  instead of --output: writes DIR/<output name>.npy\n"
    "                    (output_<i>.npy for unnamed outputs)\n"
    "  --threads N       intra-op threads (default: all hardware threads)\n"
    "Prints a one-line summary to stderr. Exit codes: 0 ok, 1 usage, 2 runtime error.\n";

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

}  // namespace

int main(int argc, char** argv) {
  std::string model, output_dir;
  std::vector<std::string> inputs, outputs;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next_value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--input" || arg == "--output" || arg == "--output-dir" || arg == "--threads") {
      const char* v = next_value();
      if (v == nullptr) return usage_error(arg + " needs a value");
      if (arg == "--input") inputs.push_back(v);
      if (arg == "--output") outputs.push_back(v);
      if (arg == "--output-dir") output_dir = v;
      if (arg == "--threads") {
        char* end = nullptr;
        long n = std::strtol(v, &end, 10);
        if (*end != '\0' || n < 1 || n > 1024) return usage_error(std::string("--threads expects 1..1024, got '") + v + "'");
        threads = static_cast<int>(n);
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
  if (outputs.empty() == output_dir.empty()) return usage_error("give either --output (one per output) or --output-dir");

  const auto t0 = std::chrono::steady_clock::now();
  auto module = deployrt::Module::try_load(model, {threads});
  if (!module.ok()) return runtime_error(module.status());
  const deployrt::Module& m = module.value();
  const auto t1 = std::chrono::steady_clock::now();
  if (inputs.size() != m.inputs().size()) {
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
               model.c_str(), m.num_nodes(), m.num_threads(), m.arena_bytes(), ms(t0, t1), ms(t1, t2), shapes.c_str());
  return 0;
}
