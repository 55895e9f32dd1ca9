#!/bin/sh
# The image's entrypoint: bring the schema up to date, load the demo data only when asked, then
# become the command (gunicorn by default; `flask outbox worker` for the mail worker).
# MIGRATE_ON_START=0 on replicas when a one-shot service migrates first (docker-compose.postgres.yml).
set -eu
if [ "${MIGRATE_ON_START:-1}" = "1" ]; then
  flask db upgrade
fi
if [ "${SEED_DEMO:-0}" = "1" ]; then
  flask seed
fi
exec "$@"
