"""CLIP's byte-level BPE tokenizer: a reference encoder, a tokenizer.json writer and a reader for
the tokenizer settings that diffusers repositories ship.

Stable Diffusion repositories ship CLIP's *slow* tokenizer files (``vocab.json``, ``merges.txt``,
``tokenizer_config.json``, ``special_tokens_map.json``). Genloom's Java runtime reads Hugging Face
``tokenizer.json`` files, so the exporter writes one (``write_tokenizer_json``) in the layout that
transformers' ``CLIPTokenizerFast`` converter produces, and ``ClipBpe`` re-implements CLIP's
published algorithm (openai/CLIP, ``clip/simple_tokenizer.py``) so that the ids of the written file
can be checked against it.

The reference encoder follows CLIP's steps:

1. cleaning: CLIP runs ``ftfy.fix_text``, which is not installed here; NFC normalisation (the
   normalisation ``ftfy.fix_text`` applies by default) stands in for it. Text that ftfy would
   repair (mojibake, curly-quote fixes, ...) is therefore not repaired. Then ``html.unescape``
   twice and ``strip``, as CLIP does;
2. whitespace runs collapse to one space, the ends are stripped, the text is lower-cased
   (Python's ``str.lower``);
3. CLIP's split pattern (matched case-insensitively, as CLIP compiles it) cuts the text into
   words; each word's UTF-8 bytes are mapped through the byte-to-unicode table;
4. each word is merged by BPE: the pair of adjacent symbols with the lowest merge rank is joined
   everywhere in the word, repeatedly, the last symbol carrying the ``</w>`` end-of-word marker;
   results are cached per word, the two special tokens being pre-seeded so that they stay whole.

Known differences from the layout of ``write_tokenizer_json`` (and from ``CLIPTokenizerFast``),
which has no HTML unescaping step and no case-insensitive split: prompts containing HTML entities
(``&amp;``), a long s after an apostrophe (``'ſ``) or a word-final capital sigma (``str.lower``
gives ``ς``, the Rust lower-casing gives ``σ``) tokenize differently. The test prompt set avoids
them on purpose.
"""
import html
import json
import math
import os
import unicodedata

import regex

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
END_OF_WORD = "</w>"

# CLIP's split pattern (openai/CLIP, clip/simple_tokenizer.py). The pipes of the two special
# tokens are escaped so that they match literally instead of acting as alternation.
CLIP_PATTERN = (r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"
                r"|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+")
_SPLIT = regex.compile(CLIP_PATTERN, regex.IGNORECASE)
_WHITESPACE = regex.compile(r"\s+")

# transformers writes int(1e30) for "no limit"; anything this large means unset.
_UNSET_MAX_LENGTH = 10 ** 20
_CLIP_CLASSES = ("CLIPTokenizer", "CLIPTokenizerFast")
# The defaults of transformers' CLIPTokenizer when a file names no token.
_CLIP_DEFAULTS = {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}


def bytes_to_unicode():
    """CLIP's (and GPT-2's) byte-to-unicode table: byte value -> one printable character.

    The 188 bytes that are printable Latin-1 characters ('!'..'~', '¡'..'¬', '®'..'ÿ') map to
    themselves; the other 68 map, in byte order, to U+0100, U+0101, ... Keys are in that order
    (printable ones first), which is the order of CLIP's first 256 vocabulary entries."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def clean(text):
    """CLIP's cleaning with NFC in place of ftfy: NFC, HTML-unescape twice, collapse whitespace,
    strip, lower-case."""
    text = unicodedata.normalize("NFC", text)
    text = html.unescape(html.unescape(text)).strip()
    text = _WHITESPACE.sub(" ", text).strip()
    return text.lower()


def split_words(text):
    """CLIP's pre-tokenization of already cleaned text: the list of matches of CLIP_PATTERN."""
    return _SPLIT.findall(text)


class ClipBpe:
    """CLIP's byte-level BPE over a vocabulary {token: id} and ranked merges [(left, right), ...]
    (rank = position in the list)."""

    def __init__(self, vocab, merges, *, bos=BOS, eos=EOS):
        self.vocab = dict(vocab)
        self.ranks = {}
        for rank, merge in enumerate(merges):
            pair = tuple(merge)
            if len(pair) != 2:
                raise ValueError(f"merge {rank} is not a pair: {merge!r}")
            self.ranks.setdefault(pair, rank)
        for name, token in (("bos", bos), ("eos", eos)):
            if token not in self.vocab:
                raise ValueError(f"{name} token {token!r} is not in the vocabulary")
        self.bos, self.eos = bos, eos
        self.bos_id, self.eos_id = self.vocab[bos], self.vocab[eos]
        self.byte_encoder = bytes_to_unicode()
        # The special tokens are whole symbols, never merged and without </w>.
        self._cache = {bos: (bos,), eos: (eos,)}

    def bpe(self, word):
        """BPE symbols of one byte-encoded word; the last symbol ends with </w>."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        symbols = list(word[:-1]) + [word[-1] + END_OF_WORD]
        while len(symbols) > 1:
            best, best_rank = None, math.inf
            for pair in zip(symbols, symbols[1:]):
                rank = self.ranks.get(pair, math.inf)
                if rank < best_rank:
                    best, best_rank = pair, rank
            if best is None:
                break
            joined, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == best[0] and symbols[i + 1] == best[1]:
                    joined.append(best[0] + best[1])
                    i += 2
                else:
                    joined.append(symbols[i])
                    i += 1
            symbols = joined
        result = tuple(symbols)
        self._cache[word] = result
        return result

    def tokens(self, text):
        """The BPE tokens of a prompt, without bos/eos."""
        out = []
        for word in split_words(clean(text)):
            encoded = "".join(self.byte_encoder[b] for b in word.encode("utf-8"))
            out.extend(self.bpe(encoded))
        return out

    def token_ids(self, text):
        """The ids of tokens(text), without bos/eos."""
        ids = []
        for token in self.tokens(text):
            if token not in self.vocab:
                raise ValueError(f"token {token!r} of {text!r} is not in the vocabulary "
                                 "(vocabulary and merges do not belong together)")
            ids.append(self.vocab[token])
        return ids

    def encode(self, text, max_length, pad_id):
        """(ids, untruncated_length): [bos] + tokens + [eos], cut to max_length with eos kept last,
        right-padded with pad_id to max_length. untruncated_length counts bos + tokens + eos before
        the cut."""
        if max_length < 2:
            raise ValueError(f"max_length {max_length} leaves no room for bos and eos")
        ids = [self.bos_id] + self.token_ids(text) + [self.eos_id]
        untruncated = len(ids)
        if untruncated > max_length:
            ids = ids[:max_length - 1] + [self.eos_id]
        return ids + [pad_id] * (max_length - len(ids)), untruncated


def read_vocab(vocab_path):
    """vocab.json as {token: id}; ids must be distinct non-negative integers."""
    with open(vocab_path, encoding="utf-8") as f:
        vocab = json.load(f)
    if not isinstance(vocab, dict):
        raise ValueError(f"{vocab_path}: not a JSON object of token -> id")
    seen = {}
    for token, i in vocab.items():
        if not isinstance(i, int) or isinstance(i, bool) or i < 0:
            raise ValueError(f"{vocab_path}: id of {token!r} is not a non-negative integer: {i!r}")
        if i in seen:
            raise ValueError(f"{vocab_path}: id {i} is used by {seen[i]!r} and {token!r}")
        seen[i] = token
    return vocab


def read_merges(merges_path):
    """merges.txt as [(left, right), ...] in rank order; a first line "#version: ..." is skipped,
    as are empty lines."""
    with open(merges_path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[0].startswith("#version"):
        lines = lines[1:]
    merges = []
    for number, line in enumerate(lines, start=2):
        if not line:
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise ValueError(f"{merges_path}: line {number} is not 'left right': {line!r}")
        merges.append((parts[0], parts[1]))
    return merges


def load_clip_bpe(folder):
    """ClipBpe from folder/vocab.json and folder/merges.txt."""
    return ClipBpe(read_vocab(os.path.join(folder, "vocab.json")),
                   read_merges(os.path.join(folder, "merges.txt")))


def _check_merges(vocab, merges, where):
    for rank, (left, right) in enumerate(merges):
        for part in (left, right, left + right):
            if part not in vocab:
                raise ValueError(f"{where}: merge {rank} ({left} {right}) needs {part!r}, "
                                 "which is not in the vocabulary")


def tokenizer_json(vocab, merges, *, bos=BOS, eos=EOS, unk=EOS):
    """The tokenizer.json document (a dict) for a CLIP vocabulary and merges.

    Layout of transformers' CLIPTokenizerFast converter, in the Hugging Face tokenizers format:
    normalizer NFC -> whitespace runs to " " -> lower-case; pre-tokenizer CLIP's pattern kept
    (Split with invert, the text between matches removed) then byte-level mapping without its
    own regex; BPE with the "</w>" suffix and no subword prefix; RobertaProcessing adds bos/eos."""
    for name, token in (("bos", bos), ("eos", eos), ("unk", unk)):
        if token not in vocab:
            raise ValueError(f"{name} token {token!r} is not in the vocabulary")
    _check_merges(vocab, merges, "merges")
    specials = sorted({bos, eos, unk}, key=lambda t: vocab[t])
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": True, "special": True}
                         for t in specials],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
            {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": CLIP_PATTERN}, "behavior": "Removed",
             "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]},
        "post_processor": {"type": "RobertaProcessing", "sep": [eos, vocab[eos]],
                           "cls": [bos, vocab[bos]], "trim_offsets": False,
                           "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": unk,
                  "continuing_subword_prefix": "", "end_of_word_suffix": END_OF_WORD,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": dict(sorted(vocab.items(), key=lambda kv: kv[1])),
                  "merges": [[left, right] for left, right in merges]},
    }


def write_tokenizer_json(vocab_path, merges_path, out_path, *, bos=BOS, eos=EOS, unk=EOS):
    """Write out_path, a tokenizer.json for CLIP's vocab.json + merges.txt (see tokenizer_json).
    Returns the document written."""
    vocab = read_vocab(vocab_path)
    merges = read_merges(merges_path)
    try:
        doc = tokenizer_json(vocab, merges, bos=bos, eos=eos, unk=unk)
    except ValueError as e:
        raise ValueError(f"{vocab_path} / {merges_path}: {e}") from None
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)
        f.write("\n")
    return doc


def _load_json_object(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a JSON object")
    return doc


def _token_text(value, path, key):
    """A special token as transformers writes it: a string or {"content": str, ...}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    raise ValueError(f"{path}: {key} is neither a string nor an object with a string "
                     f"'content': {value!r}")


def _token_ids(folder):
    """(token -> id, file it came from): vocab.json when present, else tokenizer.json (its
    added tokens and model vocabulary)."""
    vocab_path = os.path.join(folder, "vocab.json")
    if os.path.exists(vocab_path):
        return read_vocab(vocab_path), vocab_path
    tok_path = os.path.join(folder, "tokenizer.json")
    if os.path.exists(tok_path):
        doc = _load_json_object(tok_path)
        model_vocab = (doc.get("model") or {}).get("vocab")
        if not isinstance(model_vocab, dict):
            raise ValueError(f"{tok_path}: model.vocab is not an object of token -> id")
        ids = dict(model_vocab)
        for added in doc.get("added_tokens") or []:
            ids[added["content"]] = added["id"]
        return ids, tok_path
    raise ValueError(f"{folder}: neither vocab.json nor tokenizer.json to look token ids up in")


def read_tokenizer_settings(tokenizer_folder):
    """Settings of a CLIP tokenizer folder from tokenizer_config.json and special_tokens_map.json.

    Returns {"model_max_length": int or None (absent, or transformers' huge "unset" sentinel),
    "do_lower_case": True, "bos_token", "bos_id", "eos_token", "eos_id", "unk_token", "unk_id",
    "pad_token", "pad_id"}. Ids are looked up in vocab.json (or tokenizer.json). A token may be
    written as a string or as {"content": ...}; a token absent from both files takes
    CLIPTokenizer's default. SD 1.x pads with "<|endoftext|>" (the eos id); SD 2.x and SDXL's
    tokenizer_2 pad with "!" (id 0).

    Raises ValueError naming the file and key for anything it cannot read unambiguously: a token
    that is null or of another type, a token the two files disagree on, a token missing from the
    vocabulary, a model_max_length that is not a positive integer, a do_lower_case that is not
    true (both CLIP tokenizers lower-case whatever the file says), a tokenizer_class that is not
    CLIP's."""
    config_path = os.path.join(tokenizer_folder, "tokenizer_config.json")
    if not os.path.exists(config_path):
        raise ValueError(f"{config_path}: missing")
    config = _load_json_object(config_path)
    map_path = os.path.join(tokenizer_folder, "special_tokens_map.json")
    special_map = _load_json_object(map_path) if os.path.exists(map_path) else {}

    cls = config.get("tokenizer_class")
    if cls is not None and cls not in _CLIP_CLASSES:
        raise ValueError(f"{config_path}: tokenizer_class {cls!r} is not one of {_CLIP_CLASSES}")

    max_length = config.get("model_max_length")
    if max_length is not None:
        if isinstance(max_length, bool) or not isinstance(max_length, (int, float)):
            raise ValueError(f"{config_path}: model_max_length is not a number: {max_length!r}")
        if max_length >= _UNSET_MAX_LENGTH:
            max_length = None
        elif max_length != int(max_length) or max_length < 2:
            raise ValueError(f"{config_path}: model_max_length is not an integer >= 2: "
                             f"{max_length!r}")
        else:
            max_length = int(max_length)

    lower = config.get("do_lower_case", True)
    if lower is not True:
        raise ValueError(f"{config_path}: do_lower_case is {lower!r}; CLIP's tokenizers always "
                         "lower-case, so only true (or no key) is accepted")

    ids, ids_path = _token_ids(tokenizer_folder)
    settings = {"model_max_length": max_length, "do_lower_case": True}
    for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
        found = {}
        for path, doc in ((config_path, config), (map_path, special_map)):
            if key in doc:
                if doc[key] is None:
                    raise ValueError(f"{path}: {key} is null")
                found[path] = _token_text(doc[key], path, key)
        values = set(found.values())
        if len(values) > 1:
            raise ValueError(f"{map_path}: {key} {found[map_path]!r} disagrees with "
                             f"{config_path}: {key} {found[config_path]!r}")
        token = values.pop() if values else _CLIP_DEFAULTS[key]
        if token not in ids:
            where = " and ".join(found) if found else "the CLIPTokenizer default"
            raise ValueError(f"{where}: {key} {token!r} is not in {ids_path}")
        name = key[:-len("_token")]
        settings[f"{name}_token"] = token
        settings[f"{name}_id"] = ids[token]
    return settings
