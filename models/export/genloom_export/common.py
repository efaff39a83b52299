"""Helpers shared by the exporters: config access, tensor specs, VAE wrappers, the block-graph runner,
refusals, and the package helpers of models/train/genloom_models/export.py."""
import collections
import copy
import importlib
import io
import json
import os
import pickle
import shutil
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
TRAIN_DIR = os.path.join(REPO, "models", "train")
F32, I64 = "DTYPE_FLOAT32", "DTYPE_INT64"


class Refused(Exception):
    """The input is something the exporter does not export; the message names what and why."""


def train_export():
    """models/train/genloom_models/export.py: trace+save, goldens, manifest validation."""
    if TRAIN_DIR not in sys.path:
        sys.path.insert(0, TRAIN_DIR)
    return importlib.import_module("genloom_models.export")


def cfg(module, key, default=None):
    """A config value of a diffusers/transformers module (FrozenDict, dict or attribute object)."""
    c = getattr(module, "config", None)
    if c is None:
        return default
    if isinstance(c, dict):
        return c.get(key, default)
    return getattr(c, key, default)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path, obj):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def spec(name, t, dynamic=(0,)):
    """TensorSpec dict of tensor `t`; the dimensions in `dynamic` are written as -1."""
    dt = I64 if t.dtype == torch.int64 else F32
    return {"name": name, "dtype": dt,
            "shape": [-1 if i in dynamic else int(s) for i, s in enumerate(t.shape)]}


def as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def max_abs(a, b):
    return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0


def versions():
    v = {"torch": torch.__version__}
    for m in ("diffusers", "transformers"):
        mod = sys.modules.get(m)
        if mod is not None:
            v[m] = getattr(mod, "__version__", "?")
    return ", ".join(f"{k} {x}" for k, x in v.items())


def without(module, *names):
    """A shallow copy of `module` with the named submodules removed: calling it runs the module's own
    code on the same weights, and a trace of it saves only the weights that are left."""
    half = copy.copy(module)
    half._modules = collections.OrderedDict(module._modules)
    for name in names:
        half._modules[name] = None
    return half


class VaeEncoder(nn.Module):
    """pixels in [-1,1] -> posterior mean minus shift_factor (unscaled; the runtime multiplies by
    scale_factor, so the scaled latent is (mean - shift) * scale as diffusers computes it). Holds the
    VAE without its decoder, so the component file carries the encoder's weights only."""

    def __init__(self, vae, shift=0.0):
        super().__init__()
        self.vae = without(vae, "decoder", "post_quant_conv")
        self.shift = float(shift)

    def forward(self, pixels):
        mean = self.vae.encode(pixels, return_dict=False)[0].mean
        return mean - self.shift if self.shift else mean


class VaeDecoder(nn.Module):
    """latent / scale_factor -> pixels; adds shift_factor back first (diffusers: z / scale + shift). Holds
    the VAE without its encoder, so the component file carries the decoder's weights only."""

    def __init__(self, vae, shift=0.0):
        super().__init__()
        self.vae = without(vae, "encoder", "quant_conv")
        self.shift = float(shift)

    def forward(self, latent):
        if self.shift:
            latent = latent + self.shift
        return self.vae.decode(latent, return_dict=False)[0]


class GraphRunner:
    """Runs exported TorchScript blocks in the order of a BlockGraph dict (as the Java runtime does)."""

    def __init__(self, pkg_dir, components, denoiser, loaded=None):
        """`loaded`: {component name: TorchScript module} already loaded from the package, used instead of
        loading those files again (a real-size transformer's blocks would otherwise be held twice)."""
        files = {c["name"]: c["file"] for c in components}
        loaded = loaded or {}

        def module(name):
            m = loaded.get(name)
            return m if m is not None else torch.jit.load(os.path.join(pkg_dir, files[name]))

        self.blocks = [(b, module(b["component"])) for b in denoiser["blocks"]]
        self.inputs = list(denoiser["inputs"])
        self.output = denoiser["output"]

    @torch.no_grad()
    def __call__(self, **graph_inputs):
        missing = [i for i in self.inputs if i not in graph_inputs]
        assert not missing, f"graph inputs missing: {missing}"
        env = dict(graph_inputs)
        for b, m in self.blocks:
            r = as_tuple(m(*[env[i] for i in b["inputs"]]))
            assert len(r) == len(b["outputs"]), (b["name"], len(r), len(b["outputs"]))
            env.update(zip(b["outputs"], r))
        return env[self.output]


def _build_intlist():
    return importlib.import_module("torch.jit._pickle").build_intlist


class _IntList(list):
    """A list the TorchScript debug pickle builds with torch.jit._pickle.build_intlist, pickled the same way."""

    def __reduce__(self):
        return _build_intlist(), (list(self),)


class _DebugUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("torch.jit._pickle", "build_intlist"):
            return _IntList
        raise pickle.UnpicklingError(f"unexpected global {module}.{name} in a TorchScript debug record")


def _strip_debug_record(obj):
    """The debug record with every source text emptied, or None when its layout is not the one this knows:
    ("FORMAT_WITH_STRING_TABLE", strings, ((code offset, ((string indices, file index, line), start, end),
    debug handle), ...)), a source text being the concatenation of the indexed strings."""
    if not (isinstance(obj, tuple) and len(obj) == 3 and obj[0] == "FORMAT_WITH_STRING_TABLE"):
        return None
    empty = _IntList()
    entries = tuple((offset, ((empty, 0, 0), 0, 0), handle) for offset, _, handle in obj[2])
    return obj[0], ("",), entries


def strip_debug_sources(path):
    """Rewrite a saved TorchScript file without the Python call stacks torch.jit.trace records for every op
    (the `*.debug_pkl` records: file names and lines of the exporting machine, e.g. its absolute paths).
    Error messages keep the traceback in the file's own serialized code. Every other record is copied
    unchanged, through PyTorch's own archive writer, under the same archive name. Returns the number of
    debug records left as they were because their layout is unknown."""
    reader = torch._C.PyTorchFileReader(path)
    records, unknown = [], 0
    for name in reader.get_all_records():
        data = reader.get_record(name)
        if name.endswith(".debug_pkl"):
            obj = _strip_debug_record(_DebugUnpickler(io.BytesIO(data)).load())
            if obj is None:
                unknown += 1
            else:
                data = pickle.dumps(obj, protocol=2)
        records.append((name, data))
    del reader
    tmp_dir = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".strip-")
    try:
        tmp = os.path.join(tmp_dir, os.path.basename(path))  # the archive is named after the file
        writer = torch._C.PyTorchFileWriter(tmp)
        for name, data in records:
            writer.write_record(name, data, len(data))
        writer.write_end_of_file()
        del writer
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return unknown


def golden_key(name, input_names):
    """Golden array name of an output: its name, or "<name>.out" when an input has the same name."""
    return name + ".out" if name in input_names else name


def check_package_files(pkg, manifest, atol=1e-4):
    """Every component's sha256 and its golden arrays against the manifest (what the Java loader checks):
    the golden file holds each input and output, and the component reproduces the outputs to atol (a
    TorchScript module's later calls run an optimised graph whose float results may differ slightly from its
    first call's). A half-precision component is held to its precision's tolerance relative to the largest
    golden value, and an fp16 one is not run by a torch without fp16 CPU kernels (genloom models check runs
    it in the Java runtime)."""
    from .precision import MANIFEST, RELATIVE_TOLERANCE
    names = {v: k for k, v in MANIFEST.items()}
    E = train_export()
    for c in manifest["components"]:
        prec = names.get(c.get("precision", "PRECISION_FP32"), "fp32")
        assert E.sha256_file(os.path.join(pkg, c["file"])) == c["sha256"], c["name"]
        with torch.no_grad():
            g = np.load(os.path.join(pkg, "golden", c["name"] + ".npz"))
            ins = {s["name"] for s in c["inputs"]}
            for s in c["inputs"]:
                assert s["name"] in g.files, (c["name"], s["name"])
            m = torch.jit.load(os.path.join(pkg, c["file"]))
            try:
                outs = as_tuple(m(*[torch.from_numpy(g[s["name"]]) for s in c["inputs"]]))
            except RuntimeError as e:
                if prec == "fp16" and "not implemented for" in str(e):
                    continue
                raise
            assert len(outs) == len(c["outputs"]), c["name"]
            for s, o in zip(c["outputs"], outs):
                key = golden_key(s["name"], ins)
                assert key in g.files, (c["name"], key, g.files)
                assert len(g[key].shape) == len(s["shape"]), (c["name"], key)
                for have, want in zip(g[key].shape, s["shape"]):
                    assert want == -1 or have == want, (c["name"], key, g[key].shape, s["shape"])
                d = float(np.abs(o.numpy().astype(np.float64) - g[key]).max()) if o.numel() else 0.0
                tol = atol if prec == "fp32" else max(atol, RELATIVE_TOLERANCE[prec] * float(np.abs(g[key]).max()))
                assert d <= tol, (c["name"], key, d, tol)

