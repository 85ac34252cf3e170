"""Dynamic shapes: mark input dims as symbolic and find which dims of every value follow them.

``deploykit.export(..., dynamic_dims={"x": {0: "N", 2: "H", 3: "W"}})`` traces at the example
sizes, then calls :func:`apply_dynamic_dims` on the optimized graph. It runs the IR's shape
inference twice more, with every symbol set to a different size each time, and marks each dim
that changes: a dim equal to one symbol at all three sizes is named after it ("N"), any other
changing dim is dynamic without a name ("?"). Those become the archive's symbolic dims
(format 1.2) and the runtime specializes the graph per input shape.

Tracing bakes sizes into ``reshape`` targets (``x.view(x.size(0), -1)`` traced at batch 1 is
``reshape(shape=[1, 512])``). A reshape whose input has dynamic dims is rewritten when exactly one
target entry depends on them (it becomes -1, inferred at run time); otherwise the export fails
naming the node and its source line, as it does for any op that cannot take the other sizes.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import ExportError
from .ir.graph import Graph, Value
from .ir.ops import OpError, infer_shapes

DynamicDims = Mapping[Union[str, int], Mapping[int, str]]


def parse_dynamic_spec(specs: Sequence[str]) -> Dict[str, Dict[int, str]]:
    """CLI form: ["x:0=N,2=H,3=W", "y:0=N"] -> {"x": {0: "N", 2: "H", 3: "W"}, "y": {0: "N"}}."""
    result: Dict[str, Dict[int, str]] = {}
    for spec in specs:
        name, sep, dims = spec.partition(":")
        if not sep or not name or not dims:
            raise ExportError(f"--dynamic '{spec}': expected INPUT:DIM=SYMBOL[,DIM=SYMBOL...], e.g. x:0=N,2=H,3=W")
        for item in dims.split(","):
            dim, eq, symbol = item.partition("=")
            if not eq or not dim.strip().lstrip("-").isdigit() or not symbol.strip():
                raise ExportError(f"--dynamic '{spec}': '{item}' is not DIM=SYMBOL")
            result.setdefault(name.strip(), {})[int(dim)] = symbol.strip()
    return result


def _symbol_sizes(graph: Graph, dynamic_dims: DynamicDims) -> Tuple[Dict[str, Dict[int, str]], Dict[str, int]]:
    """Validated {input name: {dim: symbol}} and each symbol's export-time size."""
    by_name = {v.name: v for v in graph.inputs}
    marked: Dict[str, Dict[int, str]] = {}
    sizes: Dict[str, int] = {}
    errors: List[str] = []
    for key, dims in dynamic_dims.items():
        if isinstance(key, int) and 0 <= key < len(graph.inputs):
            value = graph.inputs[key]
        elif key in by_name:
            value = by_name[key]
        else:
            errors.append(f"dynamic_dims names input {key!r}; the model's inputs are "
                          f"{[v.name for v in graph.inputs]} (or their positions)")
            continue
        for dim, symbol in dims.items():
            if not isinstance(dim, int) or not -value.rank <= dim < value.rank:
                errors.append(f"input '{value.name}' {value.type_str()}: dim {dim!r} is out of range")
                continue
            dim %= value.rank
            if not isinstance(symbol, str) or not symbol or symbol == "?" or "\x00" in symbol:
                errors.append(f"input '{value.name}' dim {dim}: symbol {symbol!r} must be a non-empty name")
                continue
            size = value.shape[dim]
            if sizes.setdefault(symbol, size) != size:
                errors.append(f"symbol '{symbol}' is {sizes[symbol]} in one input but {size} in input "
                              f"'{value.name}' dim {dim} of the example inputs: one symbol, one size")
            marked.setdefault(value.name, {})[dim] = symbol
    if errors:
        raise ExportError("dynamic_dims: " + "; ".join(errors))
    return marked, sizes


def _alternative_sizes(sizes: Dict[str, int]) -> List[Dict[str, int]]:
    # Two more sizes per symbol, larger than every export-time size (a model that takes the
    # example sizes takes larger ones more often than smaller), odd in one of them so strided
    # ops see new remainders, and different for every symbol, so two symbols that had the
    # same size at export (H = W = 224) are still told apart.
    top = max(sizes.values())
    return [{s: top + 61 + 2 * i for i, s in enumerate(sizes)}, {s: 2 * top + 128 + 4 * i for i, s in enumerate(sizes)}]


def _reshape_target(node, x_shapes: List[Tuple[int, ...]], dynamic: List[bool]) -> Optional[List[int]]:
    """The reshape target with the one entry that depends on dynamic input dims set to -1;
    None when the input has no dynamic dim. Raises OpError when it cannot be rewritten."""
    if not any(dynamic):
        return None
    target = list(node.attrs["shape"])
    x = x_shapes[0]
    if -1 in target:
        raise OpError(f"target {target} already has a -1 and its input {list(x)} has dynamic dims")
    # Align input dims and target entries at the export sizes into blocks of equal product
    # (each block a merge or a split of dims); the target entries of a block that holds a
    # dynamic input dim depend on it.
    depends: List[int] = []
    i = k = 0
    while i < len(x) or k < len(target):
        block_in, block_out = [], []
        pi = pk = 1
        if i < len(x):
            block_in.append(i)
            pi *= x[i]
            i += 1
        if k < len(target):
            block_out.append(k)
            pk *= target[k]
            k += 1
        while pi != pk:
            if pi < pk and i < len(x):
                block_in.append(i)
                pi *= x[i]
                i += 1
            elif pk < pi and k < len(target):
                block_out.append(k)
                pk *= target[k]
                k += 1
            else:
                raise OpError(f"target {target} does not regroup the dims of its input {list(x)}")
        if any(dynamic[j] for j in block_in):
            depends.extend(block_out)
    if len(depends) != 1:
        raise OpError(f"target {target} bakes in the export-time size of dynamic dims of its input {list(x)} "
                      f"({'several entries depend on them' if depends else 'no entry can carry them'}); "
                      "write the view with -1 or flatten() so only one dim follows the input sizes")
    target[depends[0]] = -1
    return target


def apply_dynamic_dims(graph: Graph, dynamic_dims: DynamicDims) -> Dict[str, int]:
    """Marks the symbolic dims of every value of ``graph`` (in place; see the module docstring).
    Returns the symbols' export-time sizes. Raises ExportError naming every node that cannot
    take other sizes, with its source line."""
    marked, sizes = _symbol_sizes(graph, dynamic_dims)
    if not marked:
        return {}
    alternatives = _alternative_sizes(sizes)
    # shapes[name] = (export-time shape, shape at alternative 1, shape at alternative 2)
    shapes: Dict[str, List[Tuple[int, ...]]] = {}
    for value in graph.inputs:
        dims = marked.get(value.name, {})
        shapes[value.name] = [value.shape] + [
            tuple(alt[dims[d]] if d in dims else n for d, n in enumerate(value.shape)) for alt in alternatives]
    for name, array in graph.constants.items():
        shapes[name] = [tuple(array.shape)] * 3
    errors: List[str] = []
    rewrites = []
    for node in graph.nodes:
        if node.subgraphs():
            errors.append(f"{node.op} '{node.name}' ({node.source or 'unknown source'}): dynamic shapes through "
                          "subgraphs are not supported yet")
            break
        ins = [None if v is None else shapes[v.name] for v in node.inputs]
        attrs = node.attrs
        try:
            if node.op == "reshape":
                x = ins[0]
                target = _reshape_target(node, x, [a != b or a != c for a, b, c in zip(*x)])
                if target is not None:
                    attrs = dict(node.attrs, shape=target)
                    rewrites.append((node, target))
            results = [infer_shapes(node.op, [None if s is None else s[k] for s in ins], attrs) for k in range(3)]
        except OpError as e:
            at = f" at {node.source}" if node.source else ""
            errors.append(f"{node.op} '{node.name}'{at} cannot take other sizes of "
                          f"{', '.join(sorted(sizes))}: {e}")
            break  # later nodes would only repeat the failure
        for j, value in enumerate(node.outputs):
            shapes[value.name] = [results[k][j] for k in range(3)]
    if errors:
        raise ExportError("dynamic shapes: " + "; ".join(errors))
    for node, target in rewrites:
        node.attrs["shape"] = target
    for value in list(graph.inputs) + [out for node in graph.nodes for out in node.outputs]:
        _mark(value, shapes[value.name], marked.get(value.name), sizes, alternatives)
    return dict(sizes)


def _mark(value: Value, shapes: List[Tuple[int, ...]], input_dims: Optional[Dict[int, str]],
          sizes: Dict[str, int], alternatives: List[Dict[str, int]]) -> None:
    if input_dims is not None:
        value.symbols = tuple(input_dims.get(d) for d in range(value.rank))
        return
    symbols: List[Optional[str]] = []
    for d in range(value.rank):
        sizes_at = [s[d] for s in shapes]
        if sizes_at[0] == sizes_at[1] == sizes_at[2]:
            symbols.append(None)
            continue
        name = next((s for s in sizes if [sizes[s]] + [alt[s] for alt in alternatives] == sizes_at), "")
        symbols.append(name)
    value.symbols = tuple(symbols) if any(s is not None for s in symbols) else None
