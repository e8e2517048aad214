"""Seed the prices of the models added to the defaults (o1, o1-pro, o3, o4-mini, gpt-4.1-nano, gpt-5,
the dated gpt-4o snapshot priced apart, ...): a model without a price is now refused on the
platform's key. Rows that exist, edited or not, are kept."""

from django.db import migrations

from smarter.apps.account.pricing import seed_default_prices


def seed(apps, schema_editor):
    seed_default_prices(apps.get_model("account", "Price"))


class Migration(migrations.Migration):
    dependencies = [("account", "0003_seed_prices")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
