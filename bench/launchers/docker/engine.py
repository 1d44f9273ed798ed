"""Talking to the Docker Engine (Python ``docker`` SDK, no CLI): connect, make sure images are
there, create the run network, and remove everything carrying a run's label.

Every object the launcher creates carries ``cartbench.run=<run id>`` and
``cartbench.target=<target>``; teardown and ``cleanup_leftovers`` find things by label only.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any

from bench.errors import InfraError
from bench.launchers.docker.specs import LABEL_RUN, LABEL_STATE, LABEL_TARGET

START_HINT = "start one with setup/start-dockerd.sh (or point DOCKER_HOST at a running engine)"
BUILD_HINT = "build the offline images with setup/build-images.sh"


def connect(timeout: int = 30) -> Any:
    """A ``docker.DockerClient`` that has answered a ping, or InfraError saying how to start one."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:  # pragma: no cover - a pinned dependency
        raise InfraError("the 'docker' Python package is missing; reinstall cartbench") from None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise InfraError(f"no Docker engine answers ({first}); {START_HINT}") from None
    return client


def image_present(client: Any, name: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(name)
    except ImageNotFound:
        return False
    return True


def ensure_image(client: Any, name: str) -> str:
    """Present locally, or pulled; otherwise InfraError naming setup/build-images.sh."""
    from docker.errors import APIError, DockerException

    if image_present(client, name):
        return name
    repo, _, tag = name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", "latest")
    try:
        client.images.pull(repo, tag=tag)
    except (APIError, DockerException) as exc:
        reason = str(getattr(exc, "explanation", None) or exc).splitlines()[0][:140]
        raise InfraError(
            f"image {name} is not present and could not be pulled ({reason}); {BUILD_HINT} "
            "and pass the offline images (e.g. --image postgres=cartbench/postgres:15-offline)"
        ) from None
    return name


def labels(run_id: str, target: str, **extra: str) -> dict[str, str]:
    from bench.paths import state_dir

    return {LABEL_RUN: run_id, LABEL_TARGET: target, LABEL_STATE: str(state_dir()), **extra}


def create_network(client: Any, name: str, run_id: str, target: str, attempts: int = 40) -> tuple[Any, str]:
    """A private bridge network with its own /24 in 10.231.0.0/16 (static node addresses need
    a user-configured subnet). Returns (network, "10.231.N") ; retries on overlap."""
    from docker.errors import APIError
    from docker.types import IPAMConfig, IPAMPool

    tried: set[int] = set()
    rng = random.Random()
    last = ""
    for _ in range(attempts):
        third = rng.randrange(1, 255)
        if third in tried:
            continue
        tried.add(third)
        prefix = f"10.231.{third}"
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=f"{prefix}.0/24", gateway=f"{prefix}.1")])
        try:
            net = client.networks.create(name, driver="bridge", ipam=ipam,
                                         labels=labels(run_id, target), check_duplicate=True)
        except APIError as exc:
            last = str(exc.explanation or exc)
            if "overlap" in last or "in use" in last:
                continue
            raise InfraError(f"docker: cannot create network {name}: {last}") from None
        return net, prefix
    raise InfraError(f"docker: no free /24 in 10.231.0.0/16 for the run network ({last})")


def _containers(client: Any, selector: str | list[str]) -> list[dict[str, Any]]:
    """Matching containers from the list endpoint only (no per-container inspect, which races
    with concurrent removals): dicts with Id, Names, Labels, State."""
    found: list[dict[str, Any]] = client.api.containers(all=True, filters={"label": selector})
    return found


def _name(c: dict[str, Any]) -> str:
    names = c.get("Names") or [c["Id"][:12]]
    return str(names[0]).lstrip("/")


def remove_by_label(client: Any, selector: str | list[str]) -> list[str]:
    """Remove every container (with its anonymous volumes), network and volume matching the
    label selector(s) (e.g. ``cartbench.run=abc``; a list means all of them). Returns what was
    removed."""
    from docker.errors import APIError, NotFound

    # APIError (409): a network/volume still in use by a container whose creation is in flight,
    # or a removal already in progress; ``remove_until_clean`` sweeps again.
    removed: list[str] = []
    flt = {"label": selector}
    for c in _containers(client, selector):
        with contextlib.suppress(NotFound, APIError):
            if c.get("State") == "paused":
                with contextlib.suppress(APIError):
                    client.api.unpause(c["Id"])
            client.api.remove_container(c["Id"], force=True, v=True)
            removed.append(f"container {_name(c)}")
    for n in client.networks.list(filters=flt):
        with contextlib.suppress(NotFound, APIError):
            n.remove()
            removed.append(f"network {n.name}")
    for v in client.volumes.list(filters=flt):
        with contextlib.suppress(NotFound, APIError):
            v.remove(force=True)
            removed.append(f"volume {v.name}")
    return removed


def remove_until_clean(client: Any, selector: str | list[str], settle_s: float = 1.0,
                       timeout_s: float = 30.0) -> list[str]:
    """``remove_by_label`` until nothing matches for ``settle_s``.  After an interrupt, a create
    request already sent may still land in the engine after the first sweep."""
    import time

    removed: list[str] = []
    deadline = time.monotonic() + timeout_s
    clean_since: float | None = None
    while time.monotonic() < deadline:
        removed += remove_by_label(client, selector)
        if leftovers(client, selector):
            clean_since = None
        elif clean_since is None:
            clean_since = time.monotonic()
        elif time.monotonic() - clean_since >= settle_s:
            break
        time.sleep(0.2)
    return removed


def run_ids(client: Any, selector: str | list[str] = LABEL_RUN) -> set[str]:
    """Every run id found on a container, network or volume matching the label selector."""
    flt = {"label": selector}
    label_sets = [c.get("Labels") or {} for c in _containers(client, selector)]
    label_sets += [n.attrs.get("Labels") or {} for n in client.networks.list(filters=flt)]
    label_sets += [v.attrs.get("Labels") or {} for v in client.volumes.list(filters=flt)]
    return {str(labels[LABEL_RUN]) for labels in label_sets if LABEL_RUN in labels}


def leftovers(client: Any, selector: str | list[str] = LABEL_RUN) -> list[str]:
    """Names of containers/networks/volumes still carrying the label (tests assert none)."""
    flt = {"label": selector}
    return (
        [f"container {_name(c)}" for c in _containers(client, selector)]
        + [f"network {n.name}" for n in client.networks.list(filters=flt)]
        + [f"volume {v.name}" for v in client.volumes.list(filters=flt)]
    )
