"""Manifests: the kubectl-like resource contract (envelope, loader, broker registry)."""

from smarter.lib.manifests.broker import (
    APPLY_ORDER,
    ApplyOutcome,
    Broker,
    Column,
    apply_rank,
    broker_for,
    iso,
    register,
    registered_brokers,
)
from smarter.lib.manifests.envelope import API_VERSION, CamelModel, Manifest, Metadata, field_errors, section_manifest
from smarter.lib.manifests.loader import MAX_MANIFEST_BYTES, load_manifest
from smarter.lib.manifests.model_broker import ModelBroker, RowServices, Written
from smarter.lib.manifests.preview import Preview, apply_preview

__all__ = [
    "API_VERSION",
    "APPLY_ORDER",
    "MAX_MANIFEST_BYTES",
    "ApplyOutcome",
    "Broker",
    "CamelModel",
    "Column",
    "Manifest",
    "Metadata",
    "ModelBroker",
    "Preview",
    "RowServices",
    "Written",
    "apply_preview",
    "apply_rank",
    "broker_for",
    "field_errors",
    "iso",
    "load_manifest",
    "register",
    "registered_brokers",
    "section_manifest",
]
