"""Console forms for every kind a tenant manages: a generic engine and each kind's fields."""

from smarter.apps.dashboard.forms.engine import (
    OMIT,
    BoundField,
    Field,
    KindForm,
    bind,
    document_from,
    field_of,
    place_errors,
)
from smarter.apps.dashboard.forms.kinds import FORMS, PLUGIN_KINDS, form_for

__all__ = [
    "FORMS",
    "OMIT",
    "PLUGIN_KINDS",
    "BoundField",
    "Field",
    "KindForm",
    "bind",
    "document_from",
    "field_of",
    "form_for",
    "place_errors",
]
