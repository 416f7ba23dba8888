"""The KV buckets as the operator provisions them: the Responses API contexts are a capped cache."""

from __future__ import annotations

from nats.js.api import DiscardPolicy

from shared import subjects
from shared.provision import BUCKETS, RESPONSES_TTL_S, ProvisionSettings, bucket_stream


def test_the_responses_bucket_keeps_contexts_30_days_and_drops_the_oldest_when_full() -> None:
    settings = ProvisionSettings(responses_max_bytes=123_456)
    bucket = next(b for b in BUCKETS if b.name == subjects.RESPONSES_BUCKET)
    config = bucket_stream(bucket, settings)
    assert RESPONSES_TTL_S == 30 * 86400
    assert config.max_age == RESPONSES_TTL_S
    assert config.max_bytes == 123_456
    assert config.discard == DiscardPolicy.OLD


def test_the_limit_and_version_buckets_refuse_writes_rather_than_lose_entries() -> None:
    for bucket in BUCKETS:
        if bucket.name != subjects.RESPONSES_BUCKET:
            config = bucket_stream(bucket, ProvisionSettings())
            assert config.discard == DiscardPolicy.NEW, bucket.name
            assert config.max_bytes == -1, bucket.name
