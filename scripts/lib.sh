# Shared by scripts/test, scripts/demo and scripts/bench. Sourced, not run.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '==> %s\n' "$*" >&2; }

# Installs the Debian packages the build, the tests and the benchmarks need, if any is missing.
# apt-get update runs at most once per machine (marker in /var/lib/apt/lists) and only when something is missing.
ensure_packages() {  # [MORE_PACKAGES...]: a script's own needs beside the common ones
  # kcat: the fault campaign (run by scripts/test) reads the dead-letter topic with a client that is not the
  # project's own, and the benchmarks measure the broker's limit with it.
  # time: GNU time measures a child's peak memory (tests and ledger-bench maintenance).
  # tmux: a real terminal for the test of `ledger-tool status --watch` (read back with capture-pane).
  # libcurl4-openssl-dev: the archive's S3 client (libcurl signs the requests).
  local wanted=(librdkafka-dev liblz4-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev lz4 pkg-config bc curl kcat time
    tmux "$@")
  local missing=()
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  command -v swift >/dev/null || { echo "swift is not on PATH (expected Swift 6.x, e.g. /opt/swift/usr/bin)" >&2; exit 1; }
}

# The machine's speed right now, for benchmark reports: lz4's own benchmark (level 1, its synthetic data) and the
# load average. The machines are shared and their speed moves by 2x from day to day; with this line beside them,
# reports from different runs can be compared.
calibration_line() {
  local speeds
  speeds=$(lz4 -b1 -i3 2>&1 | tr '\r' '\n' | grep -o '[0-9.]* MB/s ,[ 0-9.]* MB/s' | tail -1)
  echo "Calibration: lz4 -b1 compresses at ${speeds%% ,*} and decompresses at ${speeds##*,} (synthetic data); load average $(cut -d' ' -f1-3 /proc/loadavg)."
}

# PostgreSQL for the tests, the demo and the benchmarks: a throwaway cluster in .scratch/postgres-<pid>, owned by
# the `postgres` user (the server refuses to run as root), listening on 127.0.0.1 and a free port. Creates the
# database `pulse`, its owner role `pulse_owner` (the projector's role: it owns the warehouse schema) and the
# SELECT-only role `grafana_reader`, with fresh random passwords. Exports PULSE_TEST_POSTGRES_URL (owner),
# PULSE_TEST_POSTGRES_READER_URL (reader), and PULSE_TEST_POSTGRES_DATA / _BIN / _LOG (the restart test drives
# pg_ctl with them). Does nothing when PULSE_TEST_POSTGRES_URL is already set (a server you provide).
# Optional first argument "durable" keeps fsync on (benchmarks); tests run with fsync off, which is safe here:
# the tests crash processes and restart the server, never the machine.
postgres_bin=/usr/lib/postgresql/15/bin
postgres_dir=""

start_postgres() {
  if [ -n "${PULSE_TEST_POSTGRES_URL:-}" ]; then log "using the PostgreSQL in PULSE_TEST_POSTGRES_URL"; return 0; fi
  if [ ! -x "$postgres_bin/initdb" ]; then
    log "installing postgresql-15"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 postgresql-client-15 >/dev/null
  fi
  # The cluster lives under the system's temporary directory, not in the checkout: the postgres user must be
  # able to reach it, and a checkout may sit below directories only its owner can enter (a CI clone in a
  # mktemp directory, a home directory).
  postgres_dir="$(mktemp -d "${TMPDIR:-/tmp}/pulse-ledger-postgres-XXXXXX")"
  chmod 0755 "$postgres_dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$postgres_dir"; fi
  as_postgres "$postgres_bin/initdb" -D "$postgres_dir/data" -U postgres --encoding=UTF8 --locale=C --auth-local=trust \
    --auth-host=scram-sha-256 --no-sync >"$postgres_dir/initdb.log" 2>&1 || { cat "$postgres_dir/initdb.log" >&2; return 1; }
  local durable="off"
  [ "${1:-}" = "durable" ] && durable="on"
  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    as_postgres tee "$postgres_dir/data/postgresql.auto.conf" >/dev/null <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$postgres_dir'
fsync = $durable
full_page_writes = $durable
synchronous_commit = $durable
max_wal_size = '4GB'
shared_buffers = '256MB'
CONF
    as_postgres "$postgres_bin/pg_ctl" -D "$postgres_dir/data" -l "$postgres_dir/server.log" -w -t 30 start >/dev/null && break
    [ "$attempt" -lt 5 ] || { tail -20 "$postgres_dir/server.log" >&2; return 1; }
  done
  local owner_password reader_password
  owner_password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  reader_password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  "$postgres_bin/psql" -q -h "$postgres_dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE ROLE pulse_owner LOGIN PASSWORD '$owner_password';
CREATE ROLE grafana_reader LOGIN PASSWORD '$reader_password';
CREATE DATABASE pulse OWNER pulse_owner;
ALTER ROLE grafana_reader SET search_path = warehouse;
SQL
  export PULSE_TEST_POSTGRES_URL="postgres://pulse_owner:$owner_password@127.0.0.1:$port/pulse"
  export PULSE_TEST_POSTGRES_READER_URL="postgres://grafana_reader:$reader_password@127.0.0.1:$port/pulse"
  export PULSE_TEST_POSTGRES_DATA="$postgres_dir/data" PULSE_TEST_POSTGRES_BIN="$postgres_bin" PULSE_TEST_POSTGRES_LOG="$postgres_dir/server.log"
  log "PostgreSQL 15 on 127.0.0.1:$port (data in $postgres_dir)"
}

# Stops the cluster start_postgres started and deletes it. Safe to call twice, or without a cluster.
stop_postgres() {
  [ -n "$postgres_dir" ] || return 0
  as_postgres "$postgres_bin/pg_ctl" -D "$postgres_dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$postgres_dir"
  postgres_dir=""
  unset PULSE_TEST_POSTGRES_URL PULSE_TEST_POSTGRES_READER_URL PULSE_TEST_POSTGRES_DATA PULSE_TEST_POSTGRES_BIN PULSE_TEST_POSTGRES_LOG
}

# The daily partitions of warehouse schema $2 created again in schema $3 of the database at URL $1, so that a
# \copy into $3 routes rows exactly as the projector did into $2.
copy_partitions() {
  local url="$1" from="$2" to="$3"
  psql -qAt "$url" -v ON_ERROR_STOP=1 -c "SELECT format('CREATE TABLE %I.%I PARTITION OF %I.transactions %s;', '$to', c.relname, '$to', pg_get_expr(c.relpartbound, c.oid))
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = '$from.transactions'::regclass AND c.relname <> 'transactions_default'" |
    psql -qAt "$url" -v ON_ERROR_STOP=1 >/dev/null
}

# Runs a psql command line given whole (it should pass -qAt, so that its last line of output is the backend's pid)
# and returns once the backend that served it has exited and been reaped, a moment after psql returns: only then is
# its CPU in the postmaster's children's times (postgres_cpu_seconds), so that it counts before the next measurement
# starts and not in it.
psql_reaped() {
  local backend
  backend=$("$@" -c "SELECT pg_backend_pid()" | tail -1)
  while [ -e "/proc/$backend" ]; do sleep 0.01; done
}

# Finishes the work earlier steps left the cluster (autovacuum of the tables they filled: the original loop's
# 623,000 rows, a dropped schema's catalog; their dirty buffers), so that the PostgreSQL CPU and the latency the
# next step measures are its own: VACUUM (ANALYZE) of the database, then a checkpoint, as the superuser over the
# cluster's socket (CHECKPOINT needs it).
settle_postgres() {
  [ -n "${postgres_dir:-}" ] || { log "not settling PostgreSQL: it was not started by start_postgres"; return 0; }
  psql_reaped superuser_psql -c "SET client_min_messages = warning" -c "VACUUM (ANALYZE)" -c "CHECKPOINT"
}

# psql as the superuser on the database of the cluster start_postgres started, over its socket (which trusts the
# postgres user): for what the owner may not do, such as CHECKPOINT. Further arguments are psql's.
superuser_psql() {
  local port="${PULSE_TEST_POSTGRES_URL##*:}"
  as_postgres "$postgres_bin/psql" -qAt -v ON_ERROR_STOP=1 -h "$postgres_dir" -p "${port%%/*}" -U postgres -d pulse "$@"
}

# CPU seconds (user + system) the cluster start_postgres started has used so far: the postmaster, the processes it
# forked that are alive (WAL writer, checkpointer, open connections' backends) and, through its children's times
# (fields 16-17 of its stat), every backend that has exited and been reaped: a finished psql's once its backend's
# /proc entry is gone (the backend exits, and is reaped, a moment after psql returns).
postgres_cpu_seconds() {
  local postmaster reaped
  postmaster=$(head -1 "$postgres_dir/data/postmaster.pid")
  reaped=$(awk -v hz="$(getconf CLK_TCK)" '{print ($16 + $17) / hz}' "/proc/$postmaster/stat")
  echo "$reaped + $(process_cpu_seconds "$postmaster" $(pgrep -P "$postmaster"))" | bc -l
}

# CPU seconds (user + system) used so far by the processes given (0 for one that is gone).
process_cpu_seconds() {
  local ticks=0 pid
  for pid in "$@"; do ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0))); done
  echo "$ticks / $(getconf CLK_TCK)" | bc -l
}

as_postgres() {
  # From /: the postgres user may not be allowed into the current directory (every path given is absolute).
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# A TCP port nobody listens on right now (bash's /dev/tcp fails to connect to a free port).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return 0; }
  done
}

# Every message the development broker's topic `transactions` holds ($DEV_BROKERS), read by `kcat -C` from the
# beginning to the end into file $1, one line each; prints the seconds it took: the limit ingest is measured
# against. The broker may have dropped the oldest messages of a full partition: $1 says what is there.
kcat_read_topic() {
  local started
  started=$(date +%s.%N)
  kcat -C -b "$DEV_BROKERS" -t transactions -o beginning -e -q -f 'x\n' > "$1"
  echo "$(date +%s.%N) - $started" | bc -l
}

# Waits until the ledger in $2 (read with the ledger-tool at $1) holds LSNs 1...$3, for at most 300 s; with $4,
# stops as soon as that process has ended. Every half second: the ingest figures come from the ledger's own
# ingest times, so a poll only says when to read them, and each one is a ledger-tool process. Polled every 50 ms,
# they took a fifth of a core from the ingest being measured: its time was 1.17× (0.92-1.23) that under
# half-second polls, in five pairs of rounds on 2026-12-07.
wait_for_ledger() {
  local tool="$1" directory="$2" count="$3" pid="${4:-}" deadline=$((SECONDS + 300))
  until "$tool" stats --wal "$directory" 2>/dev/null | grep -q "LSN range *1\.\.\.$count\$"; do
    [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || { echo "ledger-ingest stopped before $directory held $count records" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "ledger-ingest did not record $count messages in 300 s" >&2; exit 1; }
    sleep 0.5
  done
}

# Starts `ledger-tool dev-broker` (librdkafka's mock cluster) in the background and exports DEV_BROKERS.
# $1 = path of ledger-tool, $2 = partitions. The broker lives until stop_dev_broker (or the shell exits).
# Its standard input is a FIFO this shell holds open: fault-injection commands go to fd $dev_broker_stdin
# (e.g. `echo "down 1" >&"$dev_broker_stdin"`).
dev_broker_pid=""
start_dev_broker() {
  local tool="$1" partitions="${2:-6}"
  local out="$repo_root/.scratch/dev-broker.out" fifo="$repo_root/.scratch/dev-broker.stdin"
  mkdir -p "$repo_root/.scratch"
  : > "$out"
  rm -f "$fifo" && mkfifo "$fifo"
  "$tool" dev-broker --partitions "$partitions" < "$fifo" > "$out" 2> "$repo_root/.scratch/dev-broker.err" &
  dev_broker_pid=$!
  disown
  exec {dev_broker_stdin}> "$fifo"
  for _ in $(seq 1 100); do
    [ -s "$out" ] && break
    sleep 0.1
  done
  DEV_BROKERS="$(head -1 "$out")"
  [ -n "$DEV_BROKERS" ] || { echo "dev-broker did not start; see .scratch/dev-broker.err" >&2; return 1; }
  export DEV_BROKERS
}

# Stops the broker start_dev_broker started (by its process id: other brokers on the machine are left alone).
stop_dev_broker() {
  [ -n "$dev_broker_pid" ] || return 0
  kill -TERM "$dev_broker_pid" 2>/dev/null || true
  exec {dev_broker_stdin}>&- 2>/dev/null || true
  rm -f "$repo_root/.scratch/dev-broker.stdin"
  dev_broker_pid=""
}

# An S3-protocol server for the archive's tests: the moto server (PyPI `moto[server]`, in a virtual environment
# under .scratch) on 127.0.0.1 and a free port, checking every request's AWS Signature Version 4. moto lets the
# first three requests through unsigned; they create a user with S3 rights and its access key, so that every
# later request must be signed with that key (a wrong signature is refused, as S3 refuses it). Exports
# PULSE_TEST_S3_ENDPOINT, PULSE_TEST_S3_ACCESS_KEY_ID and PULSE_TEST_S3_SECRET_ACCESS_KEY. Does nothing when
# PULSE_TEST_S3_ENDPOINT is already set (a store you provide, with those keys).
s3_pid=""

start_s3() {
  if [ -n "${PULSE_TEST_S3_ENDPOINT:-}" ]; then log "using the S3 store in PULSE_TEST_S3_ENDPOINT"; return 0; fi
  local venv="$repo_root/.scratch/moto-venv"
  if [ ! -x "$venv/bin/moto_server" ]; then
    log "installing the moto S3 server (PyPI) into $venv"
    python3 -m venv "$venv" && "$venv/bin/pip" install -q 'moto[server]==5.*'
  fi
  local port endpoint
  port=$(free_port)
  endpoint="http://127.0.0.1:$port"
  INITIAL_NO_AUTH_ACTION_COUNT=3 "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$repo_root/.scratch/moto-$port.log" 2>&1 &
  s3_pid=$!
  local attempt
  for attempt in $(seq 1 50); do
    # A TCP probe, not a request: moto counts requests toward the three unsigned ones.
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    [ "$attempt" -lt 50 ] || { tail -20 "$repo_root/.scratch/moto-$port.log" >&2; return 1; }
    sleep 0.2
  done
  local iam=(curl -sf --aws-sigv4 "aws:amz:us-east-1:iam" --user bootstrap:bootstrap "$endpoint/")
  "${iam[@]}" --data-urlencode Action=CreateUser --data-urlencode UserName=pulse-test --data-urlencode Version=2010-05-08 >/dev/null
  "${iam[@]}" --data-urlencode Action=PutUserPolicy --data-urlencode UserName=pulse-test --data-urlencode PolicyName=s3 \
    --data-urlencode 'PolicyDocument={"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}' \
    --data-urlencode Version=2010-05-08 >/dev/null
  local key
  key=$("${iam[@]}" --data-urlencode Action=CreateAccessKey --data-urlencode UserName=pulse-test --data-urlencode Version=2010-05-08)
  export PULSE_TEST_S3_ACCESS_KEY_ID PULSE_TEST_S3_SECRET_ACCESS_KEY
  PULSE_TEST_S3_ACCESS_KEY_ID=$(sed -n 's|.*<AccessKeyId>\([^<]*\)</AccessKeyId>.*|\1|p' <<<"$key")
  PULSE_TEST_S3_SECRET_ACCESS_KEY=$(sed -n 's|.*<SecretAccessKey>\([^<]*\)</SecretAccessKey>.*|\1|p' <<<"$key")
  [ -n "$PULSE_TEST_S3_ACCESS_KEY_ID" ] || { echo "moto gave no access key: $key" >&2; return 1; }
  export PULSE_TEST_S3_ENDPOINT="$endpoint"
  log "S3-protocol server (moto, signatures checked) on $endpoint"
}

# Stops the server start_s3 started. Safe to call twice, or without a server.
stop_s3() {
  [ -n "$s3_pid" ] || return 0
  kill "$s3_pid" 2>/dev/null || true
  wait "$s3_pid" 2>/dev/null || true
  s3_pid=""
  unset PULSE_TEST_S3_ENDPOINT PULSE_TEST_S3_ACCESS_KEY_ID PULSE_TEST_S3_SECRET_ACCESS_KEY
}
