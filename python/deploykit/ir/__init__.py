"""deploykit's intermediate representation: an SSA graph of typed, statically shaped values."""

from .graph import CONSTANT, INPUT, NODE_OUTPUT, Graph, Node, Value

__all__ = ["Graph", "Node", "Value", "INPUT", "CONSTANT", "NODE_OUTPUT"]
