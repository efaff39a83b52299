"""Half-precision export on the stand-in SD 1.5 pipeline (no diffusers): bf16 components run here and stay
within the stated tolerance of float32 (with the VAE kept in float32, which bf16 cannot hold); fp16 files
hold fp16 weights and no bf16 left in their graphs; the package is about half the size of the float32
one; the float32 boundary and the refusals. (A real diffusers VAE decoder in bf16, 0.38 off float32, is
refused by the same check that passes the components here.)"""
import os

import pytest
import torch

import standin_pipelines as sp
from genloom_export import precision as P
from genloom_export import sampling
from genloom_export import stable_diffusion as S
from genloom_export.common import Refused, check_package_files


def export(root, name, **kw):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sampling, "optional_diffusers", lambda: None)
        pipe = sp.build(str(root / f"pipe-{name}"), "sd15")
        pkg = str(root / name)
        return pkg, S.export(pipe, pkg, loader=sp.StandinLoader(), **kw)


def weight_bytes(pkg, m):
    return sum(os.path.getsize(os.path.join(pkg, c["file"])) for c in m["components"])


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    root = tmp_path_factory.mktemp("precision")
    return {"fp32": export(root, "fp32"), "fp16": export(root, "fp16", precision="fp16"),
            "bf16": export(root, "bf16", precision="bf16", keep_fp32=("vae_encoder", "vae_decoder"))}


def test_manifest_records_each_components_precision(packages):
    _, m16 = packages["fp16"]
    assert {c.get("precision") for c in m16["components"]} == {"PRECISION_FP16"}
    _, mb = packages["bf16"]
    by_name = {c["name"]: c.get("precision") for c in mb["components"]}
    assert by_name["vae_decoder"] is None and by_name["vae_encoder"] is None
    assert by_name["text_encoder"] == "PRECISION_BF16"
    assert "bf16 weights but vae_decoder, vae_encoder (float32)" in mb["training"]["precision"]
    _, m32 = packages["fp32"]
    assert all("precision" not in c for c in m32["components"]) and "precision" not in m32["training"]


def test_bf16_components_run_within_the_stated_tolerance(packages):
    pkg, m = packages["bf16"]
    check_package_files(pkg, m)  # every component against its float32 golden, bf16 at 4e-2 of the largest
    assert "bf16 vs float32" in m["training"]["precision"]


def test_fp16_files_hold_fp16_weights_and_no_bf16(packages):
    pkg, m = packages["fp16"]
    check_package_files(pkg, m)  # sha256s; runs what this torch can run in fp16
    for c in m["components"]:
        loaded = torch.jit.load(os.path.join(pkg, c["file"]))
        dtypes = {t.dtype for t in list(loaded.parameters()) + list(loaded.buffers()) if t.is_floating_point()}
        assert dtypes == {torch.float16}, (c["name"], dtypes)
        graph = str(loaded.inlined_graph)
        assert "BFloat16" not in graph and "dtype=15" not in graph, c["name"]


def test_half_precision_packages_are_about_half_the_size(packages):
    full = weight_bytes(*packages["fp32"])
    half = weight_bytes(*packages["fp16"])
    assert half < 0.75 * full, (half, full)  # stand-in weights are small: code and constants weigh in


def test_boundary_casts_inside_and_returns_float32():
    lin = torch.nn.Linear(4, 3)
    traced = P.trace_half(lin, (torch.randn(2, 4),), ["sample"], "bf16")
    out = traced(torch.randn(2, 4))
    assert out.dtype == torch.float32
    assert P.relative_error(lin(torch.ones(1, 4)), traced(torch.ones(1, 4))) < P.RELATIVE_TOLERANCE["bf16"]


def test_timestep_inputs_stay_float32():
    assert P.cast_flags(["sample", "timestep", "input_ids"],
                        [torch.zeros(1), torch.zeros(1), torch.zeros(1, dtype=torch.int64)]) == [True, False, False]


def test_refusals(tmp_path):
    with pytest.raises(Refused, match="--precision 'fp8'"):
        export(tmp_path, "fp8", precision="fp8")
    with pytest.raises(Refused, match="--keep-fp32: no component is named unet_decoder"):
        export(tmp_path, "keep", precision="fp16", keep_fp32=("unet_decoder",))
