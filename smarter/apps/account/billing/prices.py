"""Writes to the price table (`Price`): what the operator sets from the command line, as the
admin's price table does. Reads are in `smarter.apps.account.pricing`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from smarter.apps.account.billing.models import Price
from smarter.apps.account.pricing import forget_prices
from smarter.lib.errors import FieldError, ValidationFailed

_MODEL_LENGTH = Price._meta.get_field("model").max_length or 255
_PROVIDER_LENGTH = Price._meta.get_field("provider").max_length or 50
# The largest value each field's column holds: max_digits 12, with 6 or 8 decimal places.
_COLUMNS = {
    "promptPerMillion": Decimal("999999.999999"),
    "completionPerMillion": Decimal("999999.999999"),
    "perCall": Decimal("9999.99999999"),
}


def _amount(field: str, value: str | Decimal, errors: list[FieldError]) -> Decimal:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError):
        errors.append(FieldError(field, f"{value!r} is not a number of US dollars"))
        return Decimal(0)
    if not amount.is_finite() or amount < 0 or amount > _COLUMNS[field]:
        errors.append(FieldError(field, f"must be between 0 and {_COLUMNS[field]} US dollars"))
    return amount


def price_set(
    *,
    model: str,
    prompt_per_million: str | Decimal,
    completion_per_million: str | Decimal,
    per_call: str | Decimal = "0",
    provider: str = Price.ANY_PROVIDER,
) -> Price:
    """Create or replace the price of `model` served by `provider` (`*`: any provider). Names are
    stored in lower case, as lookups read them; zeros mark a model free (it may then run on the
    platform's key). Nothing is written when a field is wrong."""
    errors: list[FieldError] = []
    model, provider = model.strip().lower(), provider.strip().lower()
    if not model or len(model) > _MODEL_LENGTH or any(character.isspace() for character in model):
        errors.append(FieldError("model", f"a model name of 1 to {_MODEL_LENGTH} characters, without spaces"))
    if not provider or len(provider) > _PROVIDER_LENGTH or any(character.isspace() for character in provider):
        errors.append(FieldError("provider", f"a provider name of 1 to {_PROVIDER_LENGTH} characters, or *"))
    prompt = _amount("promptPerMillion", prompt_per_million, errors)
    completion = _amount("completionPerMillion", completion_per_million, errors)
    call = _amount("perCall", per_call, errors)
    if errors:
        raise ValidationFailed("The price is invalid; fix the fields listed in errors.", errors=errors)
    price, _ = Price.objects.update_or_create(  # one transaction of its own
        provider=provider,
        model=model,
        defaults={"prompt_per_million": prompt, "completion_per_million": completion, "per_call": call},
    )
    forget_prices()
    return price
