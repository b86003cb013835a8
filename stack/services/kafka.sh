# shellcheck shell=bash
# Apache Kafka, single-node KRaft, from Maven Central (stack/maven/kafka/pom.xml).
# Sourced by stack/stack.sh: kafka_install, kafka_start, kafka_healthy, and the port and
# start-up budget below are all that stack.sh knows of it.

KAFKA_PORT=${STACK_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${STACK_KAFKA_CONTROLLER_PORT:-9093}
KAFKA_SERVICE_PORT=$KAFKA_PORT
KAFKA_READY_SECONDS=90

kafka_install() { install_maven kafka; }

kafka_start() {
  local dir="$RUN/kafka" cfg="$RUN/kafka/server.properties"
  mkdir -p "$dir/data"
  {
    cat "$HERE/services/kafka.properties"
    cat <<EOF
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
log.dirs=$dir/data
EOF
  } >"$cfg"
  cat >"$dir/log4j2.properties" <<'EOF'
status = error
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRefs = stdout
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.server.name = kafka.server.KafkaServer
logger.server.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
EOF
  local java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$dir/log4j2.properties" -cp "$CACHE/kafka/lib/*")
  if [ ! -f "$dir/data/meta.properties" ]; then
    java "${java_opts[@]}" kafka.tools.StorageTool format -t "otel-lakehouse-local-01" -c "$cfg" \
      >"$LOGS/kafka-format.log" 2>&1 || { cat "$LOGS/kafka-format.log" >&2; die "kafka storage format failed"; }
  fi
  spawn kafka java "${java_opts[@]}" kafka.Kafka "$cfg"
}

kafka_healthy() { port_open "$KAFKA_PORT" && grep -q 'Transition from STARTING to STARTED' "$LOGS/kafka.log" 2>/dev/null; }
