"""`just cluster`: the production shape on one machine, until Ctrl-C.

* a 3-node NATS cluster (routes on loopback, authenticated), JetStream on every node, the activity
  stream and every KV bucket provisioned with 3 replicas (`KEYRELAY_STREAM_REPLICAS`), the same
  per-service users and permissions as the single-node stack (`shared.natsconf`);
* TLS between every client and the servers, with a CA made at start (`scripts/devca.py`): the
  services get `KEYRELAY_NATS_TLS_CA` and the list of all three servers in `KEYRELAY_NATS_URL`;
* SecantusDB (single node: it is the embedded default; production runs a MongoDB replica set);
* two replicas (`--replicas`) of every service, each its own process;
* the gateways behind HAProxy when it is installed (`apt-get install haproxy`), health-checked on
  `/readyz`; without it, clients use the gateways directly and the banner says so.

A part that dies is started again (`shared.supervisor`). The stack file (`<data dir>/stack.json`)
names the cluster, so `./run bootstrap` and `keyrelay doctor` find it as they find `./run up`.
The tests (`tests/cluster`) start the same `ClusterStack` in-process and inject faults into it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from scripts import devca  # noqa: E402
from shared import connection, natsconf  # noqa: E402
from shared.embedded import (  # noqa: E402
    Child,
    executable,
    free_port,
    nats_child,
    secantus_child,
    service_child,
    stop_all,
    wait_for_port,
)
from shared.secret import Secret  # noqa: E402
from shared.settings import load_settings  # noqa: E402
from shared.stack import SERVICES, EmbeddedStack, load_or_create_secrets  # noqa: E402

CLUSTER_NAME = "keyrelay"


def _node(name: str) -> bool:
    return name.startswith("nats-")


def _service_of(name: str) -> str:
    return name.rsplit("-", 1)[0]


@dataclass
class ClusterStack(EmbeddedStack):
    """`EmbeddedStack` with a NATS cluster over TLS and several replicas of every service.

    `http_port` is the address clients use: HAProxy's when it runs, otherwise the first gateway's.
    """

    nodes: int = 3
    replicas: int = 2
    stream_replicas: int = 3
    use_haproxy: bool = True
    nats_ports: list[int] = field(default_factory=list)
    route_ports: list[int] = field(default_factory=list)
    monitor_ports: list[int] = field(default_factory=list)
    gateway_ports: list[int] = field(default_factory=list)
    route_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    tls: devca.TlsFiles | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.nats_ports = self.nats_ports or [self.nats_port, *(free_port() for _ in range(self.nodes - 1))]
        self.nats_port = self.nats_ports[0]
        self.route_ports = self.route_ports or [free_port() for _ in range(self.nodes)]
        self.monitor_ports = self.monitor_ports or [free_port() for _ in range(self.nodes)]
        self.use_haproxy = self.use_haproxy and shutil.which("haproxy") is not None
        if not self.gateway_ports:
            first = self.http_port + 1 if self.use_haproxy else self.http_port
            self.gateway_ports = [first + i for i in range(self.replicas)]

    # -- addresses -------------------------------------------------------------------------------
    @property
    def nats_url(self) -> str:
        return ",".join(f"tls://127.0.0.1:{port}" for port in self.nats_ports)

    @property
    def gateway_urls(self) -> list[str]:
        return [f"http://{self.gateway_host}:{port}" for port in self.gateway_ports]

    @property
    def gateway_url(self) -> str:
        return super().gateway_url if self.use_haproxy else self.gateway_urls[0]

    @property
    def ca_file(self) -> str:
        assert self.tls is not None  # noqa: S101 - set by start_infrastructure
        return str(self.tls.ca)

    def service_env(self, service: str) -> dict[str, str]:
        return {**super().service_env(service), "KEYRELAY_NATS_TLS_CA": self.ca_file}

    def operator_env(self) -> dict[str, str]:
        return {
            **super().operator_env(),
            "KEYRELAY_NATS_TLS_CA": self.ca_file,
            "KEYRELAY_STREAM_REPLICAS": str(self.stream_replicas),
        }

    # -- NATS ------------------------------------------------------------------------------------
    def node_config(self, index: int) -> str:
        """Node `index`'s configuration: the single-node one (users, permissions, JetStream) plus
        its name, its routes to the others, and TLS for clients."""
        assert self.tls is not None  # noqa: S101
        passwords = {name: self.password(name) for name in natsconf.SERVICES}
        conf = msgspec.json.decode(
            natsconf.render_config(
                host="127.0.0.1",
                port=self.nats_ports[index],
                store_dir=str(self.data_dir / f"jetstream-{index + 1}"),
                passwords=passwords,
                http_port=self.monitor_ports[index],
            )
        )
        conf["server_name"] = f"{CLUSTER_NAME}-nats-{index + 1}"
        conf["tls"] = {"cert_file": str(self.tls.cert), "key_file": str(self.tls.key), "timeout": 3}
        conf["cluster"] = {
            "name": CLUSTER_NAME,
            "host": "127.0.0.1",
            "port": self.route_ports[index],
            "authorization": {"user": "route", "password": self.route_password},
            "routes": [
                f"nats-route://route:{self.route_password}@127.0.0.1:{port}"
                for i, port in enumerate(self.route_ports)
                if i != index
            ],
        }
        return msgspec.json.encode(conf).decode()

    def nats_node(self, index: int) -> Child:
        return self.children[f"nats-{index + 1}"]

    def start_node(self, index: int) -> Child:
        conf = self.data_dir / f"nats-{index + 1}.conf"
        conf.write_text(self.node_config(index))
        conf.chmod(0o600)
        child = nats_child(config_path=conf, log_path=self.logs / f"nats-{index + 1}.log").start()
        self.children[f"nats-{index + 1}"] = child
        return child

    def node_healthy(self, index: int) -> bool:
        """The node's JetStream is up and current with the cluster (`/healthz` of its monitor port)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_ports[index]}/healthz", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def wait_node_healthy(self, index: int, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.node_healthy(index):
            if time.monotonic() > deadline:
                raise TimeoutError(f"nats-{index + 1} not healthy after {timeout_s}s; see {self.logs}")
            time.sleep(0.2)

    def start_infrastructure(self) -> None:
        self.secrets = {**load_or_create_secrets(self.data_dir / "secrets.env"), **self.secret_overrides}
        self.tls = devca.make(self.data_dir / "tls")
        for index in range(self.nodes):
            self.start_node(index)
        self._provision_mongo_users()
        self.children["mongo"] = secantus_child(
            port=self.mongo_port, storage=self.data_dir / "mongo", log_path=self.logs / "secantusdb.log", auth=True
        ).start()
        for index in range(self.nodes):
            wait_for_port(self.nats_ports[index], proc=self.nats_node(index).proc)
        wait_for_port(self.mongo_port, proc=self.children["mongo"].proc, timeout_s=30)
        for index in range(self.nodes):
            self.wait_node_healthy(index)
        self.provision()

    # -- services --------------------------------------------------------------------------------
    def start_replica(self, service: str, number: int) -> Child:
        """Replica `number` (1-based) of `service`, with its own metrics port (and HTTP port)."""
        name = f"{service}-{number}"
        env = {**self.service_env(service), "KEYRELAY_METRICS_PORT": str(free_port())}
        if service == "gateway":
            env["KEYRELAY_HTTP_PORT"] = str(self.gateway_ports[number - 1])
        child = service_child(service, env=env, log_path=self.logs / f"{name}.log").start()
        self.children[name] = child
        return child

    def replicas_of(self, service: str) -> list[Child]:
        return [c for n, c in self.children.items() if _service_of(n) == service and not _node(n)]

    def haproxy_config(self) -> str:
        servers = "\n".join(
            f"    server gateway-{i + 1} 127.0.0.1:{port} check" for i, port in enumerate(self.gateway_ports)
        )
        return f"""global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 300s
    timeout server 300s
    option redispatch
    retries 2
frontend keyrelay
    bind {self.http_host}:{self.http_port}
    default_backend gateways
backend gateways
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 1
{servers}
"""

    def start(self, *, wait_ready_s: float = 60.0) -> None:
        self.start_infrastructure()
        for service in SERVICES:
            for number in range(1, self.replicas + 1):
                self.start_replica(service, number)
        for number, port in enumerate(self.gateway_ports, start=1):
            wait_for_port(port, proc=self.children[f"gateway-{number}"].proc, timeout_s=wait_ready_s)
        if self.use_haproxy:
            cfg = self.data_dir / "haproxy.cfg"
            cfg.write_text(self.haproxy_config())
            self.children["haproxy"] = Child(
                "haproxy", [executable("haproxy"), "-db", "-f", str(cfg)], self.logs / "haproxy.log"
            ).start()
            wait_for_port(self.http_port, host=self.gateway_host, proc=self.children["haproxy"].proc)
        self.wait_ready(wait_ready_s)

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for url in [*self.gateway_urls, *([self.gateway_url] if self.use_haproxy else [])]:
            while not _ready(url):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} not ready after {timeout_s}s; see logs in {self.logs}")
                time.sleep(0.2)

    def stop(self, timeout_s: float = 8.0) -> None:
        """The balancer and the services first (so they can still flush to NATS), then NATS and the database."""
        started = time.monotonic()
        stop_all([c for n, c in self.children.items() if n == "haproxy" or _service_of(n) in SERVICES], timeout_s * 0.6)
        remaining = max(1.0, timeout_s - (time.monotonic() - started))
        stop_all([c for n, c in self.children.items() if n != "haproxy" and _service_of(n) not in SERVICES], remaining)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:  # noqa: S310 - our own gateway
            return bool(resp.status == 200)
    except OSError:
        return False


def banner(stack: ClusterStack) -> str:
    if stack.use_haproxy:
        front = f"Keyrelay cluster is up: {stack.gateway_url} (HAProxy over {len(stack.gateway_ports)} gateways)"
    else:
        front = (
            f"Keyrelay cluster is up. HAProxy is not installed (apt-get install haproxy), so there is no "
            f"load balancer: clients use the gateways directly: {', '.join(stack.gateway_urls)}"
        )
    return "\n".join(
        [
            front,
            f"  nats       {stack.nats_url}  (cluster of {stack.nodes}, JetStream R{stack.stream_replicas}, TLS)",
            f"  CA         {stack.ca_file}  (KEYRELAY_NATS_TLS_CA for clients)",
            f"  services   {stack.replicas} replicas each of {', '.join(SERVICES)}",
            f"  data       {stack.data_dir}  (logs in {stack.logs})",
            "  next       ./run bootstrap --org Acme --owner-email you@example.com   (Ctrl-C stops everything)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    from shared.logging import configure_logging  # noqa: PLC0415
    from shared.supervisor import Supervisor  # noqa: PLC0415
    from shared.up import UpSettings, split_settings  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="just cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="default: KEYRELAY_DATA_DIR, else ./.keyrelay")
    parser.add_argument("--replicas", type=int, default=2, help="processes of each service (default 2)")
    parser.add_argument("--nodes", type=int, default=3, help="NATS servers (default 3)")
    args = parser.parse_args(argv)
    settings = load_settings(UpSettings)
    data = Path(args.data_dir or settings.data_dir).resolve()
    if (found := connection.running(data)) is not None:
        print(f"a stack is already running with data dir {data} (pid {found.pid}); stop it first", file=sys.stderr)
        return 2
    configure_logging(fmt=settings.log_format, level=settings.log_level, service="cluster")
    shared_settings, key_material = split_settings(connection.given_settings())
    shared_settings.pop("KEYRELAY_STREAM_REPLICAS", None)
    stack = ClusterStack(
        data_dir=data,
        http_host=settings.http_host,
        http_port=settings.http_port,
        nodes=args.nodes,
        replicas=args.replicas,
        stream_replicas=min(3, args.nodes),
        extra_env=shared_settings,
        secret_overrides=key_material,
        log_format=settings.log_format,
        log_level=settings.log_level,
    )
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        stack.start()
        supervisor = Supervisor(stack.children)
        info = connection.StackFile(
            pid=os.getpid(),
            data_dir=str(data),
            gateway_url=stack.gateway_url,
            nats_url=stack.nats_url,
            nats_user="operator",
            nats_password=Secret(stack.password("operator")),
            nats_tls_ca=stack.ca_file,
            mongodb_uri=stack.mongodb_uri,
            logs=str(stack.logs),
        )
        connection.write(data, info)
        print(banner(stack), flush=True)
        while not stop.wait(0.2):
            if supervisor.poll():
                info.children = supervisor.states()
                connection.write(data, info)
    except (OSError, RuntimeError, TimeoutError) as exc:
        print(f"keyrelay cluster did not start: {exc}; logs in {stack.logs}", file=sys.stderr)
        return 1
    finally:
        print("Stopping the cluster ...", flush=True)
        stack.stop()
        connection.remove(data, os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
