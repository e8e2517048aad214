"""Celery entry points of the plugin app; each calls a service."""
