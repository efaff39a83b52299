#!/usr/bin/python3
"""Static checks of Genloom's deployment files under infra/.

    /usr/bin/python3 infra/check.py [--no-tools]

Checks, without a container engine or a cluster:
  - every YAML document under infra/k8s: apiVersion, kind, metadata.name; the worker Deployment
    (GPU limit, gRPC readiness/liveness probes on the gRPC port, terminationGracePeriodSeconds
    above --drain-seconds, non-root, Secrets mounted as files for --auth-token-file/--tls-*,
    models volume, Prometheus annotations), the headless Service, the PodDisruptionBudget, the
    HorizontalPodAutoscaler on genloom_queue_depth, the Prometheus adapter rule, the example
    Secrets, kustomization.yaml and its components;
  - infra/dataflow/metadata.json (every parameter has name, label, helpText, isOptional) against
    GeneratePipelineOptions.java, read from source; infra/dataflow/build_and_run.sh;
  - the Dockerfiles: FROM, a non-root USER in the final stage, HEALTHCHECK in worker images, no
    remote ADD or download without a checksum, COPY sources present and not excluded by the
    Dockerfile's .dockerignore, DJL settings consistent with pom.xml and the pytorch-jni jar.
With the tools present (skip them with --no-tools): `kubectl kustomize` renders the base and every
component combination and the Deployment checks run again on the output; `dockerfile-utils lint`
(npm package dockerfile-utils) parses the Dockerfiles; shellcheck checks the shell scripts.

Exit status: 0 when no ERROR was found, 1 otherwise, 2 when PyYAML is missing.
"""

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        "check.py: PyYAML is missing. Debian/Ubuntu: apt-get install -y python3-yaml\n"
    )
    sys.exit(2)

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
DATAFLOW = INFRA / "dataflow"
WORKER_DOCKER = INFRA / "docker" / "worker"
OPTIONS_JAVA = ROOT / "pipelines/src/main/java/dev/genloom/pipelines/GeneratePipelineOptions.java"
MAIN_CLASS = "dev.genloom.pipelines.GeneratePipeline"
SERVICE = "genloom.v1.GenerationService"
QUEUE_METRIC = "genloom_queue_depth"
# Defaults of `genloom worker` (cli/src/main/java/dev/genloom/cli/WorkerCommand.java).
WORKER_DEFAULTS = {"port": "50051", "metrics-port": "9464", "drain-seconds": "60"}


class Report:
    def __init__(self):
        self.errors = []
        self.warnings = []
        self.passed = 0
        self.notes = []

    def check(self, ok, where, message):
        """Counts a passed check, or records an error; returns ok."""
        if ok:
            self.passed += 1
        else:
            self.errors.append(f"{where}: {message}")
        return ok

    def error(self, where, message):
        self.errors.append(f"{where}: {message}")

    def warn(self, where, message):
        self.warnings.append(f"{where}: {message}")

    def note(self, message):
        self.notes.append(message)
        print(f"  {message}")


def rel(path):
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Kubernetes


def load_yaml_docs(path, report):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        report.error(rel(path), f"YAML does not parse: {e}")
        return []


def parse_args(args):
    """`--name=value` / `--name value` flags of a container's args into a dict (lists kept)."""
    flags = {}
    i = 0
    args = [str(a) for a in (args or [])]
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if "=" in a:
                name, value = a[2:].split("=", 1)
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                name, value = a[2:], args[i + 1]
                i += 1
            else:
                name, value = a[2:], ""
            flags.setdefault(name, []).append(value)
        i += 1
    return flags


def flag(flags, name):
    values = flags.get(name)
    if values:
        return values[-1]
    return WORKER_DEFAULTS.get(name)


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def probe_handlers(probe):
    return [h for h in ("grpc", "exec", "httpGet", "tcpSocket") if h in (probe or {})]


def exec_probe_args(command):
    """The flags of a grpc_health_probe exec command, or None if it is not one."""
    if not command or "grpc_health_probe" not in str(command[0]):
        return None
    out = {}
    for a in command[1:]:
        a = str(a)
        if a.startswith("-"):
            name, _, value = a.lstrip("-").partition("=")
            out[name] = value
    return out


def check_probe(report, where, kind, probe, port, service, tls):
    """kind: readiness (service must be SERVICE) or liveness/startup (overall health)."""
    handlers = probe_handlers(probe)
    if not report.check(
        len(handlers) == 1, where, f"{kind}Probe needs exactly one handler, has {handlers}"
    ):
        return
    expected = SERVICE if service else ""
    if handlers[0] == "grpc":
        g = probe["grpc"]
        report.check(
            not tls,
            where,
            f"{kind}Probe uses the kubelet's gRPC probe, which dials plaintext, but the worker "
            "serves TLS (--tls-cert); use an exec probe with grpc_health_probe -tls",
        )
        report.check(
            str(g.get("port")) == str(port),
            where,
            f"{kind}Probe.grpc.port {g.get('port')} is not the worker's gRPC port {port}",
        )
        report.check(
            (g.get("service") or "") == expected,
            where,
            f"{kind}Probe.grpc.service is {g.get('service')!r}, expected {expected!r}"
            + ("" if service else " (overall health)"),
        )
    elif handlers[0] == "exec":
        a = exec_probe_args(probe["exec"].get("command"))
        if not report.check(
            a is not None, where, f"{kind}Probe exec command is not grpc_health_probe"
        ):
            return
        report.check(
            a.get("addr", "").rsplit(":", 1)[-1] == str(port),
            where,
            f"{kind}Probe grpc_health_probe -addr {a.get('addr')!r} is not on port {port}",
        )
        report.check(
            a.get("service", "") == expected,
            where,
            f"{kind}Probe grpc_health_probe -service is {a.get('service', '')!r}, expected {expected!r}",
        )
        report.check(
            ("tls" in a) == bool(tls),
            where,
            f"{kind}Probe grpc_health_probe -tls must be given exactly when the worker serves TLS",
        )
    else:
        report.error(where, f"{kind}Probe uses {handlers[0]}; use the gRPC health protocol")


def check_deployment(report, dep, where, expect):
    """expect: dict(token=bool, models_volume=bool, tls=bool|None, gpu=bool)."""
    name = dep.get("metadata", {}).get("name")
    where = f"{where}: Deployment/{name}"
    spec = dep.get("spec") or {}
    template = spec.get("template") or {}
    pod = template.get("spec") or {}
    containers = pod.get("containers") or []
    if not report.check(bool(containers), where, "no containers"):
        return
    worker = next(
        (c for c in containers if "worker" in [str(a) for a in c.get("args") or []]), None
    )
    if not report.check(
        worker is not None,
        where,
        "no container runs `genloom worker` (args must start with worker)",
    ):
        return
    cwhere = f"{where} container {worker.get('name')}"
    flags = parse_args(worker.get("args"))
    port = flag(flags, "port")
    metrics_port = flag(flags, "metrics-port")
    tls = "tls-cert" in flags
    if expect.get("tls") is not None:
        report.check(
            tls == expect["tls"],
            cwhere,
            f"--tls-cert {'expected' if expect['tls'] else 'not expected'}",
        )
    report.check(
        ("tls-cert" in flags) == ("tls-key" in flags),
        cwhere,
        "--tls-cert and --tls-key go together",
    )

    ports = {p.get("name"): p for p in worker.get("ports") or []}
    report.check(
        "grpc" in ports and str(ports["grpc"].get("containerPort")) == str(port),
        cwhere,
        f"a containerPort named grpc must be the worker's --port {port}",
    )
    if metrics_port != "-1":
        report.check(
            "metrics" in ports and str(ports["metrics"].get("containerPort")) == str(metrics_port),
            cwhere,
            f"a containerPort named metrics must be the worker's --metrics-port {metrics_port}",
        )

    # GPU
    resources = worker.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    gpus = limits.get("nvidia.com/gpu")
    device = flag(flags, "device") or "cpu"
    if expect.get("gpu", True):
        if report.check(gpus is not None, cwhere, "resources.limits lacks nvidia.com/gpu"):
            report.check(int(gpus) >= 1, cwhere, "nvidia.com/gpu limit must be at least 1")
            if "nvidia.com/gpu" in requests:
                report.check(
                    str(requests["nvidia.com/gpu"]) == str(gpus),
                    cwhere,
                    "nvidia.com/gpu request and limit must be equal",
                )
            report.check(
                device.startswith("gpu:"), cwhere, f"a GPU is requested but --device is {device}"
            )
            m = re.fullmatch(r"gpu:(\d+)", device)
            if m:
                report.check(
                    int(m.group(1)) < int(gpus),
                    cwhere,
                    f"--device {device} is not among the {gpus} GPU(s) the pod gets",
                )
    report.check("memory" in limits, cwhere, "resources.limits.memory is not set")

    # Probes
    for kind, service in (("readiness", True), ("liveness", False)):
        probe = worker.get(f"{kind}Probe")
        if report.check(probe is not None, cwhere, f"no {kind}Probe"):
            check_probe(report, cwhere, kind, probe, port, service, tls)
    if worker.get("startupProbe") is not None:
        check_probe(report, cwhere, "startup", worker["startupProbe"], port, False, tls)
    else:
        report.warn(
            cwhere,
            "no startupProbe: health is NOT_SERVING while models load, so the liveness probe may "
            "restart a worker that is still loading",
        )

    # Drain
    drain = int(flag(flags, "drain-seconds"))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    report.check(
        int(grace) > drain,
        where,
        f"terminationGracePeriodSeconds {grace} must exceed --drain-seconds {drain}",
    )
    if int(grace) > drain and int(grace) - drain < 10:
        report.warn(where, f"only {int(grace) - drain} s between the drain and SIGKILL")
    if (worker.get("lifecycle") or {}).get("preStop"):
        report.warn(cwhere, "a preStop hook delays the SIGTERM drain and uses up the grace period")

    # Security
    psc = pod.get("securityContext") or {}
    csc = worker.get("securityContext") or {}
    report.check(
        csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True,
        cwhere,
        "runAsNonRoot: true is not set (pod or container securityContext)",
    )
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    report.check(uid is None or int(uid) != 0, cwhere, "runAsUser must not be 0")
    if csc.get("allowPrivilegeEscalation") is not False:
        report.warn(cwhere, "allowPrivilegeEscalation: false is not set")

    # Volumes: Secrets as files, models, /tmp
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    mounts = worker.get("volumeMounts") or []

    def volume_for(path):
        best = None
        for m in mounts:
            mp = m.get("mountPath", "").rstrip("/")
            if path == mp or path.startswith(mp + "/"):
                if best is None or len(mp) > len(best.get("mountPath", "")):
                    best = m
        return best, (volumes.get(best.get("name")) if best else None)

    secret_flags = ["auth-token-file", "tls-cert", "tls-key", "tls-client-ca"]
    for f in secret_flags:
        if f not in flags:
            continue
        path = flag(flags, f)
        mount, vol = volume_for(path)
        if report.check(
            vol is not None and "secret" in vol,
            cwhere,
            f"--{f}={path} is not inside a Secret volume",
        ):
            item_paths = [i.get("path") for i in vol["secret"].get("items") or []]
            inner = path[len(mount["mountPath"].rstrip("/")) + 1 :]
            report.check(
                not item_paths or inner in item_paths,
                cwhere,
                f"--{f}={path}: the Secret volume {vol.get('name')} has no item {inner!r}",
            )
            report.check(
                mount.get("readOnly") is True, cwhere, f"the mount for --{f} is not readOnly"
            )
    if expect.get("token", True):
        report.check(
            "auth-token-file" in flags, cwhere, "--auth-token-file (the token Secret) is not set"
        )
    models = flag(flags, "models")
    report.check(models is not None, cwhere, "--models is not set")
    if models and expect.get("models_volume", True):
        mount, vol = volume_for(models)
        report.check(vol is not None, cwhere, f"--models={models} is not on a mounted volume")
        if mount is not None:
            report.check(mount.get("readOnly") is True, cwhere, "the models mount is not readOnly")
    if csc.get("readOnlyRootFilesystem"):
        report.check(
            volume_for("/tmp/x")[1] is not None,
            cwhere,
            "readOnlyRootFilesystem needs a writable volume at /tmp (JVM and image encoding)",
        )

    # Metrics annotations
    ann = (template.get("metadata") or {}).get("annotations") or {}
    if metrics_port != "-1":
        report.check(
            str(ann.get("prometheus.io/scrape")) == "true",
            where,
            'pod template lacks the annotation prometheus.io/scrape: "true"',
        )
        report.check(
            str(ann.get("prometheus.io/port")) == str(metrics_port),
            where,
            f"annotation prometheus.io/port must be the --metrics-port {metrics_port}",
        )

    image = str(worker.get("image", ""))
    last = image.rsplit("/", 1)[-1]
    if "@" not in image and (":" not in last or last.endswith(":latest")):
        report.warn(cwhere, f"image {image!r} has no fixed tag")


def check_k8s_objects(report, objects, where_of):
    """Cross-object checks over the documents of infra/k8s (or a rendered kustomization)."""
    deployments = [o for o in objects if o.get("kind") == "Deployment"]
    services = [o for o in objects if o.get("kind") == "Service"]
    pdbs = [o for o in objects if o.get("kind") == "PodDisruptionBudget"]
    hpas = [o for o in objects if o.get("kind") == "HorizontalPodAutoscaler"]
    dep = next((d for d in deployments if d["metadata"].get("name") == "genloom-worker"), None)
    if not report.check(dep is not None, "infra/k8s", "no Deployment genloom-worker"):
        return
    pod_labels = ((dep["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    report.check(
        labels_match((dep["spec"].get("selector") or {}).get("matchLabels"), pod_labels),
        where_of(dep),
        "Deployment selector does not match its pod labels",
    )
    flags = parse_args(
        next(
            (c.get("args") for c in dep["spec"]["template"]["spec"]["containers"] if c.get("args")),
            [],
        )
    )
    port = flag(flags, "port")

    headless = [
        s
        for s in services
        if (s.get("spec") or {}).get("clusterIP") == "None"
        and labels_match((s.get("spec") or {}).get("selector"), pod_labels)
    ]
    if report.check(
        bool(headless), "infra/k8s", "no headless Service (clusterIP: None) selects the worker pods"
    ):
        for s in headless:
            sp = s["spec"]
            report.check(
                any(
                    str(p.get("port")) == str(port)
                    and str(p.get("targetPort", p.get("port"))) in (str(port), "grpc")
                    for p in sp.get("ports") or []
                ),
                where_of(s),
                f"Service/{s['metadata']['name']} does not expose the gRPC port {port}",
            )
            if sp.get("publishNotReadyAddresses"):
                report.warn(
                    where_of(s), "publishNotReadyAddresses sends clients to unready workers"
                )

    if report.check(bool(pdbs), "infra/k8s", "no PodDisruptionBudget"):
        for p in pdbs:
            ps = p.get("spec") or {}
            report.check(
                p.get("apiVersion") == "policy/v1",
                where_of(p),
                "PodDisruptionBudget must be policy/v1",
            )
            report.check(
                labels_match((ps.get("selector") or {}).get("matchLabels"), pod_labels),
                where_of(p),
                "PodDisruptionBudget selector does not match the worker pods",
            )
            report.check(
                ("minAvailable" in ps) != ("maxUnavailable" in ps),
                where_of(p),
                "PodDisruptionBudget needs exactly one of minAvailable and maxUnavailable",
            )

    if report.check(bool(hpas), "infra/k8s", "no HorizontalPodAutoscaler"):
        for h in hpas:
            hs = h.get("spec") or {}
            w = where_of(h)
            report.check(h.get("apiVersion") == "autoscaling/v2", w, "HPA must be autoscaling/v2")
            ref = hs.get("scaleTargetRef") or {}
            report.check(
                ref.get("kind") == "Deployment" and ref.get("name") == "genloom-worker",
                w,
                "HPA scaleTargetRef must be Deployment/genloom-worker",
            )
            pods_metrics = [
                m
                for m in hs.get("metrics") or []
                if m.get("type") == "Pods"
                and ((m.get("pods") or {}).get("metric") or {}).get("name") == QUEUE_METRIC
            ]
            if report.check(bool(pods_metrics), w, f"HPA has no Pods metric named {QUEUE_METRIC}"):
                target = pods_metrics[0]["pods"].get("target") or {}
                report.check(
                    target.get("type") == "AverageValue" and "averageValue" in target,
                    w,
                    "the Pods metric target must be an AverageValue",
                )
            mn, mx = hs.get("minReplicas", 1), hs.get("maxReplicas")
            report.check(
                mx is not None and 1 <= int(mn) <= int(mx),
                w,
                "need 1 <= minReplicas <= maxReplicas",
            )
            for p in pdbs:
                if (
                    "minAvailable" in (p.get("spec") or {})
                    and str(p["spec"]["minAvailable"]).isdigit()
                ):
                    if int(p["spec"]["minAvailable"]) >= int(mn):
                        report.warn(
                            where_of(p),
                            "minAvailable >= the HPA's minReplicas blocks every voluntary eviction",
                        )
        if "replicas" in dep["spec"]:
            report.warn(
                where_of(dep),
                "spec.replicas is set although an HPA owns the count (apply resets it)",
            )


def check_adapter_rules(report, cm, where):
    config = (cm.get("data") or {}).get("config.yaml")
    if not report.check(config is not None, where, "adapter ConfigMap has no data.config.yaml"):
        return
    try:
        rules = (yaml.safe_load(config) or {}).get("rules") or []
    except yaml.YAMLError as e:
        report.error(where, f"config.yaml does not parse: {e}")
        return
    found = False
    for r in rules:
        name = (r.get("name") or {}).get("as")
        if name == QUEUE_METRIC or (name is None and QUEUE_METRIC in str(r.get("seriesQuery"))):
            found = True
            overrides = (r.get("resources") or {}).get("overrides") or {}
            report.check(
                (overrides.get("namespace") or {}).get("resource") == "namespace"
                and (overrides.get("pod") or {}).get("resource") == "pod",
                where,
                "the rule must map the namespace and pod labels to resources (a Pods metric)",
            )
            report.check(
                QUEUE_METRIC in str(r.get("seriesQuery")) and "metricsQuery" in r,
                where,
                f"the rule needs a seriesQuery on {QUEUE_METRIC} and a metricsQuery",
            )
    report.check(found, where, f"no adapter rule exposes {QUEUE_METRIC}")


def check_secret_example(report, s, where):
    meta = s.get("metadata") or {}
    data = dict(s.get("stringData") or {})
    data.update(s.get("data") or {})
    placeholder = (meta.get("annotations") or {}).get("genloom.dev/placeholder") == "true" or any(
        "PLACEHOLDER" in str(v) for v in data.values()
    )
    report.check(
        placeholder,
        where,
        f"Secret/{meta.get('name')} holds what looks like real data; keep example Secrets marked "
        'PLACEHOLDER (annotation genloom.dev/placeholder: "true")',
    )
    report.check(
        where.endswith(".example.yaml"),
        where,
        "placeholder Secrets belong in a *.example.yaml file",
    )
    return meta.get("name"), set(data)


def kustomize_resources(report, kfile):
    k = load_yaml_docs(kfile, report)
    if not k:
        return None
    k = k[0]
    base = kfile.parent
    for r in k.get("resources") or []:
        report.check((base / r).exists(), rel(kfile), f"resource {r} does not exist")
        report.check(
            not str(r).endswith(".example.yaml"),
            rel(kfile),
            f"{r} is an example (placeholders) and must not be applied",
        )
    for c in k.get("components") or []:
        report.check(
            (base / c / "kustomization.yaml").exists(), rel(kfile), f"component {c} not found"
        )
    for p in k.get("patches") or []:
        if "path" in p:
            report.check((base / p["path"]).exists(), rel(kfile), f"patch {p['path']} not found")
        if "patch" in p:
            try:
                doc = yaml.safe_load(p["patch"])
                report.check(
                    isinstance(doc, (list, dict)),
                    rel(kfile),
                    "an inline patch is neither a JSON patch nor an object",
                )
            except yaml.YAMLError as e:
                report.error(rel(kfile), f"an inline patch does not parse: {e}")
    return k


def check_k8s(report):
    print("== infra/k8s")
    files = sorted(p for p in K8S.rglob("*") if p.suffix in (".yaml", ".yml"))
    if not report.check(bool(files), "infra/k8s", "no YAML files"):
        return
    objects = []
    where = {}
    for f in files:
        for doc in load_yaml_docs(f, report):
            w = rel(f)
            if not report.check(isinstance(doc, dict), w, "a document is not a mapping"):
                continue
            report.check(bool(doc.get("apiVersion")), w, "document without apiVersion")
            report.check(bool(doc.get("kind")), w, "document without kind")
            if doc.get("kind") in ("Kustomization", "Component"):
                report.check(
                    str(doc.get("apiVersion", "")).startswith("kustomize.config.k8s.io/"),
                    w,
                    "kustomization apiVersion must be kustomize.config.k8s.io/...",
                )
                continue
            report.check(
                bool((doc.get("metadata") or {}).get("name")),
                w,
                f"{doc.get('kind')} without metadata.name",
            )
            objects.append(doc)
            where[id(doc)] = w
    report.note(f"parsed {len(files)} YAML files, {len(objects)} Kubernetes objects")

    root_k = K8S / "kustomization.yaml"
    k = (
        kustomize_resources(report, root_k)
        if report.check(root_k.exists(), "infra/k8s", "kustomization.yaml is missing")
        else None
    )
    for comp in sorted((K8S / "components").glob("*/kustomization.yaml")):
        c = load_yaml_docs(comp, report)
        if c:
            report.check(
                c[0].get("kind") == "Component", rel(comp), "a component must be kind: Component"
            )
            kustomize_resources(report, comp)

    applied = set()
    if k:
        applied = {str((K8S / r).resolve()) for r in k.get("resources") or []}
        kinds = {o.get("kind") for o in objects if str((ROOT / where[id(o)]).resolve()) in applied}
        for need in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
            report.check(need in kinds, rel(root_k), f"kustomization.yaml applies no {need}")

    deployments = [o for o in objects if o.get("kind") == "Deployment"]
    for d in deployments:
        check_deployment(
            report, d, where[id(d)], {"token": True, "models_volume": True, "tls": False}
        )
    check_k8s_objects(report, objects, lambda o: where[id(o)])

    adapter = [
        o
        for o in objects
        if o.get("kind") == "ConfigMap"
        and "rules" in str((o.get("data") or {}).get("config.yaml", ""))
    ]
    if report.check(bool(adapter), "infra/k8s", "no Prometheus adapter rule ConfigMap (example)"):
        for cm in adapter:
            check_adapter_rules(report, cm, where[id(cm)])

    secrets = {}
    for s in (o for o in objects if o.get("kind") == "Secret"):
        name, keys = check_secret_example(report, s, where[id(s)])
        secrets[name] = keys
        report.check(
            str((ROOT / where[id(s)]).resolve()) not in applied,
            where[id(s)],
            "an example Secret is listed in kustomization.yaml",
        )
    # Every Secret the manifests mount has an example showing its keys.
    mounted = []
    for d in deployments:
        for v in d["spec"]["template"]["spec"].get("volumes") or []:
            if "secret" in v:
                mounted.append((where[id(d)], v["secret"]))
    for comp in sorted((K8S / "components").glob("*/kustomization.yaml")):
        text = comp.read_text(encoding="utf-8")
        for m in re.finditer(r"secretName:\s*(\S+)", text):
            items = re.findall(r"- key:\s*(\S+)", text[m.end() :])
            mounted.append(
                (rel(comp), {"secretName": m.group(1), "items": [{"key": i} for i in items]})
            )
    for w, sec in mounted:
        name = sec.get("secretName")
        if report.check(
            name in secrets, w, f"Secret {name} has no example in infra/k8s/*.example.yaml"
        ):
            for item in sec.get("items") or []:
                report.check(
                    item.get("key") in secrets[name],
                    w,
                    f"Secret {name}: key {item.get('key')} is not in its example",
                )


def render_variants(report, use_tools):
    """Renders the kustomization with every combination of components and checks the output."""
    kubectl = shutil.which("kubectl") if use_tools else None
    if not kubectl:
        report.note("kustomize rendering: skipped (no kubectl, or --no-tools)")
        return
    components = sorted(p.parent.name for p in (K8S / "components").glob("*/kustomization.yaml"))
    combos = [()]
    for n in range(1, len(components) + 1):
        combos += list(itertools.combinations(components, n))
    for combo in combos:
        name = "base" + "".join(f"+{c}" for c in combo)
        with tempfile.TemporaryDirectory(prefix="genloom-kustomize-") as tmp:
            base = os.path.relpath(K8S, tmp)
            doc = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [base],
            }
            if combo:
                doc["components"] = [f"{base}/components/{c}" for c in combo]
            Path(tmp, "kustomization.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
            r = subprocess.run(
                [kubectl, "kustomize", tmp], capture_output=True, text=True, timeout=120
            )
        where = f"kustomize[{name}]"
        if not report.check(
            r.returncode == 0, where, f"kubectl kustomize failed: {r.stderr.strip()}"
        ):
            continue
        objects = [d for d in yaml.safe_load_all(r.stdout) if d]
        for o in objects:
            report.check(
                (o.get("metadata") or {}).get("namespace") == "genloom"
                or o.get("kind") == "Namespace",
                where,
                f"{o.get('kind')}/{o['metadata'].get('name')} is not in namespace genloom",
            )
        expect = {
            "token": "no-auth" not in combo,
            "models_volume": "baked-models" not in combo,
            "tls": "tls" in combo,
        }
        for d in (o for o in objects if o.get("kind") == "Deployment"):
            check_deployment(report, d, where, expect)
            spec = d["spec"]["template"]["spec"]
            names = [v["name"] for v in spec.get("volumes") or []]
            report.check(len(names) == len(set(names)), where, f"duplicate volumes {names}")
            mounted = {m["name"] for c in spec["containers"] for m in c.get("volumeMounts") or []}
            report.check(
                mounted <= set(names),
                where,
                f"mounts without a volume: {sorted(mounted - set(names))}",
            )
        report.check(
            any(o.get("kind") == "PersistentVolumeClaim" for o in objects)
            == ("baked-models" not in combo),
            where,
            "the models claim must exist exactly when the models come from a volume",
        )
        check_k8s_objects(report, objects, lambda o, w=where: w)
        report.note(f"rendered {name}: {len(objects)} objects")


# --------------------------------------------------------------------------------------------
# Dataflow


def java_tokens(text):
    """A small Java tokenizer: string literals, identifiers/numbers, single punctuation."""
    # Comments go, string literals stay whole (a "gs://" inside a string is not a comment).
    text = re.sub(
        r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/',
        lambda m: m.group(0) if m.group(0).startswith('"') else " ",
        text,
        flags=re.S,
    )
    pattern = re.compile(r'"(?:\\.|[^"\\])*"|[A-Za-z_$][\w$]*|\d[\w.]*|\S')
    return pattern.findall(text)


def java_string(tokens):
    """Value of concatenated Java string literals ("a" + "b")."""
    parts = [t for t in tokens if t != "+"]
    if not parts or not all(t.startswith('"') for t in parts):
        return None
    return "".join(json.loads(t) for t in parts)


def options_from_source(path):
    """{property: {description, required, default}} of the interface's getters."""
    tokens = java_tokens(path.read_text(encoding="utf-8"))
    props = {}
    annotations = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t == "@":
            j = i + 1
            name = tokens[j]
            while j + 2 < len(tokens) and tokens[j + 1] == ".":
                name += "." + tokens[j + 2]
                j += 2
            args = []
            j += 1
            if j < len(tokens) and tokens[j] == "(":
                depth, k = 0, j
                while k < len(tokens):
                    if tokens[k] == "(":
                        depth += 1
                    elif tokens[k] == ")":
                        depth -= 1
                        if depth == 0:
                            break
                    k += 1
                args = tokens[j + 1 : k]
                j = k + 1
            annotations.append((name, args))
            i = j
            continue
        if (
            re.fullmatch(r"(get|is)[A-Z]\w*", t)
            and i + 2 < len(tokens)
            and tokens[i + 1] == "("
            and tokens[i + 2] == ")"
        ):
            prop = t[3:] if t.startswith("get") else t[2:]
            prop = prop[0].lower() + prop[1:] if not prop[:2].isupper() else prop
            info = {"description": None, "required": False, "default": None}
            for name, args in annotations:
                if name == "Description":
                    info["description"] = java_string(args)
                elif name == "Validation.Required":
                    info["required"] = True
                elif name.startswith("Default."):
                    s = java_string(args)
                    info["default"] = s if s is not None else "".join(args)
            props[prop] = info
        if t in (";", "{", "}"):
            annotations = []
        i += 1
    return props


PARAM_TYPES = {
    "DEFAULT", "TEXT", "GCS_READ_BUCKET", "GCS_WRITE_BUCKET", "GCS_READ_FILE", "GCS_WRITE_FILE",
    "GCS_READ_FOLDER", "GCS_WRITE_FOLDER", "PUBSUB_TOPIC", "PUBSUB_SUBSCRIPTION", "BIGQUERY_TABLE",
    "JAVASCRIPT_UDF_FILE", "SERVICE_ACCOUNT", "MACHINE_TYPE", "KMS_KEY_NAME", "WORKER_REGION",
    "WORKER_ZONE", "BOOLEAN", "ENUM", "NUMBER", "KAFKA_TOPIC", "KAFKA_READ_TOPIC",
    "KAFKA_WRITE_TOPIC",
}  # fmt: skip


def check_dataflow(report):
    print("== infra/dataflow")
    meta_path = DATAFLOW / "metadata.json"
    w = rel(meta_path)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        report.error(w, f"cannot read: {e}")
        meta = None
    if meta is not None:
        report.check(bool(meta.get("name")), w, "template name missing")
        report.check(bool(meta.get("description")), w, "template description missing")
        params = meta.get("parameters")
        if report.check(isinstance(params, list) and params, w, "no parameters list"):
            seen = set()
            for p in params:
                name = p.get("name")
                pw = f"{w}: parameter {name!r}"
                for field in ("name", "label", "helpText"):
                    report.check(
                        isinstance(p.get(field), str) and p[field].strip() != "",
                        pw,
                        f"{field} missing or empty",
                    )
                report.check(
                    isinstance(p.get("isOptional"), bool), pw, "isOptional must be a boolean"
                )
                report.check(name not in seen, pw, "declared twice")
                seen.add(name)
                report.check(
                    isinstance(name, str) and re.fullmatch(r"[a-z][A-Za-z0-9]*", name) is not None,
                    pw,
                    "name must be the lowerCamel Beam option name",
                )
                if "paramType" in p:
                    report.check(
                        p["paramType"] in PARAM_TYPES, pw, f"unknown paramType {p['paramType']}"
                    )
                for rx in p.get("regexes") or []:
                    try:
                        compiled = re.compile(rx)
                    except re.error as e:
                        report.error(pw, f"regex {rx!r} does not compile: {e}")
                        continue
                    if "defaultValue" in p:
                        report.check(
                            compiled.fullmatch(str(p["defaultValue"])) is not None,
                            pw,
                            f"defaultValue {p['defaultValue']!r} does not match {rx!r}",
                        )
            if report.check(OPTIONS_JAVA.exists(), rel(OPTIONS_JAVA), "not found"):
                props = options_from_source(OPTIONS_JAVA)
                report.check(
                    set(props) == seen,
                    w,
                    f"parameters {sorted(seen)} are not GeneratePipelineOptions' properties "
                    f"{sorted(props)}",
                )
                for p in params:
                    o = props.get(p.get("name"))
                    if o is None:
                        continue
                    pw = f"{w}: parameter {p.get('name')!r}"
                    report.check(
                        p.get("helpText") == o["description"],
                        pw,
                        f"helpText differs from the @Description {o['description']!r}",
                    )
                    report.check(
                        p.get("isOptional") is (not o["required"]),
                        pw,
                        f"isOptional must be {not o['required']} (@Validation.Required)",
                    )
                    if o["default"] is not None:
                        report.check(
                            str(p.get("defaultValue")) == o["default"],
                            pw,
                            f"defaultValue must be the @Default {o['default']!r}",
                        )
                report.note(
                    f"metadata.json: {len(seen)} parameters match GeneratePipelineOptions.java"
                )

    script = DATAFLOW / "build_and_run.sh"
    sw = rel(script)
    if report.check(script.exists(), sw, "missing"):
        report.check(os.access(script, os.X_OK), sw, "not executable")
        r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        report.check(r.returncode == 0, sw, f"bash -n: {r.stderr.strip()}")
        r = subprocess.run(
            ["bash", str(script), "--help"], capture_output=True, text=True, timeout=30
        )
        report.check(r.returncode == 0, sw, f"--help exits {r.returncode}")
        for word in ("PROJECT", "REGION", "BUCKET", "IMAGE"):
            report.check(word in r.stdout, sw, f"--help does not mention {word}")
        text = script.read_text(encoding="utf-8")
        for cmd in ("dataflow flex-template build", "dataflow flex-template run", "metadata.json"):
            report.check(cmd in text, sw, f"does not use `{cmd}`")
    readme = DATAFLOW / "README.md"
    if report.check(readme.exists(), rel(readme), "missing"):
        text = readme.read_text(encoding="utf-8")
        for word in (
            "worker_accelerator=type:nvidia-tesla-t4;count:1;install-nvidia-driver",
            "--sdkContainerImage",
            "--runner=FlinkRunner",
            "--flinkMaster",
            "beam-runners-java-job-service",
        ):
            report.check(word in text, rel(readme), f"does not cover {word}")


# --------------------------------------------------------------------------------------------
# Dockerfiles


def parse_dockerfile(path):
    """[(line, INSTRUCTION, rest)] with continuations joined; comments kept as ('#', text)."""
    out = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        start = i
        line = lines[i]
        if line.strip().startswith("#") or not line.strip():
            out.append((start + 1, "#", line.strip()))
            i += 1
            continue
        buf = line
        while buf.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            nxt = lines[i]
            if nxt.strip().startswith("#"):
                continue
            buf = buf.rstrip()[:-1] + " " + nxt.strip()
        i += 1
        m = re.match(r"\s*(\w+)\s*(.*)", buf)
        if m:
            out.append((start + 1, m.group(1).upper(), m.group(2).strip()))
    return out


def split_flags(rest):
    """Leading --flag[=value] words of an instruction, and the remainder."""
    flags = {}
    words = rest.split()
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, " ".join(words)


def exec_or_shell(rest):
    try:
        v = json.loads(rest)
        if isinstance(v, list):
            return [str(x) for x in v]
    except ValueError:
        pass
    return rest.split()


def glob_regex(pattern):
    """A .dockerignore pattern (Go filepath.Match plus **) as a regex over /-separated paths."""
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            if i < len(pattern) and pattern[i] == "/":
                out = out[:-2] + "(?:.*/)?"
                i += 1
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pattern.find("]", i)
            if j < 0:
                out += re.escape(c)
            else:
                out += "[" + pattern[i + 1 : j].replace("^", "\\^", 0) + "]"
                i = j
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z")


def load_dockerignore(path):
    rules = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pat = line[1:].strip() if negate else line
        pat = os.path.normpath(pat).lstrip("/")
        if pat == ".":
            continue
        rules.append((negate, glob_regex(pat)))
    return rules


def ignored(rules, relpath):
    """Whether the build context leaves out relpath (a path or any of its parents matched)."""
    parts = relpath.split("/")
    result = False
    for negate, rx in rules:
        for n in range(1, len(parts) + 1):
            if rx.match("/".join(parts[:n])):
                if negate and n < len(parts):
                    # "!dir" re-includes dir and everything below it
                    result = False
                    break
                result = not negate
                break
    return result


def resolve_args(text, args):
    return re.sub(
        r"\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)",
        lambda m: args.get(m.group(1) or m.group(3), m.group(2) or ""),
        text,
    )


def check_dockerfile(report, path, context, kind, pom, use_tools):
    """kind: 'worker-cuda', 'worker-cpu' or 'launcher'. context: the build context, or None."""
    w = rel(path)
    instructions = parse_dockerfile(path)
    text = path.read_text(encoding="utf-8")
    global_args = {}
    stages = []  # dicts: name, base, instructions
    for line, ins, rest in instructions:
        if ins == "#":
            continue
        if ins == "ARG" and not stages:
            name, _, default = rest.partition("=")
            global_args[name.strip()] = default.strip().strip('"')
            continue
        if ins == "FROM":
            _, body = split_flags(rest)
            parts = body.split()
            base = resolve_args(parts[0], global_args) if parts else ""
            name = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else None
            stages.append({"name": name, "base": base, "ins": [], "line": line})
            continue
        if not report.check(bool(stages), f"{w}:{line}", f"{ins} before the first FROM"):
            return
        stages[-1]["ins"].append((line, ins, rest))
    if not report.check(bool(stages), w, "no FROM instruction"):
        return
    names = [s["name"] for s in stages if s["name"]]

    for s in stages:
        base = s["base"]
        if base in names or base == "scratch":
            continue
        last = base.rsplit("/", 1)[-1]
        if "@sha256:" not in base and (":" not in last or last.endswith(":latest")):
            report.warn(f"{w}:{s['line']}", f"base image {base!r} is not pinned to a tag or digest")

    # Remote downloads must be verified.
    for s in stages:
        for line, ins, rest in s["ins"]:
            lw = f"{w}:{line}"
            if ins == "ADD":
                flags, body = split_flags(rest)
                remote = re.search(r"\b(https?://|git@)\S+", body)
                if remote:
                    report.check(
                        flags.get("checksum", "").startswith("sha256:"),
                        lw,
                        f"ADD of a remote URL without --checksum=sha256:...: {remote.group(0)}",
                    )
                else:
                    report.warn(lw, "ADD of local files: prefer COPY")
            if ins == "RUN" and re.search(r"\b(curl|wget)\b[^;&|]*(https?://|\$\{?\w*URL)", rest):
                report.check(
                    "sha256sum" in rest or "--checksum" in rest,
                    lw,
                    "RUN downloads with curl/wget without verifying a sha256 in the same step",
                )
            if ins == "RUN" and "apt-get install" in rest:
                if "--no-install-recommends" not in rest:
                    report.warn(lw, "apt-get install without --no-install-recommends")

    # COPY sources and stage references.
    rules = None
    ignore_file = path.with_name(path.name + ".dockerignore")
    if context is not None and kind.startswith("worker"):
        if report.check(ignore_file.exists(), w, f"{rel(ignore_file)} is missing"):
            rules = load_dockerignore(ignore_file)
            report.check(
                ignored(rules, "pipelines/target/classes") and ignored(rules, ".git/HEAD"),
                rel(ignore_file),
                "build outputs (**/target) and .git must stay out of the build context",
            )
    defined = []
    for s in stages:
        for line, ins, rest in s["ins"]:
            lw = f"{w}:{line}"
            if ins in ("COPY", "ADD"):
                flags, body = split_flags(rest)
                words = exec_or_shell(body)
                srcs = words[:-1]
                if "from" in flags:
                    src_stage = resolve_args(flags["from"], global_args)
                    report.check(
                        src_stage in defined or "/" in src_stage or ":" in src_stage,
                        lw,
                        f"--from={src_stage} is not an earlier stage",
                    )
                    continue
                for src in srcs:
                    if context is None or re.match(r"(https?://|git@)", src):
                        continue
                    p = (context / src).resolve()
                    relsrc = os.path.relpath(p, context)
                    if not report.check(
                        p.exists(), lw, f"COPY source {src} does not exist in the build context"
                    ):
                        continue
                    if rules is not None:
                        report.check(
                            not ignored(rules, relsrc),
                            lw,
                            f"COPY source {src} is excluded by {ignore_file.name}",
                        )
                        if p.is_dir():
                            sample = [
                                f
                                for f in p.rglob("*")
                                if f.is_file() and "target" not in f.relative_to(context).parts
                            ][:50]
                            kept = [
                                f for f in sample if not ignored(rules, str(f.relative_to(context)))
                            ]
                            report.check(
                                not sample or kept,
                                lw,
                                f"every file under {src} is excluded by {ignore_file.name}",
                            )
            if ins == "RUN":
                for m in re.finditer(r"--mount=\S*from=([\w.-]+)", rest):
                    report.check(
                        m.group(1) in defined,
                        lw,
                        f"RUN --mount from={m.group(1)} is not an earlier stage",
                    )
        if s["name"]:
            defined.append(s["name"])

    # The final stage is what runs.
    final = stages[-1]
    fw = f"{w} (final stage)"
    users = [rest.strip() for _, ins, rest in final["ins"] if ins == "USER"]
    waiver = re.search(r"check\.py:\s*allow-root", text) is not None
    if users:
        u = users[-1].split(":")[0]
        report.check(u not in ("root", "0"), fw, f"USER {users[-1]} is root")
    elif waiver:
        report.warn(fw, "runs as root (allowed by its `check.py: allow-root` comment)")
    else:
        report.error(fw, "no USER: the runtime stage must set a non-root user")
    env = {}
    for _, ins, rest in final["ins"]:
        if ins == "ENV":
            for m in re.finditer(r'(\w+)=("(?:\\.|[^"])*"|\S+)', rest):
                env[m.group(1)] = m.group(2).strip('"')
    entry = next((exec_or_shell(r) for _, i, r in reversed(final["ins"]) if i == "ENTRYPOINT"), [])
    cmd = next((exec_or_shell(r) for _, i, r in reversed(final["ins"]) if i == "CMD"), [])

    if kind.startswith("worker"):
        hcs = [rest for _, ins, rest in final["ins"] if ins == "HEALTHCHECK"]
        if report.check(bool(hcs), fw, "no HEALTHCHECK") and hcs:
            report.check(not hcs[-1].strip().upper().startswith("NONE"), fw, "HEALTHCHECK NONE")
            # HEALTHCHECK [--options] CMD <command>
            hc_body = split_flags(hcs[-1])[1]
            hc_cmd = exec_or_shell(re.sub(r"^CMD\s+", "", hc_body, flags=re.I))
            if hc_cmd:
                dests = [
                    exec_or_shell(split_flags(r)[1])[-1]
                    for _, i, r in final["ins"]
                    if i in ("COPY", "ADD")
                ]
                report.check(
                    hc_cmd[0] in dests,
                    fw,
                    f"HEALTHCHECK runs {hc_cmd[0]}, which no COPY in the final stage provides",
                )
        report.check("-Dai.djl.offline=true" in entry, fw, "ENTRYPOINT lacks -Dai.djl.offline=true")
        report.check(env.get("DJL_OFFLINE") == "true", fw, "ENV DJL_OFFLINE=true is not set")
        report.check(
            "-jar" in entry and any(e.endswith("genloom.jar") for e in entry),
            fw,
            "ENTRYPOINT does not run genloom.jar",
        )
        worker_flags = parse_args(cmd)
        report.check(cmd[:1] == ["worker"], fw, "CMD does not start `worker`")
        expose = " ".join(r for _, i, r in final["ins"] if i == "EXPOSE").split()
        for f in ("port", "metrics-port"):
            report.check(
                flag(worker_flags, f) in expose, fw, f"--{f} {flag(worker_flags, f)} is not EXPOSEd"
            )
        report.check(
            env.get("GENLOOM_HEALTH_PORT", "50051") == flag(worker_flags, "port"),
            fw,
            "GENLOOM_HEALTH_PORT (HEALTHCHECK) differs from the worker's --port",
        )
        final_args = dict(global_args)
        for _, i, r in final["ins"]:
            if i == "ARG":
                n, _, d = r.partition("=")
                final_args[n.strip()] = d.strip().strip('"')
        version = resolve_args(env.get("PYTORCH_VERSION", ""), final_args)
        flavor = resolve_args(env.get("PYTORCH_FLAVOR", ""), final_args)
        report.check(bool(env.get("PYTORCH_LIBRARY_PATH")), fw, "PYTORCH_LIBRARY_PATH is not set")
        report.check(
            version == pom.get("pytorch.version"),
            fw,
            f"PYTORCH_VERSION {version!r} is not pom.xml's pytorch.version {pom.get('pytorch.version')!r}",
        )
        if kind == "worker-cpu":
            report.check(flavor == "cpu", fw, f"PYTORCH_FLAVOR {flavor!r} must be cpu")
            report.check("--device=cpu" in cmd, fw, "CMD must use --device=cpu")
        else:
            m = re.fullmatch(r"cu(\d+)(\d)", flavor)
            if report.check(
                m is not None, fw, f"PYTORCH_FLAVOR {flavor!r} is not a CUDA flavor (cuXYZ)"
            ):
                cuda = f"{m.group(1)}.{m.group(2)}"
                report.check(
                    re.search(r"nvidia/cuda:" + re.escape(cuda) + r"(\.\d+)?-", final["base"])
                    is not None,
                    fw,
                    f"base image {final['base']} is not CUDA {cuda}, the libtorch flavor {flavor}",
                )
            report.check(
                any(c.startswith("--device=gpu:") for c in cmd), fw, "CMD must use --device=gpu:N"
            )
            report.check(
                re.search(re.escape(version) + r"(%2B|\+)" + re.escape(flavor), text) is not None,
                w,
                f"the libtorch download is not {version}+{flavor}",
            )
        jni = pom.get("jni_jar")
        if jni and flavor:
            with zipfile.ZipFile(jni) as z:
                flavors = sorted(
                    {
                        n.split("/")[2]
                        for n in z.namelist()
                        if n.startswith("jnilib/linux-x86_64/") and n.endswith(".so")
                    }
                )
            report.check(
                flavor in flavors,
                fw,
                f"PYTORCH_FLAVOR {flavor} has no JNI library in {Path(jni).name} (it has {flavors})",
            )
            report.note(f"{w}: flavor {flavor} found in {Path(jni).name} ({', '.join(flavors)})")
        elif flavor:
            report.note(
                f"{w}: pytorch-jni jar not in the local Maven repository; flavor not cross-checked"
            )
    else:
        report.check(
            "dataflow-templates-base/java17-template-launcher-base" in final["base"],
            fw,
            "base must be gcr.io/dataflow-templates-base/java17-template-launcher-base",
        )
        report.check(
            env.get("FLEX_TEMPLATE_JAVA_MAIN_CLASS") == MAIN_CLASS,
            fw,
            f"FLEX_TEMPLATE_JAVA_MAIN_CLASS must be {MAIN_CLASS}",
        )
        main_src = ROOT / "pipelines/src/main/java" / (MAIN_CLASS.replace(".", "/") + ".java")
        report.check(main_src.exists(), fw, f"{rel(main_src)} does not exist")
        cp = env.get("FLEX_TEMPLATE_JAVA_CLASSPATH", "")
        if report.check(bool(cp), fw, "FLEX_TEMPLATE_JAVA_CLASSPATH is not set"):
            dests = [
                exec_or_shell(split_flags(r)[1])[-1] for _, i, r in final["ins"] if i == "COPY"
            ]
            for entry_cp in cp.split(":"):
                target = entry_cp[:-1] if entry_cp.endswith("*") else entry_cp
                report.check(
                    any(
                        d.rstrip("/") == target.rstrip("/")
                        or target.startswith(d.rstrip("/") + "/")
                        for d in dests
                    ),
                    fw,
                    f"class path entry {entry_cp} is not filled by a COPY",
                )
            staged = re.findall(
                r'stage_dir/([\w./-]+)"',
                (DATAFLOW / "build_and_run.sh").read_text(encoding="utf-8"),
            )
            for _, i, r in final["ins"]:
                if i == "COPY" and "--from" not in r:
                    src = exec_or_shell(split_flags(r)[1])[0].rstrip("/")
                    report.check(
                        any(s.rstrip("/").startswith(src) for s in staged),
                        fw,
                        f"COPY {src}: build_and_run.sh does not stage it",
                    )

    if use_tools:
        tool = os.environ.get("DOCKERFILE_UTILS") or shutil.which("dockerfile-utils")
        if tool:
            r = subprocess.run(
                [tool, "lint", str(path)], capture_output=True, text=True, timeout=60
            )
            report.check(r.returncode == 0, w, f"dockerfile-utils lint:\n{r.stdout}{r.stderr}")
            report.note(f"{w}: dockerfile-utils lint {'clean' if r.returncode == 0 else 'FAILED'}")
        else:
            report.note(f"{w}: dockerfile-utils not found; parser lint skipped")


def read_pom():
    text = (ROOT / "pom.xml").read_text(encoding="utf-8")
    pom = {}
    for name in ("pytorch.version", "djl.version"):
        m = re.search(rf"<{re.escape(name)}>([^<]+)</{re.escape(name)}>", text)
        pom[name] = m.group(1).strip() if m else None
    if pom["pytorch.version"] and pom["djl.version"]:
        v = f"{pom['pytorch.version']}-{pom['djl.version']}"
        jar = Path.home() / f".m2/repository/ai/djl/pytorch/pytorch-jni/{v}/pytorch-jni-{v}.jar"
        pom["jni_jar"] = str(jar) if jar.exists() else None
    return pom


def check_docker(report, use_tools):
    print("== Dockerfiles")
    pom = read_pom()
    files = [
        (WORKER_DOCKER / "Dockerfile", ROOT, "worker-cuda"),
        (WORKER_DOCKER / "Dockerfile.cpu", ROOT, "worker-cpu"),
        (DATAFLOW / "Dockerfile", None, "launcher"),
    ]
    for path, context, kind in files:
        if report.check(path.exists(), rel(path), "missing"):
            check_dockerfile(report, path, context, kind, pom, use_tools)
    found = sorted(p for p in INFRA.rglob("Dockerfile*") if not p.name.endswith(".dockerignore"))
    known = {f[0] for f in files}
    for p in found:
        if p not in known:
            report.warn(rel(p), "a Dockerfile check.py does not know; only generic checks apply")
    for script in ("assemble.sh", "healthcheck.sh"):
        p = WORKER_DOCKER / script
        if report.check(p.exists(), rel(p), "missing"):
            report.check(os.access(p, os.X_OK), rel(p), "not executable")
            shell = "sh" if script == "healthcheck.sh" else "bash"
            r = subprocess.run([shell, "-n", str(p)], capture_output=True, text=True)
            report.check(r.returncode == 0, rel(p), f"{shell} -n: {r.stderr.strip()}")
    if use_tools and shutil.which("shellcheck"):
        scripts = sorted(INFRA.rglob("*.sh"))
        r = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True)
        report.check(r.returncode == 0, "shellcheck", r.stdout + r.stderr)
        report.note(
            f"shellcheck: {len(scripts)} scripts {'clean' if r.returncode == 0 else 'with findings'}"
        )
    else:
        report.note("shellcheck: skipped")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--no-tools", action="store_true", help="skip kubectl, dockerfile-utils and shellcheck"
    )
    a = parser.parse_args()
    report = Report()
    check_k8s(report)
    render_variants(report, not a.no_tools)
    check_dataflow(report)
    check_docker(report, not a.no_tools)
    for m in report.warnings:
        print(f"WARNING {m}")
    for m in report.errors:
        print(f"ERROR {m}")
    print(
        f"check.py: {report.passed} checks passed, {len(report.warnings)} warnings, "
        f"{len(report.errors)} errors"
    )
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
