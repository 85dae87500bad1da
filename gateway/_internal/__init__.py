"""Internal helpers; not part of the public API and free to change."""
