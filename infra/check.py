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
  - infra/dataflow/metadata.json (every parameter has name, label, helpText, isOptional, a known
    paramType, regexes that compile and match the default; that they are GeneratePipelineOptions'
    properties is FlexTemplateMetadataTest's job); infra/dataflow/build_and_run.sh;
  - the Dockerfiles: FROM, a non-root USER in the final stage, HEALTHCHECK in worker images, no
    remote ADD or download without a checksum, COPY sources present and not excluded by the
    Dockerfile's .dockerignore, DJL settings consistent with pom.xml and the pytorch-jni jar.
With the tools present (skip them with --no-tools): `kubectl kustomize` renders the base and every
component combination and the Deployment checks run again on the output; `dockerfile-utils lint`
(npm package dockerfile-utils) parses the Dockerfiles; shellcheck checks the shell scripts.

The parts live in infra/checks/ (k8s.py, dataflow.py, docker.py).

Exit status: 0 when no ERROR was found, 1 otherwise, 2 when PyYAML is missing.
"""

import argparse
import sys

try:
    import yaml  # noqa: F401  (the parts need it)
except ImportError:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        "check.py: PyYAML is missing. Debian/Ubuntu: apt-get install -y python3-yaml\n"
    )
    sys.exit(2)

from checks.common import Report
from checks.dataflow import check_dataflow
from checks.docker import check_docker
from checks.k8s import check_k8s, render_variants


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
