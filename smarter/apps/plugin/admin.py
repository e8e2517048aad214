"""Django admin of the plugin app."""
