"""Text encoders and tokenizers of Stable Diffusion pipelines, as Genloom packages hold them.

A text encoder component takes `input_ids` (int64 [B, L]) and `hidden_layer` (int64 [1]: which
hidden state, counted from the last, 1 = the last layer's) and returns `hidden_states` (float32
[B, L, D]) and, for the encoder the pooled embedding comes from, `pooled` ([B, P]). The wrapper
calls the transformers model with output_hidden_states=True, stacks its hidden states and selects
with the `hidden_layer` tensor, so the selection stays an input of the traced graph. SD 1.x and 2.x
apply the text model's final layer norm to the selected state (hidden_layer 1 is then exactly
last_hidden_state); SDXL uses the selected state as it is (diffusers: hidden_states[-(clip_skip + 2)]).

Only transformers' documented interface of CLIPTextModel and CLIPTextModelWithProjection is used:
forward(input_ids, output_hidden_states=True) -> element 0 (last_hidden_state, or text_embeds for
the projection class), .last_hidden_state, .hidden_states; .text_model.final_layer_norm;
config.num_hidden_layers, hidden_size, projection_dim, max_position_embeddings.
"""
import importlib
import os
import shutil

import torch
import torch.nn as nn

from . import clip_tokenizer
from .common import Refused, cfg, read_json

ENCODER_ARCHS = ("CLIPTextModel", "CLIPTextModelWithProjection")


def text_encoder_arch(folder):
    """architectures[0] of <folder>/config.json; refuses anything but CLIP's two text classes."""
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise Refused(f"{os.path.basename(folder)}/config.json is missing")
    archs = read_json(path).get("architectures") or []
    arch = archs[0] if archs else None
    if arch not in ENCODER_ARCHS:
        raise Refused(f"{os.path.basename(folder)}: text encoder architecture {arch!r} is not exported "
                      f"(supported: {', '.join(ENCODER_ARCHS)})")
    return arch


def load_text_encoder(folder):
    """transformers.<architectures[0]>.from_pretrained(folder) in float32, eval mode."""
    arch = text_encoder_arch(folder)
    try:
        transformers = importlib.import_module("transformers")
    except ImportError:
        raise Refused("this export needs the Python package transformers (pip install transformers)") from None
    cls = getattr(transformers, arch)
    try:  # plain attention traces everywhere; older transformers do not know the argument
        model = cls.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        model = cls.from_pretrained(folder, torch_dtype=torch.float32)
    return model.eval()


def num_hidden_states(encoder):
    return int(cfg(encoder, "num_hidden_layers")) + 1


class TextEncoderComponent(nn.Module):
    """(input_ids [B,L] int64, hidden_layer [1] int64) -> hidden_states [B,L,D] (, pooled [B,P]).

    final_norm: apply text_model.final_layer_norm to the selected state (SD 1.x/2.x).
    pooled: also return element 0 of the encoder output, which must be 2-D (CLIPTextModelWithProjection's
    text_embeds, as diffusers' SDXL pipeline takes it)."""

    def __init__(self, encoder, final_norm, pooled):
        super().__init__()
        self.encoder = encoder
        self.final_norm = bool(final_norm)
        self.pooled = bool(pooled)
        self.n = num_hidden_states(encoder)

    def forward(self, input_ids, hidden_layer):
        out = self.encoder(input_ids, output_hidden_states=True)
        states = torch.stack(tuple(out.hidden_states), dim=0)
        h = torch.index_select(states, 0, self.n - hidden_layer).squeeze(0)
        if self.final_norm:
            h = self.encoder.text_model.final_layer_norm(h)
        if self.pooled:
            return h, out[0]
        return h


def check_component(encoder, component, ids):
    """The eager wrapper against the encoder itself: exactly last_hidden_state at hidden_layer 1 when the
    final norm is applied, hidden_states[-k] otherwise; pooled is 2-D. Raises Refused when not."""
    with torch.no_grad():
        out = encoder(ids, output_hidden_states=True)
        states = tuple(out.hidden_states)
        if len(states) != component.n:
            raise Refused(f"{type(encoder).__name__}: {len(states)} hidden states, config.num_hidden_layers + 1 "
                          f"is {component.n}")
        for k in range(1, component.n + 1):
            got = component(ids, torch.tensor([k]))
            h = got[0] if component.pooled else got
            want = encoder.text_model.final_layer_norm(states[-k]) if component.final_norm else states[-k]
            assert torch.equal(h, want), f"hidden_layer {k} does not select hidden_states[-{k}]"
        if component.final_norm:
            h = component(ids, torch.tensor([1]))
            h = h[0] if component.pooled else h
            assert torch.equal(h, out.last_hidden_state), "hidden_layer 1 differs from last_hidden_state"
        if component.pooled and out[0].dim() != 2:
            raise Refused(f"{type(encoder).__name__}: output element 0 has shape {tuple(out[0].shape)}, not "
                          "[B, P]; the pooled embedding comes from CLIPTextModelWithProjection's text_embeds")


# ------------------------------------------------------------------------------------------ tokenizers


def _bpe_from_tokenizer_json(path, settings):
    doc = read_json(path)
    model = doc.get("model") or {}
    if model.get("type") != "BPE":
        raise Refused(f"{path}: tokenizer model {model.get('type')!r} is not CLIP's BPE")
    vocab = dict(model["vocab"])
    for added in doc.get("added_tokens") or []:
        vocab.setdefault(added["content"], added["id"])
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model.get("merges") or []]
    return clip_tokenizer.ClipBpe(vocab, merges, bos=settings["bos_token"], eos=settings["eos_token"])


class PromptTokenizer:
    """One pipeline tokenizer folder: its settings (clip_tokenizer.read_tokenizer_settings) and prompt
    encoding as diffusers' pipelines call the tokenizer (padding="max_length", truncation=True).

    Ids come from transformers' tokenizer when a real transformers is installed (what the pipeline
    itself uses), else from the CLIP BPE reference encoder (clip_tokenizer.ClipBpe)."""

    def __init__(self, folder, max_positions):
        self.folder = folder
        if not os.path.isdir(folder):
            raise Refused(f"the pipeline has no {os.path.basename(folder)}/ folder")
        try:
            self.settings = clip_tokenizer.read_tokenizer_settings(folder)
        except ValueError as e:
            raise Refused(f"{os.path.basename(folder)}: {e}") from None
        m = self.settings["model_max_length"] or int(max_positions)
        if m > int(max_positions):
            raise Refused(f"{os.path.basename(folder)}: model_max_length {m} exceeds the text encoder's "
                          f"max_position_embeddings {max_positions}")
        self.max_length = int(m)
        if os.path.isfile(os.path.join(folder, "vocab.json")) and os.path.isfile(os.path.join(folder, "merges.txt")):
            bpe = clip_tokenizer.ClipBpe(clip_tokenizer.read_vocab(os.path.join(folder, "vocab.json")),
                                         clip_tokenizer.read_merges(os.path.join(folder, "merges.txt")),
                                         bos=self.settings["bos_token"], eos=self.settings["eos_token"])
        elif os.path.isfile(os.path.join(folder, "tokenizer.json")):
            bpe = _bpe_from_tokenizer_json(os.path.join(folder, "tokenizer.json"), self.settings)
        else:
            raise Refused(f"{os.path.basename(folder)}: neither tokenizer.json nor vocab.json + merges.txt")
        self.bpe = bpe
        self.hf = _transformers_tokenizer(folder)
        self.source = "transformers " + type(self.hf).__name__ if self.hf is not None else "clip_tokenizer.ClipBpe"

    def encode(self, prompts):
        """(ids int64 [B, max_length], truncated: per prompt the number of prompt tokens dropped)."""
        rows, dropped = [], []
        for p in prompts:
            ids, n = self.bpe.encode(p, self.max_length, self.settings["pad_id"])
            rows.append(ids)
            dropped.append(max(0, n - self.max_length))
        ids = torch.tensor(rows, dtype=torch.int64)
        if self.hf is not None:
            hf = self.hf(list(prompts), padding="max_length", max_length=self.max_length, truncation=True,
                         return_tensors="pt").input_ids.to(torch.int64)
            if not torch.equal(hf, ids):
                print(f"warning: {os.path.basename(self.folder)}: the CLIP BPE reference encoder and "
                      f"{self.source} give different ids; the goldens use {self.source}'s", flush=True)
            ids = hf
        return ids, dropped

    def spec(self, file):
        s = self.settings
        return {"file": file, "maxLength": self.max_length, "padId": int(s["pad_id"]), "bosId": int(s["bos_id"]),
                "eosId": int(s["eos_id"]), "unkId": int(s["unk_id"]), "lowercase": bool(s["do_lower_case"])}

    def write_tokenizer_json(self, out_path):
        """Copy the folder's tokenizer.json, or write one from vocab.json + merges.txt. Returns how."""
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        src = os.path.join(self.folder, "tokenizer.json")
        if os.path.isfile(src):
            shutil.copyfile(src, out_path)
            return "copied from the pipeline"
        s = self.settings
        try:
            clip_tokenizer.write_tokenizer_json(os.path.join(self.folder, "vocab.json"),
                                                os.path.join(self.folder, "merges.txt"), out_path,
                                                bos=s["bos_token"], eos=s["eos_token"], unk=s["unk_token"])
        except ValueError as e:
            raise Refused(f"{os.path.basename(self.folder)}: {e}") from None
        return "written from vocab.json and merges.txt"


def _transformers_tokenizer(folder):
    """transformers' CLIPTokenizer for the folder when a real transformers is installed, else None."""
    try:
        transformers = importlib.import_module("transformers")
    except ImportError:
        return None
    cls = getattr(transformers, "CLIPTokenizer", None)
    if cls is None or not hasattr(cls, "from_pretrained"):
        return None
    return cls.from_pretrained(folder)
