"""The Dockerfiles: base images, users, health checks, COPY sources and DJL settings."""

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from .common import DATAFLOW, INFRA, MAIN_CLASS, ROOT, WORKER_DOCKER, flag, parse_args, rel


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
