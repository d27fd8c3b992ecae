"""`make test`'s dependency audit: pip-audit over the lock files, when advisories can be had.

    python tools/audit.py [LOCK ...]     default: requirements.lock requirements-dev.lock

pip-audit asks PyPI for each pinned release's advisories (/pypi/NAME/VERSION/json). First
one such question is asked with a short timeout: when it gets no answer carrying advisory
data (no network, a mirror that serves only packages), the audit prints one line saying so
and passes, since failing every offline run would teach people to ignore it. When advisories
can be had, any finding fails the run (pip-audit's exit status).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("requirements.lock", "requirements-dev.lock")
# A release with known advisories: its answer must carry the "vulnerabilities" field.
PROBE_URL = "https://pypi.org/pypi/requests/2.19.0/json"
PROBE_TIMEOUT_SECONDS = 5


def unreachable(url: str, timeout: float) -> str | None:
    """Why advisory data cannot be had from `url`, or None when it can."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            body = json.load(answer)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} from {url}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{getattr(exc, 'reason', exc)} ({url})"
    except ValueError:
        return f"no JSON from {url}"
    if not isinstance(body, dict) or "vulnerabilities" not in body:
        return f"no advisory data in the answer from {url}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/audit.py", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("locks", nargs="*", default=[str(ROOT / name) for name in LOCKS])
    parser.add_argument("--probe-url", default=PROBE_URL,
                        help="an advisory answer to ask for first (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=PROBE_TIMEOUT_SECONDS)
    parser.add_argument("--pip-audit", default=f"{shlex.quote(sys.executable)} -m pip_audit",
                        help="the pip-audit command (default: this Python's)")
    args = parser.parse_args(argv)
    reason = unreachable(args.probe_url, args.timeout)
    if reason is not None:
        print(f"pip-audit: skipped, advisory service unreachable: {reason}", flush=True)
        return 0
    command = [*shlex.split(args.pip_audit), "--strict", "--no-deps", "--disable-pip",
               "--progress-spinner", "off"]
    for lock in args.locks:
        command += ["-r", lock]
    print(f"pip-audit: auditing {', '.join(Path(lock).name for lock in args.locks)}",
          flush=True)
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
