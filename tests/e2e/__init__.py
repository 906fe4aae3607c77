"""End-to-end tests that drive real processes."""
