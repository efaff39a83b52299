"""A pure-Python reference for a T5-style Unigram tokenizer, to check tokenizer.json files.

The pipeline mirrors what the Hugging Face tokenizers format describes for such a file:

- normalizer: NFKC, then runs of whitespace to one space;
- pre-tokenizer: split on whitespace (WhitespaceSplit), then Metaspace: each word gets the
  replacement character U+2581 ("▁") prepended;
- model: Unigram. Each word is segmented by Viterbi over the pieces of the vocabulary: the
  segmentation with the highest sum of piece scores (log probabilities) wins, as in
  SentencePiece's unigram model. A character that starts no piece of its own length is an
  unknown piece scored min(score) - 10, and runs of consecutive unknown pieces are fused into
  one unknown token;
- post-processor: "$A </s>".

Ties between segmentations go to the one found first, scanning end positions left to right and,
for each, candidate start positions left to right (a later candidate must score strictly more).
"""
import math
import unicodedata

import regex

REPLACEMENT = "\u2581"
UNK_PENALTY = 10.0
_WHITESPACE = regex.compile(r"\s+")


def normalize(text):
    """NFKC, then whitespace runs to one space."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text))


def pre_tokenize(text):
    """Normalized text -> words, each prefixed with "▁"."""
    return [REPLACEMENT + w for w in text.split()]


class Unigram:
    """Viterbi segmentation over pieces [(piece, score), ...] (id = position)."""

    def __init__(self, pieces, unk_id, *, fuse_unk=True):
        self.pieces = [(p, float(s)) for p, s in pieces]
        self.ids = {}
        for i, (p, _) in enumerate(self.pieces):
            if p in self.ids:
                raise ValueError(f"piece {p!r} appears twice")
            self.ids[p] = i
        if not 0 <= unk_id < len(self.pieces):
            raise ValueError(f"unk_id {unk_id} is outside the vocabulary")
        self.unk_id = unk_id
        self.fuse_unk = fuse_unk
        self.min_score = min(s for _, s in self.pieces)
        self.max_piece_len = max(len(p) for p, _ in self.pieces)

    def segment(self, word):
        """[(piece text, id), ...] of one pre-tokenized word."""
        n = len(word)
        unk_score = self.min_score - UNK_PENALTY
        # best[end] = (score, start, id) of the best path covering word[:end]
        best = [None] * (n + 1)
        best[0] = (0.0, None, None)
        for start in range(n):
            here = best[start][0]
            single = False
            for end in range(start + 1, min(n, start + self.max_piece_len) + 1):
                i = self.ids.get(word[start:end])
                if i is None:
                    continue
                if end == start + 1:
                    single = True
                candidate = here + self.pieces[i][1]
                if best[end] is None or candidate > best[end][0]:
                    best[end] = (candidate, start, i)
            if not single:
                candidate = here + unk_score
                if best[start + 1] is None or candidate > best[start + 1][0]:
                    best[start + 1] = (candidate, start, self.unk_id)
        out = []
        end = n
        while end > 0:
            _, start, i = best[end]
            out.append((word[start:end], i))
            end = start
        out.reverse()
        if not self.fuse_unk:
            return out
        fused = []
        for text, i in out:
            if i == self.unk_id and fused and fused[-1][1] == self.unk_id:
                fused[-1] = (fused[-1][0] + text, i)
            else:
                fused.append((text, i))
        return fused


class T5StyleTokenizer:
    """normalize -> pre_tokenize -> Unigram -> ids + [eos], truncated keeping eos, padded."""

    def __init__(self, pieces, *, unk_id, eos_id):
        self.model = Unigram(pieces, unk_id)
        self.eos_id = eos_id

    def tokens(self, text):
        out = []
        for word in pre_tokenize(normalize(text)):
            out.extend(self.model.segment(word))
        return out

    def encode(self, text, max_length, pad_id):
        """(ids, untruncated_length) with ids = tokens + [eos], cut to max_length keeping eos
        last, right-padded with pad_id."""
        if max_length < 1:
            raise ValueError(f"max_length {max_length} leaves no room for eos")
        ids = [i for _, i in self.tokens(text)] + [self.eos_id]
        untruncated = len(ids)
        if untruncated > max_length:
            ids = ids[:max_length - 1] + [self.eos_id]
        return ids + [pad_id] * (max_length - len(ids)), untruncated


# The tokenizer.json sections of the layout above (what this reference implements).
NORMALIZER = {"type": "Sequence", "normalizers": [
    {"type": "NFKC"}, {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "}]}
PRE_TOKENIZER = {"type": "Sequence", "pretokenizers": [
    {"type": "WhitespaceSplit"},
    {"type": "Metaspace", "replacement": REPLACEMENT, "prepend_scheme": "always", "split": True}]}
SINGLE_TEMPLATE = [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}]


def layout_difference(doc):
    """None when a tokenizer.json document has the layout this reference implements, else what differs
    (naming the section)."""
    model = doc.get("model") or {}
    if model.get("type") != "Unigram":
        return f"model type {model.get('type')!r} is not Unigram"
    if model.get("byte_fallback"):
        return "the Unigram model has byte_fallback"
    if doc.get("normalizer") != NORMALIZER:
        kind = (doc.get("normalizer") or {}).get("type")
        return f"the normalizer ({kind}) is not NFKC followed by whitespace runs to one space"
    if doc.get("pre_tokenizer") != PRE_TOKENIZER:
        kind = (doc.get("pre_tokenizer") or {}).get("type")
        return f"the pre-tokenizer ({kind}) is not WhitespaceSplit followed by Metaspace (prepend always, split)"
    post = doc.get("post_processor") or {}
    if post.get("type") != "TemplateProcessing" or post.get("single") != SINGLE_TEMPLATE:
        return f"the post-processor ({post.get('type')}) is not the template \"$A </s>\""
    return None


def piece_scores(texts, size, *, leave_out=""):
    """A small Unigram piece list [(piece, log-probability)] from texts: every character seen
    (except those in leave_out, so that unknown characters occur), the bare "▁", and the most
    frequent substrings (up to 8 characters) of the pre-tokenized words, up to size pieces.
    Scores are log relative frequencies, nudged apart so that no two are equal. Fixture data,
    not a trained model."""
    counts = {}
    for text in texts:
        for word in pre_tokenize(normalize(text)):
            for a in range(len(word)):
                for b in range(a + 1, min(len(word), a + 8) + 1):
                    piece = word[a:b]
                    if any(c in leave_out for c in piece):
                        continue
                    counts[piece] = counts.get(piece, 0) + 1
    singles = sorted(p for p in counts if len(p) == 1)
    longer = sorted((p for p in counts if len(p) > 1 and counts[p] >= 2),
                    key=lambda p: (-counts[p] * len(p), p))
    chosen = singles + longer[:max(0, size - len(singles))]
    if REPLACEMENT not in chosen:
        chosen.insert(0, REPLACEMENT)
    total = sum(counts.get(p, 1) for p in chosen)
    scored = [(p, math.log(counts.get(p, 1) / total)) for p in chosen]
    scored.sort(key=lambda ps: (-ps[1], ps[0]))
    return [(p, round(s - 1e-5 * k, 6)) for k, (p, s) in enumerate(scored)]
