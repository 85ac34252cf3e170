// Constants of the .dkr format, version 1.0 (docs/archive-format.md). The Python
// writer mirrors these in python/deploykit/archive/format.py.
#pragma once

#include <cstdint>

namespace deployrt {
namespace archive {

constexpr uint8_t kMagic[8] = {0x89, 'D', 'K', 'R', '\r', '\n', 0x1A, '\n'};
constexpr uint16_t kVersionMajor = 1;
constexpr uint16_t kVersionMinor = 0;
constexpr uint32_t kByteOrderMark = 0x0A0B0C0Du;
constexpr uint32_t kHeaderSize = 64;
constexpr uint64_t kSectionTableOffset = 64;
constexpr uint32_t kSectionEntrySize = 32;
constexpr uint64_t kSectionAlignment = 64;
constexpr uint32_t kNone = 0xFFFFFFFFu;

// Header field offsets.
constexpr uint64_t kHdrMagic = 0, kHdrMajor = 8, kHdrMinor = 10, kHdrByteOrder = 12, kHdrHeaderSize = 16,
                   kHdrSectionCount = 20, kHdrTableOffset = 24, kHdrFileSize = 32, kHdrFlags = 40,
                   kHdrCrc = 44, kHdrReserved = 48;

enum class SectionKind : uint32_t { kStrings = 1, kTensors = 2, kWeights = 3, kGraph = 4, kMetadata = 5 };
constexpr uint32_t kNumSectionKinds = 5;

// TENSOR_CRCS (kind 8, optional, format 1.5): one CRC per tensor, so a loader can check
// only the tensors it reads instead of the whole WEIGHTS section.
constexpr uint32_t kSectionTensorCrcs = 8;
constexpr uint16_t kVersionMinorTensorCrcs = 5;
constexpr uint64_t kTensorCrcsHeader = 8;

constexpr uint64_t kStringsHeader = 8, kStringEntry = 8;
constexpr uint64_t kTensorsHeader = 8, kTensorEntry = 96;
constexpr uint64_t kGraphHeader = 64, kValueEntry = 96, kNodeEntry = 48, kGraphEntry = 32, kAttrEntry = 24;

enum class ValueKind : uint32_t { kGraphInput = 1, kConstant = 2, kNodeOutput = 3 };

// Value entry flags (format 1.2): bit 0 = the value has symbolic dims.
constexpr uint32_t kValueFlagSymbolic = 1u;
// A symbolic dim is stored as -(1 + s), s the string index of its name (0: unnamed).
constexpr int64_t symbolic_dim_name(int64_t dim) { return -(dim + 1); }

}  // namespace archive
}  // namespace deployrt
