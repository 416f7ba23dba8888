"""Activity metrics: stored events, dead letters, write retries, consumer lag."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STORED = Counter("keyrelay_activity_stored_total", "Events stored in MongoDB", ["collection"])
DEAD_LETTERS = Counter("keyrelay_activity_dead_letters_total", "Events moved to dead_letters")
RETRIES = Counter("keyrelay_activity_write_retries_total", "Writes that failed and will be redelivered")
LAG = Gauge("keyrelay_activity_consumer_lag", "Events in the stream not yet delivered to the consumer")
PENDING_ACKS = Gauge("keyrelay_activity_ack_pending", "Events delivered but not yet acknowledged")
