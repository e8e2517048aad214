"""Smarter: build, test and deploy LLM chatbots that act on a company's own data."""

__version__ = "0.1.0"

from smarter.celery import app as celery_app  # noqa: E402  (Celery finds its app here)

__all__ = ["__version__", "celery_app"]
