#!/usr/bin/env python3
"""Remove the exporting machine's source paths from a package's TorchScript files.

torch.jit.trace records, for every op, the Python call stack that produced it (file names and lines
of the machine that traced it, in the archive's `*.debug_pkl` records). This rewrites each component
of a package without them (genloom_export.common.strip_debug_sources: every other record is copied
unchanged), each file once when several components name it, and replaces each component's SHA-256 in
manifest.json, touching nothing else in the manifest. The components compute exactly what they computed before.

  PYTHONPATH=models/export python3 -m genloom_export.strip_package models/<name> [models/<name> ...]
"""
import argparse
import hashlib
import json
import os
import sys

from .common import strip_debug_sources


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def strip_package(folder):
    """Strips every component file of the package in `folder`, each once however many components name
    it (components sharing a file are methods of one module); returns how many files changed."""
    manifest_path = os.path.join(folder, "manifest.json")
    with open(manifest_path) as f:
        text = f.read()
    manifest = json.loads(text)
    by_file = {}
    for component in manifest.get("components", []):
        by_file.setdefault(os.path.normpath(component["file"]), []).append(component)
    changed = 0
    for file, components in by_file.items():
        path = os.path.join(folder, file)
        recorded = {c.get("sha256", "") for c in components}
        if len(recorded) != 1:
            sys.exit(f"error: {manifest_path}: the components naming {file} record different SHA-256s")
        before = recorded.pop()
        if before and sha256(path) != before:
            sys.exit(f"error: {path} does not have the SHA-256 its manifest records; refusing to rewrite it")
        unknown = strip_debug_sources(path)
        if unknown:
            print(f"warning: {path}: {unknown} debug record(s) of an unknown layout were left as they were")
        after = sha256(path)
        if before and after != before:
            if text.count(before) != len(components):
                sys.exit(f"error: {manifest_path} mentions the SHA-256 of {file} {text.count(before)} "
                         f"times; expected {len(components)} (once per component naming it)")
            text = text.replace(before, after)
            changed += 1
    tmp = manifest_path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, manifest_path)
    return changed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("packages", nargs="+", help="package folders")
    a = ap.parse_args()
    for folder in a.packages:
        if not os.path.isfile(os.path.join(folder, "manifest.json")):
            ap.error(f"{folder} holds no manifest.json")
        n = strip_package(folder)
        print(f"{folder}: {n} component file(s) rewritten")


if __name__ == "__main__":
    main()
