// The archive verifier (docs/archive-format.md). Checks run in the order the spec lists
// them, and each stage only reads what the previous stages proved to be in bounds.
// Everything is iterative, and every allocation is proportional to a count that an
// earlier check has already tied to the file size.
#include "archive/reader.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "archive/bytes.h"
#include "core/checked_math.h"
#include "core/crc32c.h"
#include "core/limits.h"
#include "core/str_cat.h"

namespace deployrt {
namespace archive {

bool is_valid_utf8(const uint8_t* p, size_t n, size_t* bad_at) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      *bad_at = i;
      return false;
    }
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) {
      *bad_at = i;
      return false;
    }
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) {
        *bad_at = i;
        return false;
      }
    }
    i += len;
  }
  return true;
}

namespace {

std::string hex(uint64_t v) {
  std::ostringstream out;
  out << "0x" << std::hex << std::uppercase << v;
  return out.str();
}

const char* section_name(uint32_t kind) {
  switch (kind) {
    case 1: return "STRINGS";
    case 2: return "TENSORS";
    case 3: return "WEIGHTS";
    case 4: return "GRAPH";
    case 5: return "METADATA";
    case kSectionTensorCrcs: return "TENSOR_CRCS";
  }
  return "unknown";
}

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

Status archive_error(std::string message) { return Status(ErrorCode::kArchive, std::move(message)); }

}  // namespace

// Runs the checks; fills the view as each stage proves its part sound.
class Verifier {
 public:
  Verifier(const uint8_t* data, size_t size, const ArchiveView::Checksum& checksum,
           ArchiveView::WeightsCheck weights_check)
      : d_(data), n_(size), checksum_(checksum), weights_check_(weights_check) {
    v_.data_ = data;
    v_.size_ = size;
  }

  Result<ArchiveView> run() {
    Status s = check_header();
    if (s.ok()) s = check_sections();
    if (s.ok()) s = check_strings();
    if (s.ok()) s = check_tensors();
    if (s.ok()) s = check_tensor_crcs();
    if (s.ok()) s = check_graph_header();
    if (s.ok()) s = check_values();
    if (s.ok()) s = check_attrs();
    if (s.ok()) s = check_nodes();
    if (s.ok()) s = check_graphs();
    if (s.ok()) s = check_dataflow();
    if (s.ok()) s = check_metadata();
    if (!s.ok()) return s;
    return v_;
  }

 private:
  const uint8_t* d_;
  uint64_t n_;
  const ArchiveView::Checksum& checksum_;  // may be empty: crc32c
  const ArchiveView::WeightsCheck weights_check_;
  uint64_t tensor_crcs_size_ = 0;
  ArchiveView v_;
  uint32_t section_count_ = 0;

  // ---- header -------------------------------------------------------------
  Status check_header() {
    if (n_ == 0) return archive_error("empty file (0 bytes); expected a .dkr archive");
    if (n_ > limits::kMaxFileBytes) {
      return Status(ErrorCode::kLimit, str_cat("archive is ", n_, " bytes; the limit is ", limits::kMaxFileBytes));
    }
    if (n_ < kHeaderSize) {
      return archive_error(str_cat("truncated: file is ", n_, " bytes, shorter than the ", kHeaderSize,
                                   "-byte header"));
    }
    if (std::memcmp(d_ + kHdrMagic, kMagic, sizeof kMagic) != 0) {
      std::string got;
      for (int i = 0; i < 8; ++i) got += (i ? " " : "") + hex(d_[i]).substr(2);
      return archive_error(str_cat("header.magic at offset 0: expected 89 44 4B 52 0D 0A 1A 0A (\"\\x89DKR\\r\\n\\x1a\\n\"), got ",
                                   got, "; not a deploykit archive"));
    }
    uint16_t major = load_u16(d_ + kHdrMajor);
    v_.version_minor_ = load_u16(d_ + kHdrMinor);
    if (major != kVersionMajor) {
      return Status(ErrorCode::kUnsupported,
                    str_cat("header.version_major at offset 8: this runtime reads format version ", kVersionMajor,
                            ".x, the archive is version ", major, ".", v_.version_minor_));
    }
    uint32_t bom = load_u32(d_ + kHdrByteOrder);
    if (bom != kByteOrderMark) {
      return archive_error(str_cat("header.byte_order at offset 12: expected ", hex(kByteOrderMark), ", got ", hex(bom),
                                   bom == __builtin_bswap32(kByteOrderMark) ? " (a big-endian archive)" : ""));
    }
    uint32_t header_size = load_u32(d_ + kHdrHeaderSize);
    if (header_size != kHeaderSize) {
      return archive_error(str_cat("header.header_size at offset 16: expected 64, got ", header_size));
    }
    section_count_ = load_u32(d_ + kHdrSectionCount);
    if (section_count_ < 1 || section_count_ > limits::kMaxSections) {
      return archive_error(str_cat("header.section_count at offset 20: expected 1..16, got ", section_count_));
    }
    uint64_t table_offset = load_u64(d_ + kHdrTableOffset);
    if (table_offset != kSectionTableOffset) {
      return archive_error(str_cat("header.section_table_offset at offset 24: expected 64, got ", table_offset));
    }
    uint64_t file_size = load_u64(d_ + kHdrFileSize);
    if (file_size != n_) {
      return archive_error(str_cat("header.file_size at offset 32: the header says ", file_size,
                                   " bytes, the file has ", n_,
                                   file_size > n_ ? " (truncated)" : " (trailing bytes or wrong size)"));
    }
    uint32_t flags = load_u32(d_ + kHdrFlags);
    if (flags != 0) return archive_error(str_cat("header.flags at offset 40: expected 0, got ", hex(flags)));
    if (v_.version_minor_ == 0 && !all_zero(d_ + kHdrReserved, 16)) {
      return archive_error("header.reserved at offset 48: expected 16 zero bytes");
    }
    uint64_t table_end = kSectionTableOffset + uint64_t{section_count_} * kSectionEntrySize;
    if (table_end > n_) {
      return archive_error(str_cat("truncated: the section table ends at offset ", table_end, ", the file has ", n_,
                                   " bytes"));
    }
    uint8_t header_copy[kHeaderSize];
    std::memcpy(header_copy, d_, kHeaderSize);
    std::memset(header_copy + kHdrCrc, 0, 4);
    uint32_t crc = crc32c(d_ + kSectionTableOffset, table_end - kSectionTableOffset, crc32c(header_copy, kHeaderSize));
    uint32_t stored = load_u32(d_ + kHdrCrc);
    if (crc != stored) {
      return archive_error(str_cat("header.header_crc at offset 44: stored ", hex(stored), ", computed ", hex(crc),
                                   " over the header and section table (corrupt file)"));
    }
    return Status::Ok();
  }

  // ---- section table ------------------------------------------------------
  struct Section {
    uint32_t entry;
    uint32_t kind;
    uint64_t offset, size;
  };

  Status check_sections() {
    const uint64_t table_end = kSectionTableOffset + uint64_t{section_count_} * kSectionEntrySize;
    std::vector<Section> sections;
    bool seen[kNumSectionKinds] = {};
    // With a TENSOR_CRCS section the caller may check the tensors it reads instead of the
    // whole WEIGHTS section (check_tensor_crcs proves the section sound before that counts).
    bool per_tensor = false;
    if (weights_check_ == ArchiveView::WeightsCheck::kPerTensorWhenAvailable) {
      for (uint32_t i = 0; i < section_count_; ++i) {
        if (load_u32(d_ + kSectionTableOffset + uint64_t{i} * kSectionEntrySize) == kSectionTensorCrcs) per_tensor = true;
      }
    }
    for (uint32_t i = 0; i < section_count_; ++i) {
      const uint64_t at = kSectionTableOffset + uint64_t{i} * kSectionEntrySize;
      const uint8_t* e = d_ + at;
      uint32_t kind = load_u32(e);
      uint32_t flags = load_u32(e + 4);
      uint64_t offset = load_u64(e + 8), size = load_u64(e + 16);
      std::string where = str_cat("section ", i, " (", section_name(kind), ", table offset ", at, ")");
      bool known = kind >= 1 && kind <= kNumSectionKinds;
      if (!known && v_.version_minor_ == 0) {
        return archive_error(str_cat(where, ": kind ", kind, " is not a section kind of format 1.0 (expected 1..5)"));
      }
      if (known && seen[kind - 1]) {
        return archive_error(str_cat(where, ": a second ", section_name(kind), " section (each kind appears once)"));
      }
      if (flags != 0) return archive_error(str_cat(where, ": flags expected 0, got ", hex(flags)));
      if (v_.version_minor_ == 0 && load_u32(e + 28) != 0) return archive_error(str_cat(where, ": reserved field is not zero"));
      if (offset % kSectionAlignment != 0) {
        return archive_error(str_cat(where, ": offset ", offset, " is not a multiple of 64"));
      }
      if (offset < table_end) {
        return archive_error(str_cat(where, ": offset ", offset, " lies inside the header or section table (which end at ",
                                     table_end, ")"));
      }
      uint64_t end;
      if (!checked_add(offset, size, &end) || end > n_) {
        return archive_error(str_cat(where, ": offset ", offset, " + size ", size, " runs past the end of the file (",
                                     n_, " bytes)"));
      }
      if (kind == kSectionTensorCrcs) {
        if (v_.tensor_crcs_at_ != 0) {
          return archive_error(str_cat(where, ": a second TENSOR_CRCS section (each kind appears once)"));
        }
        v_.tensor_crcs_at_ = offset;
        tensor_crcs_size_ = size;
      }
      if (per_tensor && kind == static_cast<uint32_t>(SectionKind::kWeights)) {
        v_.weights_verified_ = false;
      } else {
        uint32_t crc = checksum_ ? checksum_(d_ + offset, size) : crc32c(d_ + offset, size);
        uint32_t stored = load_u32(e + 24);
        if (crc != stored) {
          return archive_error(str_cat(where, ": crc stored ", hex(stored), ", computed ", hex(crc), " (corrupt section)"));
        }
      }
      if (known) {
        seen[kind - 1] = true;
        v_.section_offset_[kind - 1] = offset;
        v_.section_size_[kind - 1] = size;
      }
      sections.push_back({i, kind, offset, size});
    }
    for (uint32_t k = 0; k < kNumSectionKinds; ++k) {
      if (!seen[k]) return archive_error(str_cat("section table: no ", section_name(k + 1), " section (kind ", k + 1, ")"));
    }
    std::sort(sections.begin(), sections.end(),
              [](const Section& a, const Section& b) { return a.offset < b.offset || (a.offset == b.offset && a.size < b.size); });
    uint64_t cursor = table_end;  // end of everything proven so far
    for (const Section& s : sections) {
      if (s.offset < cursor) {
        return archive_error(str_cat("section ", s.entry, " (", section_name(s.kind), ") at offset ", s.offset,
                                     " overlaps the previous section, which ends at ", cursor));
      }
      if (!all_zero(d_ + cursor, s.offset - cursor)) {
        return archive_error(str_cat("padding before section ", s.entry, " (offsets ", cursor, "..", s.offset,
                                     ") is not zero"));
      }
      cursor = s.offset + s.size;
    }
    if (cursor != n_) {
      return archive_error(str_cat("trailing data: the last section ends at offset ", cursor, ", the file has ", n_,
                                   " bytes"));
    }
    return Status::Ok();
  }

  // ---- strings ------------------------------------------------------------
  Status check_strings() {
    const uint8_t* s = v_.section(SectionKind::kStrings);
    const uint64_t size = v_.section_size_[0];
    if (size < kStringsHeader) return archive_error(str_cat("STRINGS: section is ", size, " bytes, shorter than its 8-byte header"));
    uint32_t count = load_u32(s);
    if (count < 1) return archive_error("STRINGS: count is 0; string 0 (the empty string) must exist");
    if (load_u32(s + 4) != 0) return archive_error("STRINGS: reserved field at section offset 4 is not zero");
    uint64_t table_bytes, table_end;
    if (!checked_mul(uint64_t{count}, kStringEntry, &table_bytes) || !checked_add(kStringsHeader, table_bytes, &table_end) ||
        table_end > size) {
      return archive_error(str_cat("STRINGS: count ", count, " needs ", 8 + 8 * uint64_t{count},
                                   " bytes of entries, the section has ", size));
    }
    auto entry_offset = [&](uint32_t i) { return uint64_t{load_u32(s + kStringsHeader + uint64_t{i} * kStringEntry)}; };
    auto entry_length = [&](uint32_t i) { return uint64_t{load_u32(s + kStringsHeader + uint64_t{i} * kStringEntry + 4)}; };
    for (uint32_t i = 0; i < count; ++i) {
      uint64_t off = entry_offset(i), len = entry_length(i);
      if (off + len + 1 > size) {  // u32 + u32 + 1 cannot overflow u64
        return archive_error(str_cat("string ", i, ": offset ", off, " + length ", len,
                                     " + terminator runs past the STRINGS section (", size, " bytes)"));
      }
    }
    if (entry_length(0) != 0) return archive_error(str_cat("string 0: length ", entry_length(0), ", expected 0 (the empty string)"));

    // Strings may share tails (a string that starts inside another ends at the same NUL).
    // Visiting distinct start offsets from the highest down, each string only needs its
    // bytes up to the next start checked: total work stays linear in the section size.
    std::vector<uint32_t> order(count);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return entry_offset(a) < entry_offset(b); });
    bool have_next = false;
    uint64_t next_off = 0, next_end = 0;
    for (uint32_t k = count; k-- > 0;) {
      const uint32_t i = order[k];
      const uint64_t off = entry_offset(i), end = off + entry_length(i);
      uint64_t own_end = end;  // bytes [off, own_end) are checked here
      if (have_next && end >= next_off) {
        // Overlaps the (already verified) next string: must end at its terminator.
        if (end < next_end) {
          return archive_error(str_cat("string ", i, ": no NUL terminator at section offset ", end, " (found byte ",
                                       hex(s[end]), ")"));
        }
        if (end > next_end) return archive_error(str_cat("string ", i, ": embedded NUL at section offset ", next_end));
        own_end = next_off;
      } else if (s[end] != 0) {
        return archive_error(str_cat("string ", i, ": no NUL terminator at section offset ", end, " (found byte ",
                                     hex(s[end]), ")"));
      }
      if (const void* nul = std::memchr(s + off, 0, own_end - off)) {
        return archive_error(str_cat("string ", i, ": embedded NUL at section offset ",
                                     static_cast<const uint8_t*>(nul) - s));
      }
      size_t bad = 0;
      if (!is_valid_utf8(s + off, own_end - off, &bad)) {
        return archive_error(str_cat("string ", i, ": invalid UTF-8 at section offset ", off + bad));
      }
      have_next = true;
      next_off = off;
      next_end = end;
    }
    v_.string_count_ = count;
    return Status::Ok();
  }

  std::string quoted_string(uint32_t index) const {
    if (index >= v_.string_count_) return "";
    std::string_view sv = v_.string(index);
    return sv.empty() ? std::string() : str_cat(" '", sv, "'");
  }

  // "<entry> <i>.<field>: string index ... out of range"
  Status check_string_index(const char* entry, uint32_t i, const char* field, uint32_t index) const {
    if (index >= v_.string_count_) {
      return archive_error(str_cat(entry, " ", i, ".", field, ": string index ", index, " out of range (",
                                   v_.string_count_, " strings)"));
    }
    return Status::Ok();
  }

  // dtype, rank and dims of a tensor or value entry; *nbytes receives numel x size.
  // `what` is a callable returning the entry's label, evaluated only on failure.
  // With `symbolic` (a value entry with flags bit 0, format 1.2), a negative dim is a
  // symbolic dim -(1 + name) naming string `name` (docs/archive-format.md, "Symbolic
  // dims"); *nbytes then covers the fixed dims only.
  template <class Label>
  Status check_shape(const Label& what, uint32_t dtype, uint32_t rank, const uint8_t* dims, uint64_t* nbytes,
                     bool symbolic = false) const {
    size_t elem = dtype_size(static_cast<DType>(dtype));
    if (dtype == 0 || dtype > 9 || elem == 0) return archive_error(str_cat(what(), ": dtype ", dtype, " is not a valid dtype (1..9)"));
    if (rank > static_cast<uint32_t>(limits::kMaxRank)) {
      return archive_error(str_cat(what(), ": rank ", rank, " exceeds the maximum rank ", limits::kMaxRank));
    }
    int64_t numel = 1;
    bool overflow = false;
    for (uint32_t k = 0; k < static_cast<uint32_t>(limits::kMaxRank); ++k) {
      int64_t dim = load_i64(dims + 8 * k);
      if (k >= rank) {
        if (dim != 0) return archive_error(str_cat(what(), ": dims[", k, "] = ", dim, " beyond rank ", rank, ", expected 0"));
        continue;
      }
      if (dim < 0 && symbolic) {
        const uint64_t name = static_cast<uint64_t>(-(dim + 1));
        if (name >= v_.string_count_) {
          return archive_error(str_cat(what(), ": symbolic dims[", k, "] = ", dim, " names string ", name,
                                       ", out of range (", v_.string_count_, " strings)"));
        }
        continue;
      }
      if (dim < 0) return archive_error(str_cat(what(), ": dims[", k, "] = ", dim, " is negative"));
      if (!overflow && !checked_mul(numel, dim, &numel)) overflow = true;
    }
    uint64_t bytes = 0;
    if (overflow || !checked_mul(static_cast<uint64_t>(numel), uint64_t{elem}, &bytes) ||
        bytes > static_cast<uint64_t>(INT64_MAX)) {
      return archive_error(str_cat(what(), ": the product of its dims x ", elem, " bytes overflows 64 bits"));
    }
    *nbytes = bytes;
    return Status::Ok();
  }

  // ---- tensors ------------------------------------------------------------
  Status check_tensors() {
    const uint8_t* s = v_.section(SectionKind::kTensors);
    const uint64_t size = v_.section_size_[1];
    const uint64_t weights_size = v_.section_size_[2];
    if (size < kTensorsHeader) return archive_error(str_cat("TENSORS: section is ", size, " bytes, shorter than its 8-byte header"));
    uint32_t count = load_u32(s);
    if (load_u32(s + 4) != 0) return archive_error("TENSORS: reserved field at section offset 4 is not zero");
    uint64_t expected;
    if (!checked_mul(uint64_t{count}, kTensorEntry, &expected) || !checked_add(expected, kTensorsHeader, &expected) ||
        expected != size) {
      return archive_error(str_cat("TENSORS: count ", count, " implies a section of 8 + 96 x ", count, " bytes, the section has ", size));
    }
    v_.tensor_count_ = count;
    struct Range {
      uint64_t begin, end;
      uint32_t tensor;
    };
    std::vector<Range> ranges;
    ranges.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      const uint8_t* e = s + kTensorsHeader + uint64_t{i} * kTensorEntry;
      uint32_t name = load_u32(e);
      // Labels are built only when a check fails: this loop runs once per tensor.
      Status st = check_string_index("tensor", i, "name", name);
      if (!st.ok()) return st;
      auto what = [&] { return str_cat("tensor ", i, quoted_string(name)); };
      uint32_t dtype = load_u32(e + 4), rank = load_u32(e + 8), flags = load_u32(e + 12);
      if (flags != 0) return archive_error(str_cat(what(), ": flags expected 0, got ", hex(flags)));
      uint64_t numel_bytes = 0;
      st = check_shape(what, dtype, rank, e + 32, &numel_bytes);
      if (!st.ok()) return st;
      uint64_t data_offset = load_u64(e + 16), nbytes = load_u64(e + 24);
      if (nbytes != numel_bytes) {
        size_t elem = dtype_size(static_cast<DType>(dtype));
        return archive_error(str_cat(what(), ": nbytes ", nbytes, " != numel ", numel_bytes / elem, " x ", elem, " bytes"));
      }
      if (data_offset % kSectionAlignment != 0) {
        return archive_error(str_cat(what(), ": data_offset ", data_offset, " is not a multiple of 64"));
      }
      uint64_t end;
      if (!checked_add(data_offset, std::max<uint64_t>(nbytes, 1), &end) || end > weights_size) {
        return archive_error(str_cat(what(), ": data [", data_offset, ", +", nbytes, ") lies outside the WEIGHTS section (",
                                     weights_size, " bytes)"));
      }
      ranges.push_back({data_offset, end, i});
    }
    // Disjointness by sorting: O(n log n), not pairwise.
    std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
    for (size_t k = 1; k < ranges.size(); ++k) {
      if (ranges[k].begin < ranges[k - 1].end) {
        const uint32_t a = ranges[k - 1].tensor, b = ranges[k].tensor;
        return archive_error(str_cat("tensors ", a, quoted_string(v_.tensor(a).name), " and ", b,
                                     quoted_string(v_.tensor(b).name), " share bytes of WEIGHTS (data_offset ",
                                     ranges[k - 1].begin, " and ", ranges[k].begin, ")"));
      }
    }
    return Status::Ok();
  }

  // ---- TENSOR_CRCS (optional, format 1.5) -----------------------------------
  // Its own section CRC was checked with the table; here its shape. The tensor CRCs
  // themselves are checked by whoever reads the tensors (weights_verified() false).
  Status check_tensor_crcs() {
    if (v_.tensor_crcs_at_ == 0) return Status::Ok();
    const uint8_t* s = d_ + v_.tensor_crcs_at_;
    const uint64_t size = tensor_crcs_size_;
    if (v_.version_minor_ < kVersionMinorTensorCrcs) {
      return archive_error(str_cat("TENSOR_CRCS: the section needs format version 1.5 or later, the archive is 1.",
                                   v_.version_minor_));
    }
    if (size < kTensorCrcsHeader) {
      return archive_error(str_cat("TENSOR_CRCS: section is ", size, " bytes, shorter than its 8-byte header"));
    }
    const uint32_t count = load_u32(s);
    if (load_u32(s + 4) != 0) return archive_error("TENSOR_CRCS: reserved field at section offset 4 is not zero");
    if (count != v_.tensor_count_) {
      return archive_error(str_cat("TENSOR_CRCS: count ", count, " != tensor count ", v_.tensor_count_));
    }
    const uint64_t expected = kTensorCrcsHeader + 4 * uint64_t{count};
    if (size != expected) {
      return archive_error(str_cat("TENSOR_CRCS: count ", count, " implies ", expected, " bytes, the section has ", size));
    }
    return Status::Ok();
  }

  // ---- graph --------------------------------------------------------------
  Status check_graph_header() {
    const uint8_t* g = v_.section(SectionKind::kGraph);
    const uint64_t size = v_.section_size_[3];
    if (size < kGraphHeader) return archive_error(str_cat("GRAPH: section is ", size, " bytes, shorter than its 64-byte header"));
    uint32_t V = load_u32(g), N = load_u32(g + 4), G = load_u32(g + 8), A = load_u32(g + 12), I = load_u32(g + 16),
             F = load_u32(g + 20), X = load_u32(g + 24);
    if (!all_zero(g + 28, 36)) return archive_error("GRAPH: reserved bytes 28..63 of the header are not zero");
    // The size is fully determined by the counts; checking it first means no count is
    // ever trusted for an allocation before the file proves it holds that many entries.
    uint64_t expected = kGraphHeader;
    const std::pair<uint32_t, uint64_t> arrays[] = {{V, kValueEntry}, {N, kNodeEntry}, {G, kGraphEntry}, {A, kAttrEntry},
                                                    {I, 8}, {F, 8}, {X, 4}};
    bool ok = true;
    for (const auto& [count, entry] : arrays) {
      uint64_t bytes;
      ok = ok && checked_mul(uint64_t{count}, entry, &bytes) && checked_add(expected, bytes, &expected);
    }
    if (!ok || expected != size) {
      return archive_error(str_cat("GRAPH: counts (values ", V, ", nodes ", N, ", graphs ", G, ", attrs ", A, ", ints ", I,
                                   ", floats ", F, ", indices ", X, ") imply a section of ",
                                   ok ? std::to_string(expected) : std::string("more than 2^64"), " bytes, the section has ",
                                   size));
    }
    if (G < 1) return archive_error("GRAPH: graph_count is 0; graph 0 (the main graph) must exist");
    if (N > limits::kMaxNodes) return Status(ErrorCode::kLimit, str_cat("GRAPH: ", N, " nodes; the limit is ", limits::kMaxNodes));
    if (V > limits::kMaxValues) return Status(ErrorCode::kLimit, str_cat("GRAPH: ", V, " values; the limit is ", limits::kMaxValues));
    if (G > limits::kMaxGraphs) return Status(ErrorCode::kLimit, str_cat("GRAPH: ", G, " graphs; the limit is ", limits::kMaxGraphs));
    v_.value_count_ = V;
    v_.node_count_ = N;
    v_.graph_count_ = G;
    v_.attr_count_ = A;
    v_.int_count_ = I;
    v_.float_count_ = F;
    v_.index_count_ = X;
    v_.values_at_ = v_.section_offset_[3] + kGraphHeader;
    v_.nodes_at_ = v_.values_at_ + uint64_t{V} * kValueEntry;
    v_.graphs_at_ = v_.nodes_at_ + uint64_t{N} * kNodeEntry;
    v_.attrs_at_ = v_.graphs_at_ + uint64_t{G} * kGraphEntry;
    v_.ints_at_ = v_.attrs_at_ + uint64_t{A} * kAttrEntry;
    v_.floats_at_ = v_.ints_at_ + uint64_t{I} * 8;
    v_.indices_at_ = v_.floats_at_ + uint64_t{F} * 8;
    return Status::Ok();
  }

  std::string value_label(uint32_t id) const { return str_cat("value ", id, quoted_string(v_.value(id).name)); }
  std::string node_label(uint32_t id) const {
    NodeEntry n = v_.node(id);
    std::string label = str_cat("node ", id, quoted_string(n.name));
    if (n.source != 0 && n.source < v_.string_count_) label += str_cat(" (", v_.string(n.source), ")");
    return label;
  }

  Status check_values() {
    for (uint32_t i = 0; i < v_.value_count_; ++i) {
      const uint8_t* e = d_ + v_.values_at_ + uint64_t{i} * kValueEntry;
      uint32_t name = load_u32(e);
      Status st = check_string_index("value", i, "name", name);
      if (!st.ok()) return st;
      auto what = [&] { return str_cat("value ", i, quoted_string(name)); };
      uint32_t kind = load_u32(e + 4), dtype = load_u32(e + 8), rank = load_u32(e + 12), tensor = load_u32(e + 16),
               flags = load_u32(e + 20);
      if (kind < 1 || kind > 3) return archive_error(str_cat(what(), ": kind ", kind, " is not 1 (input), 2 (constant) or 3 (node output)"));
      // flags bit 0: the value has symbolic dims (format 1.2); the other bits are reserved.
      const bool symbolic = (flags & kValueFlagSymbolic) != 0;
      if ((flags & ~kValueFlagSymbolic) != 0 || (symbolic && v_.version_minor_ < 2)) {
        return archive_error(str_cat(what(), ": flags expected 0", v_.version_minor_ < 2 ? "" : " or 1", " in format 1.",
                                     v_.version_minor_, ", got ", hex(flags)));
      }
      if (load_u64(e + 88) != 0) return archive_error(str_cat(what(), ": reserved field is not zero"));
      uint64_t nbytes = 0;
      st = check_shape(what, dtype, rank, e + 24, &nbytes, symbolic);
      if (!st.ok()) return st;
      if (symbolic) {
        bool any = false;
        for (uint32_t k = 0; k < rank; ++k) any = any || load_i64(e + 24 + 8 * k) < 0;
        if (!any) return archive_error(str_cat(what(), ": flags bit 0 (symbolic dims) is set but no dim is negative"));
        if (kind == static_cast<uint32_t>(ValueKind::kConstant)) {
          return archive_error(str_cat(what(), ": a constant cannot have symbolic dims"));
        }
      }
      if (kind == static_cast<uint32_t>(ValueKind::kConstant)) {
        if (tensor >= v_.tensor_count_) {
          return archive_error(str_cat(what(), ": tensor index ", tensor, " out of range (", v_.tensor_count_, " tensors)"));
        }
        TensorEntry t = v_.tensor(tensor);
        bool same = static_cast<uint32_t>(t.dtype) == dtype && static_cast<uint32_t>(t.rank) == rank &&
                    std::memcmp(t.dims, e + 24, sizeof t.dims) == 0;
        if (!same) {
          return archive_error(str_cat(what(), ": dtype/dims differ from those of its tensor ", tensor, quoted_string(t.name)));
        }
      } else if (tensor != kNone) {
        return archive_error(str_cat(what(), ": tensor field is ", tensor, ", expected NONE for a value of kind ", kind));
      }
    }
    return Status::Ok();
  }

  Status check_attrs() {
    for (uint32_t i = 0; i < v_.attr_count_; ++i) {
      AttrEntry a = v_.attr(i);
      Status st = check_string_index("attr", i, "name", a.name);
      if (!st.ok()) return st;
      if (a.name == 0) return archive_error(str_cat("attr ", i, ": empty name (string 0)"));
      auto what = [&] { return str_cat("attr ", i, quoted_string(a.name)); };
      switch (a.type) {
        case 1:
        case 2:
          if (a.b != 0) return archive_error(str_cat(what(), ": field b is ", a.b, ", expected 0 for a scalar"));
          break;
        case 3:
        case 4: {
          uint64_t pool = a.type == 3 ? v_.int_count_ : v_.float_count_;
          uint64_t end;
          if (!checked_add(a.a, a.b, &end) || end > pool) {
            return archive_error(str_cat(what(), ": entries [", a.a, ", +", a.b, ") run past the ", a.type == 3 ? "int" : "float",
                                         " pool (", pool, " entries)"));
          }
          break;
        }
        case 5:
          if (a.a >= v_.string_count_ || a.b != 0) {
            return archive_error(str_cat(what(), ": STRING payload a=", a.a, " b=", a.b, ", expected a string index < ",
                                         v_.string_count_, " and b=0"));
          }
          break;
        case 6:
          if (a.a < 1 || a.a >= v_.graph_count_ || a.b != 0) {
            return archive_error(str_cat(what(), ": GRAPH payload a=", a.a, " b=", a.b, ", expected a graph index in 1..",
                                         v_.graph_count_ - 1, " and b=0"));
          }
          break;
        default:
          return archive_error(str_cat(what(), ": type tag ", a.type, " is not 1..6"));
      }
    }
    return Status::Ok();
  }

  // begin + count within a pool of `pool` entries, without overflow.
  static bool range_ok(uint32_t begin, uint32_t count, uint64_t pool) { return uint64_t{begin} + count <= pool; }

  Status check_nodes() {
    // Ranges into the index pool and the attrs array are not shared between nodes/graphs,
    // so their total is bounded by the pool: per-node work and copies stay linear in the file.
    uint64_t index_refs = 0, attr_refs = 0;
    std::vector<std::string_view> names;
    for (uint32_t i = 0; i < v_.node_count_; ++i) {
      const uint8_t* e = d_ + v_.nodes_at_ + uint64_t{i} * kNodeEntry;
      NodeEntry n = v_.node(i);
      Status st = check_string_index("node", i, "name", n.name);
      if (st.ok()) st = check_string_index("node", i, "source", n.source);
      if (!st.ok()) return st;
      auto what = [&] { return node_label(i); };
      if (!all_zero(e + 36, 12)) return archive_error(str_cat(what(), ": reserved bytes are not zero"));
      if (!range_ok(n.input_begin, n.input_count, v_.index_count_)) {
        return archive_error(str_cat(what(), ": inputs [", n.input_begin, ", +", n.input_count, ") run past the index pool (",
                                     v_.index_count_, " entries)"));
      }
      if (!range_ok(n.output_begin, n.output_count, v_.index_count_)) {
        return archive_error(str_cat(what(), ": outputs [", n.output_begin, ", +", n.output_count,
                                     ") run past the index pool (", v_.index_count_, " entries)"));
      }
      if (!range_ok(n.attr_begin, n.attr_count, v_.attr_count_)) {
        return archive_error(str_cat(what(), ": attrs [", n.attr_begin, ", +", n.attr_count, ") run past the attrs array (",
                                     v_.attr_count_, " entries)"));
      }
      index_refs += uint64_t{n.input_count} + n.output_count;
      attr_refs += n.attr_count;
      if (index_refs > v_.index_count_) {
        return archive_error(str_cat(what(), ": nodes refer to more index-pool entries than the pool holds (",
                                     v_.index_count_, "): ranges must not be shared"));
      }
      if (attr_refs > v_.attr_count_) {
        return archive_error(str_cat(what(), ": nodes refer to more attributes than the attrs array holds (", v_.attr_count_,
                                     "): ranges must not be shared"));
      }
      for (uint32_t k = 0; k < n.input_count; ++k) {
        uint32_t id = v_.index_at(uint64_t{n.input_begin} + k);
        if (id != kNone && id >= v_.value_count_) {
          return archive_error(str_cat(what(), ": input ", k, " is value ", id, ", out of range (", v_.value_count_, " values)"));
        }
      }
      for (uint32_t k = 0; k < n.output_count; ++k) {
        uint32_t id = v_.index_at(uint64_t{n.output_begin} + k);
        if (id >= v_.value_count_) {
          return archive_error(str_cat(what(), ": output ", k, " is value ", id, ", out of range (", v_.value_count_, " values)"));
        }
        if (v_.value(id).kind != ValueKind::kNodeOutput) {
          return archive_error(str_cat(what(), ": output ", k, " is ", value_label(id), " of kind ",
                                       static_cast<uint32_t>(v_.value(id).kind), "; a node may only write kind-3 values"));
        }
      }
      names.clear();
      for (uint32_t k = 0; k < n.attr_count; ++k) names.push_back(v_.string(v_.attr(n.attr_begin + k).name));
      std::sort(names.begin(), names.end());
      for (size_t k = 1; k < names.size(); ++k) {
        if (names[k] == names[k - 1]) return archive_error(str_cat(what(), ": attribute '", names[k], "' appears twice"));
      }
    }
    graph_index_refs_ = index_refs;
    return Status::Ok();
  }

  uint64_t graph_index_refs_ = 0;  // index-pool entries used by nodes, carried into check_graphs

  Status check_graphs() {
    uint64_t index_refs = graph_index_refs_;
    struct NodeRange {
      uint32_t begin, end, graph;
    };
    std::vector<NodeRange> ranges;
    for (uint32_t g = 0; g < v_.graph_count_; ++g) {
      const uint8_t* e = d_ + v_.graphs_at_ + uint64_t{g} * kGraphEntry;
      GraphEntry gr = v_.graph(g);
      Status st = check_string_index("graph", g, "name", gr.name);
      if (!st.ok()) return st;
      auto what = [&] { return str_cat("graph ", g, quoted_string(gr.name)); };
      if (load_u32(e + 28) != 0) return archive_error(str_cat(what(), ": reserved field is not zero"));
      if (!range_ok(gr.node_begin, gr.node_count, v_.node_count_)) {
        return archive_error(str_cat(what(), ": nodes [", gr.node_begin, ", +", gr.node_count, ") run past the node array (",
                                     v_.node_count_, " nodes)"));
      }
      if (!range_ok(gr.input_begin, gr.input_count, v_.index_count_) ||
          !range_ok(gr.output_begin, gr.output_count, v_.index_count_)) {
        return archive_error(str_cat(what(), ": input or output range runs past the index pool (", v_.index_count_,
                                     " entries)"));
      }
      index_refs += uint64_t{gr.input_count} + gr.output_count;
      if (index_refs > v_.index_count_) {
        return archive_error(str_cat(what(), ": nodes and graphs refer to more index-pool entries than the pool holds (",
                                     v_.index_count_, "): ranges must not be shared"));
      }
      if (g == 0 && gr.output_count < 1) return archive_error(str_cat(what(), ": the main graph has no outputs"));
      for (uint32_t k = 0; k < gr.input_count; ++k) {
        uint32_t id = v_.index_at(uint64_t{gr.input_begin} + k);
        if (id >= v_.value_count_) {
          return archive_error(str_cat(what(), ": input ", k, " is value ", id, ", out of range (", v_.value_count_, " values)"));
        }
        if (v_.value(id).kind != ValueKind::kGraphInput) {
          return archive_error(str_cat(what(), ": input ", k, " is ", value_label(id), " of kind ",
                                       static_cast<uint32_t>(v_.value(id).kind), ", expected 1 (graph input)"));
        }
      }
      for (uint32_t k = 0; k < gr.output_count; ++k) {
        uint32_t id = v_.index_at(uint64_t{gr.output_begin} + k);
        if (id >= v_.value_count_) {
          return archive_error(str_cat(what(), ": output ", k, " is value ", id, ", out of range (", v_.value_count_, " values)"));
        }
      }
      if (gr.node_count > 0) ranges.push_back({gr.node_begin, gr.node_begin + gr.node_count, g});
    }
    std::sort(ranges.begin(), ranges.end(), [](const NodeRange& a, const NodeRange& b) { return a.begin < b.begin; });
    for (size_t k = 1; k < ranges.size(); ++k) {
      if (ranges[k].begin < ranges[k - 1].end) {
        return archive_error(str_cat("graphs ", ranges[k - 1].graph, " and ", ranges[k].graph,
                                     " claim overlapping node ranges (node ", ranges[k].begin, ")"));
      }
    }
    return check_subgraph_cycles(ranges);
  }

  // GRAPH attributes form edges graph -> subgraph; a cycle (a subgraph that reaches
  // itself) is rejected, and so is nesting deeper than limits::kMaxSubgraphDepth.
  // Kahn's algorithm: iterative, no recursion on file content; nodes are popped in
  // topological order, so depth[child] = max over parents of depth[parent] + 1.
  template <class Ranges>
  Status check_subgraph_cycles(const Ranges& ranges) {
    std::vector<std::vector<uint32_t>> children(v_.graph_count_);
    std::vector<uint32_t> indegree(v_.graph_count_, 0);
    bool any = false;
    for (const auto& r : ranges) {
      for (uint32_t node = r.begin; node < r.end; ++node) {
        NodeEntry n = v_.node(node);
        for (uint32_t k = 0; k < n.attr_count; ++k) {
          AttrEntry a = v_.attr(n.attr_begin + k);
          if (a.type != 6) continue;  // GRAPH
          children[r.graph].push_back(static_cast<uint32_t>(a.a));
          ++indegree[a.a];
          any = true;
        }
      }
    }
    if (!any) return Status::Ok();
    std::vector<uint32_t> ready;
    for (uint32_t g = 0; g < v_.graph_count_; ++g) {
      if (indegree[g] == 0) ready.push_back(g);
    }
    uint32_t visited = 0;
    std::vector<uint32_t> depth(v_.graph_count_, 0);
    while (!ready.empty()) {
      uint32_t g = ready.back();
      ready.pop_back();
      ++visited;
      for (uint32_t c : children[g]) {
        depth[c] = std::max(depth[c], depth[g] + 1);
        if (depth[c] > limits::kMaxSubgraphDepth) {
          return Status(ErrorCode::kLimit, str_cat("graph ", c, " is nested ", depth[c],
                                                   " subgraph levels deep (through graph ", g, "); the limit is ",
                                                   limits::kMaxSubgraphDepth));
        }
        if (--indegree[c] == 0) ready.push_back(c);
      }
    }
    if (visited != v_.graph_count_) {
      for (uint32_t g = 0; g < v_.graph_count_; ++g) {
        if (indegree[g] != 0) return archive_error(str_cat("graph ", g, " is part of a cycle of GRAPH attributes (a subgraph that contains itself)"));
      }
    }
    return Status::Ok();
  }

  // SSA: each value defined once; used only after its definition, inside its graph.
  Status check_dataflow() {
    const uint32_t V = v_.value_count_;
    std::vector<uint8_t> defined(V, 0);
    auto define = [&](uint32_t id, const auto& by) -> Status {
      if (defined[id]) return archive_error(str_cat(value_label(id), " is defined twice (again as ", by(), ")"));
      defined[id] = 1;
      return Status::Ok();
    };
    for (uint32_t g = 0; g < v_.graph_count_; ++g) {
      GraphEntry gr = v_.graph(g);
      for (uint32_t k = 0; k < gr.input_count; ++k) {
        Status st = define(v_.index_at(uint64_t{gr.input_begin} + k), [&] { return str_cat("input ", k, " of graph ", g); });
        if (!st.ok()) return st;
      }
    }
    for (uint32_t i = 0; i < v_.node_count_; ++i) {
      NodeEntry n = v_.node(i);
      for (uint32_t k = 0; k < n.output_count; ++k) {
        Status st = define(v_.index_at(uint64_t{n.output_begin} + k),
                           [&] { return str_cat("output ", k, " of ", node_label(i)); });
        if (!st.ok()) return st;
      }
    }
    // Walk each graph in execution order, stamping values as they become available.
    std::vector<uint32_t> available_in(V, kNone);
    for (uint32_t g = 0; g < v_.graph_count_; ++g) {
      GraphEntry gr = v_.graph(g);
      for (uint32_t k = 0; k < gr.input_count; ++k) available_in[v_.index_at(uint64_t{gr.input_begin} + k)] = g;
      for (uint32_t i = gr.node_begin; i < gr.node_begin + gr.node_count; ++i) {
        NodeEntry n = v_.node(i);
        for (uint32_t k = 0; k < n.input_count; ++k) {
          uint32_t id = v_.index_at(uint64_t{n.input_begin} + k);
          if (id == kNone || v_.value(id).kind == ValueKind::kConstant || available_in[id] == g) continue;
          return archive_error(str_cat(node_label(i), " in graph ", g, ": input ", k, " uses ", value_label(id),
                                       defined[id] ? " before it is defined in this graph" : ", which nothing defines"));
        }
        for (uint32_t k = 0; k < n.output_count; ++k) available_in[v_.index_at(uint64_t{n.output_begin} + k)] = g;
      }
      for (uint32_t k = 0; k < gr.output_count; ++k) {
        uint32_t id = v_.index_at(uint64_t{gr.output_begin} + k);
        if (v_.value(id).kind == ValueKind::kConstant || available_in[id] == g) continue;
        return archive_error(str_cat("graph ", g, " output ", k, ": ", value_label(id), " is never produced in graph ", g));
      }
    }
    return Status::Ok();
  }

  Status check_metadata() {
    size_t bad = 0;
    if (!is_valid_utf8(v_.section(SectionKind::kMetadata), v_.section_size_[4], &bad)) {
      return archive_error(str_cat("METADATA: invalid UTF-8 at section offset ", bad));
    }
    return Status::Ok();
  }
};

Result<ArchiveView> ArchiveView::verify(const uint8_t* data, size_t size, const Checksum& checksum,
                                       WeightsCheck weights_check) {
  if (data == nullptr && size != 0) return Status(ErrorCode::kInternal, "ArchiveView::verify: null data");
  return Verifier(data, size, checksum, weights_check).run();
}

uint32_t ArchiveView::tensor_crc(uint32_t index) const {
  return load_u32(data_ + tensor_crcs_at_ + kTensorCrcsHeader + uint64_t{index} * 4);
}

std::string_view ArchiveView::string(uint32_t index) const {
  const uint8_t* s = section(SectionKind::kStrings);
  const uint8_t* e = s + kStringsHeader + uint64_t{index} * kStringEntry;
  return std::string_view(reinterpret_cast<const char*>(s + load_u32(e)), load_u32(e + 4));
}

TensorEntry ArchiveView::tensor(uint32_t index) const {
  const uint8_t* e = section(SectionKind::kTensors) + kTensorsHeader + uint64_t{index} * kTensorEntry;
  TensorEntry t;
  t.name = load_u32(e);
  t.dtype = static_cast<DType>(load_u32(e + 4));
  t.rank = static_cast<int>(load_u32(e + 8));
  t.data_offset = load_u64(e + 16);
  t.nbytes = load_u64(e + 24);
  std::memcpy(t.dims, e + 32, sizeof t.dims);
  return t;
}

const uint8_t* ArchiveView::tensor_data(uint32_t index) const {
  return section(SectionKind::kWeights) + tensor(index).data_offset;
}

ValueEntry ArchiveView::value(uint32_t index) const {
  const uint8_t* e = data_ + values_at_ + uint64_t{index} * kValueEntry;
  ValueEntry v;
  v.name = load_u32(e);
  v.kind = static_cast<ValueKind>(load_u32(e + 4));
  v.dtype = static_cast<DType>(load_u32(e + 8));
  v.rank = static_cast<int>(load_u32(e + 12));
  v.tensor = load_u32(e + 16);
  v.flags = load_u32(e + 20);
  std::memcpy(v.dims, e + 24, sizeof v.dims);
  return v;
}

NodeEntry ArchiveView::node(uint32_t index) const {
  const uint8_t* e = data_ + nodes_at_ + uint64_t{index} * kNodeEntry;
  NodeEntry n;
  n.op = load_u32(e);
  n.name = load_u32(e + 4);
  n.source = load_u32(e + 8);
  n.input_begin = load_u32(e + 12);
  n.input_count = load_u32(e + 16);
  n.output_begin = load_u32(e + 20);
  n.output_count = load_u32(e + 24);
  n.attr_begin = load_u32(e + 28);
  n.attr_count = load_u32(e + 32);
  return n;
}

GraphEntry ArchiveView::graph(uint32_t index) const {
  const uint8_t* e = data_ + graphs_at_ + uint64_t{index} * kGraphEntry;
  GraphEntry g;
  g.name = load_u32(e);
  g.node_begin = load_u32(e + 4);
  g.node_count = load_u32(e + 8);
  g.input_begin = load_u32(e + 12);
  g.input_count = load_u32(e + 16);
  g.output_begin = load_u32(e + 20);
  g.output_count = load_u32(e + 24);
  return g;
}

AttrEntry ArchiveView::attr(uint32_t index) const {
  const uint8_t* e = data_ + attrs_at_ + uint64_t{index} * kAttrEntry;
  AttrEntry a;
  a.name = load_u32(e);
  a.type = load_u32(e + 4);
  a.a = load_u64(e + 8);
  a.b = load_u64(e + 16);
  return a;
}

int64_t ArchiveView::int_at(uint64_t index) const { return load_i64(data_ + ints_at_ + index * 8); }
double ArchiveView::float_at(uint64_t index) const { return load_f64(data_ + floats_at_ + index * 8); }
uint32_t ArchiveView::index_at(uint64_t index) const { return load_u32(data_ + indices_at_ + index * 4); }

std::string_view ArchiveView::metadata() const {
  return std::string_view(reinterpret_cast<const char*>(section(SectionKind::kMetadata)), section_size_[4]);
}

Result<OptionalSection> find_optional_section(const ArchiveView& view, uint32_t kind, const char* name) {
  const uint8_t* d = view.data();
  const uint32_t section_count = load_u32(d + kHdrSectionCount);
  OptionalSection found;
  for (uint32_t i = 0; i < section_count; ++i) {
    const uint8_t* e = d + kSectionTableOffset + uint64_t{i} * kSectionEntrySize;
    if (load_u32(e) != kind) continue;
    if (found.data != nullptr) {
      return Status(ErrorCode::kArchive,
                    str_cat(name, ": section ", i, " is a second ", name, " section (each kind appears once)"));
    }
    found.data = d + load_u64(e + 8);
    found.size = load_u64(e + 16);
  }
  return found;
}

}  // namespace archive
}  // namespace deployrt
