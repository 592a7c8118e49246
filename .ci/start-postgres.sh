#!/usr/bin/env bash
# Start Debian's PostgreSQL cluster on 127.0.0.1:5432 with trust auth and a `test` database.
set -euo pipefail
version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
if [ -z "$version" ]; then
  pg_createcluster --start "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
fi
conf=/etc/postgresql/$version/main
grep -q "^host all all 127.0.0.1/32 trust" "$conf/pg_hba.conf" || \
  sed -i '1i host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
su postgres -c "psql -h 127.0.0.1 -tc \"SELECT 1 FROM pg_database WHERE datname='test'\"" | grep -q 1 || \
  su postgres -c "createdb -h 127.0.0.1 test"
