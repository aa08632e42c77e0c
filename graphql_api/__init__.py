"""The police GraphQL API: queries over ClickHouse, live alerts from Kafka, watchlist edits."""
