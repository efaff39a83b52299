"""A small BPE merge learner that writes vocabularies in CLIP's file layout.

Used only to make test fixtures: real exports copy the vocabulary of the model. The vocabulary
is laid out as CLIP's: the 256 byte-unicode symbols (in the order of ``bytes_to_unicode``), the
same 256 with ``</w>``, one token per learned merge in merge order, then ``<|startoftext|>`` and
``<|endoftext|>`` last. ``merges.txt`` starts with ``#version: 0.2`` and holds one
``left right`` pair per line.

Learning is the classic greedy procedure: words (CLIP's pre-tokenization of the cleaned corpus,
byte-encoded, the last symbol carrying ``</w>``) are counted; the most frequent adjacent pair is
merged everywhere, and so on. Ties go to the smallest pair in code-point order, so the result
does not depend on hashing. A pair whose joined string is already a token is never merged, so
every merge adds exactly one new token (as in CLIP's files, where vocabulary size = 512 + merges
+ 2).
"""
import collections
import json
import os

from .clip_tokenizer import BOS, END_OF_WORD, EOS, bytes_to_unicode, clean, split_words


def word_counts(texts):
    """Counter of byte-encoded words (tuples of symbols, the last with </w>) over texts."""
    table = bytes_to_unicode()
    counts = collections.Counter()
    for text in texts:
        for word in split_words(clean(text)):
            if word in (BOS, EOS):
                continue
            symbols = [table[b] for b in word.encode("utf-8")]
            symbols[-1] += END_OF_WORD
            counts[tuple(symbols)] += 1
    return counts


def base_vocabulary():
    """The first 512 tokens: byte symbols, then byte symbols with </w>."""
    symbols = list(bytes_to_unicode().values())
    return symbols + [s + END_OF_WORD for s in symbols]


def learn_merges(counts, max_merges, min_count=2):
    """Up to max_merges merges [(left, right), ...] learned from counts {symbol tuple: count}."""
    words = [list(w) for w in sorted(counts)]
    freq = [counts[tuple(w)] for w in words]
    pair_counts = collections.Counter()
    where = collections.defaultdict(set)  # pair -> indices of words holding it
    for i, w in enumerate(words):
        for pair in zip(w, w[1:]):
            pair_counts[pair] += freq[i]
            where[pair].add(i)
    known = set(base_vocabulary())
    merges = []
    while len(merges) < max_merges:
        candidates = [(-c, p) for p, c in pair_counts.items()
                      if c >= min_count and p[0] + p[1] not in known]
        if not candidates:
            break
        _, best = min(candidates)
        joined = best[0] + best[1]
        merges.append(best)
        known.add(joined)
        for i in sorted(where.pop(best, ())):
            old = words[i]
            for pair in zip(old, old[1:]):
                pair_counts[pair] -= freq[i]
                if pair_counts[pair] <= 0:
                    del pair_counts[pair]
            new, j = [], 0
            while j < len(old):
                if j + 1 < len(old) and old[j] == best[0] and old[j + 1] == best[1]:
                    new.append(joined)
                    j += 2
                else:
                    new.append(old[j])
                    j += 1
            words[i] = new
            for pair in zip(new, new[1:]):
                pair_counts[pair] += freq[i]
                where[pair].add(i)
        pair_counts.pop(best, None)
    return merges


def clip_vocabulary(merges):
    """{token: id} in CLIP's order for the given merges."""
    tokens = base_vocabulary() + [left + right for left, right in merges] + [BOS, EOS]
    vocab = {}
    for token in tokens:
        if token in vocab:
            raise ValueError(f"token {token!r} would appear twice in the vocabulary")
        vocab[token] = len(vocab)
    return vocab


def write_clip_files(folder, vocab, merges):
    """folder/vocab.json (one line, ids in order) and folder/merges.txt."""
    os.makedirs(folder, exist_ok=True)
    ordered = dict(sorted(vocab.items(), key=lambda kv: kv[1]))
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(ordered, ensure_ascii=False) + "\n")
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n")
        for left, right in merges:
            f.write(f"{left} {right}\n")


def learn_clip_files(texts, folder, max_merges):
    """Learn merges from texts and write CLIP-layout vocab.json + merges.txt into folder.
    Returns (vocab, merges)."""
    merges = learn_merges(word_counts(texts), max_merges)
    vocab = clip_vocabulary(merges)
    write_clip_files(folder, vocab, merges)
    return vocab, merges
