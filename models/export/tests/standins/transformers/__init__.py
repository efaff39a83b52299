"""Test-only stand-in for the part of transformers' interface the Genloom exporter uses.

It is importable as `transformers` only when tests/standins is on sys.path (the tests' conftest and
tests_diffusers/build_fixtures.py put it there); it is never installed. It offers
`CLIPTextModel` and `CLIPTextModelWithProjection` with transformers' documented interface:

  - `from_pretrained(folder, torch_dtype=None, **kwargs)` reading `config.json` and
    `pytorch_model.bin`, `save_pretrained(folder)` writing them;
  - `forward(input_ids, attention_mask=None, position_ids=None, output_attentions=None,
    output_hidden_states=None, return_dict=None)` returning an output object that is indexable
    like transformers' ModelOutput (fields that are None are left out of the tuple):
    CLIPTextModel -> (last_hidden_state, pooler_output[, hidden_states]),
    CLIPTextModelWithProjection -> (text_embeds, last_hidden_state[, hidden_states]);
  - `.text_model.final_layer_norm`, `.config.num_hidden_layers`, `hidden_size`, `projection_dim`,
    `max_position_embeddings`, `eos_token_id`.

The network is a small CLIP-style text transformer: token and position embeddings, pre-norm
layers of causal multi-head self-attention and an MLP (quick_gelu for OpenAI CLIP, gelu for
OpenCLIP), a final layer norm, the pooled output taken at the end-of-text position, and a
bias-free projection for the "WithProjection" class. `hidden_states` holds the embedding output
and every layer's output (num_hidden_layers + 1 tensors); the last one is before the final norm.
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


class CLIPTextConfig:
    model_type = "clip_text_model"
    _defaults = {"vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "projection_dim": 512,
                 "num_hidden_layers": 12, "num_attention_heads": 8, "max_position_embeddings": 77,
                 "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 49406,
                 "eos_token_id": 49407, "architectures": None, "torch_dtype": "float32"}

    def __init__(self, **kwargs):
        for k, v in self._defaults.items():
            setattr(self, k, kwargs.pop(k, v))
        for k, v in kwargs.items():  # unknown keys are kept, as transformers keeps them
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


def _activation(name):
    if name == "quick_gelu":
        return lambda x: x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return F.gelu
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
    def __init__(self, config):
        super().__init__()
        self.config = config

    @property
    def dtype(self):
        return next(self.parameters()).dtype

    @classmethod
    def from_pretrained(cls, folder, torch_dtype=None, **kwargs):
        config = CLIPTextConfig.from_json_file(os.path.join(folder, CONFIG_NAME))
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
