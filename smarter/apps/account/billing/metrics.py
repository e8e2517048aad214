"""The billing pipeline's gauges, read at each scrape: how many turns wait for their charges,
and how long the oldest has waited (the outbox's lag). A lag that grows means the workers that
write charges are down or behind; `requeue_pending_charges_task` hands such rows over again."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from smarter.apps.account.billing.models import UsageEvent


def outbox_collect() -> Iterator[Metric]:
    # One indexed query (status, created_at) per scrape.
    found = UsageEvent.objects.filter(status=UsageEvent.Status.PENDING).aggregate(
        pending=Count("pk"), oldest=Min("created_at")
    )
    oldest = found["oldest"]
    lag = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest is not None else 0.0
    yield GaugeMetricFamily(
        "smarter_billing_outbox_pending", "Turns recorded whose charges are not written yet.", value=found["pending"]
    )
    yield GaugeMetricFamily(
        "smarter_billing_outbox_lag_seconds",
        "Age of the oldest turn whose charges are not written yet (0: none waits).",
        value=lag,
    )
