"""Ways to look at a graph: typed SSA text (ir/printer.py), Python-like code, a stats
table, Graphviz, a self-contained HTML page and ONNX. The CLI's `inspect` and
deploykit.Module.graph / .code use these; they work on any IR Graph, e.g. before writing.
"""

from ..ir.printer import format_graph
from .code import format_code
from .dot import format_dot
from .html import format_html, write_html
from .onnx_export import to_onnx, write_onnx
from .stats import format_stats, graph_stats

__all__ = ["format_graph", "format_code", "format_stats", "graph_stats", "format_dot", "format_html",
           "write_html", "to_onnx", "write_onnx"]
