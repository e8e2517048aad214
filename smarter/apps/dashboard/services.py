"""Every write of the dashboard app: one keyword-only function per use case."""
