"""Half-precision components: weights stored in fp16 or bf16, every tensor at the boundary float32.

A component exported at a half precision is the eager module with its weights converted, wrapped so that
its floating-point inputs are cast to the weights' dtype inside the TorchScript (all but the timestep-like
inputs, which diffusers' pipelines also keep in the scheduler's dtype) and its floating-point outputs come
back as float32. The Java runtime therefore only ever creates float32 and int64 tensors.

How it is traced. Debian's torch 1.13 has no fp16 kernels for convolutions and matrix products on the
CPU, so a module cannot be traced in fp16 there; it can in bf16. The component is traced with bf16
weights, which records the module's own dtype choices as they are: casts to the weights' dtype (diffusers'
`t_emb.to(dtype=sample.dtype)`) are recorded as bf16, and what the module computes in float32 on purpose
(the sinusoidal timestep embedding) stays float32. For fp16 the traced graph is then rewritten: every dtype
argument that is bf16 becomes fp16, bf16 tensor constants are converted, and the weights are converted.

What is checked. The component goldens hold the float32 eager outputs, so `genloom models check` measures
the half-precision file against float32 with the tolerance of its precision (RELATIVE_TOLERANCE, relative
to the largest float32 output). The exporter runs the same check itself wherever the installed torch can run
the file on the CPU (bf16 always; fp16 on a torch that has the CPU kernels); the size, text length and
block-graph checks of the exporters run on the float32 trace, which follows the same code path.
"""
import copy

import torch

from .common import Refused, as_tuple

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
MANIFEST = {"fp32": "PRECISION_FP32", "fp16": "PRECISION_FP16", "bf16": "PRECISION_BF16"}
# Inputs diffusers' pipelines pass in the scheduler's dtype, not the model's.
KEEP_FP32_INPUTS = ("timestep", "timesteps", "guidance")
# Max abs difference from the float32 component allowed, relative to the float32 output's max abs value:
# set from the fixtures: fp16 worst 1.9e-2 (a VAE decoder), bf16 worst 1.3e-2 (a UNet block; its VAE decoder, 0.38,
# is refused, so keep it in float32); the same figures are in the Java runtime's Precisions.
RELATIVE_TOLERANCE = {"fp16": 2e-2, "bf16": 4e-2}
_BF16 = 15  # c10::ScalarType codes
_FP16 = 5


def check_precision(name):
    if name not in DTYPES:
        raise Refused(f"--precision {name!r}: expected one of {', '.join(DTYPES)}")
    return name


class Boundary(torch.nn.Module):
    """`module` with weights in the dtype of `anchor`: the inputs flagged in `cast` are cast to it with
    type_as (a traced op whose target follows the anchor, so converting the weights later moves it too);
    floating-point outputs come back as float32."""

    def __init__(self, module, dtype, cast):
        super().__init__()
        self.module = module
        self.cast = tuple(bool(c) for c in cast)
        self.register_buffer("anchor", torch.zeros(1, dtype=dtype))

    def forward(self, *args):
        args = [a.type_as(self.anchor) if c else a for a, c in zip(args, self.cast)]
        out = self.module(*args)
        if isinstance(out, (tuple, list)):
            return tuple(o.float() if o.is_floating_point() else o for o in out)
        return out.float() if out.is_floating_point() else out


def cast_flags(in_names, args):
    return [a.is_floating_point() and n not in KEEP_FP32_INPUTS for n, a in zip(in_names, args)]


@torch.no_grad()
def trace_half(module, trace_args, in_names, precision, name="component"):
    """The traced half-precision component (not saved): bf16 trace, rewritten to fp16 when asked."""
    half = Boundary(copy.deepcopy(module).to(torch.bfloat16), torch.bfloat16, cast_flags(in_names, trace_args))
    try:
        traced = torch.jit.trace(half.eval(), tuple(trace_args), check_trace=False)
    except RuntimeError as e:
        raise Refused(f"{name}: cannot trace it with bf16 weights on this torch ({torch.__version__}): "
                      f"{str(e).splitlines()[0]}") from e
    if precision == "fp16":
        rewrite_to_fp16(traced)
    return traced


def rewrite_to_fp16(traced):
    """Rewrites a bf16-traced module to fp16 in place: its forward graph inlined, every bf16 dtype argument
    and bf16 tensor constant made fp16, bf16's largest finite value (torch.finfo(dtype).min and max, as
    attention masks use them) made fp16's, its bf16 weights and buffers converted. Returns the number of
    dtype arguments rewritten."""
    graph = traced.graph
    torch._C._jit_pass_inline(graph)
    rewritten = 0
    fp16 = None
    bf16_max, fp16_max = torch.finfo(torch.bfloat16).max, torch.finfo(torch.float16).max
    for node in list(graph.nodes()):
        if node.kind() == "prim::Constant" and node.output().type().kind() == "TensorType":
            t = node.t("value")
            if t.dtype == torch.bfloat16:
                node.t_("value", t.clamp(-fp16_max, fp16_max).to(torch.float16))
            continue
        if node.kind() == "prim::Constant" and node.output().type().kind() == "FloatType":
            # torch.finfo(dtype).min / max as the module computed them for bf16 (attention masks): the
            # fp16 extremes instead, which fp16 tensors can hold.
            v = node.f("value")
            if abs(v) == bf16_max:
                node.f_("value", fp16_max if v > 0 else -fp16_max)
            continue
        schema = node.schema() if node.kind().startswith("aten::") else "(no schema)"
        if schema == "(no schema)":
            continue
        arguments = torch._C.parse_schema(schema).arguments
        for i, (value, arg) in enumerate(zip(node.inputs(), arguments)):
            if arg.name != "dtype" or value.node().kind() != "prim::Constant":
                continue
            if value.toIValue() == _BF16:
                if fp16 is None:
                    fp16 = graph.insertConstant(_FP16)
                    fp16.node().moveBefore(next(iter(graph.nodes())))
                node.replaceInput(i, fp16)
                rewritten += 1
    for module in traced.modules():
        for name, p in list(module.named_parameters(recurse=False)):
            if p.dtype == torch.bfloat16:
                setattr(module, name, torch.nn.Parameter(p.detach().to(torch.float16), requires_grad=False))
        for name, b in list(module.named_buffers(recurse=False)):
            if b.dtype == torch.bfloat16:
                setattr(module, name, b.to(torch.float16))
    left = [n for n in graph.nodes() if n.kind() == "prim::Constant" and "value=15" in str(n)
            and any(u.user.kind().startswith("aten::") and _is_dtype_use(u) for u in n.output().uses())]
    if left:
        raise Refused(f"{len(left)} bf16 dtype argument(s) left after the fp16 rewrite")
    return rewritten


def _is_dtype_use(use):
    node = use.user
    try:
        arguments = torch._C.parse_schema(node.schema()).arguments
    except RuntimeError:
        return False
    return use.offset < len(arguments) and arguments[use.offset].name == "dtype"


def relative_error(reference, outputs):
    """Max abs difference of `outputs` from the float32 `reference` outputs, over the largest reference
    max abs value."""
    worst, scale = 0.0, 0.0
    for a, b in zip(as_tuple(reference), as_tuple(outputs)):
        if not a.is_floating_point() or not a.numel():
            continue
        worst = max(worst, (a.double() - b.double()).abs().max().item())
        scale = max(scale, a.abs().max().item())
    return worst / scale if scale > 0 else worst


@torch.no_grad()
def check_half(name, path, precision, golden_args, reference):
    """Runs the saved half-precision file on the golden inputs against the float32 outputs; returns
    (relative error, or None where this torch has no CPU kernels for the precision, note)."""
    loaded = torch.jit.load(path)
    try:
        outs = loaded(*golden_args)
    except RuntimeError as e:
        if "not implemented for" in str(e) and precision == "fp16":
            return None, (f"{name}: not run in fp16 by this torch ({torch.__version__}, no CPU kernels); "
                          "checked by genloom models check")
        raise
    err = relative_error(reference, outs)
    if not err <= RELATIVE_TOLERANCE[precision]:
        raise Refused(f"{name}: the {precision} component differs from float32 by {err:.3e} of the largest "
                      f"output (tolerance {RELATIVE_TOLERANCE[precision]})")
    return err, f"{name}: {precision} vs float32 {err:.2e} of the largest output"
