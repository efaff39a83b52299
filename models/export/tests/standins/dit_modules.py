"""Stand-ins for the DiT exporter's tests: a transformer with diffusers' SD3Transformer2DModel attribute
names and forward() control flow (simplified internals), a small text model with transformers' output
convention, and a pipeline folder with a scheduler config and a word-level BPE tokenizer.json."""
import json
import math
import os
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

from sd_modules import TimestepEmbedding, Timesteps


class PatchEmbed(nn.Module):
    """Patchify plus positions cropped from the centre of a max_size x max_size grid (SD3's pos_embed_max_size)."""

    def __init__(self, max_size, patch, cin, dim):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, patch, stride=patch)
        self.patch, self.max_size = patch, max_size
        self.pos_embed = nn.Parameter(torch.randn(1, max_size * max_size, dim) * 0.02)

    def forward(self, latent):
        h, w = latent.shape[-2] // self.patch, latent.shape[-1] // self.patch
        top, left = (self.max_size - h) // 2, (self.max_size - w) // 2
        grid = self.pos_embed.reshape(1, self.max_size, self.max_size, -1)[:, top:top + h, left:left + w]
        return self.proj(latent).flatten(2).transpose(1, 2) + grid.reshape(1, h * w, -1)


class CombinedTimestepTextProjEmbeddings(nn.Module):
    def __init__(self, dim, pooled_dim):
        super().__init__()
        self.time_proj = Timesteps(64, True, 1)
        self.timestep_embedder = TimestepEmbedding(64, dim)
        self.text_embedder = nn.Sequential(nn.Linear(pooled_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, timestep, pooled_projection):
        return self.timestep_embedder(self.time_proj(timestep)) + self.text_embedder(pooled_projection)


class AdaLayerNormContinuous(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.linear = nn.Linear(dim, 2 * dim)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, x, conditioning_embedding):
        scale, shift = self.linear(F.silu(conditioning_embedding)).chunk(2, dim=1)
        return self.norm(x) * (1 + scale)[:, None, :] + shift[:, None, :]


class JointTransformerBlock(nn.Module):
    """Joint attention over [context | image] with adaLN; returns (context or None, hidden)."""

    def __init__(self, dim, heads, context_pre_only=False):
        super().__init__()
        self.heads, self.context_pre_only = heads, context_pre_only
        self.norm1 = nn.Linear(dim, 3 * dim)
        self.norm1_context = nn.Linear(dim, 3 * dim)
        self.ln = nn.LayerNorm(dim, elementwise_affine=False)
        self.qkv, self.qkv_context = nn.Linear(dim, 3 * dim), nn.Linear(dim, 3 * dim)
        self.to_out, self.to_add_out = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(approximate="tanh"), nn.Linear(2 * dim, dim))
        self.ff_context = None if context_pre_only else nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(),
                                                                      nn.Linear(2 * dim, dim))

    def forward(self, hidden_states, encoder_hidden_states, temb, joint_attention_kwargs=None):
        B, N, D = hidden_states.shape
        L = encoder_hidden_states.shape[1]
        sh, sc, gate = self.norm1(F.silu(temb))[:, None].chunk(3, dim=-1)
        csh, csc, cgate = self.norm1_context(F.silu(temb))[:, None].chunk(3, dim=-1)
        h = self.ln(hidden_states) * (1 + sc) + sh
        c = self.ln(encoder_hidden_states) * (1 + csc) + csh
        qkv = torch.cat([self.qkv_context(c), self.qkv(h)], dim=1)
        q, k, v = (t.reshape(B, L + N, self.heads, D // self.heads).transpose(1, 2) for t in qkv.chunk(3, dim=-1))
        a = (torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D // self.heads), -1) @ v)
        a = a.transpose(1, 2).reshape(B, L + N, D)
        hidden_states = hidden_states + gate * self.to_out(a[:, L:])
        hidden_states = hidden_states + self.ff(self.ln(hidden_states))
        if self.context_pre_only:
            return None, hidden_states
        encoder_hidden_states = encoder_hidden_states + cgate * self.to_add_out(a[:, :L])
        encoder_hidden_states = encoder_hidden_states + self.ff_context(self.ln(encoder_hidden_states))
        return encoder_hidden_states, hidden_states


class FakeSD3Transformer2DModel(nn.Module):
    """SD3Transformer2DModel's attributes and forward() (diffusers models/transformers/transformer_sd3.py)."""

    def __init__(self, sample_size=16, patch_size=2, in_channels=4, num_layers=3, dim=48, heads=4,
                 joint_attention_dim=24, pooled_projection_dim=20, pos_embed_max_size=12):
        super().__init__()
        self.config = {"sample_size": sample_size, "patch_size": patch_size, "in_channels": in_channels,
                       "out_channels": in_channels, "joint_attention_dim": joint_attention_dim,
                       "pooled_projection_dim": pooled_projection_dim, "pos_embed_max_size": pos_embed_max_size}
        self.out_channels = in_channels
        self.pos_embed = PatchEmbed(pos_embed_max_size, patch_size, in_channels, dim)
        self.time_text_embed = CombinedTimestepTextProjEmbeddings(dim, pooled_projection_dim)
        self.context_embedder = nn.Linear(joint_attention_dim, dim)
        self.transformer_blocks = nn.ModuleList([JointTransformerBlock(dim, heads, i == num_layers - 1)
                                                 for i in range(num_layers)])
        self.norm_out = AdaLayerNormContinuous(dim)
        self.proj_out = nn.Linear(dim, patch_size * patch_size * in_channels)

    def forward(self, hidden_states, encoder_hidden_states=None, pooled_projections=None, timestep=None,
                return_dict=True):
        height, width = hidden_states.shape[-2:]
        hidden_states = self.pos_embed(hidden_states)
        temb = self.time_text_embed(timestep, pooled_projections)
        encoder_hidden_states = self.context_embedder(encoder_hidden_states)
        for block in self.transformer_blocks:
            encoder_hidden_states, hidden_states = block(hidden_states=hidden_states,
                                                         encoder_hidden_states=encoder_hidden_states, temb=temb)
        hidden_states = self.proj_out(self.norm_out(hidden_states, temb))
        p = self.config["patch_size"]
        height, width = height // p, width // p
        hidden_states = hidden_states.reshape(hidden_states.shape[0], height, width, p, p, self.out_channels)
        hidden_states = torch.einsum("nhwpqc->nchpwq", hidden_states)
        output = hidden_states.reshape(hidden_states.shape[0], self.out_channels, height * p, width * p)
        return (output,) if not return_dict else types.SimpleNamespace(sample=output)


SD3_SCHEDULER = {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 3.0}


class FakeTextModel(nn.Module):
    """A transformers-style text model: forward(input_ids) -> (last_hidden_state, pooled)."""

    def __init__(self, vocab, max_len, dim):
        super().__init__()
        self.config = {"max_position_embeddings": max_len}
        self.token_embedding = nn.Embedding(vocab, dim)
        self.position_embedding = nn.Parameter(torch.randn(1, max_len, dim) * 0.02)
        self.layer = nn.TransformerEncoderLayer(dim, 2, 2 * dim, dropout=0.0, batch_first=True)
        self.final_layer_norm = nn.LayerNorm(dim)

    def forward(self, input_ids):
        h = self.token_embedding(input_ids) + self.position_embedding[:, :input_ids.shape[1]]
        h = self.final_layer_norm(self.layer(h))
        return h, h[:, -1]


WORDS = ["a", "photograph", "of", "an", "astronaut", "riding", "horse", "oil", "painting", "lighthouse", "red",
         "cube", "on", "table"]


def write_word_bpe_tokenizer(path, words):
    """A small tokenizer.json in the layout of CLIP's (BPE model, Lowercase normalizer), one token per word."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for w in words:
        vocab[w + "</w>"] = len(vocab)
    tj = {"version": "1.0", "truncation": None, "padding": None,
          "added_tokens": [{"id": 0, "content": "<|startoftext|>", "special": True, "single_word": False,
                            "lstrip": False, "rstrip": False, "normalized": True},
                           {"id": 1, "content": "<|endoftext|>", "special": True, "single_word": False,
                            "lstrip": False, "rstrip": False, "normalized": True}],
          "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]},
          "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
          "model": {"type": "BPE", "dropout": None, "unk_token": "<|endoftext|>", "continuing_subword_prefix": "",
                    "end_of_word_suffix": "</w>", "fuse_unk": False, "vocab": vocab, "merges": []}}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(tj, f)
    return vocab


def word_encoder(vocab, max_length, bos=0, eos=1, pad=1):
    def encode(prompts):
        rows = []
        for p in prompts:
            ids = [bos] + [vocab.get(w + "</w>", eos) for w in p.lower().split()][:max_length - 2] + [eos]
            rows.append(ids + [pad] * (max_length - len(ids)))
        return torch.tensor(rows, dtype=torch.int64)
    return encode


def make_pipeline(folder, scheduler_config, words=WORDS):
    """The on-disk parts the DiT export reads besides the modules (scheduler config, tokenizer.json)."""
    os.makedirs(os.path.join(folder, "scheduler"), exist_ok=True)
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(scheduler_config, f)
    return write_word_bpe_tokenizer(os.path.join(folder, "tokenizer", "tokenizer.json"), words)
