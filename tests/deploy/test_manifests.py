"""Offline checks of deploy/: rendered Kustomize overlays, schemas, YAML style, the Dockerfile."""

from __future__ import annotations

import functools
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BASE = DEPLOY / "k8s" / "base"
OVERLAYS = DEPLOY / "k8s" / "overlays"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
BIN = Path(sys.executable).parent
KUBERNETES_VERSION = "1.33.0"

# Default gRPC port of each service (docs/ARCHITECTURE.md, "Runtime configuration").
SERVICE_PORTS: dict[str, int] = {
    "intake": 50051,
    "screening": 50052,
    "approval": 50053,
    "assistance": 50054,
    "notify": 50055,
}
COUNTIES: list[str] = sorted(
    path.name for path in OVERLAYS.iterdir() if (path / "kustomization.yaml").is_file()
)
CLUSTER_SCOPED_KINDS = {"Namespace"}

Manifest = dict[str, Any]


# ---- helpers ------------------------------------------------------------------------------


def _tool(name: str) -> Path:
    """The console script `name` of this virtual environment, or a skip if it is missing."""
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed in {BIN} (dev dependency group; run `uv sync`)")
    return path


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


@functools.cache
def _kustomize(directory: Path) -> str:
    result = _run(_tool("kubectl"), "kustomize", directory)
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return result.stdout


def _render(county: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(_kustomize(OVERLAYS / county)) if doc]


def _of_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def _pod_spec(deployment: Manifest) -> Manifest:
    return deployment["spec"]["template"]["spec"]


def _all_containers(deployment: Manifest) -> list[Manifest]:
    spec = _pod_spec(deployment)
    return [*spec.get("initContainers", []), *spec["containers"]]


def _main_container(deployment: Manifest) -> Manifest:
    containers = _pod_spec(deployment)["containers"]
    assert len(containers) == 1, "one application container per pod"
    return containers[0]


def _env(container: Manifest) -> dict[str, Manifest]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)(m|k|M|G|Ki|Mi|Gi)?")
_SUFFIXES = {
    None: 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
}


def _quantity(value: str | int | float) -> float:
    """A Kubernetes resource quantity ("250m", "1", "384Mi") as a plain number."""
    match = _QUANTITY.fullmatch(str(value))
    assert match, f"unsupported quantity {value!r}"
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


# ---- Dockerfile model -------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """One `FROM ... AS name` stage of a Dockerfile with its instructions in order."""

    name: str
    base: str
    instructions: tuple[tuple[str, str], ...]


def _logical_lines(text: str) -> list[str]:
    """Dockerfile lines with comments dropped and backslash continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "Dockerfile ends inside a line continuation"
    return lines


def _parse_dockerfile(text: str) -> tuple[dict[str, str], dict[str, Stage]]:
    """Global ARG defaults and the stages by name."""
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: tuple[str, str] | None = None
    instructions: list[tuple[str, str]] = []

    def close() -> None:
        if current is not None:
            stages[current[0]] = Stage(current[0], current[1], tuple(instructions))

    for line in _logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            close()
            words = [word for word in rest.split() if not word.startswith("--")]
            assert len(words) == 3 and words[1].upper() == "AS", f"unnamed stage: {line}"
            current, instructions = (words[2], words[0]), []
        elif current is None:
            assert keyword == "ARG", f"only ARG may precede the first FROM: {line}"
            name, _, default = rest.partition("=")
            global_args[name] = default
        else:
            instructions.append((keyword, rest))
    close()
    return global_args, stages


@functools.cache
def _dockerfile() -> tuple[dict[str, str], dict[str, Stage]]:
    return _parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def _chain(target: str) -> list[Stage]:
    """The stages an image target is built on, its outermost base first."""
    _, stages = _dockerfile()
    chain: list[Stage] = []
    name: str | None = target
    while name is not None and name in stages:
        stage = stages[name]
        chain.insert(0, stage)
        name = stage.base
    return chain


def _effective(target: str, keyword: str) -> str | None:
    """The last value of `keyword` (USER, CMD, ENTRYPOINT, ...) in force for a target."""
    value = None
    for stage in _chain(target):
        for found, rest in stage.instructions:
            if found == keyword:
                value = rest
    return value


def _env_of(target: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for stage in _chain(target):
        for keyword, rest in stage.instructions:
            if keyword == "ENV":
                for pair in shlex.split(rest):
                    key, _, value = pair.partition("=")
                    env[key] = value
    return env


def _copy_sources(stage: Stage) -> list[str]:
    """Build-context paths a stage copies (COPY without --from)."""
    sources: list[str] = []
    for keyword, rest in stage.instructions:
        words = rest.split()
        if keyword in {"COPY", "ADD"} and not any(w.startswith("--from") for w in words):
            sources.extend(word for word in words[:-1] if not word.startswith("--"))
    return sources


# ---- rendering, schemas, style --------------------------------------------------------------


def test_every_county_overlay_is_named_by_its_six_digit_county_code() -> None:
    assert len(COUNTIES) >= 2, "the demo county and at least one more example overlay"
    for county in COUNTIES:
        assert re.fullmatch(r"\d{6}", county), county


@pytest.mark.parametrize("county", COUNTIES)
def test_overlay_passes_strict_schema_validation(county: str, tmp_path: Path) -> None:
    rendered = tmp_path / f"{county}.yaml"
    rendered.write_text(_kustomize(OVERLAYS / county), encoding="utf-8")
    validate = _tool("kubernetes-validate")
    result = _run(validate, "--strict", "-k", KUBERNETES_VERSION, "--quiet", rendered)
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_passes_strict_schema_validation(tmp_path: Path) -> None:
    rendered = tmp_path / "base.yaml"
    rendered.write_text(_kustomize(BASE), encoding="utf-8")
    validate = _tool("kubernetes-validate")
    result = _run(validate, "--strict", "-k", KUBERNETES_VERSION, "--quiet", rendered)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_yaml_is_yamllint_clean() -> None:
    config = REPO / ".yamllint.yaml"
    result = _run(_tool("yamllint"), "--strict", "-c", config, DEPLOY, config)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- namespace and configuration ------------------------------------------------------------


@pytest.mark.parametrize("county", COUNTIES)
def test_every_object_is_in_the_county_namespace(county: str) -> None:
    namespace = f"fangpin-{county}"
    manifests = _render(county)
    for manifest in manifests:
        meta = manifest["metadata"]
        if manifest["kind"] in CLUSTER_SCOPED_KINDS:
            assert meta["name"] == namespace
        else:
            assert meta.get("namespace") == namespace, f"{manifest['kind']}/{meta['name']}"
        assert meta["labels"]["fangpin/county"] == county, f"{manifest['kind']}/{meta['name']}"
    assert list(_of_kind(manifests, "Namespace")) == [namespace]


@pytest.mark.parametrize("county", COUNTIES)
def test_county_namespace_enforces_restricted_pod_security(county: str) -> None:
    (namespace,) = _of_kind(_render(county), "Namespace").values()
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("county", COUNTIES)
def test_county_config_sets_county_code_and_container_bind_address(county: str) -> None:
    manifests = _render(county)
    configs = list(_of_kind(manifests, "ConfigMap").values())
    (config,) = [c for c in configs if c["metadata"]["name"].startswith("fangpin-config-")]
    data = config["data"]
    assert data["FANGPIN_COUNTY"] == county
    assert data["FANGPIN_GRPC_HOST"] == "0.0.0.0"
    assert data["FANGPIN_NATS_URL"].startswith("nats://")
    assert "FANGPIN_DB_URL" not in data, "database URLs carry credentials: Secret only"
    for deployment in _of_kind(manifests, "Deployment").values():
        for container in _all_containers(deployment):
            refs = [s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s]
            assert refs == [config["metadata"]["name"]], "hashed name: a change rolls the pods"


@pytest.mark.parametrize("county", COUNTIES)
def test_database_url_comes_from_the_service_key_of_the_db_secret(county: str) -> None:
    for name, deployment in _of_kind(_render(county), "Deployment").items():
        for container in _all_containers(deployment):
            ref = _env(container)["FANGPIN_DB_URL"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "fangpin-db", "key": name}


# ---- workloads -------------------------------------------------------------------------------


@pytest.mark.parametrize("county", COUNTIES)
def test_each_service_has_deployment_service_disruption_budget_and_grpc_policy(
    county: str,
) -> None:
    manifests = _render(county)
    policies = _of_kind(manifests, "NetworkPolicy")
    for kind in ("Deployment", "Service", "PodDisruptionBudget"):
        assert set(_of_kind(manifests, kind)) == set(SERVICE_PORTS), kind
    assert {f"{name}-grpc-ingress" for name in SERVICE_PORTS} <= set(policies)


@pytest.mark.parametrize("county", COUNTIES)
def test_deployments_run_as_non_root_with_read_only_root_filesystem(county: str) -> None:
    for name, deployment in _of_kind(_render(county), "Deployment").items():
        spec = _pod_spec(deployment)
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True, name
        assert pod_security["runAsUser"] > 0, name
        assert pod_security["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in _all_containers(deployment):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, container["name"]
            assert security["allowPrivilegeEscalation"] is False, container["name"]
            assert security["capabilities"]["drop"] == ["ALL"], container["name"]
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get("/tmp") in tmp_volumes, f"{name}/{container['name']}: /tmp"


@pytest.mark.parametrize("county", COUNTIES)
def test_grpc_probes_target_the_service_port(county: str) -> None:
    manifests = _render(county)
    services = _of_kind(manifests, "Service")
    for name, deployment in _of_kind(manifests, "Deployment").items():
        port = SERVICE_PORTS[name]
        container = _main_container(deployment)
        assert [p["containerPort"] for p in container["ports"]] == [port], name
        assert _env(container)["FANGPIN_GRPC_PORT"]["value"] == str(port), name
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"]["port"] == port, f"{name} {probe}"
        (service_port,) = services[name]["spec"]["ports"]
        assert service_port["port"] == port, name
        assert service_port["targetPort"] in (port, container["ports"][0]["name"]), name


@pytest.mark.parametrize("county", COUNTIES)
def test_every_container_has_cpu_and_memory_requests_within_limits(county: str) -> None:
    for name, deployment in _of_kind(_render(county), "Deployment").items():
        for container in _all_containers(deployment):
            resources = container["resources"]
            for resource in ("cpu", "memory"):
                request = _quantity(resources["requests"][resource])
                limit = _quantity(resources["limits"][resource])
                assert 0 < request <= limit, f"{name}/{container['name']} {resource}"


@pytest.mark.parametrize("county", COUNTIES)
def test_migrations_run_in_an_init_container_of_the_same_image(county: str) -> None:
    for name, deployment in _of_kind(_render(county), "Deployment").items():
        (init,) = _pod_spec(deployment)["initContainers"]
        container = _main_container(deployment)
        assert init["args"] == ["python", "-m", f"fangpin_{name}", "migrate"], name
        assert container["args"] == ["python", "-m", f"fangpin_{name}"], name
        assert init["image"] == container["image"], name
        # No `command`: the image's ENTRYPOINT (tini) stays PID 1 and forwards SIGTERM.
        assert "command" not in init and "command" not in container, name


@pytest.mark.parametrize("county", COUNTIES)
def test_images_are_pinned_to_one_release_tag_in_the_registry(county: str) -> None:
    tags: set[str] = set()
    for name, deployment in _of_kind(_render(county), "Deployment").items():
        for container in _all_containers(deployment):
            image = container["image"]
            repository, _, tag = image.rpartition(":")
            assert repository.count("/") >= 2, f"{image}: registry/project/name"
            assert repository.endswith(f"/{name}"), image
            assert tag and tag != "latest" and "/" not in tag, image
            tags.add(tag)
    assert len(tags) == 1, f"services of one county run one release: {sorted(tags)}"


@pytest.mark.parametrize("county", COUNTIES)
def test_services_budgets_and_policies_select_their_deployments_pods(county: str) -> None:
    manifests = _render(county)
    deployments = _of_kind(manifests, "Deployment")
    services = _of_kind(manifests, "Service")
    budgets = _of_kind(manifests, "PodDisruptionBudget")
    policies = _of_kind(manifests, "NetworkPolicy")
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert _selects(deployment["spec"]["selector"]["matchLabels"], labels), name
        others = [d for other, d in deployments.items() if other != name]
        selectors = {
            "Service": services[name]["spec"]["selector"],
            "PodDisruptionBudget": budgets[name]["spec"]["selector"]["matchLabels"],
            "NetworkPolicy": policies[f"{name}-grpc-ingress"]["spec"]["podSelector"]["matchLabels"],
        }
        for kind, selector in selectors.items():
            assert _selects(selector, labels), f"{kind} {name}"
            for other in others:
                other_labels = other["spec"]["template"]["metadata"]["labels"]
                assert not _selects(selector, other_labels), f"{kind} {name} is too wide"


# ---- network policies ------------------------------------------------------------------------


def _egress_ports(policy: Manifest) -> set[int]:
    return {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}


@pytest.mark.parametrize("county", COUNTIES)
def test_network_policies_deny_by_default_then_allow_grpc_in_and_nats_postgres_out(
    county: str,
) -> None:
    manifests = _render(county)
    policies = _of_kind(manifests, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny

    for name, port in SERVICE_PORTS.items():
        ingress = policies[f"{name}-grpc-ingress"]["spec"]["ingress"]
        assert [p["port"] for rule in ingress for p in rule["ports"]] == [port], name

    deployments = _of_kind(manifests, "Deployment")
    egress = policies["fangpin-egress"]
    for deployment in deployments.values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert _selects(egress["spec"]["podSelector"]["matchLabels"], labels)
    assert {53, 4222, 5432} <= _egress_ports(egress)

    # Only notify delivers outside the cluster (SMTP relay, HTTPS gateways).
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        outbound: set[int] = set().union(
            *(
                _egress_ports(p)
                for p in policies.values()
                if "Egress" in p["spec"]["policyTypes"]
                and p["spec"].get("egress")
                and _selects(p["spec"]["podSelector"].get("matchLabels", {}), labels)
            )
        )
        assert (443 in outbound) == (name == "notify"), name


# ---- Dockerfile ----------------------------------------------------------------------------


def test_dockerfile_has_a_target_per_service_and_the_cli() -> None:
    _, stages = _dockerfile()
    assert {*SERVICE_PORTS, "cli"} <= set(stages)


def test_images_start_from_slim_python_311() -> None:
    global_args, _ = _dockerfile()
    assert re.fullmatch(
        r"python:3\.11(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]{64})?", global_args["PYTHON_IMAGE"]
    ), global_args["PYTHON_IMAGE"]
    for target in (*SERVICE_PORTS, "cli"):
        assert _chain(target)[0].base == "${PYTHON_IMAGE}", target


@pytest.mark.parametrize("target", [*SERVICE_PORTS, "cli"])
def test_image_target_runs_as_a_non_root_user(target: str) -> None:
    user = _effective(target, "USER")
    assert user is not None, f"{target}: no USER line, the image would run as root"
    name = user.split(":", 1)[0]
    assert name not in {"root", "0"}, f"{target}: USER {user}"


@pytest.mark.parametrize("target", [*SERVICE_PORTS, "cli"])
def test_image_target_carries_no_build_tools(target: str) -> None:
    names = [stage.name for stage in _chain(target)]
    assert "builder" not in names, f"{target} is built on {names}"
    assert "uv" not in names


@pytest.mark.parametrize("service", list(SERVICE_PORTS))
def test_service_image_starts_the_service_module_on_its_grpc_port(service: str) -> None:
    port = SERVICE_PORTS[service]
    entrypoint = json.loads(_effective(service, "ENTRYPOINT") or "[]")
    command = json.loads(_effective(service, "CMD") or "[]")
    assert entrypoint == ["/usr/bin/tini", "--"]
    assert command == ["python", "-m", f"fangpin_{service}"]
    assert _env_of(service)["FANGPIN_GRPC_PORT"] == str(port)
    assert _env_of(service)["FANGPIN_GRPC_HOST"] == "0.0.0.0"
    assert _effective(service, "EXPOSE") == str(port)


@pytest.mark.parametrize("package", [*SERVICE_PORTS, "cli"])
def test_each_build_installs_only_its_package_from_the_lock(package: str) -> None:
    _, stages = _dockerfile()
    runs = " ".join(rest for kw, rest in stages[f"build-{package}"].instructions if kw == "RUN")
    assert f"uv sync --frozen --no-dev --package fangpin-{package}" in runs
    assert f"uv sync --frozen --no-dev --no-install-workspace --package fangpin-{package}" in runs
    copied = [
        rest for kw, rest in stages[package].instructions if kw == "COPY" and "--from" in rest
    ]
    assert copied == [f"--from=build-{package} /app /app"], copied


def test_every_path_the_dockerfile_copies_exists_and_passes_dockerignore() -> None:
    _, stages = _dockerfile()
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", ".dockerignore is an allow-list"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    sources = {source for stage in stages.values() for source in _copy_sources(stage)}
    assert sources, "the Dockerfile copies from the build context"
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"
        assert source.split("/", 1)[0] in allowed, f"COPY {source} is excluded by .dockerignore"


def test_dockerignore_keeps_tests_and_local_state_out_of_images() -> None:
    patterns = set(DOCKERIGNORE.read_text(encoding="utf-8").split())
    assert {"**/tests/", "**/.venv/", "**/var/", "**/__pycache__/"} <= patterns
    allowed = {p for p in patterns if p.startswith("!")}
    assert not allowed & {"!.git/", "!.venv/", "!var/", "!tests/", "!.tools/"}
