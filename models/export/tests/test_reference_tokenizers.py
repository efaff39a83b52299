"""Tests of the Unigram and WordPiece references and of the Java test data made with them."""
import json
import os

import pytest

from genloom_export import unigram_reference as ur
from genloom_export import wordpiece_reference as wr

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(TESTS)))
JAVA = os.path.join(REPO, "generators", "src", "test", "resources", "tokenizers")
U = ur.REPLACEMENT


def _read(kind, name):
    with open(os.path.join(JAVA, kind, name), encoding="utf-8") as f:
        return json.load(f)


# --- Unigram ------------------------------------------------------------------------------------

PIECES = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), (U, -2.0), (U + "a", -1.0),
          (U + "ab", -1.5), ("b", -2.0), ("c", -3.0), ("bc", -4.5), (U + "abc", -6.0), ("a", -2.5)]


def _pieces(model, word):
    return [p for p, _ in model.segment(word)]


def test_viterbi_takes_the_best_total_score():
    m = ur.Unigram(PIECES, unk_id=2)
    assert _pieces(m, U + "ab") == [U + "ab"]             # -1.5 beats ▁a + b = -3.0
    assert _pieces(m, U + "abc") == [U + "ab", "c"]       # -4.5 beats ▁abc -6.0, ▁a bc -5.5
    assert _pieces(m, U + "bc") == [U, "bc"]              # -6.5 beats ▁ b c = -7.0
    m2 = ur.Unigram(PIECES[:8] + [("bc", -5.5)], unk_id=2)
    assert _pieces(m2, U + "bc") == [U, "b", "c"]         # -7.0 beats ▁ bc = -7.5


def test_unknown_characters_are_scored_low_and_fused():
    m = ur.Unigram(PIECES, unk_id=2)
    seg = m.segment(U + "xyzb")
    assert seg == [(U, 3), ("xyz", 2), ("b", 6)]
    assert m.min_score - ur.UNK_PENALTY == -16.0
    unfused = ur.Unigram(PIECES, unk_id=2, fuse_unk=False).segment(U + "xy")
    assert unfused == [(U, 3), ("x", 2), ("y", 2)]


def test_unigram_pipeline_normalizes_and_adds_eos():
    tok = ur.T5StyleTokenizer(PIECES, unk_id=2, eos_id=1)
    assert ur.normalize("\ufb01 \uff21  b\t\nc") == "fi A b c"
    assert ur.pre_tokenize("ab  abc") == [U + "ab", U + "abc"]
    ids, n = tok.encode("ab abc", 6, pad_id=0)
    assert ids == [5, 5, 7, 1, 0, 0] and n == 4
    ids, n = tok.encode("ab ab ab ab", 3, pad_id=0)
    assert ids == [5, 5, 1] and n == 5
    assert tok.encode("", 2, 0) == ([1, 0], 1)


def test_unigram_refuses_duplicate_pieces():
    with pytest.raises(ValueError, match="twice"):
        ur.Unigram([("a", -1.0), ("a", -2.0)], unk_id=0)


def test_committed_unigram_data_matches_the_reference():
    doc, cases = _read("unigram", "tokenizer.json"), _read("unigram", "cases.json")
    model = doc["model"]
    assert model["type"] == "Unigram" and model["unk_id"] == 2
    assert [p for p, _ in model["vocab"][:3]] == ["<pad>", "</s>", "<unk>"]
    assert doc["pre_tokenizer"]["pretokenizers"][1]["replacement"] == U
    assert doc["post_processor"]["special_tokens"]["</s>"]["ids"] == [1]
    scores = [s for _, s in model["vocab"][3:]]
    assert len(set(scores)) == len(scores)
    tok = ur.T5StyleTokenizer(model["vocab"], unk_id=2, eos_id=1)
    assert cases["pad_id"] == 0
    unknown = 0
    for case in cases["cases"]:
        ids, n = tok.encode(case["text"], cases["max_length"], cases["pad_id"])
        assert (case["ids"], case["untruncated_length"]) == (ids, n), case["text"]
        unknown += ids.count(2)
    assert unknown > 0
    assert any(c["untruncated_length"] > cases["max_length"] for c in cases["cases"])


# --- WordPiece ----------------------------------------------------------------------------------

VOCAB = {t: i for i, t in enumerate(
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "##a", "a", "want", "##ed",
     "runn", "##ing", ",", "cafe", "東", "京", "!", "r", "##u", "##n"])}


def test_wordpiece_is_greedy_longest_match_first():
    wp = wr.WordPiece(VOCAB)
    assert wp.split("unaffable") == ["un", "##aff", "##able"]
    assert wp.split("wanted") == ["want", "##ed"]
    assert wp.split("running") == ["runn", "##ing"]   # longest first, although r ##u ##n.. exists
    assert wp.split("unx") == ["[UNK]"]                # one uncovered part spoils the word
    assert wp.split("a" * 101) == ["[UNK]"]


def test_bert_normalizer_and_pre_tokenizer():
    assert wr.normalize("Café\u0000\u200b\tNAÏVE") == "cafe naive"
    assert wr.normalize("東京の夜") == " 東  京 の 夜 "
    assert wr.pre_tokenize("a,b!! it's") == ["a", ",", "b", "!", "!", "it", "'", "s"]
    assert wr.pre_tokenize("x\u2019y") == ["x", "\u2019", "y"]


def test_bert_style_encode_truncates_keeping_sep():
    tok = wr.BertStyleTokenizer(VOCAB)
    ids, n = tok.encode("Café, unaffable!", 10, pad_id=0)
    assert ids == [2, 14, 13, 4, 5, 6, 17, 3, 0, 0] and n == 8
    ids, n = tok.encode("Café, unaffable!", 5, pad_id=0)
    assert ids == [2, 14, 13, 4, 3] and n == 8


def test_committed_wordpiece_data_matches_the_reference():
    doc, cases = _read("wordpiece", "tokenizer.json"), _read("wordpiece", "cases.json")
    vocab = doc["model"]["vocab"]
    assert doc["model"]["continuing_subword_prefix"] == "##"
    assert doc["normalizer"]["type"] == "BertNormalizer" and doc["normalizer"]["lowercase"]
    assert doc["pre_tokenizer"] == {"type": "BertPreTokenizer"}
    assert cases["pad_id"] == vocab["[PAD]"] == 0
    tok = wr.BertStyleTokenizer(vocab)
    unknown = 0
    for case in cases["cases"]:
        ids, n = tok.encode(case["text"], cases["max_length"], cases["pad_id"])
        assert (case["ids"], case["untruncated_length"]) == (ids, n), case["text"]
        unknown += ids.count(vocab["[UNK]"])
    assert unknown > 0
    assert any(c["untruncated_length"] > cases["max_length"] for c in cases["cases"])
