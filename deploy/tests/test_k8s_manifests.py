"""The Kubernetes manifests (deploy/k8s) parse, fit together and match the app they run."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.urls import resolve

from deploy.tests.app_source import REPO, names_read_by_app, server_setting

K8S = REPO / "deploy" / "k8s"
KUSTOMIZATION = K8S / "kustomization.yaml"
SECRETS_EXAMPLE = K8S / "secrets.env.example"

Manifest = dict[str, Any]


def manifest_files() -> list[Path]:
    return sorted(path for path in K8S.glob("*.yaml") if path != KUSTOMIZATION)


def load_manifests() -> list[Manifest]:
    return [
        document
        for path in manifest_files()
        for document in yaml.safe_load_all(path.read_text())
        if document is not None
    ]


def one(kind: str) -> Manifest:
    found = [manifest for manifest in load_manifests() if manifest["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def api_container() -> dict[str, Any]:
    containers = pod_spec(one("Deployment"))["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def container_port(container: dict[str, Any], port: int | str) -> int:
    """The number of a container port given by number or by name, as probes and Services do."""
    for declared in container["ports"]:
        if port in (declared["containerPort"], declared.get("name")):
            number: int = declared["containerPort"]
            return number
    raise AssertionError(f"the container declares no port {port!r}")


def env_value(container: dict[str, Any], name: str) -> str:
    for variable in container.get("env", []):
        if variable["name"] == name:
            value: str = variable["value"]
            return value
    raise AssertionError(f"the container sets no {name}")


def secrets_example_names() -> set[str]:
    lines = SECRETS_EXAMPLE.read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


@pytest.mark.parametrize("path", manifest_files(), ids=lambda path: path.name)
def test_every_manifest_parses_and_names_its_kind(path: Path) -> None:
    documents = [document for document in yaml.safe_load_all(path.read_text()) if document]
    assert documents
    for document in documents:
        assert document.get("apiVersion")
        assert document.get("kind")
        assert document.get("metadata", {}).get("name")


def test_kustomization_lists_every_manifest_and_nothing_missing() -> None:
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text())
    listed = set(kustomization["resources"])
    assert listed == {path.name for path in manifest_files()}


def test_secrets_come_from_the_generator_the_workloads_refer_to() -> None:
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text())
    (generator,) = kustomization["secretGenerator"]
    for workload in (one("Deployment"), one("Job")):
        for container in pod_spec(workload)["containers"]:
            secret_names = {
                source["secretRef"]["name"]
                for source in container["envFrom"]
                if "secretRef" in source
            }
            assert secret_names == {generator["name"]}
    # No Secret with placeholder values is shipped (the app would take a placeholder key).
    assert all(manifest["kind"] != "Secret" for manifest in load_manifests())


def test_workloads_read_the_shipped_configmap() -> None:
    config_name = one("ConfigMap")["metadata"]["name"]
    for workload in (one("Deployment"), one("Job")):
        for container in pod_spec(workload)["containers"]:
            references = [
                s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s
            ]
            assert references == [config_name]


def test_deployment_selects_its_own_pods() -> None:
    deployment = one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert matches(deployment["spec"]["selector"]["matchLabels"], labels)


def test_service_sends_to_the_pods_on_the_port_the_server_listens_on() -> None:
    service, deployment = one("Service"), one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert matches(service["spec"]["selector"], labels)
    container = api_container()
    (port,) = service["spec"]["ports"]
    assert container_port(container, port["targetPort"]) == int(env_value(container, "PORT"))


def test_disruption_budget_covers_the_api_pods() -> None:
    labels = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    budget = one("PodDisruptionBudget")
    assert matches(budget["spec"]["selector"]["matchLabels"], labels)
    # A budget that allows no disruption would block every node drain.
    assert budget["spec"].get("maxUnavailable", 1) >= 1


def test_autoscaler_scales_the_deployment_on_cpu() -> None:
    autoscaler, deployment = one("HorizontalPodAutoscaler"), one("Deployment")
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    target = autoscaler["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert [metric["resource"]["name"] for metric in autoscaler["spec"]["metrics"]] == ["cpu"]
    spec = autoscaler["spec"]
    assert 1 < spec["minReplicas"] <= deployment["spec"]["replicas"] <= spec["maxReplicas"]


@pytest.mark.parametrize(
    ("probe", "view"),
    [("readinessProbe", "readyz"), ("livenessProbe", "healthz"), ("startupProbe", "healthz")],
)
def test_probes_ask_the_apps_health_views_on_the_container_port(probe: str, view: str) -> None:
    container = api_container()
    request = container[probe]["httpGet"]
    assert resolve(request["path"]).url_name == view
    assert container_port(container, request["port"]) == int(env_value(container, "PORT"))
    # The kubelet's default Host is the pod's address, which ALLOWED_HOSTS does not list.
    (host,) = [h["value"] for h in request.get("httpHeaders", []) if h["name"] == "Host"]
    allowed = one("ConfigMap")["data"]["ALLOWED_HOSTS"].split(",")
    assert host in allowed


def test_every_container_asks_for_resources_and_is_limited() -> None:
    for workload in (one("Deployment"), one("Job")):
        for container in pod_spec(workload)["containers"]:
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[bound]), (container["name"], bound)


def test_pods_run_as_the_images_user_on_a_read_only_root_with_a_writable_tmp() -> None:
    dockerfile_user = re.search(r"^USER (\d+):(\d+)$", (REPO / "Dockerfile").read_text(), re.M)
    assert dockerfile_user is not None
    for workload in (one("Deployment"), one("Job")):
        spec = pod_spec(workload)
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True
        assert (str(context["runAsUser"]), str(context["runAsGroup"])) == dockerfile_user.groups()
        empty_dirs = {volume["name"] for volume in spec["volumes"] if "emptyDir" in volume}
        for container in spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]  # noqa: S108
            assert tmp["name"] in empty_dirs


def test_termination_waits_for_the_prestop_sleep_and_the_servers_graceful_shutdown() -> None:
    spec = pod_spec(one("Deployment"))
    command = api_container()["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    graceful_timeout = server_setting("GRACEFUL_TIMEOUT_SECONDS")
    assert isinstance(graceful_timeout, int)
    assert spec["terminationGracePeriodSeconds"] > int(command[1]) + graceful_timeout


def test_pods_hand_a_dead_workers_queued_connections_to_the_other_workers() -> None:
    sysctls = pod_spec(one("Deployment"))["securityContext"]["sysctls"]
    assert {"name": "net.ipv4.tcp_migrate_req", "value": "1"} in sysctls


def test_pods_spread_over_nodes() -> None:
    spec = pod_spec(one("Deployment"))
    labels = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    keys = {
        constraint["topologyKey"]
        for constraint in spec["topologySpreadConstraints"]
        if matches(constraint["labelSelector"]["matchLabels"], labels)
    }
    assert "kubernetes.io/hostname" in keys


def test_migration_job_runs_migrate_with_the_deployments_image_and_settings() -> None:
    job_container = pod_spec(one("Job"))["containers"][0]
    container = api_container()
    assert job_container["image"] == container["image"]
    assert job_container["envFrom"] == container["envFrom"]
    assert job_container["command"][-3:] == ["manage.py", "migrate", "--noinput"]
    assert pod_spec(one("Job"))["restartPolicy"] == "Never"


def test_every_environment_variable_set_is_one_the_app_reads() -> None:
    names = set(one("ConfigMap")["data"]) | secrets_example_names()
    for workload in (one("Deployment"), one("Job")):
        for container in pod_spec(workload)["containers"]:
            names |= {variable["name"] for variable in container.get("env", [])}
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PORT"} <= names
    assert names - names_read_by_app() == set()
