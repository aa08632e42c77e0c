"""The event contract: records, topics and ClickHouse tables, defined once here."""
