"""Celery entry points of the chatbot app; each calls a service."""
