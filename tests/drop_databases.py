"""Drop a test run's throwaway PostgreSQL databases: `python tests/drop_databases.py ADMIN_URL
NAME...`.

A run starts this, detached, as it ends, and does not wait. Each DROP DATABASE waits for a
checkpoint, and the checkpoint at the end of a run writes out and syncs every database the
run created: 7-10 s in which nothing else happens at the end of the parallel part of `make
test` (tests/README.md). Detached, that wait overlaps the browser tests, which barely touch
the disk.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, text


def drop(admin_url: str, names: list[str]) -> None:
    """Drop them all at once: PostgreSQL serves the drops waiting together with one
    checkpoint."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_size=8, max_overflow=0)

    def drop_one(name: str) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(drop_one, names))
    admin.dispose()


if __name__ == "__main__":
    drop(sys.argv[1], sys.argv[2:])
