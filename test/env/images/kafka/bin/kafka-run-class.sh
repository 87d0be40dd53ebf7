#!/bin/sh
# Runs one class of the Kafka jars, as the distribution's script of the same name does.
# KAFKA_HEAP_OPTS and KAFKA_OPTS as in the Apache image; the tools get a small heap by default. Both
# hold several JVM flags, so they are split on purpose.
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -XX:+UseSerialGC -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="${KAFKA_LOG4J_CONFIG:-/opt/kafka/config/tools-log4j2.properties}" \
  ${KAFKA_OPTS:-} -cp '/opt/kafka/libs/*' "$@"
