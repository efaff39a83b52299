"""Test-only stand-in for the part of transformers' interface the Genloom exporter uses.

It is importable as `transformers` only when tests/standins is on sys.path (the tests' conftest and
tests_diffusers/build_fixtures.py put it there); it is never installed. It offers
`CLIPTextModel`, `CLIPTextModelWithProjection` and `T5EncoderModel` with transformers' documented
interface:

  - `T5Tokenizer`, a name only (diffusers' CogVideoX pipeline modules import it; the exporter tokenizes
    with genloom_export.text.T5PromptTokenizer);
  - `from_pretrained(folder, torch_dtype=None, **kwargs)` reading `config.json` and
    `pytorch_model.bin`, `save_pretrained(folder)` writing them; `.dtype`;
  - `forward(input_ids, attention_mask=None, position_ids=None, output_attentions=None,
    output_hidden_states=None, return_dict=None)` returning an output object that is indexable
    like transformers' ModelOutput (fields that are None are left out of the tuple):
    CLIPTextModel -> (last_hidden_state, pooler_output[, hidden_states]),
    CLIPTextModelWithProjection -> (text_embeds, last_hidden_state[, hidden_states]),
    T5EncoderModel (no position_ids) -> (last_hidden_state[, hidden_states]);
  - `.dtype`, `.device` (diffusers' DiffusionPipeline.device reads its modules' `device`);
  - `.text_model.final_layer_norm`, `.config.num_hidden_layers`, `hidden_size`, `projection_dim`,
    `max_position_embeddings`, `eos_token_id`; for T5 `.config.d_model`, `num_layers`.

The CLIP network is a small CLIP-style text transformer: token and position embeddings, pre-norm
layers of causal multi-head self-attention and an MLP (quick_gelu for OpenAI CLIP, gelu for
OpenCLIP), a final layer norm, the pooled output taken at the end-of-text position, and a
bias-free projection for the "WithProjection" class. `hidden_states` holds the embedding output
and every layer's output (num_hidden_layers + 1 tensors); the last one is before the final norm.

The T5 network is a T5 encoder (Raffel et al. 2020; the v1.1 variant with `feed_forward_proj`
"gated-gelu"): a token embedding without positions, pre-norm layers of bidirectional
self-attention without score scaling, whose bias comes from bucketed relative positions (computed
in the first layer and reused by the others), and a feed-forward part (ReLU, or a gated GELU with
the tanh approximation), RMS layer norms without bias or mean subtraction, and a final norm.
`hidden_states` holds the embedding output, the outputs of all layers but the last, and the
normed final output (num_layers + 1 tensors; the last one is last_hidden_state), as transformers'
T5 returns them.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

__version__ = "0.0-standin"

WEIGHTS_NAME = "pytorch_model.bin"
CONFIG_NAME = "config.json"


class PretrainedConfig:
    """Keyword settings over the class's defaults; unknown keys are kept, as transformers keeps them."""

    model_type = ""
    _defaults = {}

    def __init__(self, **kwargs):
        for k, v in self._defaults.items():
            setattr(self, k, kwargs.pop(k, v))
        for k, v in kwargs.items():
            setattr(self, k, v)

    def to_dict(self):
        d = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        d["model_type"] = self.model_type
        return d

    @classmethod
    def from_json_file(cls, path):
        with open(path) as f:
            d = json.load(f)
        d.pop("model_type", None)
        return cls(**d)


class CLIPTextConfig(PretrainedConfig):
    model_type = "clip_text_model"
    _defaults = {"vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "projection_dim": 512,
                 "num_hidden_layers": 12, "num_attention_heads": 8, "max_position_embeddings": 77,
                 "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 49406,
                 "eos_token_id": 49407, "architectures": None, "torch_dtype": "float32"}


class T5Config(PretrainedConfig):
    model_type = "t5"
    _defaults = {"vocab_size": 32128, "d_model": 512, "d_kv": 64, "d_ff": 2048, "num_layers": 6, "num_heads": 8,
                 "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
                 "dropout_rate": 0.1, "layer_norm_epsilon": 1e-6, "feed_forward_proj": "relu",
                 "is_encoder_decoder": True, "pad_token_id": 0, "eos_token_id": 1, "decoder_start_token_id": 0,
                 "architectures": None, "torch_dtype": "float32"}


class ModelOutput:
    """Attribute access plus tuple-style indexing over the fields that are not None."""

    _fields = ()

    def __init__(self, **values):
        for k in self._fields:
            setattr(self, k, values.get(k))

    def to_tuple(self):
        return tuple(getattr(self, k) for k in self._fields if getattr(self, k) is not None)

    def __getitem__(self, i):
        return self.to_tuple()[i]

    def __len__(self):
        return len(self.to_tuple())

    def __iter__(self):
        return iter(self.to_tuple())


class BaseModelOutputWithPooling(ModelOutput):
    _fields = ("last_hidden_state", "pooler_output", "hidden_states", "attentions")


class CLIPTextModelOutput(ModelOutput):
    _fields = ("text_embeds", "last_hidden_state", "hidden_states", "attentions")


class BaseModelOutput(ModelOutput):
    _fields = ("last_hidden_state", "hidden_states", "attentions")


def _activation(name):
    if name == "quick_gelu":
        return lambda x: x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return F.gelu
    if name == "gelu_new":  # the tanh approximation
        return lambda x: F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu
    raise ValueError(f"hidden_act {name!r} is not supported by this stand-in")


class CLIPAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        d = config.hidden_size
        self.heads = config.num_attention_heads
        self.head_dim = d // self.heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, mask):
        b, n, d = x.shape

        def split(t):
            return t.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        w = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask
        a = torch.softmax(w, dim=-1) @ v
        return self.out_proj(a.transpose(1, 2).reshape(b, n, d))


class CLIPMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.act = _activation(config.hidden_act)
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class CLIPEncoderLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self_attn = CLIPAttention(config)
        self.layer_norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = CLIPMLP(config)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class CLIPTextEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embedding = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.register_buffer("position_ids", torch.arange(config.max_position_embeddings)[None], persistent=False)

    def forward(self, input_ids, position_ids=None):
        if position_ids is None:
            position_ids = self.position_ids[:, :input_ids.shape[1]]
        return self.token_embedding(input_ids) + self.position_embedding(position_ids)


class CLIPEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(config) for _ in range(config.num_hidden_layers)])


class CLIPTextTransformer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embeddings = CLIPTextEmbeddings(config)
        self.encoder = CLIPEncoder(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, input_ids, attention_mask=None, position_ids=None):
        h = self.embeddings(input_ids, position_ids)
        n = input_ids.shape[1]
        causal = torch.full((n, n), torch.finfo(h.dtype).min, dtype=h.dtype).triu(1)[None, None]
        if attention_mask is not None:
            causal = causal + (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        states = [h]
        for layer in self.encoder.layers:
            h = layer(h, causal)
            states.append(h)
        last = self.final_layer_norm(h)
        if self.config.eos_token_id == 2:  # older CLIP configs: the end token has the highest id
            eos_pos = input_ids.argmax(dim=-1)
        else:
            eos_pos = (input_ids == self.config.eos_token_id).int().argmax(dim=-1)
        pooled = last[torch.arange(last.shape[0]), eos_pos]
        return last, pooled, tuple(states)


class _PreTrained(nn.Module):
    config_class = CLIPTextConfig

    def __init__(self, config):
        super().__init__()
        self.config = config

    @property
    def dtype(self):
        return next(self.parameters()).dtype

    @property
    def device(self):
        return next(self.parameters()).device

    @classmethod
    def from_pretrained(cls, folder, torch_dtype=None, **kwargs):
        config = cls.config_class.from_json_file(os.path.join(folder, CONFIG_NAME))
        model = cls(config)
        state = torch.load(os.path.join(folder, WEIGHTS_NAME), map_location="cpu")
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(f"{folder}: missing weights {missing}, unexpected weights {unexpected}")
        if torch_dtype is not None:
            model = model.to(torch_dtype)
        return model.eval()

    def save_pretrained(self, folder, **kwargs):
        os.makedirs(folder, exist_ok=True)
        d = self.config.to_dict()
        d["architectures"] = [type(self).__name__]
        with open(os.path.join(folder, CONFIG_NAME), "w") as f:
            json.dump(d, f, indent=2, sort_keys=True)
            f.write("\n")
        torch.save(self.state_dict(), os.path.join(folder, WEIGHTS_NAME))


class CLIPTextModel(_PreTrained):
    def __init__(self, config):
        super().__init__(config)
        self.text_model = CLIPTextTransformer(config)

    def forward(self, input_ids, attention_mask=None, position_ids=None, output_attentions=None,
                output_hidden_states=None, return_dict=None):
        last, pooled, states = self.text_model(input_ids, attention_mask, position_ids)
        out = BaseModelOutputWithPooling(last_hidden_state=last, pooler_output=pooled,
                                         hidden_states=states if output_hidden_states else None)
        return out if return_dict is not False else out.to_tuple()


class CLIPTextModelWithProjection(_PreTrained):
    def __init__(self, config):
        super().__init__(config)
        self.text_model = CLIPTextTransformer(config)
        self.text_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)

    def forward(self, input_ids, attention_mask=None, position_ids=None, output_attentions=None,
                output_hidden_states=None, return_dict=None):
        last, pooled, states = self.text_model(input_ids, attention_mask, position_ids)
        out = CLIPTextModelOutput(text_embeds=self.text_projection(pooled), last_hidden_state=last,
                                  hidden_states=states if output_hidden_states else None)
        return out if return_dict is not False else out.to_tuple()


# ------------------------------------------------------------------------------------------ T5 encoder


class T5LayerNorm(nn.Module):
    """RMS norm: no mean subtraction, no bias, statistics in float32."""

    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.variance_epsilon = eps

    def forward(self, x):
        variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.variance_epsilon)).to(self.weight.dtype)


def relative_position_bucket(relative_position, num_buckets, max_distance):
    """Bidirectional buckets: half for each sign; exact below num_buckets / 4, logarithmic up to
    max_distance, the last bucket beyond."""
    num_buckets //= 2
    buckets = (relative_position > 0).to(torch.long) * num_buckets
    n = torch.abs(relative_position)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, n, large)


class T5Attention(nn.Module):
    def __init__(self, config, has_relative_attention_bias):
        super().__init__()
        self.config = config
        self.n_heads, self.key_value_proj_dim = config.num_heads, config.d_kv
        inner = self.n_heads * self.key_value_proj_dim
        self.q, self.k, self.v = (nn.Linear(config.d_model, inner, bias=False) for _ in range(3))
        self.o = nn.Linear(inner, config.d_model, bias=False)
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(config.relative_attention_num_buckets, self.n_heads)

    def compute_bias(self, n):
        context = torch.arange(n, dtype=torch.long)[:, None]
        memory = torch.arange(n, dtype=torch.long)[None, :]
        buckets = relative_position_bucket(memory - context, self.config.relative_attention_num_buckets,
                                           self.config.relative_attention_max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)  # [1, heads, n, n]

    def forward(self, x, mask, position_bias):
        b, n, _ = x.shape

        def split(t):
            return t.view(b, n, self.n_heads, self.key_value_proj_dim).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        if position_bias is None:
            position_bias = self.compute_bias(n)
            if mask is not None:
                position_bias = position_bias + mask
        scores = q @ k.transpose(3, 2) + position_bias  # no 1/sqrt(d) scaling in T5
        w = torch.softmax(scores.float(), dim=-1).type_as(scores)
        return self.o((w @ v).transpose(1, 2).reshape(b, n, -1)), position_bias


class T5LayerSelfAttention(nn.Module):
    def __init__(self, config, has_relative_attention_bias):
        super().__init__()
        self.SelfAttention = T5Attention(config, has_relative_attention_bias)
        self.layer_norm = T5LayerNorm(config.d_model, config.layer_norm_epsilon)

    def forward(self, x, mask, position_bias):
        a, position_bias = self.SelfAttention(self.layer_norm(x), mask, position_bias)
        return x + a, position_bias


class T5DenseActDense(nn.Module):
    def __init__(self, config, act):
        super().__init__()
        self.wi = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.act = _activation(act)

    def forward(self, x):
        return self.wo(self.act(self.wi(x)))


class T5DenseGatedActDense(nn.Module):
    def __init__(self, config, act):
        super().__init__()
        self.wi_0 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wi_1 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.act = _activation(act)

    def forward(self, x):
        return self.wo(self.act(self.wi_0(x)) * self.wi_1(x))


class T5LayerFF(nn.Module):
    def __init__(self, config):
        super().__init__()
        parts = config.feed_forward_proj.split("-")
        gated = len(parts) == 2 and parts[0] == "gated"
        if not (gated or len(parts) == 1):
            raise ValueError(f"feed_forward_proj {config.feed_forward_proj!r} is not ACT or gated-ACT")
        act = "gelu_new" if config.feed_forward_proj == "gated-gelu" else parts[-1]
        self.DenseReluDense = (T5DenseGatedActDense if gated else T5DenseActDense)(config, act)
        self.layer_norm = T5LayerNorm(config.d_model, config.layer_norm_epsilon)

    def forward(self, x):
        return x + self.DenseReluDense(self.layer_norm(x))


class T5Block(nn.Module):
    def __init__(self, config, has_relative_attention_bias):
        super().__init__()
        self.layer = nn.ModuleList([T5LayerSelfAttention(config, has_relative_attention_bias), T5LayerFF(config)])

    def forward(self, x, mask, position_bias):
        x, position_bias = self.layer[0](x, mask, position_bias)
        return self.layer[1](x), position_bias


class T5Stack(nn.Module):
    def __init__(self, config, embed_tokens):
        super().__init__()
        self.embed_tokens = embed_tokens
        self.block = nn.ModuleList([T5Block(config, i == 0) for i in range(config.num_layers)])
        self.final_layer_norm = T5LayerNorm(config.d_model, config.layer_norm_epsilon)

    def forward(self, input_ids, attention_mask=None):
        h = self.embed_tokens(input_ids)
        mask = None
        if attention_mask is not None:
            mask = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        states, position_bias = [], None
        for block in self.block:
            states.append(h)
            h, position_bias = block(h, mask, position_bias)
        h = self.final_layer_norm(h)
        states.append(h)
        return h, tuple(states)


class T5EncoderModel(_PreTrained):
    config_class = T5Config

    def __init__(self, config):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, self.shared)

    def forward(self, input_ids, attention_mask=None, head_mask=None, inputs_embeds=None, output_attentions=None,
                output_hidden_states=None, return_dict=None):
        last, states = self.encoder(input_ids, attention_mask)
        out = BaseModelOutput(last_hidden_state=last, hidden_states=states if output_hidden_states else None)
        return out if return_dict is not False else out.to_tuple()


class T5Tokenizer:
    """A name only: transformers' slow T5 tokenizer is not part of the stand-in."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("the transformers stand-in has no T5Tokenizer")
