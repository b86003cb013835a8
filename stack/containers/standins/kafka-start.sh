#!/usr/bin/env bash
# One Kafka node, broker and controller, advertised under the compose service name.
set -euo pipefail
data=${KAFKA_DATA:-/var/lib/redpanda/data}
mkdir -p "$data"
cat >/tmp/server.properties <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED_HOST:-redpanda}:9092
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes=8388608
CONF
opts=(-Xms256m -Xmx768m -Djava.awt.headless=true -cp '/opt/kafka/lib/*')
[ -f "$data/meta.properties" ] || java "${opts[@]}" kafka.tools.StorageTool format -t otel-lakehouse-compose-01 -c /tmp/server.properties
exec java "${opts[@]}" kafka.Kafka /tmp/server.properties
