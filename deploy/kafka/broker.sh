#!/bin/sh
# One node of compose's three-node KRaft cluster (each node is broker and controller).
#
# Every listener authenticates: clients and brokers with SASL/SCRAM-SHA-512, controllers
# with SASL/PLAIN (KRaft cannot use SCRAM on the controller listener: SCRAM users live in
# the metadata the controllers serve). Only `admin` is a super user; every service is
# allowed only what deploy/kafka/acls.sh grants it. The first start formats the log dir
# with admin's SCRAM credential; later starts keep the formatted state.
#
# Passwords reach the properties file only inside the container (/tmp, mode 0600), never
# the image, the volume or the compose file.
set -eu

: "${KAFKA_NODE_ID:?}" "${KAFKA_CLUSTER_ID:?}" "${KAFKA_QUORUM_VOTERS:?}"
: "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD in .env}"

CONFIG_DIR=/tmp/pingan-kafka
umask 077
mkdir -p "$CONFIG_DIR"
HOST="kafka-$KAFKA_NODE_ID"

cat > "$CONFIG_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_QUORUM_VOTERS
listeners=CLIENT://:9092,INTERNAL://:9094,CONTROLLER://:9093
advertised.listeners=CLIENT://$HOST:9092,INTERNAL://$HOST:9094
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD" user_admin="$KAFKA_ADMIN_PASSWORD";
listener.name.internal.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
unclean.leader.election.enable=false
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
log.dirs=/var/lib/kafka/data
EOF

# What the healthcheck and deploy/kafka/acls.sh connect as.
cat > "$CONFIG_DIR/admin.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
EOF

/opt/kafka/bin/kafka-storage.sh format --ignore-formatted \
    --cluster-id "$KAFKA_CLUSTER_ID" --config "$CONFIG_DIR/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]"
exec /opt/kafka/bin/kafka-server-start.sh "$CONFIG_DIR/server.properties"
