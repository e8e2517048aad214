"""Manifests: the kubectl-like resource contract (envelope, loader, broker registry)."""

from smarter.lib.manifests.broker import ApplyOutcome, Broker, Column, broker_for, registered_brokers, register
from smarter.lib.manifests.envelope import API_VERSION, CamelModel, Manifest, Metadata, field_errors
from smarter.lib.manifests.loader import MAX_MANIFEST_BYTES, load_manifest

__all__ = [
    "API_VERSION",
    "MAX_MANIFEST_BYTES",
    "ApplyOutcome",
    "Broker",
    "CamelModel",
    "Column",
    "Manifest",
    "Metadata",
    "broker_for",
    "field_errors",
    "load_manifest",
    "register",
    "registered_brokers",
]
