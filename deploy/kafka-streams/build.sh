#!/usr/bin/env bash
# Builds the Kafka Streams KTable baseline of `npm run bench` (test/bench/kafka-streams.ts):
# copies the jars of pom.xml into deploy/kafka-streams/lib (Maven, like deploy/kafka/kafka.sh
# fetch) and compiles src/*.java with plain javac into deploy/kafka-streams/classes. Both dirs
# are gitignored. Cheap when nothing changed: the jars are keyed by the hash of pom.xml, the
# classes by the hash of pom.xml, the sources and the javac version.
#
#   build.sh          fetch and compile if needed; prints nothing on stdout
#   build.sh --check  exit 0 if built and up to date, else 1
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB="$HERE/lib"
CLASSES="$HERE/classes"

log() { echo "kafka-streams/build.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

pom_hash() { sha256sum "$HERE/pom.xml" | cut -d' ' -f1; }
src_hash() { { cat "$HERE/pom.xml" "$HERE"/src/*.java; javac -version 2>&1; } | sha256sum | cut -d' ' -f1; }
fetched() { [[ -f "$LIB/.fetched" && "$(cat "$LIB/.fetched")" == "$(pom_hash)" ]]; }
compiled() { [[ -f "$CLASSES/.compiled" && "$(cat "$CLASSES/.compiled")" == "$(src_hash)" ]]; }

if [[ "${1:-}" == --check ]]; then fetched && compiled; exit; fi

command -v mvn >/dev/null || die "mvn not found (apt-get install maven, or run deploy/gw setup)"
command -v javac >/dev/null || die "javac not found (need a JDK 17+, e.g. openjdk-17-jdk-headless)"
fetched && compiled && exit 0
mkdir -p "$LIB"
exec 8>"$LIB/.lock"; flock 8            # parallel builds wait for each other

if ! fetched; then
  log "fetching Kafka Streams jars with Maven into $LIB ..."
  rm -f "$LIB"/*.jar "$LIB/.fetched"
  # (mvn 3.8 -q still emits bare colour-reset codes; strip them)
  mvn -B -q -ntp -f "$HERE/pom.xml" dependency:copy-dependencies 2>&1 \
    | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2 \
    || die "mvn dependency:copy-dependencies failed"
  compgen -G "$LIB/kafka-streams-*.jar" >/dev/null || die "no kafka-streams jar in $LIB after fetch"
  pom_hash >"$LIB/.fetched"
fi

if ! compiled; then
  log "compiling src/*.java into $CLASSES"
  rm -rf "$CLASSES"; mkdir -p "$CLASSES"
  javac --release 17 -nowarn -encoding UTF-8 -cp "$LIB/*" -d "$CLASSES" "$HERE"/src/*.java >&2 || die "javac failed"
  src_hash >"$CLASSES/.compiled"
fi
