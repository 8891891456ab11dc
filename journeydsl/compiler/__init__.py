"""Lowering of the AST to the IR graph, and the checks that run over it."""
