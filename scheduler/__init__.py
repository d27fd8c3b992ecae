"""The scheduler sidecar: `python -m scheduler` runs the alert rules and the weekly rollover.

Thin on purpose (STYLE.md 7): it builds an APScheduler BlockingScheduler, registers jobs that
call isv.services, handles SIGTERM, and can run one job now (`--once JOB`). Only the instance
holding the leader lock runs jobs (scheduler/leader.py); each run is recorded in job_runs.
"""
