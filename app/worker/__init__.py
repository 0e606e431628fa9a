"""Background work: queued items and periodic jobs, run by one loop per instance.

Domains declare their jobs in `Domain.jobs` (app/domain.py); services enqueue items with
`enqueue(session, job, …)` in their own transaction. docs/worker.md has the guarantees.
"""

from app.worker.jobs import Job, LocalPeriodic, Periodic, Queued
from app.worker.loop import Worker
from app.worker.queue import ClaimLost, Work, enqueue

__all__ = ["ClaimLost", "Job", "LocalPeriodic", "Periodic", "Queued", "Work", "Worker", "enqueue"]
