"""Rows into records: templates, the sandbox, the vectorised compiler, options and choices,
formats, the record checks and refit."""
