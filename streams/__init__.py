"""Faust stream processing: rules that raise alerts, and the sink into ClickHouse."""
