"""Sandboxed execution of candidate solutions (importable without torch)."""
