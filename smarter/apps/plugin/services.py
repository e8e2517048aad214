"""Every write of the plugin app: one keyword-only function per use case."""
