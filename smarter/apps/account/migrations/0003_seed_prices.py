"""Seed the price table with the platform's defaults (editable in the admin afterwards)."""

from django.db import migrations

from smarter.apps.account.pricing import seed_default_prices


def seed(apps, schema_editor):
    seed_default_prices(apps.get_model("account", "Price"))


class Migration(migrations.Migration):
    dependencies = [("account", "0002_billing")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
