#!/usr/bin/env bash
# A real Apache Kafka broker on loopback (KRaft, one node that is broker and controller), for the tests that
# run against the real thing, the fault suite and a developer's exploring:
#
#   scripts/kafka.sh start    # prints the bootstrap address once the broker answers: KAFKA_BROKERS=$(scripts/kafka.sh start)
#   scripts/kafka.sh status   # address and pid, or exit 1
#   scripts/kafka.sh stop
#   scripts/kafka.sh install  # Java and Maven from Debian's packages if missing (needs root), then the jars
#
# MIZAN_KAFKA_DIR is the broker's state (default .run/kafka: `make clean` removes it); the jars are fetched once
# by Maven into ~/.cache/mizan/kafka-<version>. The version is named in internal/kafka/apachekafka (Version);
# MIZAN_KAFKA_VERSION overrides it. Needs Java 17+ and Maven: apt-get install openjdk-17-jre-headless maven.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd="${1:-}"
case "$cmd" in
start | stop | status) ;;
install)
	if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
		echo "kafka: installing Java and Maven from Debian's packages" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null
	fi
	;;
*)
	echo "usage: $0 start|stop|status|install" >&2
	exit 2
	;;
esac
exec go run ./cmd/chaos kafka "$cmd" --dir "${MIZAN_KAFKA_DIR:-.run/kafka}"
