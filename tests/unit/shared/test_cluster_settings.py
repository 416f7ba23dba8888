"""The settings a cluster needs: every NATS server, TLS to them, majority and retryable writes."""

from __future__ import annotations

from pymongo import AsyncMongoClient

from shared.mongo import ACTIVITY_CLIENT_OPTIONS, CLIENT_OPTIONS
from shared.settings import CommonSettings, load_settings
from shared.up import split_settings


def test_every_server_of_a_comma_separated_nats_url_is_a_server_to_connect_to() -> None:
    settings = load_settings(
        CommonSettings,
        {
            "KEYRELAY_NATS_URL": "tls://nats-0:4222, tls://nats-1:4222,tls://nats-2:4222",
            "KEYRELAY_NATS_TLS_CA": "/ca.crt",
        },
    )
    assert settings.nats_servers() == ["tls://nats-0:4222", "tls://nats-1:4222", "tls://nats-2:4222"]
    assert settings.nats_tls_ca == "/ca.crt"


def test_services_write_to_mongodb_with_majority_and_retryable_writes() -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        "mongodb://db-0,db-1,db-2/?replicaSet=rs0&w=1", connect=False, **CLIENT_OPTIONS
    )
    assert client.write_concern.document == {"w": "majority"}  # whatever the URI says
    assert client.options.retry_writes is True
    assert client.options.retry_reads is True


def test_activity_writes_with_majority_and_leaves_retrying_to_jetstream_redelivery() -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        "mongodb://db-0,db-1,db-2/?replicaSet=rs0&w=1", connect=False, **ACTIVITY_CLIENT_OPTIONS
    )
    assert client.write_concern.document == {"w": "majority"}
    assert client.options.retry_writes is False
    assert client.options.retry_reads is True


def test_keyrelay_up_does_not_pass_a_clusters_tls_ca_to_its_own_single_node_stack() -> None:
    shared, secrets = split_settings({"KEYRELAY_NATS_TLS_CA": "/ca.crt", "KEYRELAY_LOG_LEVEL": "debug"})
    assert "KEYRELAY_NATS_TLS_CA" not in shared | secrets
