"""Every topic whose messages carry a face embedding or crop is a biometric topic: its dead
letters expire with the biometric TTL (schemas/clickhouse/0016_dead_letter_retention.sql)."""

from __future__ import annotations

from schemas.topics import ALL_TOPICS, BIOMETRIC_TOPICS

BIOMETRIC_FIELDS = frozenset({"embedding", "crop_ref"})


def test_topics_carrying_faces_are_biometric() -> None:
    carrying_faces = {
        topic.name
        for topic in ALL_TOPICS
        if topic.record is not None and BIOMETRIC_FIELDS & set(topic.record.model_fields)
    }
    assert carrying_faces
    assert carrying_faces <= {topic.name for topic in BIOMETRIC_TOPICS}
