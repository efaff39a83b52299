"""Export a diffusers StableDiffusion3Pipeline folder as a Genloom `latent_diffusion` package.

Called by genloom_export.stable_diffusion (its command line dispatches SD3 folders here). Input: a local
pipeline folder with model_index.json, transformer/ (SD3Transformer2DModel), vae/ (AutoencoderKL),
text_encoder/ and text_encoder_2/ (CLIPTextModelWithProjection) with tokenizer/ and tokenizer_2/,
text_encoder_3/ (T5EncoderModel) with tokenizer_3/ unless model_index.json lists text_encoder_3 as
[null, null], and scheduler/scheduler_config.json (FlowMatchEulerDiscreteScheduler). Output:

  manifest.json                  genloom.v1.ModelManifest
  text_encoder.pt, text_encoder_2.pt
                                 input_ids [B,77], hidden_layer [1] -> hidden_states [B,77,D_k] (no final norm;
                                 hiddenLayer 2 = diffusers' hidden_states[-2]), pooled [B,P_k] (text_embeds)
  text_encoder_3.pt              input_ids [B,T] (T = --max-sequence-length, default 256) -> hidden_states
                                 [B,T,d_model] (joined along the sequence)
  tokenizer/, tokenizer_2/, tokenizer_3/tokenizer.json
  vae_encoder.pt, vae_decoder.pt shift_factor folded in: encoder gives mean - shift, decoder decodes
                                 latent + shift (the runtime passes latent / scaleFactor)
  transformer/<block>.pt         genloom_export.mmdit's graph: transformer.embed, transformer_blocks.<i>,
                                 transformer.final_layer
  scheduler/scheduler_config.json  copied verbatim
  golden/...                     component goldens and sampling goldens (genloom_export.sampling)

Text conditioning, as diffusers' encode_prompt builds it: the two CLIP states concatenated along the
features and zero-padded to text.contextDim (the transformer's joint_attention_dim = T5's d_model), T5's
states appended along the sequence (without T5: text.zeroContextLength rows of zeros, the CLIP tokenizer's
length); text_embeds = the two pooled outputs concatenated (text.pooledComponents).

Sizes: multiples of VAE factor x patch size, up to min(twice the default, pos_embed_max_size x patch x VAE
factor) (the transformer's position grid). Every component is traced once at a size and a text length that
no golden or check uses, then compared with eager PyTorch at the default size, 1.5x its width, twice its
height and the smallest size, and at the default size with a second text length (the T5 and no-T5
lengths); the block graph is compared with the full eager transformer at each. The export stops above
--atol.

What it refuses, by name: scheduler configs other than FlowMatchEulerDiscreteScheduler or with
use_dynamic_shifting; VAE latents_mean / latents_std; text encoders of other classes; CLIP tokenizers of
different lengths; a CLIP width above joint_attention_dim; a T5 d_model other than joint_attention_dim; a
pooled_projection_dim other than the two projection dims; --max-sequence-length above 512; and what
genloom_export.mmdit refuses (pos_embed_max_size null, transformer config keys the installed diffusers
class does not take).
"""
import os
import shutil

import torch

from . import mmdit, sampling
from .common import GraphRunner, Refused, cfg, max_abs, read_json, versions
from .stable_diffusion import (DiffusersLoader, PipelineFolder, Sizes, check_vae_config, compare, export_vae,
                               finish_package, package_export, size_name, unique)
from .text import (T5_ARCHS, PromptTokenizer, T5EncoderComponent, T5PromptTokenizer, TextEncoderComponent,
                   check_component, check_t5_component, load_text_encoder, text_encoder_arch)

CLASS_NAME = "StableDiffusion3Pipeline"
TRANSFORMER_CLASS = "SD3Transformer2DModel"
CLIP_ARCHS = ("CLIPTextModelWithProjection",)
DEFAULT_MAX_SEQUENCE_LENGTH = 256  # diffusers' encode_prompt default
MAX_SEQUENCE_LENGTH = 512  # diffusers' check_inputs limit
CLIP_NAMES = [("text_encoder", "tokenizer"), ("text_encoder_2", "tokenizer_2")]
T5_NAMES = ("text_encoder_3", "tokenizer_3")


class Sd3Pipeline(PipelineFolder):
    """What an SD3 pipeline folder's JSON files say, checked before any weights are loaded."""

    family = "sd3"
    class_name = CLASS_NAME
    zero_empty_negative = False  # SD3's pipeline encodes an empty negative prompt
    prediction = "PREDICTION_FLOW_VELOCITY"
    size_rule = "VAE factor x transformer patch_size"

    def __init__(self, folder, max_sequence_length=None):
        super().__init__(folder)
        if self.index.get("_class_name") != CLASS_NAME:
            raise Refused(f"pipeline _class_name {self.index.get('_class_name')!r} is not {CLASS_NAME}")
        self.transformer_config = self._config("transformer")
        self.vae_config = self._config("vae")
        self._read_scheduler()
        check_scheduler_config(self.scheduler_config)
        check_vae_config(self.vae_config)
        tc = self.transformer_config
        cls = tc.get("_class_name", TRANSFORMER_CLASS)
        if cls != TRANSFORMER_CLASS:
            raise Refused(f"transformer _class_name {cls!r} is not {TRANSFORMER_CLASS}")
        lat = self.vae_config.get("latent_channels", 4)
        if tc.get("in_channels", 16) != lat:
            raise Refused(f"transformer config in_channels={tc.get('in_channels', 16)} differs from the VAE's "
                          f"latent_channels={lat}")

        self.max_sequence_length = int(max_sequence_length or DEFAULT_MAX_SEQUENCE_LENGTH)
        if not 1 <= self.max_sequence_length <= MAX_SEQUENCE_LENGTH:
            raise Refused(f"--max-sequence-length {self.max_sequence_length}: diffusers' SD3 pipeline takes 1 to "
                          f"{MAX_SEQUENCE_LENGTH}")
        self.encoders = [(te, tok, text_encoder_arch(os.path.join(folder, te), CLIP_ARCHS)) for te, tok in CLIP_NAMES]
        entry = self.index.get(T5_NAMES[0])
        self.has_t5 = bool(entry) and entry[0] is not None
        if self.has_t5:
            self.encoders.append(T5_NAMES + (text_encoder_arch(os.path.join(folder, T5_NAMES[0]), T5_ARCHS),))
        elif max_sequence_length is not None:
            raise Refused("--max-sequence-length: this pipeline has no text_encoder_3 (T5)")
        self.pooled_components = [te for te, _ in CLIP_NAMES]

        joint = tc.get("joint_attention_dim", 4096)
        clips = [read_json(os.path.join(folder, te, "config.json")) for te, _ in CLIP_NAMES]
        width = sum(c.get("hidden_size", 0) for c in clips)
        if width > joint:
            raise Refused(f"the CLIP text encoders give {width} features, more than the transformer's "
                          f"joint_attention_dim {joint} they are zero-padded to")
        proj = sum(c.get("projection_dim", 0) for c in clips)
        if tc.get("pooled_projection_dim", 2048) != proj:
            raise Refused(f"transformer config pooled_projection_dim={tc.get('pooled_projection_dim', 2048)} differs "
                          f"from the CLIP projection dims' sum {proj}")
        if self.has_t5:
            d_model = read_json(os.path.join(folder, T5_NAMES[0], "config.json")).get("d_model")
            if d_model != joint:
                raise Refused(f"text_encoder_3 d_model {d_model} differs from the transformer's joint_attention_dim "
                              f"{joint}")
        self.context_dim = int(joint)

        self.vae_factor = 2 ** (len(self.vae_config.get("block_out_channels", [0])) - 1)
        self.patch_size = int(tc.get("patch_size", 2))
        self.multiple_of = self.vae_factor * self.patch_size
        ss = int(tc.get("sample_size", 128))
        self.default_size = (ss * self.vae_factor, ss * self.vae_factor)
        pos = tc.get("pos_embed_max_size", 96)
        if pos is None:
            raise Refused("transformer config pos_embed_max_size is null: the position embedding would be "
                          "recomputed for every size outside the traced graph; only SD3's cropped position grid "
                          "is exported")
        self.max_pixels = int(pos) * self.patch_size * self.vae_factor  # the position grid's extent

    def sizes(self, width=None, height=None, max_width=None, max_height=None):
        """The size constraint: twice the default (rounded down to multipleOf) capped by the position grid."""
        m, cap = self.multiple_of, self.max_pixels // self.multiple_of * self.multiple_of
        w, h = int(width or self.default_size[0]), int(height or self.default_size[1])
        for what, v in (("--max-width", max_width), ("--max-height", max_height)):
            if v is not None and v > cap:
                raise Refused(f"{what} {v} exceeds the transformer's position grid (pos_embed_max_size x patch x "
                              f"VAE factor = {self.max_pixels})")
        return Sizes(self, w, h, max_width or min(2 * w // m * m, cap), max_height or min(2 * h // m * m, cap), [])


def check_scheduler_config(c):
    if not sampling.is_flow_matching(c):
        raise Refused(f"scheduler config _class_name {c.get('_class_name')!r}: an SD3 pipeline is exported with "
                      f"{sampling.FLOW_MATCH} only")
    if c.get("use_dynamic_shifting"):
        raise Refused("scheduler config use_dynamic_shifting=true: SD3's pipeline passes no mu (image sequence "
                      "length shift); not exported")


def sd3_dims(t):
    """Dynamic dimensions: batch; height and width of 4-D tensors; the sequence of 3-D ones (text length,
    joint tokens)."""
    return {4: (0, 2, 3), 3: (0, 1)}.get(t.dim(), (0,))


@torch.no_grad()
def export(pipeline_dir, out, *, name=None, description=None, width=None, height=None, max_width=None,
           max_height=None, atol=1e-4, loader=None, golden=None, command=None, max_sequence_length=None,
           precision="fp32", keep_fp32=()):
    """Export the SD3 pipeline folder into the package folder `out`; returns the manifest (see the module
    docstring). Raises Refused for what it does not export; a package folder it created is removed again
    when the export fails."""
    p = Sd3Pipeline(pipeline_dir, max_sequence_length)
    sizes = p.sizes(width, height, max_width, max_height)
    diffusers = sampling.require_diffusers()
    mmdit.check_config(p.transformer_config, getattr(diffusers, TRANSFORMER_CLASS), diffusers.__version__)
    golden = golden or sampling.GoldenOptions()
    golden.resolve(sizes, p)
    if os.path.exists(os.path.join(out, "manifest.json")):
        raise Refused(f"{out} already holds a package; choose an empty --out")
    loader = loader or DiffusersLoader()
    tr, vae = loader.transformer(pipeline_dir, TRANSFORMER_CLASS), loader.vae(pipeline_dir)
    mmdit.check_layout(tr)
    encoders, tokenizers = [], []
    for te_name, tok_name, arch in p.encoders:
        folder = os.path.join(pipeline_dir, te_name)
        if arch in T5_ARCHS:
            encoders.append(load_text_encoder(folder, T5_ARCHS))
            tokenizers.append(T5PromptTokenizer(os.path.join(pipeline_dir, tok_name), p.max_sequence_length))
        else:
            te = load_text_encoder(folder, CLIP_ARCHS)
            encoders.append(te)
            tokenizers.append(PromptTokenizer(os.path.join(pipeline_dir, tok_name), cfg(te, "max_position_embeddings")))
    clip_len = tokenizers[0].max_length
    if tokenizers[1].max_length != clip_len:
        raise Refused(f"tokenizer_2 pads to {tokenizers[1].max_length} tokens, tokenizer to {clip_len}; diffusers' "
                      "SD3 pipeline pads both CLIP tokenizers to tokenizer's model_max_length")
    p.zero_context_length = 0 if p.has_t5 else clip_len

    with package_export(out, atol, precision, keep_fp32) as w:
        notes, report = [], {}
        g = torch.Generator().manual_seed(0)
        text, ehs, pooled = export_text(w, p, encoders, tokenizers, golden.prompts, notes, report)
        if pooled.shape[-1] != int(cfg(tr, "pooled_projection_dim")):
            raise Refused(f"the pooled text embeddings have {pooled.shape[-1]} features, the transformer's "
                          f"pooled_projection_dim is {cfg(tr, 'pooled_projection_dim')}")
        os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
        shutil.copyfile(p.scheduler_path, os.path.join(out, "scheduler", "scheduler_config.json"))
        latent = export_vae(w, p, sizes, vae, int(cfg(tr, "in_channels", 16)), g, notes, report, fold_shift=True)
        lengths = unique([ehs.shape[1], 2 * clip_len, clip_len + DEFAULT_MAX_SEQUENCE_LENGTH])
        denoiser, graph_err, trace_len = export_transformer(w, sizes, tr, latent, ehs, pooled, lengths, g, report)
        manifest = build_manifest(p, sizes, w, text, latent, denoiser, notes, tr, vae, encoders, tokenizers,
                                  name=name or os.path.basename(os.path.normpath(out)), description=description)
        manifest["training"].update({
            "source": os.path.basename(os.path.normpath(pipeline_dir)),
            "command": command or "genloom_export.stable_diffusion.export()",
            "trace_size": f"{size_name(sizes.trace)}, text length {trace_len}",
            "checked_sizes": ", ".join(size_name(s) for s in sizes.checks) + f" at text length {lengths[0]}; "
                             f"{size_name(sizes.default)} at text length "
                             + ", ".join(str(n) for n in lengths[1:])
                             + " (batch 3; CLIP text encoders at every hidden_layer)",
            "components_vs_eager_max_abs": ", ".join(f"{k} {v:.2e}" for k, v in report.items()),
            "blocks_vs_full_transformer_max_abs": ", ".join(f"{k} {v:.2e}" for k, v in graph_err.items())})

        entries, lines = sampling.record_goldens(diffusers, out, manifest, golden, p, denoiser=tr, vae=vae,
                                                 encoders=encoders, tokenizers=tokenizers, loaded=w.traced)
        manifest["goldens"] += entries
        manifest["training"]["sampling_goldens"] = (
            f"recorded with diffusers {diffusers.__version__} (its StableDiffusion3Pipeline.encode_prompt for the "
            f"text conditioning) over the eager modules (prompt ids from {tokenizers[0].source} and "
            f"{tokenizers[-1].source}); exported blocks, text encoders and decoder in the same loop vs eager: "
            + "; ".join(lines))
        finish_package(w, out, manifest, notes)
    print(f"wrote {out}: {len(w.components)} components, {w.E.package_size(out) / 1e6:.2f} MB", flush=True)
    return manifest


def conditioning(parts, pooled_parts, context_dim, sequence=None, zero_length=0):
    """SD3's layout of encode_prompt: features joined and zero-padded to context_dim, then the sequence part
    (or zero_length rows of zeros) appended along the sequence; pooled parts concatenated."""
    clip = torch.cat(parts, dim=-1)
    clip = torch.nn.functional.pad(clip, (0, context_dim - clip.shape[-1]))
    if sequence is None:
        sequence = torch.zeros(clip.shape[0], zero_length, context_dim)
    return torch.cat([clip, sequence], dim=1), torch.cat(pooled_parts, dim=-1)


def export_text(w, p, encoders, tokenizers, prompts, notes, report):
    """Tokenizer files and text encoder components; returns (manifest `text`, the golden prompts'
    encoder_hidden_states and pooled embedding in the package's layout)."""
    specs, states, pooled, sequence = [], [], [], None
    for (te_name, tok_name, arch), te, tok in zip(p.encoders, encoders, tokenizers):
        how = tok.write_tokenizer_json(os.path.join(w.pkg, tok_name, "tokenizer.json"))
        notes.append(f"{tok_name}/tokenizer.json {how}")
        ids = tok.encode(prompts)[0]
        ids3 = tok.encode(list(prompts) + [""])[0]
        if arch in T5_ARCHS:
            comp = T5EncoderComponent(te).eval()
            check_t5_component(te, comp, ids)
            (sequence,) = w.component(te_name, comp, (ids,), (ids,), ["input_ids"], ["hidden_states"])
            compare(te_name, comp(ids3), w.traced[te_name](ids3), w.atol, report, " (batch 3)")
            specs.append({"component": te_name, "tokenizer": tok.spec(f"{tok_name}/tokenizer.json"),
                          "join": "JOIN_SEQUENCE"})
            continue
        comp = TextEncoderComponent(te, final_norm=False, pooled=True).eval()
        check_component(te, comp, ids)
        hl = torch.tensor([2], dtype=torch.int64)  # diffusers: hidden_states[-2] (clip_skip None)
        h, q = w.component(te_name, comp, (ids, hl), (ids, hl), ["input_ids", "hidden_layer"],
                           ["hidden_states", "pooled"])
        for k in range(1, comp.n + 1):
            kk = torch.tensor([k], dtype=torch.int64)
            compare(te_name, comp(ids3, kk), w.traced[te_name](ids3, kk), w.atol, report,
                    f" (batch 3, hidden_layer {k})")
        states.append(h)
        pooled.append(q)
        specs.append({"component": te_name, "tokenizer": tok.spec(f"{tok_name}/tokenizer.json"),
                      "hiddenLayer": 2, "numHiddenStates": comp.n, "join": "JOIN_FEATURES"})
    text = {"encoders": specs, "pooledComponents": list(p.pooled_components), "contextDim": p.context_dim,
            "zeroEmptyNegative": False, "defaultClipSkip": 0}
    if p.zero_context_length:
        text["zeroContextLength"] = p.zero_context_length
    ehs, pooled = conditioning(states, pooled, p.context_dim, sequence, p.zero_context_length)
    return text, ehs, pooled


def export_transformer(w, sizes, tr, latent, ehs, pooled, lengths, g, report):
    """The transformer's blocks, traced at the trace size and a text length no check uses, goldens at the
    default size with the golden prompts' conditioning (batch 2), every block and the whole graph (against
    the full transformer) checked at the other sizes and lengths; returns (manifest `denoiser`,
    {check: graph max abs difference}, the trace text length)."""
    f, c = latent["downsample"], latent["channels"]
    graph = mmdit.blocks(tr)
    dj, dp = ehs.shape[-1], pooled.shape[-1]
    trace_len = max(lengths) + 3

    def inputs(size, batch, length, timesteps):
        w_, h_ = size
        return {"sample": torch.randn(batch, c, h_ // f, w_ // f, generator=g), "timestep": timesteps,
                "encoder_hidden_states": torch.randn(batch, length, dj, generator=g),
                "text_embeds": torch.randn(batch, dp, generator=g)}

    env_t = mmdit.run(graph, inputs(sizes.trace, 2, trace_len, torch.tensor([937.5, 212.0])))
    env = inputs(sizes.default, 2, ehs.shape[1], torch.tensor([1000.0, 421.5]))
    env.update(encoder_hidden_states=ehs, text_embeds=pooled)
    mmdit.run(graph, env)
    for b in graph:
        w.component(b.component, b.module, [env_t[i] for i in b.inputs], [env[i] for i in b.inputs], b.inputs,
                    b.outputs, file=b.file, dims=sd3_dims)
    denoiser = {"inputs": ["sample", "timestep", "encoder_hidden_states", "text_embeds"],
                "blocks": [w.E.block(b.name, b.component, b.inputs, b.outputs, b.cacheable, b.group) for b in graph],
                "output": "noise_pred", "prediction": "PREDICTION_FLOW_VELOCITY", "timestepInput": "discrete",
                "timestepScale": 1.0}
    runner = GraphRunner(w.pkg, w.components, denoiser, w.traced)
    checks = [(s, lengths[0]) for s in sizes.checks] + [(sizes.default, n) for n in lengths[1:]]
    graph_err = {}
    for size, length in checks:
        where = f"{size_name(size)} L{length}"
        env_c = inputs(size, 3, length, torch.tensor([1000.0, 500.5, 1.0]))
        graph_in = {k: env_c[k] for k in denoiser["inputs"]}
        mmdit.run(graph, env_c)
        for b in graph:
            compare(b.component, tuple(env_c[o] for o in b.outputs),
                    w.traced[b.component](*[env_c[i] for i in b.inputs]), w.atol, report, f" at {where}")
        ref = tr(hidden_states=graph_in["sample"], timestep=graph_in["timestep"],
                 encoder_hidden_states=graph_in["encoder_hidden_states"], pooled_projections=graph_in["text_embeds"],
                 return_dict=False)[0]
        d = max_abs(ref, runner(**graph_in))
        graph_err[where] = d
        print(f"block graph vs full transformer at {where} (batch 3): max abs diff {d:.3e} "
              f"(output max abs {ref.abs().max().item():.3g})", flush=True)
        if not d <= w.atol:
            raise Refused(f"the exported blocks differ from the full transformer at {where} by {d:.3e} "
                          f"> --atol {w.atol}")
    return denoiser, graph_err, trace_len


def build_manifest(p, sizes, w, text, latent, denoiser, notes, tr, vae, encoders, tokenizers, *, name,
                   description):
    W, H = sizes.default
    te_classes = ", ".join(f"{n} {type(te).__name__}" for (n, _, _), te in zip(p.encoders, encoders))
    shift = float(cfg(vae, "shift_factor", None) or 0.0)
    lengths = ", ".join(f"{tok_name} {t.max_length}" for (_, tok_name, _), t in zip(p.encoders, tokenizers))
    return {
        "format": "genloom/v1", "name": name, "version": "1.0.0", "kind": "MODEL_KIND_LATENT_DIFFUSION",
        "description": (description + " " if description else "")
        + f"{p.class_name} exported from diffusers: {te_classes}"
          + ("" if p.has_t5 else " (no text_encoder_3: zero T5 context)")
          + f"; {type(tr).__name__} as a block graph ({p.prediction}); {type(vae).__name__} (factor "
          f"{p.vae_factor}, shift_factor {shift:g} folded in); default {W}x{H}, sizes in multiples of "
          f"{sizes.multiple_of} up to {size_name(sizes.max)}.",
        "components": w.components, "denoiser": denoiser, "latent": latent,
        "schedule": {"configFile": "scheduler/scheduler_config.json"},
        # diffusers' StableDiffusion3Pipeline defaults: 28 steps, guidance 7.0; its img2img pipeline: strength 0.6
        "defaults": {"sampler": "euler", "steps": 28, "guidanceScale": 7.0, "eta": 0.0, "width": W, "height": H,
                     "strength": 0.6, "guidanceRescale": 0.0},
        "supportedSizes": [{"width": W, "height": H}],
        "goldens": w.goldens,
        "training": {
            "versions": versions(),
            "classes": f"pipeline {p.class_name}, transformer {type(tr).__name__}, vae {type(vae).__name__}, "
                       f"{te_classes}, scheduler {p.scheduler_config.get('_class_name', '?')}",
            "text_max_length": lengths,
            "vae_shift_factor": f"{shift:g} (folded into vae_encoder/vae_decoder)",
        },
        "text": text,
        "sizeConstraint": sizes.constraint(),
    }
