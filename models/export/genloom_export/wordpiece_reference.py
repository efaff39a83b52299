"""A pure-Python reference for a BERT-style WordPiece tokenizer, to check tokenizer.json files.

The steps are BERT's (google-research/bert, tokenization.py) as the Hugging Face tokenizers
format names them:

- BertNormalizer(clean_text, handle_chinese_chars, strip_accents unset = follow lowercase,
  lowercase): drop NUL, U+FFFD and control characters (general category C*, except tab, newline
  and carriage return), turn whitespace into spaces, put spaces around CJK ideographs, strip
  accents (NFD, then drop non-spacing marks, category Mn), lower-case character by character;
- BertPreTokenizer: split on whitespace, and isolate each punctuation character (ASCII
  punctuation or Unicode category P*);
- WordPiece: greedy longest-match-first; pieces after the first carry the "##" prefix; a word
  that cannot be covered, or longer than 100 characters, becomes one unknown token;
- post-processor: "[CLS] $A [SEP]".
"""
import unicodedata

PREFIX = "##"
MAX_CHARS_PER_WORD = 100

# CJK Unified Ideographs blocks, as BERT defines "Chinese characters".
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(c):
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in _CJK)


def _is_control(c):
    return c not in "\t\n\r" and unicodedata.category(c).startswith("C")


def _is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def normalize(text):
    out = []
    for c in text:
        if c in ("\0", "\ufffd") or _is_control(c):
            continue
        if c.isspace():
            out.append(" ")
        elif _is_cjk(c):
            out.append(f" {c} ")
        else:
            out.append(c)
    text = unicodedata.normalize("NFD", "".join(out))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return "".join(c.lower() for c in text)


def pre_tokenize(text):
    words = []
    for chunk in text.split():
        current = ""
        for c in chunk:
            if _is_punctuation(c):
                if current:
                    words.append(current)
                    current = ""
                words.append(c)
            else:
                current += c
        if current:
            words.append(current)
    return words


class WordPiece:
    def __init__(self, vocab, unk_token="[UNK]"):
        self.vocab = dict(vocab)
        if unk_token not in self.vocab:
            raise ValueError(f"unk token {unk_token!r} is not in the vocabulary")
        self.unk_token = unk_token

    def split(self, word):
        """Greedy longest-match-first pieces of one word."""
        if len(word) > MAX_CHARS_PER_WORD:
            return [self.unk_token]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else PREFIX + word[start:end]
                if piece in self.vocab:
                    found = piece
                    break
                end -= 1
            if found is None:
                return [self.unk_token]
            pieces.append(found)
            start = end
        return pieces


class BertStyleTokenizer:
    def __init__(self, vocab, *, cls="[CLS]", sep="[SEP]", unk="[UNK]"):
        self.model = WordPiece(vocab, unk)
        self.cls_id, self.sep_id = vocab[cls], vocab[sep]

    def tokens(self, text):
        out = []
        for word in pre_tokenize(normalize(text)):
            out.extend(self.model.split(word))
        return out

    def encode(self, text, max_length, pad_id):
        """(ids, untruncated_length): [cls] + pieces + [sep], cut to max_length keeping sep last,
        right-padded with pad_id."""
        if max_length < 2:
            raise ValueError(f"max_length {max_length} leaves no room for [CLS] and [SEP]")
        ids = [self.cls_id] + [self.model.vocab[t] for t in self.tokens(text)] + [self.sep_id]
        untruncated = len(ids)
        if untruncated > max_length:
            ids = ids[:max_length - 1] + [self.sep_id]
        return ids + [pad_id] * (max_length - len(ids)), untruncated


def build_vocab(texts, specials, *, max_words, leave_out=""):
    """A small WordPiece vocabulary from texts: specials first, then every character seen (bare
    and with "##", except those in leave_out), then the most frequent whole words, word-initial
    pieces and "##" suffix pieces (count >= 2). Fixture data, not a trained model."""
    counts = {}
    chars = set()
    for text in texts:
        for word in pre_tokenize(normalize(text)):
            chars.update(c for c in word if c not in leave_out)
            if any(c in leave_out for c in word):
                continue
            counts[word] = counts.get(word, 0) + 1
            for k in range(2, min(len(word), 6)):
                counts[word[:k]] = counts.get(word[:k], 0) + 1
                suffix = PREFIX + word[-k:]
                counts[suffix] = counts.get(suffix, 0) + 1
    tokens = list(specials)
    for c in sorted(chars):
        tokens += [c, PREFIX + c]
    frequent = sorted((t for t, n in counts.items() if n >= 2 and len(t.lstrip("#")) > 1),
                      key=lambda t: (-counts[t], t))
    for t in frequent[:max_words]:
        if t not in tokens:
            tokens.append(t)
    return {t: i for i, t in enumerate(tokens)}
