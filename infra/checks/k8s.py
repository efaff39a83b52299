"""infra/k8s: the manifests, their kustomize components and, with kubectl, their renderings."""

import itertools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from .common import K8S, QUEUE_METRIC, ROOT, SERVICE, flag, parse_args, rel


def load_yaml_docs(path, report):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        report.error(rel(path), f"YAML does not parse: {e}")
        return []


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
    for name in ("port", "metrics-port", "drain-seconds"):
        report.check(
            flag(flags, name) is not None,
            where,
            f"the worker container does not pass --{name} (the checks assume no defaults)",
        )
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
    drain = int(flag(flags, "drain-seconds") or 0)
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
