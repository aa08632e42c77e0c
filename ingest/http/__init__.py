"""Device webhooks: cameras, door controllers and bracelet gateways POST JSON events.

Served by the worker's API in embedded mode (under /ingest) and by `pingan ingest http`
on its own. A 2xx answer means Kafka acknowledged every event (acks=all).
"""
