"""`python -m scheduler [--once JOB]`."""

from scheduler.main import main

raise SystemExit(main())
