"""Tests of genloom_export.clip_tokenizer: the byte table, BPE, truncation and padding, the
settings reader on the two fixture folders and on broken ones, the tokenizer.json writer, and
the committed fixtures (their generator is deterministic)."""
import filecmp
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from genloom_export import clip_tokenizer as ct

TESTS = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(TESTS, "data")
SD15 = os.path.join(DATA, "clip-sd15")
SD2 = os.path.join(DATA, "clip-sd2")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(TESTS)))
JAVA = os.path.join(REPO, "generators", "src", "test", "resources", "tokenizers")
GENERATOR = os.path.join(DATA, "make_tokenizer_fixtures.py")


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_tokenizer_fixtures", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny(merges):
    """A CLIP-layout vocabulary over the given merges."""
    symbols = list(ct.bytes_to_unicode().values())
    tokens = symbols + [s + ct.END_OF_WORD for s in symbols] + [a + b for a, b in merges]
    tokens += [ct.BOS, ct.EOS]
    return {t: i for i, t in enumerate(tokens)}


def _bpe(merges):
    return ct.ClipBpe(_tiny(merges), merges)


# --- byte table ---------------------------------------------------------------------------

def test_byte_table_is_a_bijection_of_the_256_bytes():
    table = ct.bytes_to_unicode()
    assert sorted(table) == list(range(256))
    values = list(table.values())
    assert len(set(values)) == 256
    assert all(len(v) == 1 and v.isprintable() and not v.isspace() for v in values)


def test_byte_table_keeps_printable_latin1_and_moves_the_rest_above_255():
    table = ct.bytes_to_unicode()
    for b in list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100)):
        assert table[b] == chr(b)
    moved = [b for b in range(256) if table[b] != chr(b)]
    assert len(moved) == 68
    assert [table[b] for b in moved] == [chr(256 + k) for k in range(68)]
    assert table[ord(" ")] == "\u0120"  # "Ġ"
    # CLIP's vocabulary starts with the printable bytes: "!" is id 0.
    assert next(iter(table.values())) == "!"


# --- BPE ------------------------------------------------------------------------------------

def test_bpe_merges_by_rank_not_by_position():
    # "abc": the pair (b, c</w>) has the lower rank, so it wins although (a, b) is leftmost.
    assert _bpe([("b", "c</w>"), ("a", "b")]).tokens("abc") == ["a", "bc</w>"]
    assert _bpe([("a", "b"), ("b", "c</w>")]).tokens("abc") == ["ab", "c</w>"]


def test_bpe_known_tokens_on_a_tiny_vocabulary():
    merges = [("l", "o"), ("lo", "w</w>"), ("e", "r</w>"), ("lo", "w"), ("low", "er</w>")]
    bpe = _bpe(merges)
    assert bpe.tokens("low") == ["low</w>"]
    assert bpe.tokens("lower") == ["lower</w>"]
    assert bpe.tokens("lowest") == ["low", "e", "s", "t</w>"]
    assert bpe.tokens("slow") == ["s", "low</w>"]
    assert bpe.tokens("x") == ["x</w>"]


def test_bpe_replaces_every_occurrence_left_to_right():
    # a a a a</w> with merge (a, a): positions 0-1 join, then 2 and 3 do not form (a, a).
    assert _bpe([("a", "a")]).tokens("aaaa") == ["aa", "a", "a</w>"]
    assert _bpe([("a", "a"), ("a", "a</w>")]).tokens("aaaa") == ["aa", "aa</w>"]


def test_bpe_works_on_bytes_of_non_ascii_text():
    table = ct.bytes_to_unicode()
    e_acute = "".join(table[b] for b in "é".encode("utf-8"))  # two byte symbols
    bpe = _bpe([(e_acute[0], e_acute[1] + "</w>")])
    assert bpe.tokens("é") == [e_acute + "</w>"]
    assert bpe.tokens("東") == [table[0xE6], table[0x9D], table[0xB1] + "</w>"]


def test_special_tokens_in_the_text_stay_whole():
    bpe = _bpe([])
    assert bpe.tokens("a<|endoftext|>b") == ["a</w>", ct.EOS, "b</w>"]
    assert bpe.tokens("<|STARTOFTEXT|>") == [ct.BOS]


def test_cleaning_and_split():
    assert ct.clean("  Caf\u0065\u0301 &amp;amp;\t\nTEA  ") == "café & tea"
    assert ct.split_words("it's a dog's life") == ["it", "'s", "a", "dog", "'s", "life"]
    assert ct.split_words("1024x768") == ["1", "0", "2", "4", "x", "7", "6", "8"]
    assert ct.split_words("a cat, on a mat!!!") == ["a", "cat", ",", "on", "a", "mat", "!!!"]
    assert ct.split_words("東京の夜") == ["東京の夜"]


def test_cache_is_used_and_gives_the_same_answer():
    bpe = _bpe([("l", "o"), ("lo", "w</w>")])
    assert bpe.tokens("low low") == ["low</w>", "low</w>"]
    assert bpe._cache["low"] == ("low</w>",)
    bpe._cache["low"] = ("x</w>",)  # a poisoned entry shows that the cache is read
    assert bpe.tokens("low") == ["x</w>"]


def test_unknown_symbol_is_reported():
    vocab = _tiny([])
    del vocab["q</w>"]
    with pytest.raises(ValueError, match="q</w>"):
        ct.ClipBpe(vocab, []).token_ids("q")


# --- encode: truncation and padding -----------------------------------------------------------

def test_encode_pads_on_the_right():
    bpe = _bpe([])
    ids, n = bpe.encode("ab", 8, pad_id=-7)
    assert ids[:4] == [bpe.bos_id, bpe.vocab["a"], bpe.vocab["b</w>"], bpe.eos_id]
    assert ids[4:] == [-7] * 4
    assert n == 4


def test_encode_empty_prompt():
    bpe = _bpe([])
    ids, n = bpe.encode("", 5, pad_id=0)
    assert ids == [bpe.bos_id, bpe.eos_id, 0, 0, 0]
    assert n == 2


def test_truncation_keeps_eos_last_and_reports_the_untruncated_length():
    bpe = ct.load_clip_bpe(SD15)
    exact = " ".join(["a"] * 75)          # bos + 75 + eos = 77
    ids, n = bpe.encode(exact, 77, pad_id=0)
    assert n == 77 and ids[-1] == bpe.eos_id and 0 not in ids
    over = exact + " a"                   # 78: one token is cut
    ids, n = bpe.encode(over, 77, pad_id=0)
    assert n == 78 and len(ids) == 77
    assert ids[0] == bpe.bos_id and ids[-1] == bpe.eos_id
    assert ids[1:76] == [bpe.vocab["a</w>"]] * 75
    long = "a photo of a cat, " * 40
    ids, n = bpe.encode(long, 77, pad_id=0)
    full = [bpe.bos_id] + bpe.token_ids(long) + [bpe.eos_id]
    assert n == len(full) > 150
    assert ids == full[:76] + [bpe.eos_id]


def test_encode_refuses_a_max_length_without_room_for_bos_and_eos():
    with pytest.raises(ValueError, match="max_length"):
        _bpe([]).encode("a", 1, 0)


# --- read_tokenizer_settings ------------------------------------------------------------------

def test_settings_of_the_sd15_folder_pad_with_eos():
    vocab = ct.read_vocab(os.path.join(SD15, "vocab.json"))
    s = ct.read_tokenizer_settings(SD15)
    assert s == {"model_max_length": 77, "do_lower_case": True,
                 "bos_token": ct.BOS, "bos_id": vocab[ct.BOS],
                 "eos_token": ct.EOS, "eos_id": vocab[ct.EOS],
                 "unk_token": ct.EOS, "unk_id": vocab[ct.EOS],
                 "pad_token": ct.EOS, "pad_id": vocab[ct.EOS]}
    assert s["eos_id"] == len(vocab) - 1


def test_settings_of_the_sd2_folder_pad_with_exclamation_mark_id_0():
    s15, s2 = ct.read_tokenizer_settings(SD15), ct.read_tokenizer_settings(SD2)
    assert s2["pad_token"] == "!" and s2["pad_id"] == 0
    assert s2["pad_id"] != s15["pad_id"]
    assert {k: v for k, v in s2.items() if not k.startswith("pad")} == \
        {k: v for k, v in s15.items() if not k.startswith("pad")}


def _copy(tmp_path, src=SD15):
    dst = tmp_path / "tokenizer"
    shutil.copytree(src, dst)
    return dst


def _edit(folder, name, **changes):
    path = folder / name
    doc = json.loads(path.read_text(encoding="utf-8"))
    for k, v in changes.items():
        if v is _DROP:
            doc.pop(k, None)
        else:
            doc[k] = v
    path.write_text(json.dumps(doc), encoding="utf-8")


_DROP = object()


@pytest.mark.parametrize("key,value", [
    ("pad_token", 7),
    ("pad_token", ["<|endoftext|>"]),
    ("pad_token", {"text": "<|endoftext|>"}),
    ("bos_token", None),
    ("model_max_length", "77"),
    ("model_max_length", 77.5),
    ("model_max_length", True),
    ("model_max_length", 1),
    ("do_lower_case", False),
    ("do_lower_case", "yes"),
    ("tokenizer_class", "T5Tokenizer"),
])
def test_settings_refuse_a_malformed_config_naming_file_and_key(tmp_path, key, value):
    folder = _copy(tmp_path)
    _edit(folder, "tokenizer_config.json", **{key: value})
    with pytest.raises(ValueError) as e:
        ct.read_tokenizer_settings(str(folder))
    assert "tokenizer_config.json" in str(e.value) and key in str(e.value)


def test_settings_refuse_files_that_disagree(tmp_path):
    folder = _copy(tmp_path)
    _edit(folder, "special_tokens_map.json", pad_token="!")
    with pytest.raises(ValueError, match="special_tokens_map.json: pad_token '!' disagrees"):
        ct.read_tokenizer_settings(str(folder))


def test_settings_refuse_a_pad_token_missing_from_the_vocabulary(tmp_path):
    folder = _copy(tmp_path)
    _edit(folder, "tokenizer_config.json", pad_token="<pad>")
    _edit(folder, "special_tokens_map.json", pad_token="<pad>")
    with pytest.raises(ValueError, match=r"pad_token '<pad>' is not in .*vocab\.json"):
        ct.read_tokenizer_settings(str(folder))


def test_settings_refuse_invalid_json(tmp_path):
    folder = _copy(tmp_path)
    (folder / "special_tokens_map.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="special_tokens_map.json: not valid JSON"):
        ct.read_tokenizer_settings(str(folder))


def test_settings_accept_the_forms_transformers_writes(tmp_path):
    folder = _copy(tmp_path, SD2)
    _edit(folder, "tokenizer_config.json", pad_token={"content": "!", "normalized": True},
          model_max_length=1000000000000000019884624838656)
    _edit(folder, "special_tokens_map.json", pad_token={"__type": "AddedToken", "content": "!"})
    s = ct.read_tokenizer_settings(str(folder))
    assert s["pad_token"] == "!" and s["pad_id"] == 0
    assert s["model_max_length"] is None
    _edit(folder, "tokenizer_config.json", model_max_length=1e30)
    assert ct.read_tokenizer_settings(str(folder))["model_max_length"] is None


def test_settings_use_clip_defaults_for_absent_tokens(tmp_path):
    folder = _copy(tmp_path)
    (folder / "special_tokens_map.json").unlink()
    _edit(folder, "tokenizer_config.json", pad_token=_DROP, bos_token=_DROP, unk_token=_DROP,
          model_max_length=_DROP, do_lower_case=_DROP)
    s = ct.read_tokenizer_settings(str(folder))
    assert s["pad_token"] == s["unk_token"] == ct.EOS and s["bos_token"] == ct.BOS
    assert s["model_max_length"] is None and s["do_lower_case"] is True


def test_settings_look_ids_up_in_tokenizer_json_without_vocab_json(tmp_path):
    folder = _copy(tmp_path, SD2)
    ct.write_tokenizer_json(str(folder / "vocab.json"), str(folder / "merges.txt"),
                            str(folder / "tokenizer.json"))
    (folder / "vocab.json").unlink()
    assert ct.read_tokenizer_settings(str(folder)) == ct.read_tokenizer_settings(SD2)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ValueError, match="neither vocab.json nor tokenizer.json"):
        ct.read_tokenizer_settings(str(folder))


def test_settings_need_a_tokenizer_config(tmp_path):
    folder = _copy(tmp_path)
    (folder / "tokenizer_config.json").unlink()
    with pytest.raises(ValueError, match="tokenizer_config.json: missing"):
        ct.read_tokenizer_settings(str(folder))


# --- write_tokenizer_json ---------------------------------------------------------------------

def test_tokenizer_json_has_the_clip_fast_layout(tmp_path):
    out = tmp_path / "tokenizer.json"
    ct.write_tokenizer_json(os.path.join(SD15, "vocab.json"), os.path.join(SD15, "merges.txt"),
                            str(out))
    doc = json.loads(out.read_text(encoding="utf-8"))
    vocab = ct.read_vocab(os.path.join(SD15, "vocab.json"))
    merges = ct.read_merges(os.path.join(SD15, "merges.txt"))
    bos, eos = vocab[ct.BOS], vocab[ct.EOS]

    assert doc["version"] == "1.0"
    assert doc["padding"] is None and doc["truncation"] is None
    assert [(t["id"], t["content"], t["special"]) for t in doc["added_tokens"]] == \
        [(bos, ct.BOS, True), (eos, ct.EOS, True)]
    assert doc["normalizer"] == {"type": "Sequence", "normalizers": [
        {"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
        {"type": "Lowercase"}]}
    split, byte_level = doc["pre_tokenizer"]["pretokenizers"]
    assert doc["pre_tokenizer"]["type"] == "Sequence"
    assert split == {"type": "Split", "pattern": {"Regex": ct.CLIP_PATTERN},
                     "behavior": "Removed", "invert": True}
    assert byte_level == {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": False}
    assert doc["post_processor"] == {"type": "RobertaProcessing", "sep": [ct.EOS, eos],
                                     "cls": [ct.BOS, bos], "trim_offsets": False,
                                     "add_prefix_space": False}
    assert doc["decoder"]["type"] == "ByteLevel"
    model = doc["model"]
    assert model["type"] == "BPE"
    assert model["dropout"] is None and model["unk_token"] == ct.EOS
    assert model["continuing_subword_prefix"] == "" and model["end_of_word_suffix"] == "</w>"
    assert model["fuse_unk"] is False and model["byte_fallback"] is False
    assert model["vocab"] == vocab
    assert list(model["vocab"].values()) == sorted(vocab.values())
    assert [tuple(m) for m in model["merges"]] == merges


def test_the_split_pattern_is_clips():
    # The pipes of the special tokens are literal.
    assert ct.CLIP_PATTERN.startswith(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m")
    assert ct.CLIP_PATTERN.endswith(r"|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+")


def test_tokenizer_json_refuses_merges_outside_the_vocabulary(tmp_path):
    folder = _copy(tmp_path)
    with open(folder / "merges.txt", "a", encoding="utf-8") as f:
        f.write("zq xw\n")
    with pytest.raises(ValueError, match="needs 'zq'"):
        ct.write_tokenizer_json(str(folder / "vocab.json"), str(folder / "merges.txt"),
                                str(tmp_path / "tokenizer.json"))
    assert not (tmp_path / "tokenizer.json").exists()


def test_tokenizer_json_refuses_special_tokens_outside_the_vocabulary():
    with pytest.raises(ValueError, match="bos token"):
        ct.tokenizer_json({"a": 0, ct.EOS: 1}, [])


def test_read_merges_refuses_a_malformed_line(tmp_path):
    path = tmp_path / "merges.txt"
    path.write_text("#version: 0.2\na b\nabc\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3"):
        ct.read_merges(str(path))


def test_read_vocab_refuses_duplicate_ids(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text('{"a": 0, "b": 0}', encoding="utf-8")
    with pytest.raises(ValueError, match="id 0"):
        ct.read_vocab(str(path))


# --- committed fixtures -------------------------------------------------------------------------

def test_committed_clip_tokenizer_json_is_the_writer_output(tmp_path):
    out = tmp_path / "tokenizer.json"
    ct.write_tokenizer_json(os.path.join(SD15, "vocab.json"), os.path.join(SD15, "merges.txt"),
                            str(out))
    assert out.read_bytes() == open(os.path.join(JAVA, "clip", "tokenizer.json"), "rb").read()


def test_committed_clip_cases_are_the_reference_ids():
    with open(os.path.join(JAVA, "clip", "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)
    settings = ct.read_tokenizer_settings(SD15)
    bpe = ct.load_clip_bpe(SD15)
    assert cases["tokenizer"] == "tokenizer.json"
    assert cases["max_length"] == 77 and cases["pad_id"] == settings["eos_id"]
    assert any(c["untruncated_length"] > 77 for c in cases["cases"])
    assert any(c["text"] == "" for c in cases["cases"])
    for case in cases["cases"]:
        ids, n = bpe.encode(case["text"], 77, cases["pad_id"])
        assert (case["ids"], case["untruncated_length"]) == (ids, n), case["text"]
        assert len(case["ids"]) == 77


def test_fixture_folders_share_vocabulary_and_merges():
    for name in ("vocab.json", "merges.txt"):
        assert filecmp.cmp(os.path.join(SD15, name), os.path.join(SD2, name), shallow=False)
    with open(os.path.join(SD15, "merges.txt"), encoding="utf-8") as f:
        assert f.readline() == "#version: 0.2\n"
    vocab = ct.read_vocab(os.path.join(SD15, "vocab.json"))
    merges = ct.read_merges(os.path.join(SD15, "merges.txt"))
    assert 300 <= len(merges) <= 1500
    assert len(vocab) == 512 + len(merges) + 2


def _tree(root):
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            out[os.path.relpath(path, root)] = open(path, "rb").read()
    return out


def test_fixture_generator_is_deterministic(tmp_path):
    """Regenerating (in fresh processes with different hash seeds) gives the committed files."""
    committed_data = {k: v for k, v in _tree(DATA).items() if k.startswith(("clip-", "t5-"))}
    committed_java = _tree(JAVA)
    for seed in ("1", "2"):
        data, java = tmp_path / f"data{seed}", tmp_path / f"java{seed}"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run([sys.executable, GENERATOR, "--data", str(data), "--java", str(java)],
                       check=True, env=env)
        assert _tree(data) == committed_data
        assert _tree(java) == committed_java


def test_fixture_generator_in_process_matches(tmp_path):
    gen = _load_generator()
    gen.generate(str(tmp_path / "d"), str(tmp_path / "j"))
    assert _tree(tmp_path / "j") == _tree(JAVA)
