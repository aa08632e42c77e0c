#!/bin/sh
# One-shot (compose's kafka-init): a SCRAM user per service and what each may do.
#
# Nothing is allowed unless granted here (allow.everyone.if.no.acl.found=false); `admin`,
# the only super user, is used by this script alone. Topics are named by prefix:
# `pingan.` for the catalogue (schemas/topics.py), `$PINGAN_WORKER_ID-` for the worker's
# rule-state changelogs. Every service may Describe the catalogue, so `create_topics` finds
# it present and never needs Create. Re-running replaces passwords and re-adds the same ACLs.
set -eu

: "${PINGAN_WORKER_ID:?}" "${PINGAN_MODBUS_POLLER_ID:?}"
BOOTSTRAP=${KAFKA_BOOTSTRAP_SERVERS:-kafka-1:9092,kafka-2:9092,kafka-3:9092}
BIN=${KAFKA_BIN:-/opt/kafka/bin}
umask 077
ADMIN=$(mktemp)
trap 'rm -f "$ADMIN"' EXIT
cat > "$ADMIN" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD in .env}";
EOF

# user NAME PASSWORD
user() {
    "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN" \
        --alter --entity-type users --entity-name "$1" \
        --add-config "SCRAM-SHA-512=[iterations=8192,password=$2]"
}

# allow|deny "USER..." OPERATION... -- RESOURCES (e.g. $(topics pingan.audit. pingan.config.))
acl() {
    verdict=$1 principals=""
    for principal in $2; do principals="$principals --$verdict-principal User:$principal"; done
    shift 2
    operations=""
    while [ "$1" != "--" ]; do operations="$operations --operation $1"; shift; done
    shift
    # shellcheck disable=SC2086 # $principals and $operations are lists of options
    "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN" \
        --add $principals $operations "$@"
}

# topics [--literal] NAME...: topics by name prefix (or, with --literal, by exact name).
topics() {
    pattern=prefixed
    if [ "$1" = --literal ]; then pattern=literal; shift; fi
    for name in "$@"; do printf ' --topic %s' "$name"; done
    echo " --resource-pattern-type $pattern"
}
group() { echo --group "$1" --resource-pattern-type prefixed; }

user migrate "${PINGAN_KAFKA_MIGRATE_PASSWORD:?set PINGAN_KAFKA_MIGRATE_PASSWORD in .env}"
user worker "${PINGAN_KAFKA_WORKER_PASSWORD:?set PINGAN_KAFKA_WORKER_PASSWORD in .env}"
user sink "${PINGAN_KAFKA_SINK_PASSWORD:?set PINGAN_KAFKA_SINK_PASSWORD in .env}"
user api "${PINGAN_KAFKA_API_PASSWORD:?set PINGAN_KAFKA_API_PASSWORD in .env}"
user ingest "${PINGAN_KAFKA_INGEST_PASSWORD:?set PINGAN_KAFKA_INGEST_PASSWORD in .env}"
user simulator "${PINGAN_KAFKA_SIMULATOR_PASSWORD:?set PINGAN_KAFKA_SIMULATOR_PASSWORD in .env}"
user modbus "${PINGAN_KAFKA_MODBUS_PASSWORD:?set PINGAN_KAFKA_MODBUS_PASSWORD in .env}"

acl allow "migrate worker sink api ingest simulator modbus" Describe -- $(topics pingan.)
acl allow "worker sink api ingest simulator modbus" IdempotentWrite -- --cluster

# migrate: creates the catalogue and the changelogs, and sets the retention that follows
# PINGAN_BIOMETRIC_TTL_DAYS; reads and writes nothing.
acl allow migrate Create DescribeConfigs AlterConfigs -- $(topics pingan.)
acl allow migrate Describe Create DescribeConfigs -- $(topics "$PINGAN_WORKER_ID-")

# worker: consumes every topic, writes alerts, dead letters, re-keyed streams, parking
# sessions and its rule state, in its own consumer group.
acl allow worker Read Write -- $(topics pingan.)
acl allow worker Describe Read Write -- $(topics "$PINGAN_WORKER_ID-")
acl allow worker Read Describe -- $(group "$PINGAN_WORKER_ID")

# sink: reads every topic into ClickHouse in its own group; writes only dead letters and
# the PIPELINE_STALLED alert.
acl allow sink Read -- $(topics pingan.)
acl allow sink Write -- $(topics --literal pingan.dead-letters pingan.alerts)
acl allow sink Read Describe -- $(group "$PINGAN_WORKER_ID-sink")

# api: reads alerts and reference data (no consumer group); writes what officers and
# administrators do: audit rows, watchlists, registry and rule settings, alert actions,
# device commands.
acl allow api Read -- $(topics pingan.)
acl allow api Write -- $(topics pingan.audit. pingan.watchlist. pingan.reference. \
    pingan.config. pingan.alert-actions pingan.device-commands)

# ingest (device webhooks, `pingan ingest keys`): reads devices, keys, watchlists and
# settings; writes events and device keys.
acl allow ingest Read -- $(topics pingan.reference. pingan.watchlist. pingan.config.)
acl allow ingest Write -- $(topics pingan.events.)
acl allow ingest Write -- $(topics --literal pingan.reference.device-credentials)

# simulator: a fake district's devices, residents and events.
acl allow simulator Write -- $(topics pingan.events. pingan.reference. pingan.config.)

# modbus poller: telemetry and alarms out, device commands in (its own group).
acl allow modbus Write -- $(topics pingan.events.)
acl allow modbus Read Write -- $(topics --literal pingan.device-commands)
acl allow modbus Read -- $(topics pingan.reference.)
acl allow modbus Read Describe -- $(group "$PINGAN_MODBUS_POLLER_ID")

# Device keys are issued by `pingan ingest keys` alone: a deny wins over the prefixes above.
acl deny "migrate worker sink api simulator modbus" Write -- \
    $(topics --literal pingan.reference.device-credentials)

echo "kafka users and ACLs are up to date"
