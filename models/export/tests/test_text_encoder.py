"""The text encoder component: hidden_layer selection against last_hidden_state and hidden_states, kept
dynamic under torch.jit.trace, and the pooled output; the tokenizer settings and ids."""
import os

import pytest
import torch

import standin_pipelines as sp
import transformers
from genloom_export.common import Refused
from genloom_export.text import PromptTokenizer, TextEncoderComponent, check_component, load_text_encoder


def encoder(cls, act="quick_gelu", layers=3):
    torch.manual_seed(0)
    c = transformers.CLIPTextConfig(vocab_size=60, hidden_size=16, intermediate_size=32, projection_dim=12,
                                    num_hidden_layers=layers, num_attention_heads=2, max_position_embeddings=77,
                                    hidden_act=act, bos_token_id=58, eos_token_id=59, pad_token_id=59)
    return cls(c).eval()


def ids(batch=2):
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 58, (batch, 77), generator=g)
    x[:, 0], x[:, 9], x[:, 10:] = 58, 59, 59
    return x


def test_sd_selection_hidden_layer_1_is_last_hidden_state():
    te = encoder(transformers.CLIPTextModel)
    comp = TextEncoderComponent(te, final_norm=True, pooled=False)
    x = ids()
    with torch.no_grad():
        out = te(x, output_hidden_states=True)
        assert torch.equal(comp(x, torch.tensor([1])), out.last_hidden_state)
        assert torch.equal(comp(x, torch.tensor([2])), te.text_model.final_layer_norm(out.hidden_states[-2]))
    check_component(te, comp, x)


def test_sdxl_selection_has_no_final_norm_and_returns_pooled():
    te = encoder(transformers.CLIPTextModelWithProjection, act="gelu")
    comp = TextEncoderComponent(te, final_norm=False, pooled=True)
    x = ids()
    with torch.no_grad():
        out = te(x, output_hidden_states=True)
        h, pooled = comp(x, torch.tensor([2]))
        assert torch.equal(h, out.hidden_states[-2])
        assert torch.equal(pooled, out.text_embeds) and pooled.shape == (2, 12)
    check_component(te, comp, x)


def test_hidden_layer_stays_dynamic_under_trace():
    te = encoder(transformers.CLIPTextModel)
    comp = TextEncoderComponent(te, final_norm=True, pooled=False).eval()
    with torch.no_grad():
        traced = torch.jit.trace(comp, (ids(2), torch.tensor([1])), check_trace=False)
        x = ids(3)
        for k in range(1, 5):
            assert torch.allclose(traced(x, torch.tensor([k])), comp(x, torch.tensor([k])), atol=1e-6), k
        a, b = traced(x, torch.tensor([1])), traced(x, torch.tensor([4]))
        assert (a - b).abs().max() > 1e-3, "different hidden layers give different states"


def test_pooled_needs_a_projection_model():
    te = encoder(transformers.CLIPTextModel)
    comp = TextEncoderComponent(te, final_norm=False, pooled=True)
    with pytest.raises(Refused, match="text_embeds"):
        check_component(te, comp, ids())


def test_load_through_transformers(tmp_path):
    te = encoder(transformers.CLIPTextModelWithProjection)
    te.save_pretrained(str(tmp_path / "te"))
    back = load_text_encoder(str(tmp_path / "te"))
    assert type(back).__name__ == "CLIPTextModelWithProjection"
    with torch.no_grad():
        assert torch.equal(back(ids())[0], te(ids())[0])


@pytest.mark.parametrize("name,pad_token", [("clip-sd15", "<|endoftext|>"), ("clip-sd2", "!")])
def test_prompt_tokenizer(tmp_path, name, pad_token):
    import json
    with open(os.path.join(sp.DATA, name, "vocab.json")) as f:
        vocab = json.load(f)
    tok = PromptTokenizer(os.path.join(sp.DATA, name), 77)
    assert tok.max_length == 77 and tok.source == "clip_tokenizer.ClipBpe"
    spec = tok.spec("tokenizer/tokenizer.json")
    assert spec["padId"] == vocab[pad_token] and spec["bosId"] == vocab["<|startoftext|>"]
    assert spec["eosId"] == vocab["<|endoftext|>"] and spec["lowercase"] is True
    x, dropped = tok.encode(["", "a photo of a cat " * 40])
    bos, eos, pad = spec["bosId"], spec["eosId"], spec["padId"]
    assert x.dtype == torch.int64 and x.shape == (2, 77)
    assert x[0, :2].tolist() == [bos, eos] and set(x[0, 2:].tolist()) == {pad}
    assert x[1, 0] == bos and x[1, 76] == eos and dropped[0] == 0 and dropped[1] > 0
    how = tok.write_tokenizer_json(str(tmp_path / "tokenizer" / "tokenizer.json"))
    assert how == "written from vocab.json and merges.txt"
    with open(tmp_path / "tokenizer" / "tokenizer.json") as f:
        assert json.load(f)["model"]["type"] == "BPE"
    with pytest.raises(Refused, match="max_position_embeddings"):
        PromptTokenizer(os.path.join(sp.DATA, name), 64)


# --- SD3's T5 encoder and tokenizer -------------------------------------------------------------

T5_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "t5-fixture")
UNIGRAM_CASES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))), "generators", "src", "test", "resources", "tokenizers", "unigram", "cases.json")


def t5(layers=2, proj="gated-gelu"):
    torch.manual_seed(0)
    c = transformers.T5Config(vocab_size=60, d_model=16, d_kv=4, num_heads=2, d_ff=24, num_layers=layers,
                              feed_forward_proj=proj)
    return transformers.T5EncoderModel(c).eval()


def test_t5_relative_position_buckets():
    """T5's bidirectional buckets (32 buckets, max distance 128): exact below 8 per sign, logarithmic to 128."""
    rel = torch.tensor([0, -1, 1, -7, 7, -8, 8, -12, -127, -128, -1000, 1000])
    got = transformers.relative_position_bucket(rel, 32, 128).tolist()
    assert got == [0, 1, 17, 7, 23, 8, 24, 9, 15, 15, 15, 31]


@pytest.mark.parametrize("proj", ["gated-gelu", "relu"])
def test_t5_component_is_last_hidden_state_and_traces_at_other_batches(tmp_path, proj):
    from genloom_export.text import T5EncoderComponent, check_t5_component
    te = t5(proj=proj)
    comp = T5EncoderComponent(te).eval()
    x = torch.randint(3, 60, (2, 20), generator=torch.Generator().manual_seed(2))
    check_t5_component(te, comp, x)
    with torch.no_grad():
        out = te(x, output_hidden_states=True)
        assert len(out.hidden_states) == 3 and torch.equal(out.hidden_states[-1], out.last_hidden_state)
        traced = torch.jit.trace(comp, (x,), check_trace=False)
        y = torch.randint(3, 60, (3, 20), generator=torch.Generator().manual_seed(3))
        assert torch.allclose(traced(y), comp(y), atol=1e-6, rtol=0)
    te.save_pretrained(str(tmp_path / "te3"))
    again = load_text_encoder(str(tmp_path / "te3"), ("T5EncoderModel",))
    with torch.no_grad():
        assert torch.equal(again(x)[0], te(x)[0])
    with pytest.raises(Refused, match="T5EncoderModel"):
        load_text_encoder(str(tmp_path / "te3"))  # CLIP classes only unless told otherwise


def test_t5_tokenizer_gives_the_java_unigram_cases():
    """The fixture's tokenizer.json is the Java unigram fixture's: the reference ids of its cases, padded with
    <pad>, eos kept last when cut."""
    import json
    from genloom_export.text import T5PromptTokenizer
    with open(UNIGRAM_CASES, encoding="utf-8") as f:
        cases = json.load(f)
    tok = T5PromptTokenizer(T5_DATA, cases["max_length"])
    assert tok.spec("tokenizer_3/tokenizer.json") == {
        "file": "tokenizer_3/tokenizer.json", "maxLength": cases["max_length"], "padId": 0, "bosId": 0, "eosId": 1,
        "unkId": 2, "lowercase": False}
    ids, dropped = tok.encode([c["text"] for c in cases["cases"]])
    assert ids.tolist() == [c["ids"] for c in cases["cases"]]
    assert dropped == [max(0, c["untruncated_length"] - cases["max_length"]) for c in cases["cases"]]


def test_t5_tokenizer_refuses_a_layout_the_reference_does_not_implement(tmp_path):
    import json
    import shutil
    from genloom_export.text import T5PromptTokenizer
    folder = tmp_path / "tokenizer_3"
    shutil.copytree(T5_DATA, folder)
    with open(folder / "tokenizer.json", encoding="utf-8") as f:
        doc = json.load(f)
    doc["normalizer"] = {"type": "Precompiled", "precompiled_charsmap": ""}  # real T5's
    with open(folder / "tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(doc, f)
    with pytest.raises(Refused, match=r"the normalizer \(Precompiled\) is not NFKC.*T5TokenizerFast"):
        T5PromptTokenizer(str(folder), 256)
