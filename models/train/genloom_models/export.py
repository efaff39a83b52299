"""Export helpers for genloom/v1 model packages (see models/PACKAGE_FORMAT.md).

- trace_save(module, example_inputs, path): torch.jit.trace + torch.jit.save, returns sha256.
- verify_reload(path, eager, inputs, atol): reload the TorchScript file and compare to eager.
- write_golden(path, arrays): np.savez with arrays named by the component's input/output names.
- tensor_spec / component / block / quality / golden_entry: manifest dicts in proto3 JSON form.
- write_manifest(path, manifest): check keys against model.proto (protobuf round trip when the
  generated module is available) and write manifest.json.
- strip_debug_sources(path): drop the tracing machine's source paths from a saved TorchScript file.
"""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PROTO_DIR = os.path.join(REPO, "proto", "src", "main", "proto")
EXPORT_DIR = os.path.join(REPO, "models", "export")

DTYPES = {torch.float32: "DTYPE_FLOAT32", torch.int64: "DTYPE_INT64", torch.int32: "DTYPE_INT32",
          torch.float16: "DTYPE_FLOAT16", torch.bool: "DTYPE_BOOL"}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def trace_save(module, example_inputs, path, check_inputs=None):
    """Trace `module` (eval mode) with `example_inputs` (tuple), save to `path`; returns sha256."""
    module = module.eval()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with torch.no_grad():
        traced = torch.jit.trace(module, _as_tuple(example_inputs), check_trace=False)
    torch.jit.save(traced, path)
    return sha256_file(path)


@torch.no_grad()
def verify_reload(path, eager, inputs, atol=1e-5):
    """Reload `path` and check it matches `eager(*inputs)` to atol; returns max abs difference."""
    loaded = torch.jit.load(path)
    a = _as_tuple(eager(*_as_tuple(inputs)))
    b = _as_tuple(loaded(*_as_tuple(inputs)))
    assert len(a) == len(b), (path, len(a), len(b))
    worst = 0.0
    for x, y in zip(a, b):
        d = (x.double() - y.double()).abs().max().item() if x.numel() else 0.0
        worst = max(worst, d)
    if worst > atol:
        raise AssertionError(f"{path}: reload differs from eager by {worst} > {atol}")
    return worst


def to_numpy(t):
    return t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)


def write_golden(path, arrays):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, **{k: to_numpy(v) for k, v in arrays.items()})


def tensor_spec(name, dtype, shape):
    if isinstance(dtype, torch.dtype):
        dtype = DTYPES[dtype]
    return {"name": name, "dtype": dtype, "shape": [int(s) for s in shape]}


def component(name, file, inputs, outputs, sha256):
    return {"name": name, "file": file, "inputs": inputs, "outputs": outputs, "sha256": sha256}


def block(name, component_name, inputs, outputs, cacheable=False, group=None):
    b = {"name": name, "component": component_name, "inputs": list(inputs), "outputs": list(outputs),
         "cacheable": bool(cacheable)}
    if group:
        b["group"] = group
    return b


def quality(metric, value, samples, setting):
    return {"metric": metric, "value": float(value), "samples": int(samples), "setting": setting}


def golden_entry(subject, file):
    return {"subject": subject, "file": file}


def export_component(pkg_dir, name, module, example_inputs, input_specs, output_specs,
                     file=None, golden=True, atol=1e-5):
    """Trace+save `module` as `<pkg_dir>/<file>`, verify reload vs eager, write golden/<name>.npz
    from `example_inputs`; returns (component dict, golden dict or None)."""
    file = file or f"{name}.pt"
    path = os.path.join(pkg_dir, file)
    sha = trace_save(module, example_inputs, path)
    verify_reload(path, module, example_inputs, atol)
    g = None
    if golden:
        loaded = torch.jit.load(path)
        with torch.no_grad():
            outs = _as_tuple(loaded(*_as_tuple(example_inputs)))
        arrays = {s["name"]: x for s, x in zip(input_specs, _as_tuple(example_inputs))}
        # An output named like an input (residual blocks) is stored as "<name>.out".
        arrays.update({(s["name"] + ".out" if s["name"] in arrays else s["name"]): y
                       for s, y in zip(output_specs, outs)})
        gfile = f"golden/{name}.npz"
        write_golden(os.path.join(pkg_dir, gfile), arrays)
        g = golden_entry(name, gfile)
    return component(name, file, input_specs, output_specs, sha), g


# ---------------------------------------------------------------- manifest validation

_PB = None


def _proto_module():
    """Compile model.proto with protoc into /tmp and import it; None when unavailable."""
    global _PB
    if _PB is not None:
        return _PB or None
    try:
        out = "/tmp/genloom_pb"
        os.makedirs(out, exist_ok=True)
        subprocess.run(["protoc", f"-I{PROTO_DIR}", f"--python_out={out}", "genloom/v1/model.proto"],
                       check=True, capture_output=True)
        if out not in sys.path:
            sys.path.insert(0, out)
        import importlib
        _PB = importlib.import_module("genloom.v1.model_pb2")
    except Exception as e:  # protoc or python3-protobuf missing
        print(f"[export] protobuf validation unavailable ({e}); checking keys only", file=sys.stderr)
        _PB = False
    return _PB or None


def validate_manifest(manifest):
    """Round-trip through genloom.v1.ModelManifest (rejects unknown fields); falls back to a key
    check against the field names in model.proto."""
    pb = _proto_module()
    text = json.dumps(manifest)
    if pb is not None:
        from google.protobuf import json_format
        msg = json_format.Parse(text, pb.ModelManifest(), ignore_unknown_fields=False)
        back = json.loads(json_format.MessageToJson(msg))
        assert back.get("name") == manifest.get("name")
        return True
    import re
    src = open(os.path.join(PROTO_DIR, "genloom", "v1", "model.proto")).read()
    names = set()
    for snake in re.findall(r"^\s*(?:repeated\s+\w+|map<[^>]+>|\w+)\s+(\w+)\s*=\s*\d+;", src, re.M):
        p = snake.split("_")
        names.add(p[0] + "".join(w.title() for w in p[1:]))

    def walk(o, free=False):
        if isinstance(o, dict):
            for k, v in o.items():
                if not free and k not in names:
                    raise KeyError(f"manifest key {k!r} not in model.proto")
                walk(v, free=(k == "training"))
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(manifest)
    return True


def write_manifest(path, manifest):
    validate_manifest(manifest)
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


def strip_debug_sources(path):
    """Rewrites the saved TorchScript file at `path` without the Python call stacks torch.jit.trace
    records for every op (file names and lines of the exporting machine), through
    genloom_export.common.strip_debug_sources; the module computes exactly what it did."""
    if EXPORT_DIR not in sys.path:
        sys.path.insert(0, EXPORT_DIR)
    from genloom_export.common import strip_debug_sources as strip
    unknown = strip(path)
    if unknown:
        raise ValueError(f"{path}: {unknown} debug record(s) of an unknown layout; not stripped")


def package_size(pkg_dir):
    total = 0
    for root, _, files in os.walk(pkg_dir):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total
