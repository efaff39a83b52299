#!/usr/bin/env python3
"""Export pytorch-fid's FID Inception (pool3, 2048-d) as a Genloom `features` package.

The package holds one TorchScript component, `features`:

  pixels [B,3,H,W] float32 in [0,1]  ->  features [B,2048]

with pytorch-fid's preprocessing inside the traced module, exactly as pytorch_fid.inception.
InceptionV3(resize_input=True, normalize_input=True) does it: bilinear resize to 299x299
(align_corners=False, no antialias), then x = 2x - 1, then the FID Inception blocks up to the final
average pool (pytorch-fid's block index 3), flattened. FeaturesSpec: feature_dim 2048,
input_range "unit", no attribute heads; input size 0x0 (any size: the module resizes) unless
--input-size fixes one. Only this reference setup (the TF-ported weights pt_inception-2015-12-05
in pytorch-fid's FID Inception) gives numbers comparable to published FID; torchvision's ImageNet
Inception weights do not.

Real export (needs torch, torchvision and the pytorch_fid package; nothing is downloaded -- give the
weights file pytorch-fid would fetch, pt_inception-2015-12-05-6726825d.pth, as a local path):

  PYTHONPATH=models/export python3 -m genloom_export.inception --weights PATH/pt_inception-2015-12-05-6726825d.pth \\
      --out models/inception-fid

It checks the traced module against pytorch-fid's own InceptionV3 (resize and normalisation on) on
random images of several sizes, reloads the file, writes golden/features.npz (batch 2) and a
manifest validated against model.proto.

  PYTHONPATH=models/export python3 -m genloom_export.inception --self-test [--keep DIR]

--self-test needs torch and torchvision only: it builds torchvision's inception_v3 architecture with
random weights (weights=None, init_weights=False; nothing downloaded), arranges it in pytorch-fid's
block structure, and runs the same wrapper, tracing, checks and package writing. Its features are
meaningless; it exercises the code path only.
"""
import hashlib
import importlib
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import cli as C

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "models", "train")
EXPECTED_WEIGHTS_PREFIX = "6726825d"  # sha256 prefix in pytorch-fid's weights file name


def genloom_export():
    if TRAIN_DIR not in sys.path:
        sys.path.insert(0, TRAIN_DIR)
    return importlib.import_module("genloom_models.export")


class FidInceptionFeatures(nn.Module):
    """pixels in [0,1] -> 2048-d pool3 features, with pytorch-fid's resize and scaling inside."""

    def __init__(self, blocks):
        super().__init__()
        self.blocks = blocks  # pytorch-fid InceptionV3.blocks[0..3] (ends with AdaptiveAvgPool2d(1))

    def forward(self, pixels):
        x = F.interpolate(pixels, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        for block in self.blocks:
            x = block(x)
        return torch.flatten(x, 1)


def fid_blocks_from(inception):
    """pytorch-fid's block list (InceptionV3.__init__) built from torchvision-style attributes."""
    return nn.ModuleList([
        nn.Sequential(inception.Conv2d_1a_3x3, inception.Conv2d_2a_3x3, inception.Conv2d_2b_3x3,
                      nn.MaxPool2d(kernel_size=3, stride=2)),
        nn.Sequential(inception.Conv2d_3b_1x1, inception.Conv2d_4a_3x3, nn.MaxPool2d(kernel_size=3, stride=2)),
        nn.Sequential(inception.Mixed_5b, inception.Mixed_5c, inception.Mixed_5d, inception.Mixed_6a,
                      inception.Mixed_6b, inception.Mixed_6c, inception.Mixed_6d, inception.Mixed_6e),
        nn.Sequential(inception.Mixed_7a, inception.Mixed_7b, inception.Mixed_7c,
                      nn.AdaptiveAvgPool2d(output_size=(1, 1))),
    ])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def import_pytorch_fid():
    try:
        return importlib.import_module("pytorch_fid.inception")
    except ImportError:
        sys.exit("error: the pytorch_fid package (and torchvision) is needed: pip install pytorch-fid. Its "
                 "weights are not downloaded by this script: pass the local file with --weights. Without "
                 "pytorch_fid only --self-test runs.")


def load_pytorch_fid(weights):
    """pytorch-fid's InceptionV3([3]) with its default preprocessing, weights from a local file."""
    fi = import_pytorch_fid()
    state = torch.load(weights, map_location="cpu")
    # fid_inception_v3() fetches FID_WEIGHTS_URL through this module-level function; serve the local file.
    fi.load_state_dict_from_url = lambda *args, **kwargs: state
    return fi.InceptionV3([fi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True).eval()


def reference_features(model, pixels):
    """pytorch-fid's own path (fid_score.get_activations): model(x)[0], squeezed to [B,2048]."""
    out = model(pixels)
    out = out[0] if isinstance(out, (list, tuple)) else out
    if out.shape[2] != 1 or out.shape[3] != 1:
        out = F.adaptive_avg_pool2d(out, output_size=(1, 1))
    return out.squeeze(3).squeeze(2)


@torch.no_grad()
def export_features(blocks, reference, out, name, input_size, source, command, atol):
    """Trace FidInceptionFeatures(blocks), compare with `reference(pixels)` at several sizes, write the
    package. Returns the manifest."""
    E = genloom_export()
    if os.path.exists(os.path.join(out, "manifest.json")):
        sys.exit(f"error: {out} already holds a package; choose an empty --out")
    os.makedirs(os.path.join(out, "golden"), exist_ok=True)
    model = FidInceptionFeatures(blocks).eval()
    g = torch.Generator().manual_seed(0)
    size = input_size or 299
    pixels = torch.rand(2, 3, size, size, generator=g)
    comp, golden = E.export_component(
        out, "features", model, (pixels,),
        [{"name": "pixels", "dtype": "DTYPE_FLOAT32", "shape": [-1, 3, input_size or -1, input_size or -1]}],
        [{"name": "features", "dtype": "DTYPE_FLOAT32", "shape": [-1, 2048]}], atol=atol)
    traced = torch.jit.load(os.path.join(out, "features.pt"))
    worst = 0.0
    for hw in ([(size, size)] if input_size else [(299, 299), (256, 256), (512, 384), (64, 64)]):
        x = torch.rand(3, 3, *hw, generator=g)
        ref, got = reference(x), traced(x)
        assert got.shape == (3, 2048), got.shape
        assert torch.isfinite(got).all()
        d = (ref.double() - got.double()).abs().max().item()
        print(f"  {hw[1]}x{hw[0]}: traced vs reference max abs diff {d:.3e} (feature max {ref.abs().max():.3g})")
        assert ref.abs().max() > 0
        worst = max(worst, d)
    if not worst <= atol:
        sys.exit(f"error: traced module differs from the reference by {worst} > --atol {atol}")
    features = {"featureDim": 2048, "inputRange": "unit"}
    if input_size:
        features.update(inputHeight=input_size, inputWidth=input_size)
    manifest = {
        "format": "genloom/v1", "name": name, "version": "1.0.0", "kind": "MODEL_KIND_FEATURES",
        "description": "pytorch-fid FID Inception (pool3, 2048-d): bilinear resize to 299x299 (align_corners "
                       "False, no antialias) and scaling to [-1,1] inside the module; input pixels in [0,1].",
        "components": [comp],
        "features": features,
        "goldens": [golden],
        "training": {
            "source": source,
            "command": command,
            "preprocessing": "F.interpolate(x, size=(299, 299), mode='bilinear', align_corners=False); x = 2x - 1 "
                             "(pytorch-fid InceptionV3 resize_input=True, normalize_input=True)",
            "traced_vs_reference_max_abs_err": f"{worst:.3e}",
            "versions": f"torch {torch.__version__}",
        },
    }
    E.write_manifest(os.path.join(out, "manifest.json"), manifest)
    print(f"wrote {out} ({E.package_size(out) / 1e6:.1f} MB)")
    return manifest


def main_export(a):
    import_pytorch_fid()
    if not os.path.isfile(a.weights):
        sys.exit(f"error: weights file not found: {a.weights}")
    digest = sha256(a.weights)
    if not digest.startswith(EXPECTED_WEIGHTS_PREFIX):
        print(f"warning: sha256 of {os.path.basename(a.weights)} starts with {digest[:8]}, not "
              f"{EXPECTED_WEIGHTS_PREFIX} (pt_inception-2015-12-05-{EXPECTED_WEIGHTS_PREFIX}.pth); FID from it is "
              "not comparable to published numbers", file=sys.stderr)
    model = load_pytorch_fid(a.weights)
    fid = sys.modules["pytorch_fid"]
    out = os.path.abspath(a.out)
    export_features(nn.ModuleList(list(model.blocks)), lambda x: reference_features(model, x), out,
                    a.name or os.path.basename(out), a.input_size,
                    f"pytorch-fid {getattr(fid, '__version__', '?')} FID Inception, weights "
                    f"{os.path.basename(a.weights)} (sha256 {digest})",
                    "PYTHONPATH=models/export python3 -m genloom_export.inception " + " ".join(sys.argv[1:]), a.atol)


def self_test(keep=None):
    torch.manual_seed(0)
    torch.set_num_threads(2)
    import torchvision
    try:
        net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)
    except TypeError:  # torchvision < 0.13
        net = torchvision.models.inception_v3(pretrained=False, aux_logits=False, init_weights=False)
    for mod in net.modules():  # variance-preserving init so the features are O(1), not ~1e-7
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
    net.eval()
    blocks = fid_blocks_from(net)

    def reference(x):  # pytorch-fid InceptionV3.forward with resize_input and normalize_input on
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        for b in blocks:
            x = b(x)
        return x.squeeze(3).squeeze(2)

    root = keep or tempfile.mkdtemp(prefix="genloom-inception-selftest-")
    out = os.path.join(root, "models", "inception-selftest")
    if os.path.exists(out):
        shutil.rmtree(out)
    m = export_features(blocks, reference, out, "inception-selftest", None,
                        "self-test: torchvision inception_v3 architecture, random weights (not FID Inception)",
                        "PYTHONPATH=models/export python3 -m genloom_export.inception --self-test", 1e-4)
    c = m["components"][0]
    assert sha256(os.path.join(out, c["file"])) == c["sha256"]
    gz = np.load(os.path.join(out, "golden", "features.npz"))
    assert sorted(gz.files) == ["features", "pixels"] and gz["features"].shape == (2, 2048)
    assert gz["pixels"].min() >= 0 and gz["pixels"].max() <= 1
    # The resize and scaling are inside the traced graph (not left to the caller).
    graph = str(torch.jit.load(os.path.join(out, "features.pt")).inlined_graph)
    assert "upsample_bilinear2d" in graph, "resize missing from the traced module"
    assert m["features"] == {"featureDim": 2048, "inputRange": "unit"}
    return C.finish_self_test(out, root, keep)


def main():
    ap = C.parser(__doc__)
    ap.add_argument("--weights", help="local pt_inception-2015-12-05-6726825d.pth (pytorch-fid's FID weights)")
    ap.add_argument("--out", help="package folder to create, e.g. models/inception-fid")
    ap.add_argument("--name", help="package name (default: the --out folder name)")
    ap.add_argument("--input-size", type=int, default=None,
                    help="fix the input to SIZExSIZE in the manifest (default: any size; the module resizes)")
    ap.add_argument("--atol", type=float, default=1e-4, help="max abs difference traced vs pytorch-fid")
    C.add_self_test_args(ap, "random-weight torchvision stand-in; no downloads")
    C.run(ap, ("weights", "out"), main_export, self_test)


if __name__ == "__main__":
    main()
