# ISV Pipeline Tracker: one image for the app replicas, the API, the scheduler and one-off
# `isv` commands.
#
#   docker build -t isv-pipeline-tracker .
#   docker compose up -d            (docker-compose.yml runs it as app, api, scheduler, migrate)
#
# Two stages: the builder compiles and installs everything into /opt/venv; the runtime gets
# that venv, the source and Debian's Chromium (plotly's kaleido exports charts through it),
# and runs as an unprivileged user.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The app finds app.py, alembic.ini and migrations/ beside its package (isv/config.py
# PROJECT_ROOT), so it is installed in place (editable) at the path it runs from: /app.
WORKDIR /app
# The exact versions of requirements.lock, then the app itself without resolving again.
COPY pyproject.toml README.md requirements.lock ./
COPY isv ./isv
COPY scheduler ./scheduler
RUN pip install --upgrade pip setuptools && pip install -r requirements.lock \
    && pip install --no-deps -e .

FROM python:3.11-slim AS runtime
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        chromium fonts-liberation tini postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 isv \
    && useradd --system --uid 10001 --gid isv --create-home --home-dir /home/isv \
        --shell /usr/sbin/nologin isv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BROWSER_PATH=/usr/bin/chromium \
    ISV_ENV=production \
    LOG_FORMAT=json
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# The code belongs to root and is read-only for the user it runs as; only var/ (the embedded
# SQLite file, if anyone runs it that way) and the home (Chromium's profile) are writable.
COPY . /app
# /backups: the scheduled backup's folder (ISV_BACKUP_DIR in docker-compose.yml, a volume);
# postgresql-client above gives it pg_dump, of the server's major version (15, bookworm).
RUN mkdir -p /app/var /backups && chown isv:isv /app/var /backups
USER isv
EXPOSE 8501
# Streamlit answers "ok" here once it serves; nginx only gets healthy replicas.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["/usr/bin/tini", "--"]
# The flags `isv run` starts Streamlit with in production (isv/cli.py streamlit_command):
# every interface, and no traceback in the browser.
CMD ["streamlit", "run", "serve.py", "--server.port", "8501", "--server.headless", "true", \
     "--server.address", "0.0.0.0", "--server.fileWatcherType", "none", \
     "--browser.gatherUsageStats", "false", "--client.showErrorDetails", "none"]
