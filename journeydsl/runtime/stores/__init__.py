"""Built-in store implementations: in-memory and SQLite."""
