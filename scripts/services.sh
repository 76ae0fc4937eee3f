#!/usr/bin/env bash
# Makes sure the servers the tests use are running: PostgreSQL on 127.0.0.1:5432 (the store
# conformance suite and the many-node tests; database `test`, user `postgres`, trust auth) and
# NATS with JetStream on 127.0.0.1:4222. Starts the Debian-packaged ones when they are down;
# elsewhere it says how to start them (README, "Running many nodes").
set -euo pipefail

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  else
    echo "PostgreSQL is not running on 127.0.0.1:5432; start one, e.g." >&2
    echo "  docker run -d -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test -p 5432:5432 postgres:16" >&2
    exit 1
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
psql -q -h 127.0.0.1 -U postgres -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
  || psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test"

if ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
  if [ -x /usr/sbin/nats-server ]; then
    echo "starting NATS (JetStream)"
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server
  else
    echo "NATS is not running on 127.0.0.1:4222 (not needed by the tests yet)" >&2
  fi
fi
