"""SD3's MMDiT (diffusers' SD3Transformer2DModel) as a Genloom block graph, shared by the latent diffusion
exporter (genloom_export.sd3) and the DiT exporter (genloom_export.dit).

  transformer.embed        sample [B,C,h,w], timestep [B] (sigma x 1000), encoder_hidden_states [B,L,Dj],
                           text_embeds [B,P] -> joint_in [B,L+N,D], temb [B,D]
                           (context_embedder(encoder_hidden_states) then pos_embed(sample): N = (h/p)(w/p)
                           patches, positions cropped from the centre of the pos_embed_max_size grid;
                           temb = time_text_embed(timestep, pooled projections))
  transformer_blocks.<i>   joint_<i-1>, temb, encoder_hidden_states -> joint_<i>  (group "transformer_blocks")
  transformer.final_layer  joint_<n-1>, temb, encoder_hidden_states, sample -> noise_pred [B,C,h,w]
                           (norm_out, proj_out, unpatchify)

The joint blocks update the text and image streams together; Genloom's block caches (FORA, TeaCache)
treat a group as one residual stream (first input -> first output), so the two streams travel as one
tensor, [context tokens | image tokens] along the sequence. Each block splits it at the text length,
runs diffusers' block(hidden_states=, encoder_hidden_states=, temb=) and joins the results (the last,
context_pre_only block returns no context: it passes through). The text length L is read from
`encoder_hidden_states`, which every block takes for that reason, and the latent height and width from
`sample`: inside forward(), from input shapes only, so torch.jit.trace records them as shape reads and
one trace serves every size and text length (nothing is taken from the size the module was traced at).

What it refuses, by name: a transformer without this layout, `pos_embed_max_size` null (the positions
would then be recomputed with numpy for each size, which a trace bakes in), and config keys the
installed diffusers class does not take (diffusers would ignore them and build another model: e.g.
SD3.5's qk_norm and dual_attention_layers on a diffusers that predates them).
"""
import inspect

import torch
import torch.nn as nn

from .common import Refused, cfg

LAYOUT = ("pos_embed", "time_text_embed", "context_embedder", "transformer_blocks", "norm_out", "proj_out")
GROUP = "transformer_blocks"


class Embed(nn.Module):
    """(sample [B,C,h,w], timestep [B], encoder_hidden_states [B,L,Dj], text_embeds [B,P]) ->
    (joint [B,L+N,D], temb [B,D])."""

    def __init__(self, tr):
        super().__init__()
        self.pos_embed, self.time_text_embed, self.context_embedder = tr.pos_embed, tr.time_text_embed, \
            tr.context_embedder

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds):
        hidden = self.pos_embed(sample)
        temb = self.time_text_embed(timestep, text_embeds)
        context = self.context_embedder(encoder_hidden_states)
        return torch.cat([context, hidden], dim=1), temb


class JointBlock(nn.Module):
    """(joint [B,L+N,D], temb [B,D], encoder_hidden_states [B,L,Dj]) -> joint; L is
    encoder_hidden_states.shape[1]."""

    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, joint, temb, encoder_hidden_states):
        L = encoder_hidden_states.shape[1]
        context, hidden = joint[:, :L], joint[:, L:]
        new_context, hidden = self.block(hidden_states=hidden, encoder_hidden_states=context, temb=temb)
        if new_context is None:  # context_pre_only (the last SD3 block): the text stream is not updated
            new_context = context
        return torch.cat([new_context, hidden], dim=1)


class FinalLayer(nn.Module):
    """(joint, temb, encoder_hidden_states, sample) -> [B,C,h,w]: norm_out and proj_out on the image tokens,
    then SD3's unpatchify with h and w read from sample's last two dimensions."""

    def __init__(self, tr):
        super().__init__()
        self.norm_out, self.proj_out = tr.norm_out, tr.proj_out
        self.p = int(cfg(tr, "patch_size"))
        self.c = int(getattr(tr, "out_channels", None) or cfg(tr, "out_channels"))

    def forward(self, joint, temb, encoder_hidden_states, sample):
        x = self.proj_out(self.norm_out(joint[:, encoder_hidden_states.shape[1]:], temb))
        p, c = self.p, self.c
        h, w = sample.shape[-2] // p, sample.shape[-1] // p
        x = x.reshape(x.shape[0], h, w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, w * p)


class Block:
    """One component of the graph: its name (also the component's), module, input and output tensor names."""

    def __init__(self, name, file, module, inputs, outputs, cacheable, group=None):
        self.name = self.component = name
        self.file, self.module, self.inputs, self.outputs = file, module, inputs, outputs
        self.cacheable, self.group = cacheable, group


def check_layout(tr):
    """Raises Refused unless `tr` has SD3Transformer2DModel's attributes and a pos_embed_max_size."""
    missing = [a for a in LAYOUT if getattr(tr, a, None) is None]
    if missing or cfg(tr, "patch_size") is None:
        raise Refused(f"{type(tr).__name__} does not have the SD3 transformer layout this exporter supports "
                      f"(missing: {', '.join(missing) or 'config.patch_size'})")
    if cfg(tr, "pos_embed_max_size") is None:
        raise Refused("transformer config pos_embed_max_size is null: the position embedding would be recomputed "
                      "for every size outside the traced graph; only SD3's cropped position grid is exported")


def check_config(config, cls, version):
    """Refuses transformer config.json keys that `cls` (the installed diffusers class) does not take, and an
    explicit pos_embed_max_size null."""
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [] if takes_any else [k for k in config if not k.startswith("_") and k not in params]
    if unknown:
        k = unknown[0]
        raise Refused(f"transformer config {k}={config[k]!r}: diffusers {version}'s {cls.__name__} does not take "
                      f"{k!r} and would build the model without it (unknown keys: {', '.join(unknown)}); export "
                      "with a diffusers whose class takes it")
    if "pos_embed_max_size" in config and config["pos_embed_max_size"] is None:
        raise Refused("transformer config pos_embed_max_size is null: the position embedding would be recomputed "
                      "for every size outside the traced graph; only SD3's cropped position grid is exported")


def blocks(tr):
    """The graph over inputs sample, timestep, encoder_hidden_states, text_embeds; output noise_pred."""
    check_layout(tr)
    out = [Block("transformer.embed", "transformer/embed.pt", Embed(tr),
                 ["sample", "timestep", "encoder_hidden_states", "text_embeds"], ["joint_in", "temb"], False)]
    prev = "joint_in"
    for i, blk in enumerate(tr.transformer_blocks):
        out.append(Block(f"transformer_blocks.{i}", f"transformer/transformer_blocks.{i}.pt", JointBlock(blk),
                         [prev, "temb", "encoder_hidden_states"], [f"joint_{i}"], True, GROUP))
        prev = f"joint_{i}"
    out.append(Block("transformer.final_layer", "transformer/final_layer.pt", FinalLayer(tr),
                     [prev, "temb", "encoder_hidden_states", "sample"], ["noise_pred"], False))
    return out


@torch.no_grad()
def run(graph, env, modules=None):
    """Runs the blocks over the named tensors in env (eager, or {name: module}); returns env."""
    for b in graph:
        m = modules[b.name] if modules is not None else b.module
        outs = m(*[env[i] for i in b.inputs])
        outs = tuple(outs) if isinstance(outs, (tuple, list)) else (outs,)
        if len(outs) != len(b.outputs):
            raise Refused(f"{b.name}: {len(outs)} outputs, expected {len(b.outputs)} ({b.outputs})")
        env.update(zip(b.outputs, outs))
    return env
