"""The Celery app. Its settings are Django's `CELERY_*` names, derived from `common/conf.py`.

The whole beat schedule lives here, in one place.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarter.settings")

app = Celery("smarter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every periodic task of the platform. Entries are added by the issues that bring the tasks.
app.conf.beat_schedule = {}
