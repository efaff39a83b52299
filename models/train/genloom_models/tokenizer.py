"""Word-level tokenizer over all caption words, written as a Hugging Face `tokenizer.json`.

ids: [PAD]=0 [UNK]=1 [BOS]=2 [EOS]=3, then the caption words in a fixed order.
encode(text) = [BOS] words [EOS], right-padded with [PAD] to max_length; too long -> ValueError.
The empty prompt (CFG unconditional) is [BOS] [EOS] [PAD]...
"""
import json

import torch

from . import data

SPECIALS = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
WORDS = ["a", "on", "background", "moving"] + data.SHAPES + data.COLORS + data.DIRECTIONS
MAX_LENGTH = 16


class WordTokenizer:
    def __init__(self, max_length=MAX_LENGTH):
        self.max_length = max_length
        self.vocab = {w: i for i, w in enumerate(SPECIALS + WORDS)}
        self.pad_id, self.unk_id, self.bos_id, self.eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def __len__(self):
        return len(self.vocab)

    @property
    def vocab_size(self):
        return len(self.vocab)

    def ids(self, text):
        """Unpadded ids: [BOS] words [EOS]."""
        return [BOS_ID] + [self.vocab.get(w, UNK_ID) for w in text.lower().split()] + [EOS_ID]

    def encode(self, text, max_length=None):
        L = max_length or self.max_length
        ids = self.ids(text)
        if len(ids) > L:
            raise ValueError(f"prompt needs {len(ids)} tokens > max_length {L}: {text!r}")
        return ids + [PAD_ID] * (L - len(ids))

    def encode_batch(self, texts, max_length=None):
        """-> LongTensor [len(texts), max_length]."""
        return torch.tensor([self.encode(t, max_length) for t in texts], dtype=torch.long)

    def decode(self, ids):
        inv = {i: w for w, i in self.vocab.items()}
        return " ".join(inv[int(i)] for i in ids if int(i) not in (PAD_ID, BOS_ID, EOS_ID))

    def to_hf_json(self):
        L = self.max_length
        added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for i, t in enumerate(SPECIALS)]
        return {
            "version": "1.0",
            "truncation": None,
            "padding": {"strategy": {"Fixed": L}, "direction": "Right", "pad_to_multiple_of": None,
                        "pad_id": PAD_ID, "pad_type_id": 0, "pad_token": "[PAD]"},
            "added_tokens": added,
            "normalizer": {"type": "Lowercase"},
            "pre_tokenizer": {"type": "WhitespaceSplit"},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "[BOS]", "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": "[EOS]", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "[BOS]", "type_id": 0}},
                         {"Sequence": {"id": "A", "type_id": 0}},
                         {"Sequence": {"id": "B", "type_id": 1}},
                         {"SpecialToken": {"id": "[EOS]", "type_id": 0}}],
                "special_tokens": {
                    "[BOS]": {"id": "[BOS]", "ids": [BOS_ID], "tokens": ["[BOS]"]},
                    "[EOS]": {"id": "[EOS]", "ids": [EOS_ID], "tokens": ["[EOS]"]},
                },
            },
            "decoder": None,
            "model": {"type": "WordLevel", "vocab": dict(self.vocab), "unk_token": "[UNK]"},
        }

    def save(self, path):
        with open(path, "w") as f:
            json.dump(self.to_hf_json(), f, indent=2)
            f.write("\n")

    def spec(self, file="tokenizer.json"):
        """TokenizerSpec dict (proto3 JSON names) for manifest.json."""
        return {"file": file, "maxLength": self.max_length, "padId": PAD_ID, "bosId": BOS_ID,
                "eosId": EOS_ID, "unkId": UNK_ID, "lowercase": True}


def get_tokenizer(max_length=MAX_LENGTH):
    return WordTokenizer(max_length)
