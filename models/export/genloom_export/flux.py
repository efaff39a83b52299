"""Export a diffusers FluxPipeline folder (FLUX.1-dev or -schnell shaped) as a Genloom `latent_diffusion` package.

Called by genloom_export.stable_diffusion (its command line dispatches FluxPipeline folders here). Input: a
local pipeline folder with model_index.json, transformer/ (FluxTransformer2DModel), vae/ (AutoencoderKL),
text_encoder/ (CLIPTextModel) with tokenizer/, text_encoder_2/ (T5EncoderModel) with tokenizer_2/, and
scheduler/scheduler_config.json (FlowMatchEulerDiscreteScheduler). Output:

  manifest.json                  genloom.v1.ModelManifest
  text_encoder.pt                input_ids [B,77] -> hidden_states [B,77,D] (last_hidden_state, unused),
                                 pooled [B,P] (pooler_output: the graph input text_embeds; join JOIN_NONE)
  text_encoder_2.pt              input_ids [B,T] (T = --max-sequence-length, default 512) -> hidden_states
                                 [B,T,d_model] (encoder_hidden_states; join JOIN_FEATURES)
  tokenizer/, tokenizer_2/tokenizer.json
  vae_encoder.pt, vae_decoder.pt shift_factor folded in: encoder gives mean - shift, decoder decodes
                                 latent + shift (the runtime passes latent / scaleFactor)
  transformer/<block>.pt         the block graph below
  scheduler/scheduler_config.json  copied verbatim
  golden/...                     component goldens and sampling goldens (genloom_export.sampling)

The block graph keeps the runtime's latents 4-D, [B,C,h,w] (C = in_channels / 4), and does FluxPipeline's
2x2 packing inside it:

  transformer.embed        sample, timestep (sigma x 1000), encoder_hidden_states [B,L,Dj], text_embeds [B,P]
                           (, guidance [B] when the transformer has guidance_embeds) -> joint_in [B,L+N,D],
                           temb [B,D], image_rotary_emb [B,1,L+N,d/2,2,2]
                           (N = (h/2)(w/2) packed tokens; the transformer's timestep is timestep / 1000 and
                           its guidance the scale, both multiplied by 1000 again as its forward does; txt_ids
                           zeros of the text length and img_ids (0, row, column) of the packed grid, as
                           FluxPipeline builds them, enter the rotary embedding)
  transformer_blocks.<i>   joint, temb, image_rotary_emb, encoder_hidden_states -> joint
                           (double-stream blocks, group "transformer_blocks")
  single_transformer_blocks.<i>
                           joint, temb, image_rotary_emb -> joint (group "single_transformer_blocks")
  transformer.final_layer  joint, temb, encoder_hidden_states, sample -> noise_pred [B,C,h,w]
                           (norm_out and proj_out on the image tokens, then FluxPipeline's unpacking)

Every stream travels as one tensor, [context tokens | image tokens] along the sequence, the order of
Flux's single-stream blocks; the text length L is read from `encoder_hidden_states` and h, w from
`sample` inside forward(), so one trace serves every size and text length. The double-stream block of
diffusers 0.30.3 returns (encoder_hidden_states, hidden_states); the export checks that order on the
installed class before it traces.

Text conditioning, as FluxPipeline.encode_prompt builds it: T5's last hidden state is
encoder_hidden_states; CLIP contributes only its pooled output (text.pooledFrom). No negative prompt, no
clip skip. A transformer with guidance_embeds (FLUX.1-dev) takes the guidance scale as its graph input
`guidance`, which tells the runtime not to run classifier-free guidance; one without it (FLUX.1-schnell)
has no such input, and FluxPipeline then ignores the scale: its goldens are recorded at a scale <= 1,
which runs no guidance pass in the runtime either. schedule.sequencePatch 2 gives FluxPipeline's
schedule: sigmas linspace(1, 1/N, N) and, with use_dynamic_shifting, calculate_shift's mu of (h/2)(w/2).

Sizes: multiples of VAE factor x 2, default FluxPipeline's (64 x 2**len(vae block_out_channels)), up to
twice the default. Every component is traced once at a size and a text length that no golden or check
uses, then compared with eager PyTorch at the default size, 1.5x its width, twice its height and the
smallest size, and at the default size with a second text length; the block graph is compared with the
full eager transformer (called with FluxPipeline's own packed latents and ids) at each. The export stops
above --atol.

What it refuses, by name: pipeline classes other than FluxPipeline; scheduler configs other than
FlowMatchEulerDiscreteScheduler; VAE latents_mean / latents_std; a transformer other than
FluxTransformer2DModel, with patch_size other than 1, in_channels other than 4 x the VAE's latent
channels, axes_dims_rope not summing to attention_head_dim, or config keys the installed diffusers class
does not take; text encoders other than CLIPTextModel and T5EncoderModel; joint_attention_dim other than
T5's d_model, pooled_projection_dim other than CLIP's hidden_size; --max-sequence-length above 512;
golden guidance above 1 for a transformer without guidance_embeds, golden guidance_rescale or eta (FluxPipeline
has neither); sizes not multiples of VAE factor x 2.
"""
import inspect
import os
import shutil

import torch
import torch.nn as nn

from . import mmdit, sampling
from .common import GraphRunner, Refused, cfg, max_abs, read_json, versions
from .stable_diffusion import (DiffusersLoader, PipelineFolder, Sizes, check_vae_config, compare, export_vae,
                               finish_package, package_export, size_name, unique)
from .text import (T5_ARCHS, PooledTextEncoderComponent, PromptTokenizer, T5EncoderComponent, T5PromptTokenizer,
                   check_pooled_component, check_t5_component, load_text_encoder, text_encoder_arch)

CLASS_NAME = "FluxPipeline"
TRANSFORMER_CLASS = "FluxTransformer2DModel"
CLIP_ARCHS = ("CLIPTextModel",)
DEFAULT_MAX_SEQUENCE_LENGTH = 512  # FluxPipeline's max_sequence_length default
MAX_SEQUENCE_LENGTH = 512  # FluxPipeline.check_inputs' limit
DEFAULT_SAMPLE_SIZE = 64  # FluxPipeline.default_sample_size (x its vae_scale_factor)
PACK = 2  # FluxPipeline packs 2x2 latent patches into one token
LAYOUT = ("x_embedder", "context_embedder", "time_text_embed", "pos_embed", "transformer_blocks",
          "single_transformer_blocks", "norm_out", "proj_out")
DOUBLE, SINGLE = "transformer_blocks", "single_transformer_blocks"
ENCODERS = [("text_encoder", "tokenizer"), ("text_encoder_2", "tokenizer_2")]


class FluxPipelineFolder(PipelineFolder):
    """What a Flux pipeline folder's JSON files say, checked before any weights are loaded."""

    family = "flux"
    class_name = CLASS_NAME
    zero_empty_negative = False
    prediction = "PREDICTION_FLOW_VELOCITY"
    size_rule = "VAE factor x 2: FluxPipeline packs 2x2 latent patches"

    def __init__(self, folder, max_sequence_length=None):
        super().__init__(folder)
        if self.index.get("_class_name") != CLASS_NAME:
            raise Refused(f"pipeline _class_name {self.index.get('_class_name')!r} is not {CLASS_NAME}")
        self.transformer_config = self._config("transformer")
        self.vae_config = self._config("vae")
        self._read_scheduler()
        if not sampling.is_flow_matching(self.scheduler_config):
            raise Refused(f"scheduler config _class_name {self.scheduler_config.get('_class_name')!r}: a Flux "
                          f"pipeline is exported with {sampling.FLOW_MATCH} only")
        check_vae_config(self.vae_config)
        tc = self.transformer_config
        cls = tc.get("_class_name", TRANSFORMER_CLASS)
        if cls != TRANSFORMER_CLASS:
            raise Refused(f"transformer _class_name {cls!r} is not {TRANSFORMER_CLASS}")
        if tc.get("patch_size", 1) != 1:
            raise Refused(f"transformer config patch_size={tc['patch_size']}: FluxPipeline packs 2x2 latent patches "
                          "itself and unpacks proj_out's output as 4 x in_channels / 4 values per token; only "
                          "patch_size 1 is exported")
        self.latent_channels = int(self.vae_config.get("latent_channels", 4))
        if tc.get("in_channels", 64) != PACK * PACK * self.latent_channels:
            raise Refused(f"transformer config in_channels={tc.get('in_channels', 64)} is not 4 x the VAE's "
                          f"latent_channels {self.latent_channels} (FluxPipeline's 2x2 packing)")
        heads, head_dim = tc.get("num_attention_heads", 24), tc.get("attention_head_dim", 128)
        axes = tc.get("axes_dims_rope", [16, 56, 56])
        if sum(axes) != head_dim or any(a % 2 for a in axes) or len(axes) != 3:
            raise Refused(f"transformer config axes_dims_rope={axes}: three even rotary axes summing to "
                          f"attention_head_dim {head_dim} are needed (FluxPipeline's ids have 3 axes)")
        self.guidance_embeds = bool(tc.get("guidance_embeds", False))

        self.max_sequence_length = int(max_sequence_length or DEFAULT_MAX_SEQUENCE_LENGTH)
        if not 1 <= self.max_sequence_length <= MAX_SEQUENCE_LENGTH:
            raise Refused(f"--max-sequence-length {self.max_sequence_length}: diffusers' Flux pipeline takes 1 to "
                          f"{MAX_SEQUENCE_LENGTH}")
        for te, _ in ENCODERS:
            entry = self.index.get(te)
            if not entry or entry[0] is None:
                raise Refused(f"model_index.json has no {te}: FluxPipeline needs both its text encoders")
        self.encoders = [("text_encoder", "tokenizer", text_encoder_arch(os.path.join(folder, "text_encoder"),
                                                                          CLIP_ARCHS)),
                         ("text_encoder_2", "tokenizer_2", text_encoder_arch(os.path.join(folder, "text_encoder_2"),
                                                                              T5_ARCHS))]
        self.pooled_from = "text_encoder"
        clip = read_json(os.path.join(folder, "text_encoder", "config.json"))
        if tc.get("pooled_projection_dim", 768) != clip.get("hidden_size"):
            raise Refused(f"transformer config pooled_projection_dim={tc.get('pooled_projection_dim', 768)} differs "
                          f"from text_encoder's hidden_size {clip.get('hidden_size')} (its pooler_output)")
        d_model = read_json(os.path.join(folder, "text_encoder_2", "config.json")).get("d_model")
        if tc.get("joint_attention_dim", 4096) != d_model:
            raise Refused(f"transformer config joint_attention_dim={tc.get('joint_attention_dim', 4096)} differs from "
                          f"text_encoder_2's d_model {d_model}")

        n_levels = len(self.vae_config.get("block_out_channels", [0]))
        self.vae_factor = 2 ** (n_levels - 1)
        self.multiple_of = self.vae_factor * PACK
        # FluxPipeline: vae_scale_factor = 2 ** len(block_out_channels), default size 64 x that
        s = DEFAULT_SAMPLE_SIZE * 2 ** n_levels
        self.default_size = (s, s)
        # FLUX.1-dev's documented scale; FluxPipeline ignores it without guidance_embeds (schnell: 0)
        self.default_guidance = 3.5 if self.guidance_embeds else 0.0

    def sizes(self, width=None, height=None, max_width=None, max_height=None):
        return Sizes(self, width, height, max_width, max_height, [])


# ------------------------------------------------------------------------------------------ the block graph


def pack(sample):
    """[B,C,h,w] -> [B,(h/2)(w/2),4C]: FluxPipeline._pack_latents, sizes read from the tensor."""
    b, c, h, w = sample.shape
    x = sample.reshape(b, c, h // PACK, PACK, w // PACK, PACK).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // PACK) * (w // PACK), c * PACK * PACK)


def unpack(tokens, sample):
    """[B,N,4C] -> [B,C,h,w] with h, w from `sample`: FluxPipeline._unpack_latents."""
    b, _, c4 = tokens.shape
    h, w = sample.shape[-2], sample.shape[-1]
    x = tokens.reshape(b, h // PACK, w // PACK, c4 // (PACK * PACK), PACK, PACK).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, c4 // (PACK * PACK), h, w)


def position_ids(sample, encoder_hidden_states):
    """cat(txt_ids, img_ids) [B, L+N, 3] as FluxPipeline builds them (encode_prompt's zeros of the text length,
    _prepare_latent_image_ids' (0, row, column) of the packed grid), from the two tensors' shapes. The grid's
    row and column numbers are running sums of ones over a [h/2, w/2] view of `sample`, so that a trace keeps
    them shape-dependent."""
    grid = torch.ones_like(sample[0, 0, ::PACK, ::PACK])
    rows, cols = grid.cumsum(0) - 1, grid.cumsum(1) - 1
    img = torch.stack([torch.zeros_like(grid), rows, cols], dim=-1).reshape(1, -1, 3)
    img = img.expand(sample.shape[0], -1, -1)
    txt = torch.zeros_like(encoder_hidden_states[..., :3])
    return torch.cat([txt, img], dim=1)


class Embed(nn.Module):
    """(sample, timestep, encoder_hidden_states, text_embeds[, guidance]) -> (joint, temb, image_rotary_emb)."""

    def __init__(self, tr, guidance):
        super().__init__()
        self.x_embedder, self.context_embedder = tr.x_embedder, tr.context_embedder
        self.time_text_embed, self.pos_embed = tr.time_text_embed, tr.pos_embed
        self.guidance = bool(guidance)

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds, guidance=None):
        hidden = self.x_embedder(pack(sample))
        # FluxPipeline passes timestep / 1000; FluxTransformer2DModel.forward multiplies by 1000 again
        t = (timestep / 1000).to(hidden.dtype) * 1000
        if self.guidance:
            temb = self.time_text_embed(t, guidance.to(hidden.dtype) * 1000, text_embeds)
        else:
            temb = self.time_text_embed(t, text_embeds)
        context = self.context_embedder(encoder_hidden_states)
        rotary = self.pos_embed(position_ids(sample, encoder_hidden_states))
        return torch.cat([context, hidden], dim=1), temb, rotary


class DoubleBlock(nn.Module):
    """(joint [B,L+N,D], temb, image_rotary_emb, encoder_hidden_states [B,L,Dj]) -> joint: FluxTransformerBlock on
    the context (first L tokens) and image streams. diffusers 0.30.3's block returns (encoder_hidden_states,
    hidden_states), checked by check_double_block."""

    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, joint, temb, image_rotary_emb, encoder_hidden_states):
        L = encoder_hidden_states.shape[1]
        context, hidden = joint[:, :L], joint[:, L:]
        new_context, new_hidden = self.block(hidden_states=hidden, encoder_hidden_states=context, temb=temb,
                                             image_rotary_emb=image_rotary_emb)
        return torch.cat([new_context, new_hidden], dim=1)


class SingleBlock(nn.Module):
    """(joint, temb, image_rotary_emb) -> joint: FluxSingleTransformerBlock over the whole [context | image]
    sequence."""

    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, joint, temb, image_rotary_emb):
        return self.block(hidden_states=joint, temb=temb, image_rotary_emb=image_rotary_emb)


class FinalLayer(nn.Module):
    """(joint, temb, encoder_hidden_states, sample) -> noise_pred [B,C,h,w]."""

    def __init__(self, tr):
        super().__init__()
        self.norm_out, self.proj_out = tr.norm_out, tr.proj_out

    def forward(self, joint, temb, encoder_hidden_states, sample):
        x = self.proj_out(self.norm_out(joint[:, encoder_hidden_states.shape[1]:], temb))
        return unpack(x, sample)


def check_layout(tr):
    missing = [a for a in LAYOUT if getattr(tr, a, None) is None]
    if missing:
        raise Refused(f"{type(tr).__name__} does not have the Flux transformer layout this exporter supports "
                      f"(missing: {', '.join(missing)})")
    for blk in tr.single_transformer_blocks:
        params = inspect.signature(blk.forward).parameters
        if "encoder_hidden_states" in params:
            raise Refused(f"{type(blk).__name__}.forward takes encoder_hidden_states (a diffusers newer than "
                          "0.30): its single-stream block interface is not the one this exporter wraps")


@torch.no_grad()
def check_double_block(block, inner_dim, temb, rotary_of):
    """FluxTransformerBlock's return value on the installed diffusers: two tensors, the context first (0.30.3's
    order, encoder_hidden_states then hidden_states). Tested with a text length and an image token count that
    differ, so the order shows in the shapes."""
    L, N = 3, 5
    ctx, img = torch.zeros(1, L, inner_dim), torch.zeros(1, N, inner_dim)
    out = block(hidden_states=img, encoder_hidden_states=ctx, temb=temb[:1], image_rotary_emb=rotary_of(L, N))
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise Refused(f"{type(block).__name__} returns {type(out).__name__}"
                      + (f" of {len(out)} values" if isinstance(out, (tuple, list)) else "")
                      + ", not (encoder_hidden_states, hidden_states) as diffusers 0.30.3's does")
    if tuple(out[0].shape[:2]) != (1, L) or tuple(out[1].shape[:2]) != (1, N):
        raise Refused(f"{type(block).__name__} returns shapes {tuple(out[0].shape)}, {tuple(out[1].shape)} for "
                      f"{L} context and {N} image tokens: not (encoder_hidden_states, hidden_states)")


def blocks(tr, guidance):
    """The graph over inputs sample, timestep, encoder_hidden_states, text_embeds (, guidance); output
    noise_pred."""
    check_layout(tr)
    ins = ["sample", "timestep", "encoder_hidden_states", "text_embeds"] + (["guidance"] if guidance else [])
    out = [mmdit.Block("transformer.embed", "transformer/embed.pt", Embed(tr, guidance), ins,
                       ["joint_in", "temb", "image_rotary_emb"], False)]
    prev = "joint_in"
    for i, blk in enumerate(tr.transformer_blocks):
        out.append(mmdit.Block(f"{DOUBLE}.{i}", f"transformer/{DOUBLE}.{i}.pt", DoubleBlock(blk),
                               [prev, "temb", "image_rotary_emb", "encoder_hidden_states"], [f"joint_{i}"], True,
                               DOUBLE))
        prev = f"joint_{i}"
    for i, blk in enumerate(tr.single_transformer_blocks):
        out.append(mmdit.Block(f"{SINGLE}.{i}", f"transformer/{SINGLE}.{i}.pt", SingleBlock(blk),
                               [prev, "temb", "image_rotary_emb"], [f"single_{i}"], True, SINGLE))
        prev = f"single_{i}"
    out.append(mmdit.Block("transformer.final_layer", "transformer/final_layer.pt", FinalLayer(tr),
                           [prev, "temb", "encoder_hidden_states", "sample"], ["noise_pred"], False))
    return out


def flux_dims(t):
    """Dynamic dimensions: batch; height and width of 4-D tensors; the sequence of 3-D ones (text length,
    joint tokens) and of the 6-D rotary embedding."""
    return {4: (0, 2, 3), 3: (0, 1), 6: (0, 2)}.get(t.dim(), (0,))


# ------------------------------------------------------------------------------------------ the export


@torch.no_grad()
def export(pipeline_dir, out, *, name=None, description=None, width=None, height=None, max_width=None,
           max_height=None, atol=1e-4, loader=None, golden=None, command=None, max_sequence_length=None,
           precision="fp32", keep_fp32=()):
    """Export the Flux pipeline folder into the package folder `out`; returns the manifest (see the module
    docstring). Raises Refused for what it does not export; a package folder it created is removed again
    when the export fails."""
    p = FluxPipelineFolder(pipeline_dir, max_sequence_length)
    sizes = p.sizes(width, height, max_width, max_height)
    diffusers = sampling.require_diffusers()
    mmdit.check_config(p.transformer_config, getattr(diffusers, TRANSFORMER_CLASS), diffusers.__version__)
    golden = golden or sampling.GoldenOptions()
    golden.negatives = [""] * len(golden.prompts)  # FluxPipeline has no negative prompt
    golden.resolve(sizes, p)
    if golden.guidance_rescale or any(k in over for _, over in golden.extras for k in ("eta", "guidance_rescale")):
        raise Refused("golden guidance_rescale / eta: FluxPipeline's loop has neither")
    if not p.guidance_embeds and any(float(over.get("guidance_scale", golden.guidance)) > 1.0
                                     for _, _, over, _ in golden.runs()):
        raise Refused(f"golden guidance {golden.guidance:g}: this transformer has no guidance_embeds, so "
                      "FluxPipeline ignores the scale and runs no guidance pass, while the runtime would run "
                      "classifier-free guidance for a scale above 1; record its goldens at a scale <= 1")
    if os.path.exists(os.path.join(out, "manifest.json")):
        raise Refused(f"{out} already holds a package; choose an empty --out")
    loader = loader or DiffusersLoader()
    tr, vae = loader.transformer(pipeline_dir, TRANSFORMER_CLASS), loader.vae(pipeline_dir)
    check_layout(tr)
    encoders = [load_text_encoder(os.path.join(pipeline_dir, "text_encoder"), CLIP_ARCHS),
                load_text_encoder(os.path.join(pipeline_dir, "text_encoder_2"), T5_ARCHS)]
    tokenizers = [PromptTokenizer(os.path.join(pipeline_dir, "tokenizer"),
                                  cfg(encoders[0], "max_position_embeddings")),
                  T5PromptTokenizer(os.path.join(pipeline_dir, "tokenizer_2"), p.max_sequence_length)]

    with package_export(out, atol, precision, keep_fp32) as w:
        notes, report = [], {}
        g = torch.Generator().manual_seed(0)
        text, ehs, pooled = export_text(w, p, encoders, tokenizers, golden.prompts, notes, report)
        os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
        shutil.copyfile(p.scheduler_path, os.path.join(out, "scheduler", "scheduler_config.json"))
        latent = export_vae(w, p, sizes, vae, p.latent_channels, g, notes, report, fold_shift=True)
        lengths = unique([ehs.shape[1], 256 if ehs.shape[1] != 256 else 77])
        denoiser, graph_err, trace_len = export_transformer(w, p, sizes, tr, latent, ehs, pooled, lengths, g,
                                                            report, diffusers)
        manifest = build_manifest(p, sizes, w, text, latent, denoiser, tr, vae, encoders, tokenizers,
                                  name=name or os.path.basename(os.path.normpath(out)), description=description)
        manifest["training"].update({
            "source": os.path.basename(os.path.normpath(pipeline_dir)),
            "command": command or "genloom_export.stable_diffusion.export()",
            "trace_size": f"{size_name(sizes.trace)}, text length {trace_len}",
            "checked_sizes": ", ".join(size_name(s) for s in sizes.checks) + f" at text length {lengths[0]}; "
                             f"{size_name(sizes.default)} at text length "
                             + ", ".join(str(n) for n in lengths[1:]) + " (batch 3)",
            "components_vs_eager_max_abs": ", ".join(f"{k} {v:.2e}" for k, v in report.items()),
            "blocks_vs_full_transformer_max_abs": ", ".join(f"{k} {v:.2e}" for k, v in graph_err.items())})

        entries, lines = sampling.record_flux_goldens(diffusers, out, manifest, golden, p, transformer=tr, vae=vae,
                                                      encoders=encoders, tokenizers=tokenizers, loaded=w.traced)
        manifest["goldens"] += entries
        manifest["training"]["sampling_goldens"] = (
            f"recorded with diffusers {diffusers.__version__} (FluxPipeline's encode_prompt, prepare_latents, "
            f"calculate_shift, retrieve_timesteps and _unpack_latents in its denoising loop) over the eager modules "
            f"(prompt ids from {tokenizers[0].source} and {tokenizers[1].source}); exported blocks, text encoders "
            "and decoder in the same loop on unpacked latents vs eager: " + "; ".join(lines))
        finish_package(w, out, manifest, notes)
    print(f"wrote {out}: {len(w.components)} components, {w.E.package_size(out) / 1e6:.2f} MB", flush=True)
    return manifest


def export_text(w, p, encoders, tokenizers, prompts, notes, report):
    """Tokenizer files and the two text encoder components; returns (manifest `text`, the golden prompts'
    encoder_hidden_states, their pooled embedding)."""
    specs, ehs, pooled = [], None, None
    for (te_name, tok_name, arch), te, tok in zip(p.encoders, encoders, tokenizers):
        how = tok.write_tokenizer_json(os.path.join(w.pkg, tok_name, "tokenizer.json"))
        notes.append(f"{tok_name}/tokenizer.json {how}")
        ids = tok.encode(prompts)[0]
        ids3 = tok.encode(list(prompts) + [""])[0]
        if arch in T5_ARCHS:
            comp = T5EncoderComponent(te).eval()
            check_t5_component(te, comp, ids)
            (ehs,) = w.component(te_name, comp, (ids,), (ids,), ["input_ids"], ["hidden_states"])
            join = "JOIN_FEATURES"
        else:
            comp = PooledTextEncoderComponent(te).eval()
            check_pooled_component(te, comp, ids)
            _, pooled = w.component(te_name, comp, (ids,), (ids,), ["input_ids"], ["hidden_states", "pooled"])
            join = "JOIN_NONE"
        compare(te_name, comp(ids3), w.traced[te_name](ids3), w.atol, report, " (batch 3)")
        specs.append({"component": te_name, "tokenizer": tok.spec(f"{tok_name}/tokenizer.json"), "join": join})
    text = {"encoders": specs, "pooledFrom": p.pooled_from, "zeroEmptyNegative": False, "defaultClipSkip": 0}
    return text, ehs, pooled


def export_transformer(w, p, sizes, tr, latent, ehs, pooled, lengths, g, report, diffusers):
    """The transformer's blocks, traced at the trace size and a text length no check uses, goldens at the
    default size with the golden prompts' conditioning (batch 2), every block and the whole graph checked at
    the other sizes and lengths, the graph against the full transformer fed as FluxPipeline feeds it; returns
    (manifest `denoiser`, {check: graph max abs difference}, the trace text length)."""
    f, c = latent["downsample"], latent["channels"]
    guidance = p.guidance_embeds
    graph = blocks(tr, guidance)
    parts = sampling.flux_pipeline_parts(diffusers)
    dj, dp = ehs.shape[-1], pooled.shape[-1]
    trace_len = max(lengths) + 3

    def inputs(size, batch, length, timesteps, scales):
        w_, h_ = size
        env = {"sample": torch.randn(batch, c, h_ // f, w_ // f, generator=g), "timestep": timesteps,
               "encoder_hidden_states": torch.randn(batch, length, dj, generator=g),
               "text_embeds": torch.randn(batch, dp, generator=g)}
        if guidance:
            env["guidance"] = scales
        return env

    env_t = mmdit.run(graph, inputs(sizes.trace, 2, trace_len, torch.tensor([937.5, 212.0]), torch.tensor([4.0, 2.5])))
    inner = int(env_t["temb"].shape[-1])

    def rotary_of(L, N):
        return tr.pos_embed(torch.cat([torch.zeros(1, L, 3), torch.arange(N, dtype=torch.float32)[None, :, None]
                                       .expand(1, N, 3)], dim=1))

    check_double_block(tr.transformer_blocks[0], inner, env_t["temb"], rotary_of)
    env = inputs(sizes.default, 2, ehs.shape[1], torch.tensor([1000.0, 421.5]), torch.tensor([3.5, 3.5]))
    env.update(encoder_hidden_states=ehs, text_embeds=pooled)
    mmdit.run(graph, env)
    for b in graph:
        w.component(b.component, b.module, [env_t[i] for i in b.inputs], [env[i] for i in b.inputs], b.inputs,
                    b.outputs, file=b.file, dims=flux_dims)
    denoiser = {"inputs": list(graph[0].inputs),
                "blocks": [w.E.block(b.name, b.component, b.inputs, b.outputs, b.cacheable, b.group) for b in graph],
                "output": "noise_pred", "prediction": "PREDICTION_FLOW_VELOCITY", "timestepInput": "discrete",
                "timestepScale": 1.0}
    runner = GraphRunner(w.pkg, w.components, denoiser, w.traced)
    checks = [(s, lengths[0]) for s in sizes.checks] + [(sizes.default, n) for n in lengths[1:]]
    graph_err = {}
    for size, length in checks:
        where = f"{size_name(size)} L{length}"
        env_c = inputs(size, 3, length, torch.tensor([1000.0, 500.5, 1.0]), torch.tensor([3.5, 1.0, 7.0]))
        graph_in = {k: env_c[k] for k in denoiser["inputs"]}
        mmdit.run(graph, env_c)
        for b in graph:
            compare(b.component, tuple(env_c[o] for o in b.outputs),
                    w.traced[b.component](*[env_c[i] for i in b.inputs]), w.atol, report, f" at {where}")
        ref = full_transformer(tr, parts, graph_in, size, p.vae_factor * PACK)
        d = max_abs(ref, runner(**graph_in))
        graph_err[where] = d
        print(f"block graph vs full transformer at {where} (batch 3): max abs diff {d:.3e} "
              f"(output max abs {ref.abs().max().item():.3g})", flush=True)
        if not d <= w.atol:
            raise Refused(f"the exported blocks differ from the full transformer at {where} by {d:.3e} "
                          f"> --atol {w.atol}")
    return denoiser, graph_err, trace_len


def full_transformer(tr, parts, graph_in, size, vae_scale_factor):
    """The eager FluxTransformer2DModel on the graph's inputs as FluxPipeline feeds it: latents packed by its
    _pack_latents, img_ids from _prepare_latent_image_ids, txt_ids zeros, timestep / 1000; the output
    unpacked by _unpack_latents."""
    x = graph_in["sample"]
    B, C, h, w = x.shape
    ehs = graph_in["encoder_hidden_states"]
    out = tr(hidden_states=parts._pack_latents(x, B, C, h, w), timestep=graph_in["timestep"] / 1000,
             guidance=graph_in.get("guidance"), pooled_projections=graph_in["text_embeds"],
             encoder_hidden_states=ehs, txt_ids=torch.zeros(B, ehs.shape[1], 3),
             img_ids=parts._prepare_latent_image_ids(B, h, w, x.device, x.dtype), return_dict=False)[0]
    return parts._unpack_latents(out, size[1], size[0], vae_scale_factor)


def build_manifest(p, sizes, w, text, latent, denoiser, tr, vae, encoders, tokenizers, *, name, description):
    W, H = sizes.default
    te_classes = ", ".join(f"{n} {type(te).__name__}" for (n, _, _), te in zip(p.encoders, encoders))
    shift = float(cfg(vae, "shift_factor", None) or 0.0)
    lengths = ", ".join(f"{tok_name} {t.max_length}" for (_, tok_name, _), t in zip(p.encoders, tokenizers))
    guidance = ("guidance-distilled: the scale is its `guidance` input, no classifier-free guidance"
                if p.guidance_embeds else "no guidance_embeds: FluxPipeline runs no guidance")
    return {
        "format": "genloom/v1", "name": name, "version": "1.0.0", "kind": "MODEL_KIND_LATENT_DIFFUSION",
        "description": (description + " " if description else "")
        + f"{p.class_name} exported from diffusers: {te_classes} (pooled output only); {type(tr).__name__} as a "
          f"block graph with the 2x2 latent packing inside ({p.prediction}; {guidance}); {type(vae).__name__} "
          f"(factor {p.vae_factor}, shift_factor {shift:g} folded in); default {W}x{H}, sizes in multiples of "
          f"{sizes.multiple_of} up to {size_name(sizes.max)}.",
        "components": w.components, "denoiser": denoiser, "latent": latent,
        "schedule": {"configFile": "scheduler/scheduler_config.json", "sequencePatch": PACK},
        # FLUX.1-dev's documented use: 28 steps, guidance 3.5 (schnell: 4 steps, guidance 0)
        "defaults": {"sampler": "euler", "steps": 28 if p.guidance_embeds else 4,
                     "guidanceScale": p.default_guidance, "eta": 0.0, "width": W, "height": H, "strength": 0.6,
                     "guidanceRescale": 0.0},
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
