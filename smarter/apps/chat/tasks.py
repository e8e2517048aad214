"""Celery entry points of the chat app; each calls a service."""
