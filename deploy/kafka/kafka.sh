#!/usr/bin/env bash
# The local Kafka broker for Groundswell: one KRaft node (broker + controller) on 127.0.0.1.
#
#   deploy/kafka/kafka.sh fetch          download the Kafka jars from Maven Central (once)
#   deploy/kafka/kafka.sh start          fetch, format (once) and start; waits until ready
#   deploy/kafka/kafka.sh stop           SIGTERM, up to 30 s, then SIGKILL
#   deploy/kafka/kafka.sh status         exit 0 only when running and ready
#   deploy/kafka/kafka.sh logs [-f] [N]  last N (default 100) lines of the broker log
#
# All state lives in <repo>/.kafka (git-ignored): libs/ (jars), data/ (log dirs),
# server.properties, cluster.id, broker.pid, broker.log. Delete .kafka/data and
# .kafka/cluster.id (broker stopped) for a fresh, empty cluster.
#
# Environment:
#   GROUNDSWELL_KAFKA_PORT             client port (default 19092)
#   GROUNDSWELL_KAFKA_CONTROLLER_PORT  KRaft controller port (default 19093)
#   GROUNDSWELL_KAFKA_START_TIMEOUT    seconds to wait for readiness (default 120)
#   GROUNDSWELL_KAFKA_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL (default 30)
#   PYTHON                             interpreter with aiokafka (default <repo>/.venv/bin/python)
#   JAVA_HOME                          Java 17+ to use (default: java on PATH)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

# PYTHON may be relative to the caller's cwd (or, failing that, to the repo root).
PYTHON="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
if [[ "$PYTHON" == */* && "$PYTHON" != /* ]]; then
  if [[ -e "$PWD/$PYTHON" ]]; then PYTHON="$PWD/$PYTHON"; else PYTHON="$REPO_ROOT/$PYTHON"; fi
fi

STATE_DIR="$REPO_ROOT/.kafka"
LIBS_DIR="$STATE_DIR/libs"
LIBS_MARKER="$LIBS_DIR/.complete"
DATA_DIR="$STATE_DIR/data"
PROPS="$STATE_DIR/server.properties"
LOG_FILE="$STATE_DIR/broker.log"
PID_FILE="$STATE_DIR/broker.pid"
CLUSTER_ID_FILE="$STATE_DIR/cluster.id"
LOCK_FILE="$STATE_DIR/.lock"
POM="$SCRIPT_DIR/pom.xml"
LOG4J_CONF="$SCRIPT_DIR/log4j2.properties"

HOST=127.0.0.1
PORT="${GROUNDSWELL_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${GROUNDSWELL_KAFKA_CONTROLLER_PORT:-19093}"
BOOTSTRAP="$HOST:$PORT"
START_TIMEOUT="${GROUNDSWELL_KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${GROUNDSWELL_KAFKA_STOP_TIMEOUT:-30}"
HEAP_OPTS=(-Xms512m -Xmx512m)
JVM_OPTS=(-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent
  -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J_CONF")

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

check_port() { # name value
  if ! [[ "$2" =~ ^[0-9]+$ ]] || (($2 < 1 || $2 > 65535)); then
    die "$1='$2' is not a port number"
  fi
}

# --- prerequisites ---------------------------------------------------------------------------

JAVA=""
require_java() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    JAVA="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    JAVA="$(command -v java)"
  else
    die "java not found: Kafka 4.x needs Java 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; or set JAVA_HOME)"
  fi
  local line version major
  line="$("$JAVA" -version 2>&1 | head -n 1)" || true
  version="$(sed -n 's/.*version "\([^"]*\)".*/\1/p' <<<"$line")"
  major="${version%%.*}"
  [[ "$major" == 1 ]] && major="$(cut -d. -f2 <<<"$version")"
  [[ "$major" =~ ^[0-9]+$ ]] || die "cannot tell the version of $JAVA ('$line'); Kafka 4.x needs Java 17+"
  (( major >= 17 )) || die "$JAVA is Java $version; Kafka 4.x needs Java 17 or newer (set JAVA_HOME)"
}

require_python() {
  [[ -x "$PYTHON" ]] || command -v "$PYTHON" >/dev/null 2>&1 ||
    die "python '$PYTHON' not found: run 'make setup' or set PYTHON to an interpreter with aiokafka"
  "$PYTHON" -c 'import aiokafka' >/dev/null 2>&1 ||
    die "'$PYTHON' cannot import aiokafka: run 'make setup' or set PYTHON"
}

# --- jars ------------------------------------------------------------------------------------

pom_digest() { sha256sum "$POM" | cut -d' ' -f1; }

libs_complete() {
  [[ -f "$LIBS_MARKER" && "$(cat "$LIBS_MARKER")" == "$(pom_digest)" ]]
}

fetch() {
  if libs_complete; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found: Apache Maven is needed once to fetch the Kafka jars from Maven Central (Debian/Ubuntu: apt-get install maven)"
  mkdir -p "$STATE_DIR"
  local tmp="$STATE_DIR/libs.tmp.$$" t0=$SECONDS
  rm -rf "$tmp"
  say "fetching Kafka jars from Maven Central into .kafka/libs (once; may take a few minutes)"
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$tmp" >"$STATE_DIR/fetch.log" 2>&1; then
    rm -rf "$tmp"
    tail -n 30 "$STATE_DIR/fetch.log" >&2 || true
    die "fetching the jars with Maven failed (full output: .kafka/fetch.log)"
  fi
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || { rm -rf "$tmp"; die "Maven finished but no kafka_2.13 jar was copied"; }
  rm -rf "$LIBS_DIR"
  mv "$tmp" "$LIBS_DIR"
  pom_digest >"$LIBS_MARKER"
  say "fetched $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars in $((SECONDS - t0)) s"
}

# --- configuration and storage ---------------------------------------------------------------

write_properties() {
  mkdir -p "$DATA_DIR"
  cat >"$PROPS.tmp" <<EOF
# Generated by deploy/kafka/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.bytes=-1
num.network.threads=2
num.io.threads=2
EOF
  mv "$PROPS.tmp" "$PROPS"
}

storage_tool() {
  "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$LOG4J_CONF" -cp "$LIBS_DIR/*" \
    kafka.tools.StorageTool "$@"
}

format_once() {
  local meta="$DATA_DIR/meta.properties" id
  if [[ -f "$meta" ]]; then
    id="$(sed -n 's/^cluster\.id=//p' "$meta")"
    if [[ -f "$CLUSTER_ID_FILE" && "$(cat "$CLUSTER_ID_FILE")" != "$id" ]]; then
      die ".kafka/data belongs to cluster '$id' but .kafka/cluster.id says '$(cat "$CLUSTER_ID_FILE")'; delete .kafka/data and .kafka/cluster.id for a fresh cluster"
    fi
    [[ -f "$CLUSTER_ID_FILE" ]] || printf '%s\n' "$id" >"$CLUSTER_ID_FILE"
    return 0
  fi
  if [[ -s "$CLUSTER_ID_FILE" ]]; then
    id="$(cat "$CLUSTER_ID_FILE")"
  else
    id="$(storage_tool random-uuid 2>/dev/null | tail -n 1)"
    [[ "$id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid printed '$id', not a cluster id"
    printf '%s\n' "$id" >"$CLUSTER_ID_FILE"
  fi
  say "formatting .kafka/data for cluster $id (once)"
  local out
  if ! out="$(storage_tool format --standalone -t "$id" -c "$PROPS" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "formatting .kafka/data failed"
  fi
}

# --- process ---------------------------------------------------------------------------------

# True while the process exists and is not a zombie (a broker that dies during `start` is
# this shell's child and stays a zombie until the script ends).
alive() { # pid
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null || true)"
  [[ "$state" != Z* ]]
}

# The pid of our broker, or nothing (a stale pid file, or a pid reused by another program,
# does not count).
broker_pid() {
  [[ -f "$PID_FILE" ]] || return 0
  local pid
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] && alive "$pid" || return 0
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $PROPS" || return 0
  fi
  printf '%s\n' "$pid"
}

is_ready() { # timeout_s
  "$PYTHON" -m streams.kafka_admin ready --bootstrap "$BOOTSTRAP" --timeout "$1" --quiet 2>/dev/null
}

port_in_use() { # port
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

fail_start() {
  printf 'kafka: last lines of .kafka/broker.log:\n' >&2
  tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true
  die "$1"
}

wait_ready() { # pid t0
  local pid="$1" t0="$2" deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
      rm -f "$PID_FILE"
      fail_start "the broker exited during start-up"
    fi
    local left=$((deadline - SECONDS))
    if is_ready "$((left < 2 ? (left < 1 ? 1 : left) : 2))"; then
      say "ready on $BOOTSTRAP (pid $pid, $((SECONDS - t0)) s)"
      return 0
    fi
    sleep 0.5
  done
  printf 'kafka: last lines of .kafka/broker.log:\n' >&2
  tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true
  say "not ready after ${START_TIMEOUT} s; stopping it" >&2
  stop >&2
  die "the broker did not become ready on $BOOTSTRAP within ${START_TIMEOUT} s"
}

start() {
  check_port GROUNDSWELL_KAFKA_PORT "$PORT"
  check_port GROUNDSWELL_KAFKA_CONTROLLER_PORT "$CONTROLLER_PORT"
  [[ "$PORT" != "$CONTROLLER_PORT" ]] || die "the client and controller ports must differ ($PORT)"
  require_java
  require_python
  local t0=$SECONDS pid
  pid="$(broker_pid)"
  if [[ -n "$pid" ]]; then
    local listeners="listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT"
    grep -qxF "$listeners" "$PROPS" 2>/dev/null ||
      die "a broker is already running (pid $pid) with other ports ($(sed -n 's/^listeners=//p' "$PROPS")); run 'kafka.sh stop' first"
    if is_ready 5; then
      say "already running and ready on $BOOTSTRAP (pid $pid)"
      return 0
    fi
    say "already running (pid $pid), waiting until ready"
    wait_ready "$pid" "$t0"
    return 0
  fi
  rm -f "$PID_FILE"
  fetch
  local p
  for p in "$PORT" "$CONTROLLER_PORT"; do
    port_in_use "$p" && die "port $HOST:$p is used by another program; choose others with GROUNDSWELL_KAFKA_PORT / GROUNDSWELL_KAFKA_CONTROLLER_PORT"
  done
  write_properties
  format_once
  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  say "starting broker on $BOOTSTRAP (controller $HOST:$CONTROLLER_PORT)"
  # setsid: own session, so the broker outlives this shell and its terminal; the inner shell
  # writes its own pid and execs java, so the pid file holds the java process itself.
  # 9>&- keeps the broker from inheriting (and holding forever) the .kafka/.lock descriptor.
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  nohup setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-broker "$PID_FILE" \
    "$JAVA" "${HEAP_OPTS[@]}" "${JVM_OPTS[@]}" -cp "$LIBS_DIR/*" kafka.Kafka "$PROPS" \
    >>"$LOG_FILE" 2>&1 </dev/null 9>&- &
  local tries=50
  while [[ ! -s "$PID_FILE" ]] && ((tries-- > 0)); do sleep 0.1; done
  pid="$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] || fail_start "the broker process did not start"
  wait_ready "$pid" "$t0"
}

stop() {
  local pid
  pid="$(broker_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$PID_FILE"
    say "not running"
    return 0
  fi
  say "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT)) t0=$SECONDS
  while alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if alive "$pid"; then
    say "still running after ${STOP_TIMEOUT} s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"
  say "stopped ($((SECONDS - t0)) s)"
}

status() {
  local pid
  pid="$(broker_pid)"
  if [[ -z "$pid" ]]; then
    say "not running"
    return 3
  fi
  require_python
  if is_ready 5; then
    say "running and ready on $BOOTSTRAP (pid $pid)"
    return 0
  fi
  say "running (pid $pid) but not ready on $BOOTSTRAP"
  return 1
}

logs() {
  local follow=() lines=100 arg
  for arg in "$@"; do
    case "$arg" in
      -f | --follow) follow=(-F) ;;
      *[!0-9]* | "") die "logs: unknown argument '$arg' (use: logs [-f] [N])" ;;
      *) lines="$arg" ;;
    esac
  done
  [[ -f "$LOG_FILE" ]] || die "no broker log yet (.kafka/broker.log)"
  tail -n "$lines" "${follow[@]}" "$LOG_FILE"
}

# Serialise start/stop/fetch between concurrent callers (e.g. two terminals, make -j).
with_lock() {
  mkdir -p "$STATE_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$LOCK_FILE"
    flock -w 900 9 || die "another kafka.sh holds .kafka/.lock for over 15 minutes"
  fi
  "$@"
}

main() {
  cd "$REPO_ROOT" # python -m streams.kafka_admin resolves from here
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    fetch) with_lock fetch && say "jars ready in .kafka/libs" ;;
    start) with_lock start ;;
    stop) with_lock stop ;;
    status) status ;;
    logs) logs "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
