"""Text encoders and tokenizers of Stable Diffusion pipelines, as Genloom packages hold them.

A text encoder component takes `input_ids` (int64 [B, L]) and `hidden_layer` (int64 [1]: which
hidden state, counted from the last, 1 = the last layer's) and returns `hidden_states` (float32
[B, L, D]) and, for the encoder the pooled embedding comes from, `pooled` ([B, P]). The wrapper
calls the transformers model with output_hidden_states=True, stacks its hidden states and selects
with the `hidden_layer` tensor, so the selection stays an input of the traced graph. SD 1.x and 2.x
apply the text model's final layer norm to the selected state (hidden_layer 1 is then exactly
last_hidden_state); SDXL uses the selected state as it is (diffusers: hidden_states[-(clip_skip + 2)]).

Flux's CLIP (CLIPTextModel) contributes only its pooled output: its component takes `input_ids` only
and returns `hidden_states` (last_hidden_state) and `pooled` (pooler_output).

SD3's and Flux's T5 encoder (T5EncoderModel) is a component of its own: `input_ids` -> `hidden_states`
(its last_hidden_state, called without an attention mask as diffusers' SD3 and Flux pipelines call it);
it has no hidden_layer input (clip skip is a CLIP setting); SD3 joins it along the sequence, Flux uses it
alone as the encoder_hidden_states. Its
tokenizer (T5PromptTokenizer) encodes `tokens </s>` right-padded with <pad>, no bos.

Only transformers' documented interface of CLIPTextModel, CLIPTextModelWithProjection and
T5EncoderModel is used: forward(input_ids, output_hidden_states=True or False) -> element 0
(last_hidden_state, or text_embeds for the projection class), .last_hidden_state, .pooler_output,
.hidden_states;
.text_model.final_layer_norm; config.num_hidden_layers, hidden_size, projection_dim,
max_position_embeddings, d_model.
"""
import importlib
import json
import os
import shutil

import torch
import torch.nn as nn

from . import clip_tokenizer
from .common import Refused, cfg, read_json
from .unigram_reference import T5StyleTokenizer, layout_difference

ENCODER_ARCHS = ("CLIPTextModel", "CLIPTextModelWithProjection")
T5_ARCHS = ("T5EncoderModel",)


def text_encoder_arch(folder, allowed=ENCODER_ARCHS):
    """architectures[0] of <folder>/config.json; refuses anything but the `allowed` classes (CLIP's two
    text classes unless told otherwise)."""
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise Refused(f"{os.path.basename(folder)}/config.json is missing")
    archs = read_json(path).get("architectures") or []
    arch = archs[0] if archs else None
    if arch not in allowed:
        raise Refused(f"{os.path.basename(folder)}: text encoder architecture {arch!r} is not exported "
                      f"(supported here: {', '.join(allowed)})")
    return arch


def load_text_encoder(folder, allowed=ENCODER_ARCHS):
    """transformers.<architectures[0]>.from_pretrained(folder) in float32, eval mode."""
    arch = text_encoder_arch(folder, allowed)
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


class PooledTextEncoderComponent(nn.Module):
    """input_ids [B,L] int64 -> (hidden_states [B,L,D], pooled [B,D]): a CLIPTextModel's last_hidden_state and
    pooler_output, called as diffusers' FluxPipeline calls it (output_hidden_states=False), whose transformer
    takes the pooled output only."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids):
        out = self.encoder(input_ids, output_hidden_states=False)
        return out.last_hidden_state, out.pooler_output


def check_pooled_component(encoder, component, ids):
    """The eager wrapper gives exactly the encoder's last_hidden_state and a 2-D pooler_output."""
    with torch.no_grad():
        out = encoder(ids, output_hidden_states=False)
        h, pooled = component(ids)
    if pooled.dim() != 2:
        raise Refused(f"{type(encoder).__name__}: pooler_output has shape {tuple(pooled.shape)}, not [B, D]")
    assert torch.equal(h, out.last_hidden_state) and torch.equal(pooled, out.pooler_output)


class T5EncoderComponent(nn.Module):
    """input_ids [B,L] int64 -> hidden_states [B,L,D]: the encoder's last_hidden_state, without an attention
    mask (diffusers' SD3 pipeline calls text_encoder_3(ids) so, padding included)."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids):
        return self.encoder(input_ids)[0]


def check_t5_component(encoder, component, ids):
    """The eager wrapper gives exactly the encoder's last_hidden_state, [B, L, d_model]."""
    with torch.no_grad():
        want = encoder(ids).last_hidden_state
        got = component(ids)
    if tuple(got.shape) != (ids.shape[0], ids.shape[1], int(cfg(encoder, "d_model"))):
        raise Refused(f"{type(encoder).__name__}: output element 0 has shape {tuple(got.shape)}, not "
                      f"[B, {ids.shape[1]}, d_model {cfg(encoder, 'd_model')}]")
    assert torch.equal(got, want), "T5 output element 0 differs from last_hidden_state"


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


def _transformers_tokenizer(folder, class_name="CLIPTokenizer"):
    """transformers' `class_name` tokenizer for the folder when a real transformers is installed, else None."""
    try:
        transformers = importlib.import_module("transformers")
    except ImportError:
        return None
    cls = getattr(transformers, class_name, None)
    if cls is None or not hasattr(cls, "from_pretrained"):
        return None
    return cls.from_pretrained(folder)


class T5PromptTokenizer:
    """An SD3 pipeline's tokenizer_3 folder (T5TokenizerFast: tokenizer.json, tokenizer_config.json,
    special_tokens_map.json) encoding prompts as diffusers' SD3 pipeline calls it: padding="max_length",
    max_length=max_sequence_length, truncation=True, add_special_tokens=True -> `tokens </s>` (the eos
    kept last when cut), right-padded with <pad>.

    Ids come from transformers' T5TokenizerFast when a real transformers is installed, else from
    unigram_reference.T5StyleTokenizer, which implements one tokenizer.json layout only (NFKC and
    whitespace normalizer, WhitespaceSplit + Metaspace, Unigram, "$A </s>"); another layout without
    transformers is refused by name."""

    def __init__(self, folder, max_length):
        self.folder = folder
        name = os.path.basename(folder)
        if not os.path.isdir(folder):
            raise Refused(f"the pipeline has no {name}/ folder")
        self.max_length = int(max_length)
        self.hf = _transformers_tokenizer(folder, "T5TokenizerFast")
        tok_path = os.path.join(folder, "tokenizer.json")
        try:
            config = clip_tokenizer._load_json_object(os.path.join(folder, "tokenizer_config.json")) if \
                os.path.isfile(os.path.join(folder, "tokenizer_config.json")) else {}
            special = clip_tokenizer._load_json_object(os.path.join(folder, "special_tokens_map.json")) if \
                os.path.isfile(os.path.join(folder, "special_tokens_map.json")) else {}
            doc = clip_tokenizer._load_json_object(tok_path) if os.path.isfile(tok_path) else None
        except ValueError as e:
            raise Refused(f"{name}: {e}") from None
        cls = config.get("tokenizer_class")
        if cls is not None and cls not in ("T5Tokenizer", "T5TokenizerFast"):
            raise Refused(f"{name}/tokenizer_config.json: tokenizer_class {cls!r} is not T5's")
        if doc is None:
            if self.hf is None or not getattr(self.hf, "is_fast", False):
                raise Refused(f"{name}: no tokenizer.json (and no transformers T5TokenizerFast to write one)")
            doc = json.loads(self.hf.backend_tokenizer.to_str())
        self.doc = doc
        ids = {}
        model = doc.get("model") or {}
        if model.get("type") == "Unigram":
            ids.update({p[0]: i for i, p in enumerate(model.get("vocab") or [])})
        for added in doc.get("added_tokens") or []:
            ids[added["content"]] = added["id"]
        defaults = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}
        self.tokens = {}
        for key, default in defaults.items():
            found = {_token_text(d[key]) for d in (config, special) if d.get(key) is not None}
            if len(found) > 1:
                raise Refused(f"{name}: tokenizer_config.json and special_tokens_map.json disagree on {key}: "
                              f"{sorted(found)}")
            token = found.pop() if found else default
            if token not in ids:
                raise Refused(f"{name}: {key} {token!r} is not in tokenizer.json")
            self.tokens[key[:-len("_token")]] = (token, int(ids[token]))
        self.reference, why = None, layout_difference(doc)
        if why is None:
            self.reference = T5StyleTokenizer([tuple(p) for p in model["vocab"]], unk_id=int(model["unk_id"]),
                                              eos_id=self.tokens["eos"][1])
        elif self.hf is None:
            raise Refused(f"{name}/tokenizer.json: {why}; the reference T5 tokenizer implements only the fixture "
                          "layout, so encoding it needs transformers' T5TokenizerFast (pip install transformers)")
        self.source = ("transformers " + type(self.hf).__name__ if self.hf is not None
                       else "unigram_reference.T5StyleTokenizer")

    @property
    def pad_id(self):
        return self.tokens["pad"][1]

    def encode(self, prompts):
        """(ids int64 [B, max_length], truncated: per prompt the number of prompt tokens dropped)."""
        rows, dropped = [], []
        if self.reference is not None:
            for p in prompts:
                ids, n = self.reference.encode(p, self.max_length, self.pad_id)
                rows.append(ids)
                dropped.append(max(0, n - self.max_length))
        ids = torch.tensor(rows, dtype=torch.int64) if rows else None
        if self.hf is not None:
            hf = self.hf(list(prompts), padding="max_length", max_length=self.max_length, truncation=True,
                         add_special_tokens=True, return_tensors="pt").input_ids.to(torch.int64)
            full = self.hf(list(prompts), add_special_tokens=True).input_ids
            if ids is not None and not torch.equal(hf, ids):
                print(f"warning: {os.path.basename(self.folder)}: the T5 reference encoder and {self.source} give "
                      f"different ids; the goldens use {self.source}'s", flush=True)
            ids, dropped = hf, [max(0, len(f) - self.max_length) for f in full]
        return ids, dropped

    def spec(self, file):
        return {"file": file, "maxLength": self.max_length, "padId": self.pad_id, "bosId": 0,
                "eosId": self.tokens["eos"][1], "unkId": self.tokens["unk"][1], "lowercase": False}

    def write_tokenizer_json(self, out_path):
        """Copy the folder's tokenizer.json, or save transformers' fast tokenizer. Returns how."""
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        src = os.path.join(self.folder, "tokenizer.json")
        if os.path.isfile(src):
            shutil.copyfile(src, out_path)
            return "copied from the pipeline"
        self.hf.backend_tokenizer.save(out_path)
        return f"saved from {self.source}"


def _token_text(value):
    return value["content"] if isinstance(value, dict) else str(value)
