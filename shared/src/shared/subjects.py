"""Every NATS subject and JetStream name Keyrelay uses: `<service>.v<N>.<noun>.<verb>`.

No subject literal appears anywhere else. NATS permissions (see `shared.natsconf`) are derived
from the same constants, so a new subject is granted where it is declared.
"""

from __future__ import annotations

from typing import Final

# --- keyvault (core NATS request-reply; never through a JetStream stream) ---------------------
KEYVAULT_REVEAL: Final = "keyvault.v1.credential.reveal"  # gateway only
KEYVAULT_PUT: Final = "keyvault.v1.admin.credential.put"  # catalog only
KEYVAULT_DELETE: Final = "keyvault.v1.admin.credential.delete"  # catalog only
KEYVAULT_SCOPE: Final = "keyvault.v1.admin.credential.scope"  # catalog only
KEYVAULT_HOSTS: Final = "keyvault.v1.admin.credential.hosts"  # catalog only: custom models' own hosts
KEYVAULT_DESCRIBE: Final = "keyvault.v1.admin.credential.describe"  # catalog only: masked view
KEYVAULT_ROTATE: Final = "keyvault.v1.admin.kek.rotate"  # operator CLI only
KEYVAULT_PING: Final = "keyvault.v1.ping"

# --- catalog (core NATS request-reply) ---------------------------------------------------------
CATALOG_BOOTSTRAP: Final = "catalog.v1.org.bootstrap"  # operator CLI only
CATALOG_AUTH_API_KEY: Final = "catalog.v1.apikey.authenticate"  # gateway
CATALOG_AUTH_MEMBER: Final = "catalog.v1.member.authenticate"  # gateway
CATALOG_SNAPSHOT: Final = "catalog.v1.routing.snapshot"  # gateway
CATALOG_MANAGE: Final = "catalog.v1.manage"  # gateway: management commands
CATALOG_REPORT: Final = "catalog.v1.integration.report"  # gateway: status from real traffic
CATALOG_PING: Final = "catalog.v1.ping"
CATALOG_PASSWORD_PARAMS: Final = "catalog.v1.password.params"  # noqa: S105 - gateway: console sign-in salt
CATALOG_PASSWORD_SET: Final = "catalog.v1.password.set"  # noqa: S105 - gateway: first password, member token
CATALOG_SESSION_START: Final = "catalog.v1.session.start"  # gateway: console sign-in
CATALOG_SESSION_END: Final = "catalog.v1.session.end"  # gateway: console sign-out

# --- broadcast change events (core NATS; every gateway replica listens) ------------------------
EVENTS_PREFIX: Final = "events.v1"
EVENT_CATALOG_CHANGED: Final = "events.v1.catalog.changed"  # carries ids only
EVENT_CREDENTIAL_CHANGED: Final = "events.v1.credential.changed"  # carries ids only

# --- activity (JetStream for writes, core request-reply for queries) ---------------------------
ACTIVITY_STREAM: Final = "KEYRELAY_ACTIVITY"
ACTIVITY_SUBJECTS: Final = "activity.v1.events.>"
ACTIVITY_REQUEST_FINISHED: Final = "activity.v1.events.request.finished"
ACTIVITY_REQUEST_BATCH: Final = "activity.v1.events.request.batch"  # several request records in one message
ACTIVITY_AUDIT_RECORDED: Final = "activity.v1.events.audit.recorded"
ACTIVITY_DURABLE: Final = "activity-writer"
ACTIVITY_QUERY: Final = "activity.v1.query"  # gateway: activity/audit reads
ACTIVITY_PING: Final = "activity.v1.ping"

# --- JetStream KV buckets (gateway: rate limits and budgets shared by every replica) -----------
RATE_BUCKET: Final = "keyrelay_rate"  # per-minute counters, kept 3 minutes
SPEND_BUCKET: Final = "keyrelay_spend"  # spend per budget period
RESPONSES_BUCKET: Final = "keyrelay_responses"  # Responses API context for `previous_response_id`
JOBS_BUCKET: Final = "keyrelay_jobs"  # media jobs (FAL, Pollo) returned as a handle: `GET /v1/jobs/{id}`

# --- queue groups: replicas of one service share the work --------------------------------------
QUEUE_KEYVAULT: Final = "keyvault"
QUEUE_CATALOG: Final = "catalog"
QUEUE_ACTIVITY: Final = "activity"
