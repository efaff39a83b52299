"""infra/dataflow: the Flex Template metadata, its build script and README."""

import json
import os
import re
import subprocess

from .common import DATAFLOW, rel


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
            # that the parameters are exactly GeneratePipelineOptions' properties, with their
            # descriptions, defaults and required flags, is checked by reflection in
            # pipelines' FlexTemplateMetadataTest
            report.note(f"metadata.json: {len(seen)} parameters well formed")

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
