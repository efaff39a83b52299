"""Tests of genloom_export.bpe_learn, the fixture vocabulary learner."""
import json
import os

from genloom_export import bpe_learn
from genloom_export import clip_tokenizer as ct


def test_word_counts_are_byte_encoded_with_end_of_word():
    counts = bpe_learn.word_counts(["Low low, café <|endoftext|>"])
    assert counts[("l", "o", "w</w>")] == 2
    assert counts[(",</w>",)] == 1
    assert counts[("c", "a", "f", "Ã", "©</w>")] == 1
    assert not any(ct.EOS in "".join(w) for w in counts)


def test_the_most_frequent_pair_is_merged_first_and_ties_are_ordered():
    counts = {("l", "o", "w</w>"): 5, ("l", "o", "w", "e", "r</w>"): 2,
              ("n", "e", "w", "e", "r</w>"): 6, ("w", "i", "d", "e", "r</w>"): 3}
    merges = bpe_learn.learn_merges(counts, 3)
    # (e, r</w>) occurs 2 + 6 + 3 = 11 times; then (w, er</w>) 2 + 6 = 8; then (l, o) 5 + 2 = 7.
    assert merges == [("e", "r</w>"), ("w", "er</w>"), ("l", "o")]
    # Equal counts: the smaller pair in code-point order goes first.
    assert bpe_learn.learn_merges({("b", "a</w>"): 2, ("a", "b</w>"): 2}, 1) == [("a", "b</w>")]


def test_learning_stops_below_min_count_and_never_repeats_a_token():
    merges = bpe_learn.learn_merges({("a", "b", "c</w>"): 1}, 10)
    assert merges == []
    counts = bpe_learn.word_counts(["abab ab abab ababab"] * 3)
    merges = bpe_learn.learn_merges(counts, 100)
    joined = [a + b for a, b in merges]
    assert len(joined) == len(set(joined))


def test_vocabulary_and_files_have_clips_layout(tmp_path):
    texts = ["a red circle", "a red square", "a blue circle", "naïve café 東京"] * 2
    vocab, merges = bpe_learn.learn_clip_files(texts, str(tmp_path), 50)
    symbols = list(ct.bytes_to_unicode().values())
    ordered = sorted(vocab, key=vocab.get)
    assert ordered[:256] == symbols
    assert ordered[256:512] == [s + "</w>" for s in symbols]
    assert ordered[512:-2] == [a + b for a, b in merges]
    assert ordered[-2:] == [ct.BOS, ct.EOS]
    assert list(vocab.values()) == list(range(len(vocab)))

    lines = (tmp_path / "merges.txt").read_text(encoding="utf-8").split("\n")
    assert lines[0] == "#version: 0.2" and lines[-1] == ""
    assert lines[1:-1] == [f"{a} {b}" for a, b in merges]
    text = (tmp_path / "vocab.json").read_text(encoding="utf-8")
    assert text.count("\n") == 1
    assert json.loads(text) == vocab
    assert ct.read_merges(os.path.join(tmp_path, "merges.txt")) == merges
    # The learned merges tokenize the training words to few tokens.
    bpe = ct.ClipBpe(vocab, merges)
    assert bpe.tokens("a red circle") == ["a</w>", "red</w>", "circle</w>"]
