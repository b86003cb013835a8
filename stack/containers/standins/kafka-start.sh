#!/usr/bin/env bash
# One Kafka node, broker and controller, advertised under the compose service name.
set -euo pipefail
data=${KAFKA_DATA:-/var/lib/redpanda/data}
mkdir -p "$data"
{
  cat /opt/kafka/kafka.properties
  cat <<CONF
controller.quorum.voters=1@127.0.0.1:9093
listeners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED_HOST:-redpanda}:9092
log.dirs=$data
CONF
} >/tmp/server.properties
opts=(-Xms256m -Xmx768m -Djava.awt.headless=true -cp '/opt/kafka/lib/*')
[ -f "$data/meta.properties" ] || java "${opts[@]}" kafka.tools.StorageTool format -t otel-lakehouse-compose-01 -c /tmp/server.properties
exec java "${opts[@]}" kafka.Kafka /tmp/server.properties
