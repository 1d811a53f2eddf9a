# The hub's image: one image for every role (hub serve, hub worker, hub migrate; see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HUB_DATA_DIR=/var/lib/hub

# An unprivileged user; its data directory only matters in embedded mode (SQLite file, generated key).
RUN groupadd --system --gid 1000 hub \
    && useradd --system --uid 1000 --gid hub --home-dir /home/hub --create-home --shell /usr/sbin/nologin hub \
    && install -d -o hub -g hub -m 0750 /var/lib/hub

# Install the project (and its console script `hub`) from the build context, then drop the sources:
# everything needed at run time (templates, static assets, migrations) is package data.
WORKDIR /tmp/wage-hub
COPY . .
RUN pip install . \
    && cd / \
    && rm -rf /tmp/wage-hub

WORKDIR /home/hub
USER hub

EXPOSE 8000

# Liveness for `docker run`; docker-compose.yml overrides it per role (readiness for hub, broker for worker).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

CMD ["hub", "serve", "--host", "0.0.0.0", "--port", "8000"]
