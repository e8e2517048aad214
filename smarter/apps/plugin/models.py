"""Models of the plugin app."""
