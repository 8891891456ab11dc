"""The expression language: types, the checker and compilation to closures."""
