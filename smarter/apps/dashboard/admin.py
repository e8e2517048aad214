"""Django admin of the dashboard app."""
