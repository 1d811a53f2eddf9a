#!/usr/bin/env bash
# Runs the whole suite on SQLite, then again on PostgreSQL when one is configured (always under CI).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test suite on SQLite"
HUB_TEST_BACKEND=sqlite python -m pytest "$@"

if [[ -n "${HUB_TEST_POSTGRES_URL:-}" || "${CI:-}" == "true" ]]; then
  export HUB_TEST_POSTGRES_URL="${HUB_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1/test}"
  echo "== test suite on PostgreSQL ($HUB_TEST_POSTGRES_URL)"
  HUB_TEST_BACKEND=postgres python -m pytest "$@"
else
  echo "== PostgreSQL run skipped: set HUB_TEST_POSTGRES_URL=postgresql://user@host/db to run the suite on PostgreSQL too"
fi
