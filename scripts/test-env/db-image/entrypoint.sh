#!/bin/sh
# Entrypoint of the drbot test database image: behaves like the official mariadb/postgres
# images in the ways drbot relies on (password from the environment, data dir initialised on
# first start, server in the foreground as PID 1's child).
#   DB_ENGINE=mariadb  MYSQL_ROOT_PASSWORD=...   data in /var/lib/mysql
#   DB_ENGINE=postgres POSTGRES_PASSWORD=...     data in /var/lib/postgresql/data
set -eu

case "${DB_ENGINE:-}" in
mariadb)
  : "${MYSQL_ROOT_PASSWORD:?MYSQL_ROOT_PASSWORD is required}"
  mkdir -p /run/mysqld /var/lib/mysql
  chown -R mysql:mysql /run/mysqld /var/lib/mysql
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
    mariadbd --user=mysql --skip-networking --socket=/run/mysqld/init.sock &
    pid=$!
    i=0
    until mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1; do
      i=$((i + 1)); [ "$i" -lt 60 ] || { echo "mariadb did not start" >&2; exit 1; }; sleep 1
    done
    # Password auth only (no unix_socket), so a client without the password is refused.
    MYSQL_PWD="" mariadb --socket=/run/mysqld/init.sock -uroot <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('${MYSQL_ROOT_PASSWORD}');
FLUSH PRIVILEGES;
SQL
    kill "$pid"; wait "$pid" || true
  fi
  exec mariadbd --user=mysql --bind-address=127.0.0.1
  ;;
postgres)
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PGDATA=/var/lib/postgresql/data
  mkdir -p "$PGDATA" /run/postgresql
  chown -R postgres:postgres "$PGDATA" /run/postgresql
  chmod 700 "$PGDATA"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp); printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"; chown postgres "$pwfile"
    su postgres -s /bin/sh -c "$bin/initdb -D $PGDATA -U postgres --auth=scram-sha-256 --pwfile=$pwfile" >/dev/null
    rm -f "$pwfile"
  fi
  exec su postgres -s /bin/sh -c "exec $bin/postgres -D $PGDATA -c listen_addresses=127.0.0.1"
  ;;
*)
  echo "DB_ENGINE must be mariadb or postgres (got '${DB_ENGINE:-}')" >&2
  exit 2
  ;;
esac
