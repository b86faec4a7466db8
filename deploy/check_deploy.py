#!/usr/bin/env python3
"""Static checks of deploy/: syntax, and the architecture invariants the files must keep.

Run by deploy/validate.sh (which also runs the external linters); stdlib + PyYAML only.
Usage: check_deploy.py [RENDERED_KUBERNETES_YAML]
"""

import pathlib
import re
import sys
import tomllib

import yaml

DEPLOY = pathlib.Path(__file__).resolve().parent
SERVICES = {"screening": 50051, "referral": 50052, "safe-space": 50053, "monitoring": 50054}
CONFIG_KEYS = {
    "listen", "data_dir", "case_log", "telemetry", "concurrency_limit", "read_patience_ms",
    "grace_period_ms", "projection_batch", "deadline_check_interval_ms", "options", "auth",
}
CASE_LOG_KEYS = {
    "url", "stream", "replicas", "duplicate_window_secs", "user", "password", "request_timeout_ms",
}
TELEMETRY_KEYS = {"filter", "format", "otlp_endpoint"}
GATEWAY_KEYS = {
    "listen", "public_url", "upstreams", "upstream_timeout_ms", "max_body_bytes", "issuer", "pdnd", "telemetry",
}

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def env_name(service):
    return service.upper().replace("-", "_")


def yaml_files():
    return sorted(p for p in DEPLOY.rglob("*.yaml") if "local" not in p.parts)


def main():
    # 1. every YAML file parses
    documents = {}
    for path in yaml_files():
        try:
            documents[path] = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as error:
            failures.append(f"{path.relative_to(DEPLOY)}: {error}")

    # 2. NATS: sync always on every configuration; the project's one permissions file
    local_permissions = (DEPLOY / "local/nats-permissions.conf").read_text()
    for flavour in ("compose", "kubernetes"):
        conf = (DEPLOY / flavour / "nats" / "nats.conf").read_text()
        check(re.search(r"^\s*sync_interval:\s*always\s*$", conf, re.M),
              f"{flavour}/nats/nats.conf: jetstream sync_interval is not always (invariant 3)")
        check('include "nats-permissions.conf"' in conf, f"{flavour}/nats/nats.conf: does not include nats-permissions.conf")
    check((DEPLOY / "kubernetes/nats/nats-permissions.conf").read_text() == local_permissions,
          "kubernetes/nats/nats-permissions.conf differs from local/nats-permissions.conf: copy it again")
    # each service publishes on its own subjects only, and nobody deletes or purges the case log
    # (invariants 2, 9)
    users = re.findall(r"user:\s*([a-z-]+)\s*\n\s*password:\s*\$([A-Z_]+)(.*?)subscribe", local_permissions, re.S)
    check(sorted(u for u, _, _ in users) == sorted(SERVICES), f"nats-permissions.conf users: {[u for u, _, _ in users]}")
    forbidden = re.compile(r"^(>|\$JS\.API\.>|\$JS\.API\.STREAM\.>|\$JS\.API\.STREAM\.(DELETE|PURGE)\..*"
                           r"|\$JS\.API\.STREAM\.MSG\.DELETE\.(APPRODO_CASE_LOG|\*|>))$")
    for user, password_var, permissions in users:
        check(password_var == f"APPRODO_NATS_{env_name(user)}_PASSWORD", f"nats-permissions.conf: {user} reads ${password_var}")
        allow_block = re.search(r"allow:\s*\[(.*?)\]", permissions, re.S)
        deny_block = re.search(r"deny:\s*\[(.*?)\]", permissions, re.S)
        subjects = re.findall(r'"([^"]+)"', allow_block.group(1)) if allow_block else []
        denied = re.findall(r'"([^"]+)"', deny_block.group(1)) if deny_block else []
        for subject in subjects:
            if subject.startswith("approdo."):
                check(subject.split(".")[3] == user, f"nats-permissions.conf: {user} may publish on {subject}")
            check(not forbidden.match(subject), f"nats-permissions.conf: {user} may publish on {subject}")
        for subject in ("$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>"):
            check(subject in denied, f"nats-permissions.conf: {user} does not deny {subject}")
        for kind in ("case", "facility", "organisation"):
            check(f"approdo.{kind}.*.{user}" in subjects, f"nats-permissions.conf: {user} cannot publish approdo.{kind}.*.{user}")
        check("$JS.API.CONSUMER.DELETE.>" in denied, f"nats-permissions.conf: {user} may delete consumers")
    # each user reads replies on its own inbox prefix only (CaseLog::connect sets it from the user)
    for user, inbox in re.findall(r"user:\s*([a-z-]+)\s*\n.*?subscribe:\s*\{\s*allow:\s*\[([^\]]*)\]", local_permissions, re.S):
        allowed = re.findall(r'"([^"]+)"', inbox)
        check(allowed == [f"_INBOX_{env_name(user)}.>"], f"nats-permissions.conf: {user} subscribes to {allowed}")

    # 3. services' TOML (Kubernetes): known keys, 3 replicas, own user, no password in the file
    grace_ms = {}
    for service, port in SERVICES.items():
        path = DEPLOY / "kubernetes/approdo/config" / f"{service}.toml"
        config = tomllib.loads(path.read_text())
        check(set(config) <= CONFIG_KEYS, f"{path.name}: unknown keys {set(config) - CONFIG_KEYS}")
        check(set(config["case_log"]) <= CASE_LOG_KEYS, f"{path.name}: unknown case_log keys")
        check(set(config["telemetry"]) <= TELEMETRY_KEYS, f"{path.name}: unknown telemetry keys")
        check(config["listen"] == f"0.0.0.0:{port}", f"{path.name}: listen {config['listen']}")
        check(config["data_dir"] == "/data", f"{path.name}: data_dir {config['data_dir']}")
        check(config["case_log"]["replicas"] == 3, f"{path.name}: case_log.replicas is not 3 (invariant 3)")
        check(config["case_log"]["user"] == service, f"{path.name}: case_log.user is not {service}")
        check("password" not in config["case_log"], f"{path.name}: a password in a ConfigMap")
        issuers = config.get("auth", {}).get("issuers", [])
        has_key = lambda i: "jwks_file" in i or any(
            "kid" in k and ("public_key" in k or "public_key_file" in k) for k in i.get("keys", []))
        check(issuers and all("issuer" in i and has_key(i) for i in issuers),
              f"{path.name}: no token issuer with a public key and its kid ([auth] issuers)")
        grace_ms[service] = config.get("grace_period_ms", 10_000)

    # 4. compose: 3 NATS nodes of one image, every service with its own user, 3 replicas, data volume
    compose = documents[DEPLOY / "compose/compose.yaml"][0]
    nats_nodes = [name for name in compose["services"] if name.startswith("nats-")]
    check(len(nats_nodes) == 3, f"compose: {len(nats_nodes)} NATS nodes")
    for node in nats_nodes:
        volumes = compose["services"][node].get("volumes", [])
        check("../local/nats-permissions.conf:/etc/nats/nats-permissions.conf:ro" in volumes,
              f"compose {node}: does not mount local/nats-permissions.conf")
    for service, port in SERVICES.items():
        spec = compose["services"][service]
        env = spec["environment"]
        prefix = f"APPRODO_{env_name(service)}__"
        check(env.get(prefix + "CASE_LOG__REPLICAS") == "3", f"compose {service}: replicas")
        check(env.get(prefix + "CASE_LOG__USER") == service, f"compose {service}: user")
        check(f"APPRODO_NATS_{env_name(service)}_PASSWORD" in env.get(prefix + "CASE_LOG__PASSWORD", ""),
              f"compose {service}: password variable")
        check("APPRODO_TOKEN_ISSUERS" in env.get(prefix + "AUTH__ISSUERS", ""), f"compose {service}: token issuers")
        check(env.get(prefix + "LISTEN") == f"0.0.0.0:{port}", f"compose {service}: listen")
        check(env.get(prefix + "DATA_DIR") == "/data", f"compose {service}: data_dir")
        check(any(str(v).endswith(":/data") for v in spec.get("volumes", [])), f"compose {service}: no /data volume")
        check(spec["command"] == [service], f"compose {service}: command {spec['command']}")
        check(spec.get("read_only") is True, f"compose {service}: root filesystem writable")
        stop = int(str(spec["stop_grace_period"]).rstrip("s"))
        check(stop * 1000 > int(env.get(prefix + "GRACE_PERIOD_MS", 10_000)), f"compose {service}: stop_grace_period")
        check(all(not str(p).startswith(f"{port}:") for p in spec.get("ports", [])),
              f"compose {service}: port published on every interface")

    # 5. Kubernetes: every object named; every pod non-root, read-only root, probes as promised
    rendered = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else None
    k8s_docs = []
    if rendered:
        k8s_docs = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
    else:
        for path, docs in documents.items():
            if "kubernetes" in path.parts and path.name != "kustomization.yaml":
                k8s_docs.extend(docs)
    for doc in k8s_docs:
        check(doc.get("apiVersion") and doc.get("kind") and doc.get("metadata", {}).get("name"),
              f"kubernetes object without apiVersion/kind/metadata.name: {str(doc)[:80]}")
    kinds = {(d["kind"], d["metadata"]["name"]) for d in k8s_docs}
    for kind, name in [("Namespace", "approdo"), ("Secret", "approdo-nats-passwords"), ("StatefulSet", "nats"),
                       ("PodDisruptionBudget", "nats"), ("Service", "nats"), ("Service", "nats-headless")]:
        check((kind, name) in kinds, f"kubernetes: no {kind} {name}")
    for doc in k8s_docs:
        if doc["kind"] != "StatefulSet":
            continue
        name = doc["metadata"]["name"]
        pod = doc["spec"]["template"]["spec"]
        check(pod.get("securityContext", {}).get("runAsNonRoot") is True, f"{name}: runAsNonRoot")
        for container in pod.get("initContainers", []) + pod["containers"]:
            sc = container.get("securityContext", {})
            check(sc.get("readOnlyRootFilesystem") is True, f"{name}/{container['name']}: readOnlyRootFilesystem")
            check(sc.get("allowPrivilegeEscalation") is False, f"{name}/{container['name']}: allowPrivilegeEscalation")
            check("resources" in container, f"{name}/{container['name']}: no resources")
        mounts = {m["mountPath"] for m in pod["containers"][0].get("volumeMounts", [])}
        check("/data" in mounts, f"{name}: no writable /data")
        claims = [c["metadata"]["name"] for c in doc["spec"].get("volumeClaimTemplates", [])]
        check("data" in claims, f"{name}: no data volume claim")
        if name == "nats":
            check(doc["spec"]["replicas"] == 3, "nats: replicas is not 3")
            continue
        check(name in SERVICES, f"unexpected StatefulSet {name}")
        if name not in SERVICES:
            continue
        container = pod["containers"][0]
        port = SERVICES[name]
        check(container["readinessProbe"].get("grpc", {}).get("port") == port,
              f"{name}: readiness is not the gRPC health on {port}")
        check("livenessProbe" in container, f"{name}: no liveness probe")
        check(container["command"][0] == name, f"{name}: command {container['command']}")
        pre_stop = 5 if "preStop" in container.get("lifecycle", {}) else 0
        check(pod["terminationGracePeriodSeconds"] * 1000 > grace_ms[name] + pre_stop * 1000,
              f"{name}: terminationGracePeriodSeconds not above grace_period_ms + preStop")
        env = {e["name"]: e for e in container.get("env", [])}
        secret = env.get(f"APPRODO_{env_name(name)}__CASE_LOG__PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef", {})
        check(secret.get("key") == f"APPRODO_NATS_{env_name(name)}_PASSWORD", f"{name}: password not from its Secret key")
        check(("PodDisruptionBudget", name) in kinds, f"{name}: no PodDisruptionBudget")
        check(("Service", name) in kinds, f"{name}: no Service")
    check(len([d for d in k8s_docs if d["kind"] == "StatefulSet"]) == 5, "kubernetes: expected 5 StatefulSets")

    # 6. the REST gateway: stateless (a Deployment), hardened, probed on /healthz, behind the
    # services by name; its configuration's keys known, the audit digest required
    gateways = [d for d in k8s_docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "gateway"]
    check(len(gateways) == 1, "kubernetes: no Deployment gateway")
    for doc in gateways:
        pod = doc["spec"]["template"]["spec"]
        check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "gateway: runAsNonRoot")
        container = pod["containers"][0]
        sc = container.get("securityContext", {})
        check(sc.get("readOnlyRootFilesystem") is True, "gateway: readOnlyRootFilesystem")
        check(sc.get("allowPrivilegeEscalation") is False, "gateway: allowPrivilegeEscalation")
        check("resources" in container, "gateway: no resources")
        check(container["command"][0] == "gateway", f"gateway: command {container['command']}")
        probe = container.get("readinessProbe", {}).get("httpGet", {})
        check(probe.get("path") == "/healthz" and probe.get("port") == 8080, "gateway: readiness is not /healthz on 8080")
    for kind in ("Service", "PodDisruptionBudget"):
        check((kind, "gateway") in kinds, f"gateway: no {kind}")
    for flavour, path in (("kubernetes", "kubernetes/approdo/config/gateway.toml"), ("compose", "compose/gateway.toml")):
        config = tomllib.loads((DEPLOY / path).read_text())
        check(set(config) <= GATEWAY_KEYS, f"{flavour} gateway.toml: unknown keys {set(config) - GATEWAY_KEYS}")
        check(config["listen"] == "0.0.0.0:8080", f"{flavour} gateway.toml: listen {config['listen']}")
        check(set(config["upstreams"]) == {"screening", "referral", "safe_space", "monitoring"},
              f"{flavour} gateway.toml: upstreams {set(config['upstreams'])}")
        check(config["pdnd"].get("tracking_digest_required", True) is True, f"{flavour} gateway.toml: AUDIT_REST_02 off")
        check(str(config["issuer"].get("seed_file", "")).startswith(("/etc/approdo/issuer/", "/run/secrets/")),
              f"{flavour} gateway.toml: the issuer seed is not read from a secret")
    gateway = compose["services"]["gateway"]
    check(gateway["command"][0] == "gateway", "compose gateway: command")
    check(gateway.get("read_only") is True, "compose gateway: root filesystem writable")
    check(all(str(p).startswith("127.0.0.1:") for p in gateway.get("ports", [])), "compose gateway: port published on every interface")

    if failures:
        for failure in failures:
            print(f"FAIL {failure}")
        print(f"check_deploy: {len(failures)} failed")
        return 1
    print(f"check_deploy: {len(yaml_files())} YAML files, {len(k8s_docs)} Kubernetes objects, all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
