#!/usr/bin/env bash
# First start of the stack's Postgres: one database each for MLflow and Prefect, owned by
# POSTGRES_USER (credentials from the environment, i.e. infra/.env).
set -euo pipefail
for db in mlflow prefect; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -c "CREATE DATABASE $db OWNER \"$POSTGRES_USER\";"
done
