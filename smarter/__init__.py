"""Smarter: build, test and deploy LLM chatbots that act on a company's own data.

The Celery app (`smarter.celery`) is loaded when Django starts (see AccountConfig.ready), not
here, so that importing the package (the command-line client does) stays light.
"""

__version__ = "0.1.0"
