"""Celery entry point of the evaluation app."""

from __future__ import annotations

from celery import shared_task

from smarter.apps.evaluation.runner import run_evaluation


@shared_task(acks_late=True, ignore_result=True)
def run_evaluation_task(run_id: int) -> str | None:
    """Run (or finish running) one evaluation run; its status afterwards."""
    return run_evaluation(run_id)
