"""Front ends: the YAML loader and DSL parser (both give `journeydsl.ast`), and the printer."""
