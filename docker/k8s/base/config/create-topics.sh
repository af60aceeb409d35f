#!/usr/bin/env bash
# Creates the pipeline's topics with their retention, and each role's ACLs, before any
# worker starts. Runs in the apache/kafka image (compose init service, Kubernetes Job);
# safe to re-run: existing topics keep their partitions, and their retention is set again.
#
# Needs: BOOTSTRAP_SERVER (host:port), ADMIN_PASSWORD, the CA at $CA_FILE.
# Raw frames are personal data, so the frames topic keeps them for 10 minutes only
# (and rolls segments every 2 minutes, or retention could not delete anything sooner).
set -euo pipefail

bin=/opt/kafka/bin
partitions="${TOPIC_PARTITIONS:-12}"
config=$(mktemp)
trap 'rm -f "$config"' EXIT
cat >"$config" <<PROPERTIES
security.protocol=SASL_SSL
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${ADMIN_PASSWORD}";
ssl.truststore.type=PEM
ssl.truststore.location=${CA_FILE:-/etc/kafka/tls/ca.crt}
PROPERTIES

topic() {  # topic NAME retention.ms=... [more configs]
    local name=$1
    shift
    local configs=("$@")
    "$bin/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP_SERVER" --command-config "$config" \
        --create --if-not-exists --topic "$name" --partitions "$partitions" \
        "${configs[@]/#/--config=}"
    "$bin/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP_SERVER" --command-config "$config" \
        --alter --entity-type topics --entity-name "$name" --add-config "$(IFS=,; echo "${configs[*]}")"
}

# topic NAME CONFIG=VALUE...   (tests/deploy reads these lines)
topic classroom.frames.v1 retention.ms=600000 segment.ms=120000 max.message.bytes=4194304 # 10 min
topic classroom.face-events.v1 retention.ms=86400000 # 1 day
topic classroom.student-metrics.v1 retention.ms=604800000 # 7 days
topic classroom.class-metrics.v1 retention.ms=604800000
topic classroom.alerts.v1 retention.ms=604800000
topic classroom.session-scores.v1 retention.ms=604800000
topic classroom.teacher-mix.v1 retention.ms=604800000
topic classroom.pipeline-health.v1 retention.ms=86400000
topic classroom.dead-letter.v1 retention.ms=1209600000 # 14 days

# One Kafka user per role, allowed only what that role reads and writes (docs/security.md,
# "Privileges"); the broker refuses everything else. Adding an ACL that exists is a no-op.
acl() {  # acl USER OPERATION RESOURCE-OPTIONS...
    local user=$1 operation=$2
    shift 2
    "$bin/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP_SERVER" --command-config "$config" \
        --add --allow-principal "User:$user" --operation "$operation" "$@" >/dev/null
}
# Every role may see which classroom topics exist (names and partitions, no data): each
# process checks them on start.
for user in camera infer streams sink; do
    acl "$user" Describe --topic classroom. --resource-pattern-type prefixed
done
# acl USER OPERATION --topic|--group NAME   (tests/deploy reads these lines)
acl camera Write --topic classroom.frames.v1
acl camera Write --topic classroom.pipeline-health.v1
acl infer Read --topic classroom.frames.v1
acl infer Read --group classroom-infer
acl infer Write --topic classroom.face-events.v1
acl infer Write --topic classroom.dead-letter.v1
acl infer Write --topic classroom.pipeline-health.v1
acl streams Read --topic classroom.face-events.v1
acl streams Read --group classroom-streams
acl streams Write --topic classroom.student-metrics.v1
acl streams Write --topic classroom.class-metrics.v1
acl streams Write --topic classroom.alerts.v1
acl streams Write --topic classroom.session-scores.v1
acl streams Write --topic classroom.teacher-mix.v1
acl streams Write --topic classroom.dead-letter.v1
acl streams Write --topic classroom.pipeline-health.v1
acl streams All --topic classroom-streams- --resource-pattern-type prefixed # Faust's own topics
acl sink Read --topic classroom.face-events.v1
acl sink Read --topic classroom.student-metrics.v1
acl sink Read --topic classroom.class-metrics.v1
acl sink Read --topic classroom.alerts.v1
acl sink Read --topic classroom.session-scores.v1
acl sink Read --topic classroom.teacher-mix.v1
acl sink Read --topic classroom.pipeline-health.v1
acl sink Read --topic classroom.dead-letter.v1
acl sink Read --group classroom-sink
acl sink Write --topic classroom.dead-letter.v1
acl sink Write --topic classroom.pipeline-health.v1
echo "topics and ACLs ready"
