#!/usr/bin/env bash
# Local single-node Kafka (KRaft combined broker+controller) for dev, tests and benchmarks.
#
#   kafka.sh fetch                  copy the broker jars into deploy/kafka/lib (via Maven, cached)
#   kafka.sh start [--fresh]        start (or reuse) a broker; prints KAFKA_BROKERS=127.0.0.1:PORT
#   kafka.sh stop                   controlled shutdown (SIGTERM, SIGKILL after 30 s)
#   kafka.sh status                 exit 0 if running and answering, else 1
#
# Environment:
#   KAFKA_STATE_DIR        state dir (data, config, pid, logs); default <repo>/.kafka
#   KAFKA_PORT             broker port, default 9092 (listens on 127.0.0.1 only)
#   KAFKA_CONTROLLER_PORT  controller port, default KAFKA_PORT+1
#   KAFKA_FRESH=1          same as --fresh: wipe the state dir before starting
#   KAFKA_HEAP_OPTS        default "-Xmx1g -Xms512m"
#   KAFKA_JVM_OPTS         extra JVM options
#   KAFKA_CDS=0            do not use/create the class-data-sharing archive (lib/kafka-*.jsa)
#
# Optional SASL_SSL listener (SASL over TLS, as managed Kafka services offer), next to the
# PLAINTEXT one, which stays for the health check, inter-broker traffic and other clients:
#   KAFKA_SASL_SSL_PORT    port of the SASL_SSL listener on 127.0.0.1 (advertised as 127.0.0.1);
#                          unset: no SASL_SSL listener. Needs KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE
#                          and KAFKA_SASL_USERS
#   KAFKA_SSL_CERT_FILE    PEM certificate chain of the broker, leaf first; its subject alternative
#                          names must cover what clients connect to (IP:127.0.0.1, DNS:localhost)
#   KAFKA_SSL_KEY_FILE     PEM private key of that certificate, unencrypted (PKCS#1 or PKCS#8; it is
#                          converted to PKCS#8 with openssl)
#   KAFKA_SSL_CA_FILE      PEM CA certificate(s) that client certificates are checked against
#   KAFKA_SSL_CLIENT_AUTH  none (default), requested (a client certificate, if sent, must be
#                          signed by KAFKA_SSL_CA_FILE) or required (every client must send one)
#   KAFKA_SASL_MECHANISMS  comma-separated, of SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN; default
#                          SCRAM-SHA-256,SCRAM-SHA-512
#   KAFKA_SASL_USERS       space-separated name:password pairs (name: letters, digits, . _ -;
#                          password: letters, digits and . _ ~ ! @ # % ^ * + / -). Each user gets a
#                          credential for every enabled mechanism: SCRAM ones are written into the
#                          metadata log when the storage is formatted (kafka-storage format
#                          --add-scram), or set with kafka-configs after the start when the storage
#                          already exists; PLAIN ones go into the listener's JAAS configuration
# The broker's key and the PLAIN passwords are copied into the state dir (mode 600); the SCRAM
# passwords are on the command line of the format (or kafka-configs) process while it runs.
# A development and test launcher: no ACLs, so any authenticated user may do anything.
#
# Several brokers can run side by side with different KAFKA_STATE_DIR and KAFKA_PORT.
# Only stdout line of `start` is KAFKA_BROKERS=...; everything else goes to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LIB="$HERE/lib"
STAMP="$LIB/.fetched"

STATE="$(realpath -m "${KAFKA_STATE_DIR:-$REPO/.kafka}")"
PORT="${KAFKA_PORT:-9092}"
CPORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
PIDFILE="$STATE/kafka.pid"
OUT="$STATE/kafka.out"
PROPS="$STATE/server.properties"
DATA="$STATE/data"
SASL_PORT="${KAFKA_SASL_SSL_PORT:-}"
TLS="$STATE/tls"
START_TIMEOUT=60
STOP_TIMEOUT=30

log() { echo "kafka.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

pom_hash() { sha256sum "$HERE/pom.xml" | cut -d' ' -f1; }

# CDS archive path, keyed by the JDK binary (path + mtime) and lib path; lib/ is wiped on re-fetch
cds_archive() {
  local j; j="$(readlink -f "$(command -v java)")"
  echo "$LIB/kafka-$(echo "$j $(stat -c %Y "$j") $LIB" | sha256sum | head -c 12).jsa"
}

fetch() {
  if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(pom_hash)" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven, or run deploy/gw setup)"
  command -v java >/dev/null || die "java not found (need JDK/JRE 17+)"
  mkdir -p "$LIB"
  exec 8>"$LIB/.lock"; flock 8            # parallel fetches wait for each other
  if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(pom_hash)" ]]; then return 0; fi
  log "fetching Kafka jars with Maven into $LIB ..."
  rm -f "$LIB"/*.jar "$LIB"/*.jsa "$STAMP"
  # (mvn 3.8 -q still emits bare colour-reset codes; strip them)
  mvn -B -q -ntp -f "$HERE/pom.xml" dependency:copy-dependencies 2>&1 \
    | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2 \
    || die "mvn dependency:copy-dependencies failed"
  compgen -G "$LIB/kafka_2.13-*.jar" >/dev/null || die "no kafka jar in $LIB after fetch"
  pom_hash >"$STAMP"
  log "fetched $(ls "$LIB"/*.jar | wc -l) jars"
}

# pid of our broker if alive (and really a kafka.Kafka on this state dir), else empty
running_pid() {
  [[ -f "$PIDFILE" ]] || return 0
  local pid; pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $PROPS"; then
    echo "$pid"
  fi
}

# broker port a running broker was started with (its server.properties wins over KAFKA_PORT)
use_running_port() {
  local p; p="$(sed -n 's|^advertised.listeners=PLAINTEXT://127.0.0.1:\([0-9]*\)\(,.*\)\{0,1\}$|\1|p' "$PROPS" 2>/dev/null)"
  if [[ -n "$p" && "$p" != "$PORT" ]]; then log "broker in $STATE runs on port $p (not $PORT)"; PORT="$p"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# broker answers a metadata request and lists itself (i.e. it is unfenced and serving)
answering() {
  if command -v kcat >/dev/null; then
    kcat -b "127.0.0.1:$PORT" -L -t __nonexistent -m 2 2>/dev/null | grep -q "broker 1 at 127.0.0.1:$PORT"
  else
    port_open "$PORT"
  fi
}

write_props() {
  # Mode 600: with a SASL_SSL listener it holds the PLAIN passwords.
  : >"$PROPS"
  chmod 600 "$PROPS"
  cat >"$PROPS" <<EOF
# Generated by deploy/kafka/kafka.sh; rewritten on every start.
node.id=1
process.roles=broker,controller
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT${SASL_PORT:+,SASL_SSL://127.0.0.1:$SASL_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT${SASL_PORT:+,SASL_SSL://127.0.0.1:$SASL_PORT}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA

# single node
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
# Lets local clusters detect a killed gateway within seconds (GROUP_SESSION_TIMEOUT_MS).
group.min.session.timeout.ms=1000
auto.leader.rebalance.enable=false

# topics are created explicitly
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=6

# compaction on, with a modest dedupe buffer and a short idle backoff
log.cleaner.enable=true
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=33554432
log.cleaner.backoff.ms=1000

# small machine: few threads, short recovery
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=2
num.replica.fetchers=1
log.retention.check.interval.ms=60000
EOF
  [[ -z "$SASL_PORT" ]] || sasl_props >>"$PROPS"
}

# ----- optional SASL_SSL listener (KAFKA_SASL_SSL_PORT and the settings in the header) -----
MECHANISMS=()   # enabled SASL mechanisms
USERS=()        # name:password

has_mechanism() { local m; for m in "${MECHANISMS[@]}"; do [[ "$m" == "$1" ]] && return 0; done; return 1; }
scram_mechanisms() { local m; for m in "${MECHANISMS[@]}"; do [[ "$m" == SCRAM-* ]] && echo "$m"; done; return 0; }

# Validates the SASL_SSL settings and fills MECHANISMS and USERS. Never echoes a password.
sasl_settings() {
  [[ -n "$SASL_PORT" ]] || return 0
  [[ "$SASL_PORT" =~ ^[0-9]{1,5}$ ]] && ((SASL_PORT >= 1 && SASL_PORT <= 65535)) \
    || die "KAFKA_SASL_SSL_PORT must be a port number; got '$SASL_PORT'"
  [[ "$SASL_PORT" != "$PORT" && "$SASL_PORT" != "$CPORT" ]] || die "KAFKA_SASL_SSL_PORT must differ from KAFKA_PORT and KAFKA_CONTROLLER_PORT"
  local f
  for f in KAFKA_SSL_CERT_FILE KAFKA_SSL_KEY_FILE; do
    [[ -n "${!f:-}" && -r "${!f}" ]] || die "KAFKA_SASL_SSL_PORT needs $f, a readable PEM file; got '${!f:-}'"
  done
  [[ -z "${KAFKA_SSL_CA_FILE:-}" || -r "$KAFKA_SSL_CA_FILE" ]] || die "KAFKA_SSL_CA_FILE is not readable: '$KAFKA_SSL_CA_FILE'"
  case "${KAFKA_SSL_CLIENT_AUTH:-none}" in
    none) ;;
    requested | required) [[ -n "${KAFKA_SSL_CA_FILE:-}" ]] || die "KAFKA_SSL_CLIENT_AUTH=${KAFKA_SSL_CLIENT_AUTH} needs KAFKA_SSL_CA_FILE" ;;
    *) die "KAFKA_SSL_CLIENT_AUTH must be none, requested or required; got '${KAFKA_SSL_CLIENT_AUTH}'" ;;
  esac
  local m
  IFS=', ' read -ra MECHANISMS <<<"${KAFKA_SASL_MECHANISMS:-SCRAM-SHA-256,SCRAM-SHA-512}"
  ((${#MECHANISMS[@]} > 0)) || die "KAFKA_SASL_MECHANISMS is empty"
  for m in "${MECHANISMS[@]}"; do
    case "$m" in SCRAM-SHA-256 | SCRAM-SHA-512 | PLAIN) ;; *) die "KAFKA_SASL_MECHANISMS: '$m' is not SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN" ;; esac
  done
  read -ra USERS <<<"${KAFKA_SASL_USERS:-}"
  ((${#USERS[@]} > 0)) || die "KAFKA_SASL_SSL_PORT needs KAFKA_SASL_USERS (space-separated name:password pairs)"
  local u n=0 pattern='^[A-Za-z0-9._-]+:[A-Za-z0-9._~!@#%^*+/-]+$'
  for u in "${USERS[@]}"; do
    n=$((n + 1))
    [[ "$u" =~ $pattern ]] || die "KAFKA_SASL_USERS: entry $n is not name:password (name: letters, digits, . _ -; password: letters, digits, . _ ~ ! @ # % ^ * + / -)"
  done
}

# The broker's key and certificate chain as one PEM key store (Kafka wants the key as PKCS#8),
# and the client CA as a PEM trust store, in the state dir, readable by the owner only.
prepare_tls() {
  [[ -n "$SASL_PORT" ]] || return 0
  local old; old="$(umask)"; umask 077
  mkdir -p "$TLS"
  if command -v openssl >/dev/null; then
    openssl pkcs8 -topk8 -nocrypt -in "$KAFKA_SSL_KEY_FILE" -out "$TLS/key.pem" 2>/dev/null \
      || { umask "$old"; die "KAFKA_SSL_KEY_FILE is not an unencrypted PEM private key"; }
  else
    cp "$KAFKA_SSL_KEY_FILE" "$TLS/key.pem"
  fi
  cat "$TLS/key.pem" "$KAFKA_SSL_CERT_FILE" >"$TLS/keystore.pem"
  rm -f "$TLS/key.pem" "$TLS/truststore.pem"
  [[ -z "${KAFKA_SSL_CA_FILE:-}" ]] || cp "$KAFKA_SSL_CA_FILE" "$TLS/truststore.pem"
  umask "$old"
}

# server.properties lines of the SASL_SSL listener.
sasl_props() {
  local m u list
  list="$(IFS=,; echo "${MECHANISMS[*]}")"
  echo
  echo "# SASL_SSL listener (KAFKA_SASL_SSL_PORT): TLS from PEM files, SASL $list"
  echo "sasl.enabled.mechanisms=$list"
  echo "listener.name.sasl_ssl.ssl.keystore.type=PEM"
  echo "listener.name.sasl_ssl.ssl.keystore.location=$TLS/keystore.pem"
  echo "listener.name.sasl_ssl.ssl.client.auth=${KAFKA_SSL_CLIENT_AUTH:-none}"
  if [[ -n "${KAFKA_SSL_CA_FILE:-}" ]]; then
    echo "listener.name.sasl_ssl.ssl.truststore.type=PEM"
    echo "listener.name.sasl_ssl.ssl.truststore.location=$TLS/truststore.pem"
  fi
  for m in $(scram_mechanisms); do
    echo "listener.name.sasl_ssl.${m,,}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
  done
  if has_mechanism PLAIN; then
    printf 'listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required'
    for u in "${USERS[@]}"; do printf ' user_%s="%s"' "${u%%:*}" "${u#*:}"; done
    echo ';'
  fi
}

# `kafka-storage format --add-scram` arguments (NUL-separated): every user, every SCRAM mechanism.
scram_format_args() {
  local m u
  for m in $(scram_mechanisms); do
    for u in "${USERS[@]}"; do printf '%s\0' --add-scram "$m=[name=${u%%:*},password=${u#*:}]"; done
  done
}

# Sets the SCRAM credentials on a broker whose storage was formatted by an earlier start
# (kafka-configs; one mechanism per request, as the broker refuses two for one user at once).
scram_upsert() {
  local m u n=0
  for u in "${USERS[@]}"; do
    for m in $(scram_mechanisms); do
      java -XX:TieredStopAtLevel=1 -cp "$LIB/*" -Dlog4j.configuration="file:$HERE/log4j.properties" -Dkafka.logs.dir="$STATE" \
        kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$PORT" --alter --entity-type users --entity-name "${u%%:*}" \
        --add-config "$m=[password=${u#*:}]" >/dev/null 2>&1 || die "setting the $m credential of user ${u%%:*} failed"
      n=$((n + 1))
    done
  done
  ((n == 0)) || log "set $n SCRAM credential(s) with kafka-configs"
}

FORMATTED=0
format_storage() {
  [[ -f "$DATA/meta.properties" ]] && return 0
  local scram=()
  [[ -z "$SASL_PORT" ]] || mapfile -d '' scram < <(scram_format_args)
  local id=-   # random UUID, base64url; one starting with '-' would be parsed as an option
  while [[ "$id" == -* ]]; do id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"; done
  log "formatting storage in $DATA (cluster id $id)"
  java -XX:TieredStopAtLevel=1 -cp "$LIB/*" -Dlog4j.configuration="file:$HERE/log4j.properties" -Dkafka.logs.dir="$STATE" \
    kafka.tools.StorageTool format -t "$id" -c "$PROPS" --ignore-formatted "${scram[@]}" >&2 \
    || die "storage format failed"
  FORMATTED=1
}

show_logs() {
  local f
  for f in "$OUT" "$STATE/server.log"; do
    [[ -s "$f" ]] || continue
    echo "----- tail of $f" >&2; tail -n 30 "$f" >&2
  done
}

wait_ready() {
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      log "broker process $pid exited during startup"
      show_logs
      exit 1
    fi
    if answering && { [[ -z "$SASL_PORT" ]] || port_open "$SASL_PORT"; }; then
      command -v kcat >/dev/null || sleep 2   # port-only check: give it a moment more
      return 0
    fi
    sleep 0.2
  done
  log "broker did not answer on 127.0.0.1:$PORT within ${START_TIMEOUT}s (pid $pid left running; kafka.sh stop)"
  show_logs
  exit 1
}

stop() {
  local pid; pid="$(running_pid)"
  if [[ -z "$pid" ]]; then rm -f "$PIDFILE"; log "not running ($STATE)"; return 0; fi
  log "stopping broker pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "no exit after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$STATE/kafka.jsa.tmp"
  fi
  rm -f "$PIDFILE"
  if [[ -s "$STATE/kafka.jsa.tmp" ]]; then   # class archive dumped at clean exit: share it
    local jsa; jsa="$(cds_archive)"
    find "$LIB" -maxdepth 1 -name 'kafka-*.jsa' ! -path "$jsa" -delete
    mv -f "$STATE/kafka.jsa.tmp" "$jsa" && log "saved class-data archive for faster starts"
  fi
  log "stopped"
}

start() {
  local fresh="${KAFKA_FRESH:-0}"
  for a in "$@"; do
    case "$a" in
      --fresh) fresh=1 ;;
      *) die "unknown start option: $a" ;;
    esac
  done
  command -v java >/dev/null || die "java not found (need JDK/JRE 17+)"
  fetch
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"; flock 9          # parallel starts on one state dir serialize

  if [[ "$fresh" == 1 ]]; then
    stop
    log "wiping $STATE (fresh start)"
    find "$STATE" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
  fi

  local pid; pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    use_running_port
    if [[ -n "$SASL_PORT" ]] && ! grep -q "^listeners=.*,SASL_SSL://127.0.0.1:$SASL_PORT\$" "$PROPS"; then
      log "warning: the broker running in $STATE has no SASL_SSL listener on $SASL_PORT; stop it first to add one"
    fi
    if answering; then
      log "already running (pid $pid, 127.0.0.1:$PORT, $STATE)"
      echo "KAFKA_BROKERS=127.0.0.1:$PORT"
      return 0
    fi
    log "pid $pid is running but not answering yet; waiting"
    wait_ready "$pid"
    echo "KAFKA_BROKERS=127.0.0.1:$PORT"
    return 0
  fi
  rm -f "$PIDFILE"
  sasl_settings
  for p in "$PORT" "$CPORT" $SASL_PORT; do
    port_open "$p" && die "port 127.0.0.1:$p is already in use by another process (set KAFKA_PORT/KAFKA_CONTROLLER_PORT/KAFKA_SASL_SSL_PORT)"
  done

  write_props
  prepare_tls
  format_storage

  # Class-data sharing: the first clean stop dumps an archive of the loaded classes
  # (per lib + JDK); later starts map it and come up a few seconds faster on small machines.
  local cds=() jsa; jsa="$(cds_archive)"
  rm -f "$STATE/kafka.jsa.tmp"
  if [[ "${KAFKA_CDS:-1}" == 1 ]]; then
    if [[ -s "$jsa" ]]; then cds=(-XX:SharedArchiveFile="$jsa")
    else cds=(-XX:ArchiveClassesAtExit="$STATE/kafka.jsa.tmp"); fi
    cds+=(-Xlog:cds=off -Xlog:cds+dynamic=off)
  fi

  local t0; t0=$(date +%s%N)
  log "starting broker on 127.0.0.1:$PORT (controller $CPORT, state $STATE)"
  # shellcheck disable=SC2086
  nohup setsid java ${KAFKA_HEAP_OPTS:--Xmx1g -Xms512m} \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    "${cds[@]}" -Dlog4j.configuration="file:$HERE/log4j.properties" -Dkafka.logs.dir="$STATE" \
    ${KAFKA_JVM_OPTS:-} \
    -cp "$LIB/*" kafka.Kafka "$PROPS" </dev/null >"$OUT" 2>&1 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE"
  wait_ready "$pid"
  log "ready after $((($(date +%s%N) - t0) / 1000000)) ms (pid $pid)"
  if [[ -n "$SASL_PORT" ]]; then
    ((FORMATTED)) || scram_upsert
    log "SASL_SSL listener on 127.0.0.1:$SASL_PORT (mechanisms $(IFS=,; echo "${MECHANISMS[*]}"); ${#USERS[@]} user(s))"
  fi
  echo "KAFKA_BROKERS=127.0.0.1:$PORT"
}

status() {
  local pid; pid="$(running_pid)"
  [[ -n "$pid" ]] && use_running_port
  if [[ -n "$pid" ]] && answering; then
    log "running (pid $pid, 127.0.0.1:$PORT, $STATE)"; return 0
  fi
  log "not running (127.0.0.1:$PORT, $STATE)"; return 1
}

cmd="${1:-}"; shift || true
case "$cmd" in
  fetch) fetch ;;
  start) start "$@" ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 {fetch|start [--fresh]|stop|status}   (env: KAFKA_STATE_DIR KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_FRESH KAFKA_SASL_SSL_PORT ...)" >&2; exit 2 ;;
esac
