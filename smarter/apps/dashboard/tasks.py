"""Celery entry points of the dashboard app; each calls a service."""
