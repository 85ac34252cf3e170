#!/usr/bin/env python3
"""Prints the ops an archive uses, comma-separated in op-code order, for
-DDEPLOYRT_OPS=$(scripts/archive-ops.py model.dkr) (a runtime with only those ops).

Reads only the header, section table and GRAPH section: no deploykit, numpy or torch
needed, so it runs from CMake on a build machine with a bare Python.
"""

import struct
import sys

# Op codes of docs/ops.md.
OP_NAMES = {1: "conv2d", 2: "batch_norm", 3: "relu", 4: "add", 5: "max_pool2d", 6: "avg_pool2d",
            7: "adaptive_avg_pool2d", 8: "flatten", 9: "linear", 10: "hardtanh", 11: "sigmoid", 12: "mul",
            13: "reshape", 14: "cat", 15: "mean", 16: "softmax", 17: "if", 18: "loop", 19: "sub", 20: "div",
            21: "compare", 22: "logical_not", 23: "logical", 24: "sum", 25: "cast", 26: "size"}


def archive_ops(data: bytes):
    if data[:8] != b"\x89DKR\r\n\x1a\n":
        raise ValueError("not a .dkr archive (bad magic)")
    (count,) = struct.unpack_from("<I", data, 20)
    for i in range(count):
        kind, _, offset, size = struct.unpack_from("<IIQQ", data, 64 + 32 * i)
        if kind == 4:  # GRAPH
            value_count, node_count = struct.unpack_from("<II", data, offset)
            nodes_at = offset + 64 + 96 * value_count
            if nodes_at + 48 * node_count > offset + size:
                raise ValueError("GRAPH section is truncated")
            codes = {struct.unpack_from("<I", data, nodes_at + 48 * n)[0] for n in range(node_count)}
            unknown = sorted(c for c in codes if c not in OP_NAMES)
            if unknown:
                raise ValueError(f"unknown op codes {unknown}")
            return [OP_NAMES[c] for c in sorted(codes)]
    raise ValueError("no GRAPH section")


def main(argv):
    if len(argv) != 2:
        print("usage: archive-ops.py MODEL.dkr", file=sys.stderr)
        return 2
    try:
        with open(argv[1], "rb") as f:
            print(",".join(archive_ops(f.read())))
    except (OSError, ValueError, struct.error) as e:
        print(f"archive-ops.py: {argv[1]}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
