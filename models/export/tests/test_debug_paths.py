"""TorchScript files keep, for every op, the Python call stack torch.jit.trace saw (file names and lines of
the exporting machine); the exporters drop those sources, so that no package names the machine's folders."""
import io
import os
import zipfile

import pytest
import torch

from genloom_export.common import _DebugUnpickler, strip_debug_sources

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


class Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x)).mean(dim=1)


def debug_strings(path):
    """Every non-empty string of every debug record of a TorchScript file."""
    reader = torch._C.PyTorchFileReader(path)
    out = []
    for name in reader.get_all_records():
        if name.endswith(".debug_pkl"):
            obj = _DebugUnpickler(io.BytesIO(reader.get_record(name))).load()
            out += [s for s in obj[1] if isinstance(s, str) and s]
    return out


def test_strip_keeps_the_module_and_drops_the_sources(tmp_path):
    m = Small().eval()
    x = torch.randn(2, 3, 8, 8)
    path = str(tmp_path / "small.pt")
    torch.jit.save(torch.jit.trace(m, (x,)), path)
    assert any(os.path.abspath(__file__) in s for s in debug_strings(path)), "traced files name their sources"
    assert strip_debug_sources(path) == 0
    assert debug_strings(path) == []
    assert zipfile.ZipFile(path).namelist()[0].startswith("small/"), "the archive keeps its name"
    loaded = torch.jit.load(path)
    with torch.no_grad():
        assert torch.equal(loaded(x), m(x))
        assert loaded(torch.randn(1, 3, 5, 7)).shape == (1, 5, 7)
    with pytest.raises(RuntimeError, match="serialized code"):
        loaded(torch.randn(1, 2, 5, 7))  # an error still shows where it happened in the serialized code
    assert os.listdir(tmp_path) == ["small.pt"], "no temporary files are left"


def test_fixture_packages_keep_no_sources():
    for name in ("fixture-sd15", "fixture-sd2-v", "fixture-sdxl"):
        pkg = os.path.join(REPO, "models", name)
        n = 0
        for root, _, files in os.walk(pkg):
            for f in files:
                if f.endswith(".pt"):
                    n += 1
                    assert debug_strings(os.path.join(root, f)) == [], (name, f)
        assert n >= 13


class TwoMethods(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def first(self, x):
        return self.lin(x)

    def second(self, x):
        return torch.relu(self.lin(x))


def test_strip_package_rewrites_a_file_two_components_share_once(tmp_path):
    import hashlib
    import json

    from genloom_export.strip_package import strip_package

    m = TwoMethods().eval()
    x = torch.randn(2, 4)
    path = str(tmp_path / "shared.pt")
    torch.jit.save(torch.jit.trace_module(m, {"first": (x,), "second": (x,)}), path)
    assert debug_strings(path), "traced files name their sources"
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    manifest = {"format": "genloom/v1", "name": "shared", "kind": "MODEL_KIND_AR_TOKEN_SHUFFLE",
                "components": [{"name": n, "file": "shared.pt", "method": n, "sha256": sha}
                               for n in ("first", "second")]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest, indent=2))
    assert strip_package(str(tmp_path)) == 1
    assert debug_strings(path) == []
    after = hashlib.sha256(open(path, "rb").read()).hexdigest()
    assert after != sha
    written = json.loads((tmp_path / "manifest.json").read_text())
    assert [c["sha256"] for c in written["components"]] == [after, after]
    loaded = torch.jit.load(path)
    with torch.no_grad():
        assert torch.equal(loaded.first(x), m.first(x))
        assert torch.equal(loaded.second(x), m.second(x))


def test_shipped_ar_packages_keep_no_sources():
    for name in ("tiny-ar-s1", "tiny-ar-s2"):
        pkg = os.path.join(REPO, "models", name)
        files = sorted(f for f in os.listdir(pkg) if f.endswith(".pt"))
        assert files == ["transformer.pt", "vq_decoder.pt", "vq_encoder.pt"], (name, files)
        for f in files:
            assert debug_strings(os.path.join(pkg, f)) == [], (name, f)
