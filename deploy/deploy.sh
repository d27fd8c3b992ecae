#!/usr/bin/env bash
# Deploy the current main branch with docker compose (README.md, "Deploying"):
#
#   deploy/deploy.sh
#
# 1. back up the database (the scheduled backup job, run once: a checked pg_dump archive),
# 2. keep the running image as isv-pipeline-tracker:previous,
# 3. git pull --ff-only (ISV_DEPLOY_PULL=no skips it) and build the image,
# 4. migrate, 5. start everything, 6. wait for the health check through nginx.
# When the migration or the health check fails it rolls back: the previous image again, the
# pre-deploy backup restored, started, checked.
#
# Exit codes:
#   0  deployed and healthy
#   1  cannot start: no .env, no docker, or not in the project
#   2  the pre-deploy backup failed: nothing was changed
#   3  the pull or the build failed: nothing was changed (the running version keeps running)
#   4  the migration failed: rolled back to the previous image and the pre-deploy backup
#   5  the new version did not become healthy: rolled back likewise
#   6  the rollback itself failed or stayed unhealthy: act by hand (README.md, "Deploying")
#
# Settings (environment): ISV_HEALTH_URL (default https://localhost/_stcore/health),
# ISV_HEALTH_TIMEOUT seconds (180), ISV_DEPLOY_PULL (yes), ISV_APP_REPLICAS (2).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
IMAGE=isv-pipeline-tracker
HEALTH_URL=${ISV_HEALTH_URL:-https://localhost/_stcore/health}
HEALTH_TIMEOUT=${ISV_HEALTH_TIMEOUT:-180}
PULL=${ISV_DEPLOY_PULL:-yes}
REPLICAS=${ISV_APP_REPLICAS:-2}

say() { printf '%s deploy: %s\n' "$(date -u +%H:%M:%S)" "$*"; }
fail() { say "$2"; exit "$1"; }
compose() { docker compose "$@"; }

[ -f docker-compose.yml ] || fail 1 "no docker-compose.yml here: run deploy/deploy.sh from the project"
[ -f .env ] || fail 1 "no .env: copy .env.example to .env and set its secrets first"
command -v docker >/dev/null 2>&1 || fail 1 "docker is not installed"

healthy() {
  local waited=0
  while [ "$waited" -lt "$HEALTH_TIMEOUT" ]; do
    if curl --silent --fail --insecure --max-time 5 "$HEALTH_URL" >/dev/null; then
      return 0
    fi
    sleep 5
    waited=$((waited + 5))
  done
  return 1
}

# --- 1. backup ----------------------------------------------------------------------------
backup=""
if [ -n "$(compose ps --quiet postgres 2>/dev/null)" ]; then
  say "backing up the database (the backup job, once)"
  compose run --rm --no-deps -T scheduler python -m scheduler --once backup \
    || fail 2 "the pre-deploy backup failed; nothing was changed"
  backup=$(compose run --rm --no-deps -T scheduler python -c \
    "from isv.services import backups; print(backups.newest().path.name)") \
    || fail 2 "cannot find the backup just written; nothing was changed"
  backup=$(printf '%s' "$backup" | tr -d '\r' | tail -n 1)
  say "backup: $backup"
else
  say "no database running yet (first deploy): no backup to take"
fi

# --- 2. the running image, for a rollback -------------------------------------------------
previous=no
if docker image inspect "$IMAGE:latest" >/dev/null 2>&1; then
  docker tag "$IMAGE:latest" "$IMAGE:previous" || fail 3 "cannot tag the running image"
  previous=yes
fi

# --- 3. pull and build --------------------------------------------------------------------
if [ "$PULL" = yes ]; then
  git pull --ff-only || fail 3 "git pull failed; nothing was changed"
fi
compose build --pull || fail 3 "the build failed; nothing was changed"

rollback() {
  local code=$1 why=$2
  say "$why: rolling back"
  if [ "$previous" = yes ]; then
    docker tag "$IMAGE:previous" "$IMAGE:latest" || fail 6 "cannot put the previous image back"
  fi
  if [ -n "$backup" ]; then
    compose stop app api scheduler || true
    compose run --rm --no-deps -T migrate isv restore --force "/backups/$backup" \
      || fail 6 "restoring $backup failed: restore it by hand (README.md, Deploying)"
  fi
  compose up -d --no-build --scale "app=$REPLICAS" \
    || fail 6 "the previous version did not start"
  healthy || fail 6 "the previous version is not healthy either"
  fail "$code" "rolled back to the previous version${backup:+ and $backup}; it is healthy"
}

# --- 4. migrate ---------------------------------------------------------------------------
compose up -d postgres redis || fail 3 "postgres and redis did not start"
compose run --rm -T migrate || rollback 4 "the migration failed"

# --- 5. start, 6. health ------------------------------------------------------------------
compose up -d --no-build --remove-orphans --scale "app=$REPLICAS" \
  || rollback 5 "the new version did not start"
say "waiting up to ${HEALTH_TIMEOUT} s for $HEALTH_URL"
healthy || rollback 5 "the new version is not healthy"

docker image prune --force >/dev/null 2>&1 || true
say "deployed; healthy at $HEALTH_URL"
exit 0
