// A small .dkr writer for tests only, following docs/archive-format.md byte for byte.
// Tests build a valid archive from high-level calls (input, constant, node, output),
// then corrupt either the tables (before build()) or the bytes (after, calling
// fix_crcs() so the checksums do not hide the fault under test).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "archive/format.h"
#include "core/crc32c.h"
#include "deployrt/deployrt.h"
#include "ops/op.h"

namespace dkr_test {

using deployrt::DType;
namespace fmt = deployrt::archive;

inline void put_u16(std::vector<uint8_t>& b, size_t at, uint16_t v) { std::memcpy(&b[at], &v, 2); }
inline void put_u32(std::vector<uint8_t>& b, size_t at, uint32_t v) { std::memcpy(&b[at], &v, 4); }
inline void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(&b[at], &v, 8); }
inline uint32_t get_u32(const std::vector<uint8_t>& b, size_t at) { uint32_t v; std::memcpy(&v, &b[at], 4); return v; }
inline uint64_t get_u64(const std::vector<uint8_t>& b, size_t at) { uint64_t v; std::memcpy(&v, &b[at], 8); return v; }

/// Absolute offset of the table entry of section `kind` (1..5) in built bytes.
inline size_t section_entry_at(const std::vector<uint8_t>& b, uint32_t kind) {
  const uint32_t count = get_u32(b, fmt::kHdrSectionCount);
  for (uint32_t i = 0; i < count; ++i) {
    if (get_u32(b, 64 + 32 * i) == kind) return 64 + 32 * i;
  }
  return 0;
}
inline size_t section_offset(const std::vector<uint8_t>& b, uint32_t kind) {
  return get_u64(b, section_entry_at(b, kind) + 8);
}

/// Recomputes every section CRC, then the header CRC (as a writer would).
inline void fix_crcs(std::vector<uint8_t>& b) {
  if (b.size() < 64) return;
  // The count may itself be corrupt (sweeps flip it): only touch entries inside the bytes.
  const uint64_t count = get_u32(b, fmt::kHdrSectionCount);
  for (uint64_t i = 0; i < count && 64 + 32 * (i + 1) <= b.size(); ++i) {
    const size_t e = 64 + 32 * i;
    const uint64_t off = get_u64(b, e + 8), size = get_u64(b, e + 16);
    if (off <= b.size() && size <= b.size() - off) put_u32(b, e + 24, deployrt::crc32c(b.data() + off, size));
  }
  put_u32(b, fmt::kHdrCrc, 0);
  const uint64_t table_end = 64 + 32 * count;
  uint32_t crc = deployrt::crc32c(b.data(), 64);
  if (table_end <= b.size()) crc = deployrt::crc32c(b.data() + 64, table_end - 64, crc);
  put_u32(b, fmt::kHdrCrc, crc);
}

class ArchiveBuilder {
 public:
  struct TensorRow {
    uint32_t name = 0, dtype = 0, rank = 0, flags = 0;
    uint64_t data_offset = 0, nbytes = 0;
    int64_t dims[8] = {};
    std::vector<uint8_t> data;
  };
  struct ValueRow {
    uint32_t name = 0, kind = 0, dtype = 0, rank = 0, tensor = fmt::kNone, flags = 0;
    int64_t dims[8] = {};
  };
  struct NodeRow {
    uint32_t op = 0, name = 0, source = 0, input_begin = 0, input_count = 0, output_begin = 0, output_count = 0,
             attr_begin = 0, attr_count = 0;
  };
  struct GraphRow {
    uint32_t name = 0, node_begin = 0, node_count = 0, input_begin = 0, input_count = 0, output_begin = 0,
             output_count = 0;
  };
  struct AttrRow {
    uint32_t name = 0, type = 0;
    uint64_t a = 0, b = 0;
  };
  struct AttrSpec {
    std::string name;
    deployrt::AttrType type;
    int64_t i = 0;
    double f = 0;
    std::vector<int64_t> ints;
  };
  static AttrSpec int_attr(std::string name, int64_t v) { return {std::move(name), deployrt::AttrType::kInt, v, 0, {}}; }
  static AttrSpec float_attr(std::string name, double v) { return {std::move(name), deployrt::AttrType::kFloat, 0, v, {}}; }
  static AttrSpec ints_attr(std::string name, std::vector<int64_t> v) {
    return {std::move(name), deployrt::AttrType::kInts, 0, 0, std::move(v)};
  }
  /// A GRAPH attribute naming graph `graph_index` (as returned by end_subgraph).
  static AttrSpec graph_attr(std::string name, uint32_t graph_index) {
    return {std::move(name), deployrt::AttrType::kGraph, graph_index, 0, {}};
  }

  // The tables, public so tests can corrupt any field before build().
  std::vector<std::string> strings{""};
  std::vector<TensorRow> tensors;
  std::vector<ValueRow> values;
  std::vector<NodeRow> nodes;
  std::vector<GraphRow> graphs;  // empty: build() derives graph 0 from graph_inputs/outputs
  std::vector<AttrRow> attrs;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<uint32_t> indices;
  std::vector<uint32_t> graph_inputs, graph_outputs;
  std::string metadata = "{\"producer\": \"deploykit-test\", \"format_version\": \"1.0\"}";
  uint64_t weights_size = 0;  // grows as constants are added

  /// Interns a string (hash lookup, so 10^5-node test graphs build quickly).
  uint32_t str(const std::string& s) {
    auto it = string_ids_.find(s);
    if (it != string_ids_.end() && it->second < strings.size() && strings[it->second] == s) return it->second;
    strings.push_back(s);
    string_ids_[s] = static_cast<uint32_t>(strings.size() - 1);
    return static_cast<uint32_t>(strings.size() - 1);
  }

  uint32_t add_value(const std::string& name, uint32_t kind, DType dtype, const std::vector<int64_t>& dims) {
    ValueRow v;
    v.name = str(name);
    v.kind = kind;
    v.dtype = static_cast<uint32_t>(dtype);
    v.rank = static_cast<uint32_t>(dims.size());
    for (size_t k = 0; k < dims.size() && k < 8; ++k) v.dims[k] = dims[k];
    values.push_back(v);
    return static_cast<uint32_t>(values.size() - 1);
  }

  uint32_t input(const std::string& name, DType dtype, const std::vector<int64_t>& dims) {
    uint32_t id = add_value(name, 1, dtype, dims);
    graph_inputs.push_back(id);
    return id;
  }

  uint32_t constant(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& data) {
    tensor(name, dims, data);
    uint32_t id = add_value(name, 2, DType::kF32, dims);
    values[id].tensor = static_cast<uint32_t>(tensors.size() - 1);
    return id;
  }

  /// A constant of any dtype from raw element values (int64_t for i64, uint8_t for bool).
  template <class T>
  uint32_t typed_constant(const std::string& name, DType dtype, const std::vector<int64_t>& dims,
                          const std::vector<T>& data) {
    std::vector<float> none;
    tensor(name, dims, none);
    TensorRow& t = tensors.back();
    t.dtype = static_cast<uint32_t>(dtype);
    t.nbytes = data.size() * sizeof(T);
    t.data.resize(t.nbytes);
    if (!data.empty()) std::memcpy(t.data.data(), data.data(), t.nbytes);
    weights_size = t.data_offset + std::max<uint64_t>(t.nbytes, 1);
    uint32_t id = add_value(name, 2, dtype, dims);
    values[id].tensor = static_cast<uint32_t>(tensors.size() - 1);
    return id;
  }

  // Subgraphs (if/loop bodies). Define each one between begin_subgraph and end_subgraph,
  // before the nodes of the graph that uses it (inner subgraphs first), so every graph's
  // nodes stay one contiguous range; the main graph's nodes are those added after the last
  // end_subgraph. Subgraph i (0-based, in order of definition) is archive graph i + 1.
  void begin_subgraph(const std::string& name) {
    open_subgraph_ = GraphRow();
    open_subgraph_.name = str(name);
    open_subgraph_.node_begin = static_cast<uint32_t>(nodes.size());
    subgraph_inputs_.clear();
  }
  /// A graph input of the subgraph being defined.
  uint32_t sub_input(const std::string& name, DType dtype, const std::vector<int64_t>& dims) {
    uint32_t id = add_value(name, 1, dtype, dims);
    subgraph_inputs_.push_back(id);
    return id;
  }
  /// Closes the subgraph with these outputs; returns its archive graph index.
  uint32_t end_subgraph(const std::vector<uint32_t>& outputs) {
    GraphRow g = open_subgraph_;
    g.node_count = static_cast<uint32_t>(nodes.size()) - g.node_begin;
    g.input_begin = static_cast<uint32_t>(indices.size());
    g.input_count = static_cast<uint32_t>(subgraph_inputs_.size());
    indices.insert(indices.end(), subgraph_inputs_.begin(), subgraph_inputs_.end());
    g.output_begin = static_cast<uint32_t>(indices.size());
    g.output_count = static_cast<uint32_t>(outputs.size());
    indices.insert(indices.end(), outputs.begin(), outputs.end());
    subgraph_rows.push_back(g);
    main_node_begin_ = static_cast<uint32_t>(nodes.size());
    return static_cast<uint32_t>(subgraph_rows.size());
  }
  std::vector<GraphRow> subgraph_rows;  // graphs 1.. (editable before build())

  /// A node with any number of outputs of any dtype: `outputs` lists (dtype, dims).
  std::vector<uint32_t> node_multi(deployrt::OpKind op, const std::string& name, const std::vector<uint32_t>& inputs,
                                   const std::vector<std::pair<DType, std::vector<int64_t>>>& outputs,
                                   const std::vector<AttrSpec>& attr_specs = {}) {
    node(op, name, inputs, {}, attr_specs);
    NodeRow& n = nodes.back();
    // node() made one f32 output; replace it by the requested list.
    values.pop_back();
    indices.pop_back();
    std::vector<uint32_t> ids;
    n.output_begin = static_cast<uint32_t>(indices.size());
    n.output_count = static_cast<uint32_t>(outputs.size());
    for (size_t k = 0; k < outputs.size(); ++k) {
      ids.push_back(add_value(name + ".out" + std::to_string(k), 3, outputs[k].first, outputs[k].second));
      indices.push_back(ids.back());
    }
    return ids;
  }
  /// A one-output node of dtype `dtype`.
  uint32_t node_of(deployrt::OpKind op, DType dtype, const std::string& name, const std::vector<uint32_t>& inputs,
                   const std::vector<int64_t>& out_dims, const std::vector<AttrSpec>& attr_specs = {}) {
    return node_multi(op, name, inputs, {{dtype, out_dims}}, attr_specs)[0];
  }

  /// Adds an f32 entry to the tensor table only (no value); returns its tensor index.
  uint32_t tensor(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& data) {
    TensorRow t;
    t.name = str(name);
    t.dtype = static_cast<uint32_t>(DType::kF32);
    t.rank = static_cast<uint32_t>(dims.size());
    for (size_t k = 0; k < dims.size(); ++k) t.dims[k] = dims[k];
    t.nbytes = data.size() * 4;
    t.data.resize(t.nbytes);
    if (!data.empty()) std::memcpy(t.data.data(), data.data(), t.nbytes);
    t.data_offset = (weights_size + 63) / 64 * 64;
    weights_size = t.data_offset + std::max<uint64_t>(t.nbytes, 1);
    tensors.push_back(t);
    return static_cast<uint32_t>(tensors.size() - 1);
  }

  /// Adds a node writing one new f32 value of `out_dims`; returns the output value id.
  uint32_t node(deployrt::OpKind op, const std::string& name, const std::vector<uint32_t>& inputs,
                const std::vector<int64_t>& out_dims, const std::vector<AttrSpec>& attr_specs = {}) {
    NodeRow n;
    n.op = static_cast<uint32_t>(op);
    n.name = str(name);
    n.source = str("model.py:" + std::to_string(nodes.size() + 1));
    n.input_begin = static_cast<uint32_t>(indices.size());
    n.input_count = static_cast<uint32_t>(inputs.size());
    indices.insert(indices.end(), inputs.begin(), inputs.end());
    uint32_t out = add_value(name + ".out", 3, DType::kF32, out_dims);
    n.output_begin = static_cast<uint32_t>(indices.size());
    n.output_count = 1;
    indices.push_back(out);
    n.attr_begin = static_cast<uint32_t>(attrs.size());
    n.attr_count = static_cast<uint32_t>(attr_specs.size());
    for (const AttrSpec& spec : attr_specs) {
      AttrRow a;
      a.name = str(spec.name);
      a.type = static_cast<uint32_t>(spec.type);
      if (spec.type == deployrt::AttrType::kInt || spec.type == deployrt::AttrType::kGraph) {
        a.a = static_cast<uint64_t>(spec.i);
      }
      if (spec.type == deployrt::AttrType::kFloat) std::memcpy(&a.a, &spec.f, 8);
      if (spec.type == deployrt::AttrType::kInts) {
        a.a = ints.size();
        a.b = spec.ints.size();
        ints.insert(ints.end(), spec.ints.begin(), spec.ints.end());
      }
      attrs.push_back(a);
    }
    nodes.push_back(n);
    return out;
  }

  void output(uint32_t value_id) { graph_outputs.push_back(value_id); }

  /// Creates graph 0 from graph_inputs/graph_outputs (so tests can then edit graphs[0]).
  void finalize_graph() {
    if (!graphs.empty()) return;
    GraphRow g;
    g.name = str("main");
    g.node_begin = main_node_begin_;
    g.node_count = static_cast<uint32_t>(nodes.size()) - main_node_begin_;
    g.input_begin = static_cast<uint32_t>(indices.size());
    g.input_count = static_cast<uint32_t>(graph_inputs.size());
    indices.insert(indices.end(), graph_inputs.begin(), graph_inputs.end());
    g.output_begin = static_cast<uint32_t>(indices.size());
    g.output_count = static_cast<uint32_t>(graph_outputs.size());
    indices.insert(indices.end(), graph_outputs.begin(), graph_outputs.end());
    graphs.push_back(g);
    graphs.insert(graphs.end(), subgraph_rows.begin(), subgraph_rows.end());
  }

  /// Sections after the five of format 1.0 (kind, bytes), e.g. TEST_VECTORS; set
  /// version_minor to 1 with them.
  std::vector<std::pair<uint32_t, std::vector<uint8_t>>> extra_sections;
  uint16_t version_minor = 0;

  std::vector<uint8_t> build() {
    finalize_graph();
    std::vector<std::vector<uint8_t>> sections(5);
    sections[0] = strings_section();
    sections[1] = tensors_section();
    sections[2] = weights_section();
    sections[3] = graph_section();
    sections[4].assign(metadata.begin(), metadata.end());
    std::vector<uint32_t> kinds = {1, 2, 3, 4, 5};
    for (const auto& [kind, bytes] : extra_sections) {
      kinds.push_back(kind);
      sections.push_back(bytes);
    }
    const uint32_t n = static_cast<uint32_t>(sections.size());

    std::vector<uint8_t> b(64 + n * 32, 0);
    std::vector<uint64_t> offsets(n);
    for (uint32_t k = 0; k < n; ++k) {
      b.resize((b.size() + 63) / 64 * 64, 0);
      offsets[k] = b.size();
      b.insert(b.end(), sections[k].begin(), sections[k].end());
    }
    std::memcpy(b.data(), fmt::kMagic, 8);
    put_u16(b, fmt::kHdrMajor, 1);
    put_u16(b, fmt::kHdrMinor, version_minor);
    put_u32(b, fmt::kHdrByteOrder, fmt::kByteOrderMark);
    put_u32(b, fmt::kHdrHeaderSize, 64);
    put_u32(b, fmt::kHdrSectionCount, n);
    put_u64(b, fmt::kHdrTableOffset, 64);
    put_u64(b, fmt::kHdrFileSize, b.size());
    for (uint32_t k = 0; k < n; ++k) {
      const size_t e = 64 + 32 * k;
      put_u32(b, e, kinds[k]);
      put_u64(b, e + 8, offsets[k]);
      put_u64(b, e + 16, sections[k].size());
    }
    fix_crcs(b);
    return b;
  }

 private:
  std::unordered_map<std::string, uint32_t> string_ids_{{"", 0}};
  GraphRow open_subgraph_;
  std::vector<uint32_t> subgraph_inputs_;
  uint32_t main_node_begin_ = 0;

  std::vector<uint8_t> strings_section() const {
    std::vector<uint8_t> s(8 + 8 * strings.size(), 0);
    put_u32(s, 0, static_cast<uint32_t>(strings.size()));
    for (size_t i = 0; i < strings.size(); ++i) {
      put_u32(s, 8 + 8 * i, static_cast<uint32_t>(s.size()));
      put_u32(s, 12 + 8 * i, static_cast<uint32_t>(strings[i].size()));
      s.insert(s.end(), strings[i].begin(), strings[i].end());
      s.push_back(0);
    }
    return s;
  }

  std::vector<uint8_t> tensors_section() const {
    std::vector<uint8_t> s(8 + 96 * tensors.size(), 0);
    put_u32(s, 0, static_cast<uint32_t>(tensors.size()));
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TensorRow& t = tensors[i];
      const size_t e = 8 + 96 * i;
      put_u32(s, e, t.name);
      put_u32(s, e + 4, t.dtype);
      put_u32(s, e + 8, t.rank);
      put_u32(s, e + 12, t.flags);
      put_u64(s, e + 16, t.data_offset);
      put_u64(s, e + 24, t.nbytes);
      std::memcpy(&s[e + 32], t.dims, 64);
    }
    return s;
  }

  std::vector<uint8_t> weights_section() const {
    std::vector<uint8_t> s(weights_size, 0);
    for (const TensorRow& t : tensors) {
      if (!t.data.empty() && t.data_offset + t.data.size() <= s.size()) {
        std::memcpy(&s[t.data_offset], t.data.data(), t.data.size());
      }
    }
    return s;
  }

  std::vector<uint8_t> graph_section() const {
    std::vector<uint8_t> s(64, 0);
    const uint32_t counts[7] = {uint32_t(values.size()), uint32_t(nodes.size()), uint32_t(graphs.size()),
                                uint32_t(attrs.size()),  uint32_t(ints.size()),  uint32_t(floats.size()),
                                uint32_t(indices.size())};
    for (int k = 0; k < 7; ++k) put_u32(s, 4 * k, counts[k]);
    for (const ValueRow& v : values) {
      size_t e = s.size();
      s.resize(e + 96, 0);
      put_u32(s, e, v.name);
      put_u32(s, e + 4, v.kind);
      put_u32(s, e + 8, v.dtype);
      put_u32(s, e + 12, v.rank);
      put_u32(s, e + 16, v.tensor);
      put_u32(s, e + 20, v.flags);
      std::memcpy(&s[e + 24], v.dims, 64);
    }
    for (const NodeRow& n : nodes) {
      size_t e = s.size();
      s.resize(e + 48, 0);
      const uint32_t f[9] = {n.op, n.name, n.source, n.input_begin, n.input_count, n.output_begin, n.output_count,
                             n.attr_begin, n.attr_count};
      for (int k = 0; k < 9; ++k) put_u32(s, e + 4 * k, f[k]);
    }
    for (const GraphRow& g : graphs) {
      size_t e = s.size();
      s.resize(e + 32, 0);
      const uint32_t f[7] = {g.name, g.node_begin, g.node_count, g.input_begin, g.input_count, g.output_begin,
                             g.output_count};
      for (int k = 0; k < 7; ++k) put_u32(s, e + 4 * k, f[k]);
    }
    for (const AttrRow& a : attrs) {
      size_t e = s.size();
      s.resize(e + 24, 0);
      put_u32(s, e, a.name);
      put_u32(s, e + 4, a.type);
      put_u64(s, e + 8, a.a);
      put_u64(s, e + 16, a.b);
    }
    for (int64_t v : ints) {
      size_t e = s.size();
      s.resize(e + 8);
      std::memcpy(&s[e], &v, 8);
    }
    for (double v : floats) {
      size_t e = s.size();
      s.resize(e + 8);
      std::memcpy(&s[e], &v, 8);
    }
    for (uint32_t v : indices) {
      size_t e = s.size();
      s.resize(e + 4);
      put_u32(s, e, v);
    }
    return s;
  }
};

/// The small model most tests use: y = add(relu(x), c, alpha=1) ; z = add(y, w, alpha=0.5)
/// with x, w inputs f32[2,3] and c a constant; outputs z and relu(x).
inline ArchiveBuilder small_model() {
  using deployrt::OpKind;
  ArchiveBuilder b;
  uint32_t x = b.input("x", DType::kF32, {2, 3});
  uint32_t w = b.input("w", DType::kF32, {2, 3});
  uint32_t c = b.constant("c", {2, 3}, {1, 2, 3, 4, 5, 6});
  uint32_t r = b.node(OpKind::kRelu, "relu", {x}, {2, 3});
  uint32_t y = b.node(OpKind::kAdd, "add1", {r, c}, {2, 3}, {ArchiveBuilder::float_attr("alpha", 1.0)});
  uint32_t z = b.node(OpKind::kAdd, "add2", {y, w}, {2, 3}, {ArchiveBuilder::float_attr("alpha", 0.5)});
  b.output(z);
  b.output(r);
  return b;
}

}  // namespace dkr_test
