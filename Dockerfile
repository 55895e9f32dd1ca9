# The portal behind gunicorn. Build: `make image`; run: `docker compose up -d` (docs/deploy.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The runtime user owns only /data (the SQLite file and the attachments); the code stays root's and
# read-only to it.
RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin portal \
    && mkdir -p /data/attachments \
    && chown -R portal:portal /data

WORKDIR /app

# Dependencies in their own layer: rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY config.py run.py gunicorn.conf.py ./
COPY migrations ./migrations
COPY seed ./seed
COPY docker ./docker
COPY app ./app

ENV APP_ENV=production \
    FLASK_APP=run.py \
    DATABASE_URL=sqlite:////data/portal.db \
    ATTACHMENT_DIR=/data/attachments \
    GUNICORN_BIND=0.0.0.0:5000

# Numeric, so that Kubernetes runAsNonRoot and similar checks can verify it.
USER 10001:10001
VOLUME ["/data"]
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "run:app"]
