"""Shared mechanisms with no models: manifests, crypto, errors, observability."""
