"""Front ends: the YAML loader and the DSL parser (both produce :mod:`journeydsl.ast`), and the printer."""
