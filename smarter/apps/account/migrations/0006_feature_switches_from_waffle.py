"""Feature switches kept until now in django-waffle's switches, copied into the platform's own.

A waffle switch named `<feature>` was the feature's switch for every account, one named
`<feature>:<account number>` an account's own. Switches of other names were not read by the
platform and are not copied. Waffle's tables are left as they are: drop them once this ran
(`waffle_switch`, `waffle_flag`, `waffle_flag_groups`, `waffle_flag_users`, `waffle_sample`).
"""

from django.db import migrations

FEATURES = ("openai_compatible_endpoint", "custom_domains")


def copy_waffle_switches(apps, schema_editor):
    connection = schema_editor.connection
    if "waffle_switch" not in connection.introspection.table_names():
        return
    FeatureSwitch = apps.get_model("account", "FeatureSwitch")
    AccountFeatureSwitch = apps.get_model("account", "AccountFeatureSwitch")
    Account = apps.get_model("account", "Account")
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, active FROM waffle_switch ORDER BY name")
        rows = cursor.fetchall()
    for name, active in rows:
        feature, _, account_number = name.partition(":")
        if feature not in FEATURES:
            continue
        switch, _ = FeatureSwitch.objects.get_or_create(feature=feature)
        if not account_number:
            switch.active = bool(active)
            switch.save(update_fields=["active", "updated_at"])
            continue
        account = Account.objects.filter(account_number=account_number).first()
        if account is not None:
            AccountFeatureSwitch.objects.update_or_create(
                switch=switch, account=account, defaults={"active": bool(active)}
            )


class Migration(migrations.Migration):
    dependencies = [
        ("account", "0005_feature_switches"),
    ]

    operations = [
        migrations.RunPython(copy_waffle_switches, migrations.RunPython.noop),
    ]
