"""Adapters that publish events into Kafka: the simulator today, devices later."""
