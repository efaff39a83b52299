"""Regenerate the tokenizer fixtures: the CLIP tokenizer folders of the Python tests and the
tokenizer.json + cases.json files of the Java tests.

    cd models/export && /usr/bin/python3 tests/data/make_tokenizer_fixtures.py

writes, relative to the repository:

- models/export/tests/data/clip-sd15/ and clip-sd2/: vocab.json and merges.txt learned from the
  small corpus below (CLIP's layout), tokenizer_config.json and special_tokens_map.json as
  diffusers repositories ship them (SD 1.x pads with "<|endoftext|>", SD 2.x with "!");
- models/export/tests/data/t5-fixture/: a T5-style Unigram tokenizer.json (the pieces of the
  Java unigram fixture: <pad> 0, </s> 1, <unk> 2, "$A </s>"), tokenizer_config.json and
  special_tokens_map.json in the layout of an SD3 pipeline's tokenizer_3/;
- generators/src/test/resources/tokenizers/{clip,unigram,wordpiece}/: tokenizer.json and
  cases.json, the expected ids computed by the pure-Python references in genloom_export.

The output is deterministic (the tests regenerate it into a temporary folder and compare).
`--data DIR --java DIR` write elsewhere.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT_ROOT = os.path.dirname(os.path.dirname(HERE))
REPO_ROOT = os.path.dirname(os.path.dirname(EXPORT_ROOT))
if EXPORT_ROOT not in sys.path:
    sys.path.insert(0, EXPORT_ROOT)

from genloom_export import bpe_learn, clip_tokenizer  # noqa: E402
from genloom_export.unigram_reference import T5StyleTokenizer, piece_scores  # noqa: E402
from genloom_export.wordpiece_reference import BertStyleTokenizer, build_vocab  # noqa: E402

DEFAULT_DATA = HERE
DEFAULT_JAVA = os.path.join(REPO_ROOT, "generators", "src", "test", "resources", "tokenizers")

CLIP_MAX_MERGES = 1200
UNIGRAM_PIECES = 700
WORDPIECE_WORDS = 600

# Training text for the fixture vocabularies: image prompts in varied styles, with punctuation,
# numbers and some non-ASCII words so that multi-byte characters get merges too.
CORPUS = [
    "a photograph of an astronaut riding a horse on the moon",
    "a painting of a fox sitting in a field at sunrise, oil on canvas",
    "portrait of an old fisherman with a grey beard, dramatic lighting, 85mm",
    "a red circle on a blue background",
    "a green square next to a yellow triangle",
    "a cat sleeping on a windowsill, soft morning light",
    "a dog running on the beach, golden hour, high detail",
    "the city of Tokyo at night, neon lights, rain, cinematic",
    "東京の夜, neon signs and rain",
    "東京 tower in the evening",
    "a street in 東京 with lanterns",
    "a small café in Zürich with wooden tables",
    "a café on a corner in Paris, watercolor",
    "the old town of Zürich in winter, snow on the roofs",
    "a naïve painting of a village, folk art",
    "naïve art style, bright colors, flat shapes",
    "a résumé on a desk next to a cup of coffee",
    "crème brûlée on a white plate, food photography",
    "a smiling sun 🌞 over green hills",
    "a birthday cake with candles 🎂 and balloons 🎈",
    "a happy dog 🐶 in the park",
    "a rocket 🚀 launching into the stars ✨",
    "it's a beautiful day in the neighborhood",
    "a dog's toy on the floor",
    "the cat's whiskers, macro photo",
    "they're walking in the rain, we'll see you there",
    "i'm looking at the mountains, you've never seen them",
    "she'd rather paint the sea than the sky",
    "a landscape, 4k, 8k, ultra detailed, sharp focus",
    "1024x768 wallpaper of a forest",
    "a photo from 1999 of a family at the beach",
    "a poster from 1984, retro, grainy",
    "3 apples and 2 pears on a table",
    "12 red roses in a glass vase",
    "a clock showing 10:30 on a brick wall",
    "a house with 2 windows and 1 door, drawn by a child",
    "an illustration of a robot reading a book!!!",
    "a castle on a hill (fantasy art) -- trending on artstation",
    "a bowl of fruit: apples, oranges, bananas; still life",
    "a portrait of a woman with red hair -- studio lighting -- 50mm",
    "a boat on a lake... misty morning",
    "what a view?! mountains and clouds",
    "a neon sign that says 'open' in a dark alley",
    "a \"vintage\" car parked by the road",
    "a #hashtag written on a wall, graffiti @ night",
    "a map of the world, 100% detailed, $5 print",
    "a [blue] bird on a {green} branch",
    "a knight in shining armor, highly detailed, digital painting",
    "a cyberpunk city at night with flying cars",
    "a cozy cabin in the woods with smoke from the chimney",
    "a bowl of ramen with an egg and green onions",
    "a watercolor painting of a lighthouse by the sea",
    "a pencil sketch of a horse running in a field",
    "a cute owl sitting on a branch, children's book illustration",
    "an aerial photo of a river winding through a forest",
    "a close up photo of a bee on a yellow flower, macro",
    "a futuristic train station with glass and steel",
    "a medieval market with people and horses",
    "a bright red sports car on a mountain road",
    "a black and white photo of an old man smiling",
    "a field of sunflowers under a blue sky",
    "a snowy mountain peak at sunrise, 8k photo",
    "a bowl of soup on a wooden table, warm light",
    "a stack of books on a shelf in a library",
    "a girl holding an umbrella in the rain, anime style",
    "a boy flying a kite on a windy day",
    "a dragon flying over a castle, epic fantasy painting",
    "a tiny house made of candy, whimsical, colorful",
    "a glass of orange juice on a kitchen counter",
    "a violin lying on a velvet cloth, still life",
    "a sailing ship in a storm, oil painting, dramatic waves",
    "a portrait of a cat wearing a crown, royal painting",
    "an astronaut floating in space with the earth behind",
    "a robot painting a picture of a robot",
    "a jellyfish glowing in the deep sea",
    "a desert with sand dunes and a camel caravan",
    "a waterfall in a tropical jungle, lush and green",
    "a small village by the sea, houses with red roofs",
    "the northern lights over a frozen lake",
    "a cup of tea with steam rising, morning light",
    "a modern living room with large windows, interior design",
    "a wooden bridge over a stream in autumn",
    "a fox in the snow, wildlife photography, 300mm",
    "a colorful parrot on a tree branch",
    "a plate of sushi on a black table, food photo",
    "a hot air balloon over a valley at dawn",
    "a lighthouse on a cliff during a storm",
    "an owl with big eyes at night, moonlight",
    "a panda eating bamboo in a forest",
    "a painting in the style of the old masters, dark background",
    "a minimalist poster of a mountain, flat design",
    "a city skyline at sunset with reflections on the water",
    "a bicycle leaning against a wall in Amsterdam",
    "a garden with roses and a stone path",
    "a mug of hot chocolate with marshmallows",
    "a train crossing a bridge in the mountains",
    "an old library with tall wooden shelves and ladders",
    "a robot and a cat playing chess",
    "a bowl of cherries, high resolution photograph",
    "a portrait photo of a young man, natural light, 35mm",
    "a photo of a red apple on a white background",
    "a blue vase with white flowers, ceramic, studio photo",
    "a giraffe in the savanna at sunset",
    "an underwater scene with coral and fish",
    "a forest path covered in autumn leaves",
    "the moon over the ocean, long exposure photo",
    "a steaming bowl of noodles, 東京 street food",
    "a winter scene in Zürich, trams and snow",
    "a breakfast at the café: croissant, coffee, juice",
    "a naïve drawing of a house and a tree",
    "two cats on a sofa, one black and one white",
    "three birds on a wire at sunset",
    "a painting of the sea, waves crashing on rocks",
    "a highly detailed photo of a watch, 8k, macro",
    "a spaceship landing on a red planet",
    "a girl reading a book under a tree, studio ghibli style",
    "a man walking a dog in the park in autumn",
    "a sunset over the mountains, vivid colors",
    "a mountain lake with a reflection of the peaks",
    "a bowl of salad with tomatoes and cucumbers",
    "a black cat with green eyes, close up",
    "a white horse running in the snow",
    "a cup of coffee with latte art, top view",
    "a woman in a red dress dancing in the rain",
    "an old car in a barn, dusty, rusty",
    "a kitten playing with a ball of yarn",
    "a painting of a garden in the style of Monet",
    "a statue in a park covered in moss",
    "a rainy street at night with reflections, 4k",
    "a photo of a dog wearing sunglasses 😎",
    "a heart shaped cloud in the sky ❤",
    "it's raining cats and dogs, it's a dog's life",
    "the artist's studio with paint and brushes",
    "a robot's hand holding a flower",
    "they're building a sandcastle on the beach",
    "we've got a new puppy, it's so cute",
    "a picture from 2023 of a city at night",
    "a 3d render of a chair, 1080p",
    "a photo taken in 1975 with a film camera",
    "a dog, a cat, and a bird -- together!",
    "a bowl of soup (tomato) with bread",
    "a sign that reads: \"welcome home\"",
]

# Prompts of the cases files: plain, punctuation, apostrophes, digits, non-ASCII, emoji,
# irregular whitespace, empty, and over-long ones.
LONG_PROMPT = (
    "a highly detailed digital painting of an ancient castle on a cliff above a stormy sea, "
    "dramatic clouds, lightning in the distance, waves crashing against the rocks, a small "
    "boat with a red sail fighting the storm, seagulls flying, warm light in the castle "
    "windows, a winding road leading up to the gate, pine trees bending in the wind, rain, "
    "mist, cinematic composition, golden ratio, volumetric lighting, by a master painter, "
    "trending on artstation, 8k, ultra sharp, intricate details, fantasy art, epic scale, "
    "vivid colors, oil on canvas, museum quality, award winning")
CASE_PROMPTS = [
    "a photograph of an astronaut riding a horse",
    "A Red Circle On A Blue Background",
    "a cat, on a mat!!! (oil painting) -- 4k",
    "it's a dog's life",
    "they're here, we'll see, you've won, i'm sure, she'd go, that's it",
    "it\u2019s a curly apostrophe",
    "1024x768 photo from 1999",
    "café in Zürich",
    "東京の夜",
    "naïve résumé",
    "a happy dog 🐶 with a party hat 🎉",
    "party time 🎉🎉🎉 tonight 夜夜",
    "a photo <|endoftext|> of text",
    "  two   spaces\tand tab ",
    "line one\nline two",
    "",
    "a mysterious xylophonist quietly juggling kumquats",
    "\ufb01ne art, \uff21\uff22\uff23 fullwidth",
    LONG_PROMPT,
    ("a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w, x, y, z, "
     "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20!!!"),
]

CLIP_MAX_LENGTH = 77
UNIGRAM_MAX_LENGTH = 48
WORDPIECE_MAX_LENGTH = 32


def _added_token(i, content, normalized):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": normalized, "special": True}


def _added_token_entry(content):
    """A special token in the object form transformers writes into tokenizer_config.json."""
    return {"__type": "AddedToken", "content": content, "lstrip": False, "normalized": True,
            "rstrip": False, "single_word": False}


def _map_entry(content):
    """A special token in the object form of special_tokens_map.json."""
    return {"content": content, "lstrip": False, "normalized": True, "rstrip": False,
            "single_word": False}


def _write_json(path, doc):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)
        f.write("\n")


def write_clip_folder(folder, vocab, merges, pad_token):
    """A tokenizer folder as diffusers repositories ship CLIP's slow tokenizer."""
    bpe_learn.write_clip_files(folder, vocab, merges)
    bos, eos = clip_tokenizer.BOS, clip_tokenizer.EOS
    _write_json(os.path.join(folder, "tokenizer_config.json"), {
        "add_prefix_space": False,
        "bos_token": _added_token_entry(bos),
        "do_lower_case": True,
        "eos_token": _added_token_entry(eos),
        "errors": "replace",
        "model_max_length": CLIP_MAX_LENGTH,
        "pad_token": pad_token,
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": _added_token_entry(eos),
    })
    _write_json(os.path.join(folder, "special_tokens_map.json"), {
        "bos_token": _map_entry(bos),
        "eos_token": _map_entry(eos),
        "pad_token": pad_token,
        "unk_token": _map_entry(eos),
    })


def write_cases(path, max_length, pad_id, encode):
    """cases.json: one case per CASE_PROMPTS entry, each case on one line."""
    lines = []
    for text in CASE_PROMPTS:
        ids, untruncated = encode(text, max_length, pad_id)
        if len(ids) != max_length:
            raise AssertionError(f"{path}: {len(ids)} ids for {text!r}")
        lines.append("    " + json.dumps({"text": text, "ids": ids,
                                          "untruncated_length": untruncated},
                                         ensure_ascii=False))
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("{\n")
        f.write(f'  "tokenizer": "tokenizer.json",\n  "max_length": {max_length},\n')
        f.write(f'  "pad_id": {pad_id},\n  "cases": [\n')
        f.write(",\n".join(lines))
        f.write("\n  ]\n}\n")


def make_clip(data_dir, java_dir):
    counts = bpe_learn.word_counts(CORPUS)
    merges = bpe_learn.learn_merges(counts, CLIP_MAX_MERGES)
    vocab = bpe_learn.clip_vocabulary(merges)
    sd15 = os.path.join(data_dir, "clip-sd15")
    write_clip_folder(sd15, vocab, merges, clip_tokenizer.EOS)
    write_clip_folder(os.path.join(data_dir, "clip-sd2"), vocab, merges, "!")

    out = os.path.join(java_dir, "clip")
    os.makedirs(out, exist_ok=True)
    clip_tokenizer.write_tokenizer_json(os.path.join(sd15, "vocab.json"),
                                        os.path.join(sd15, "merges.txt"),
                                        os.path.join(out, "tokenizer.json"))
    settings = clip_tokenizer.read_tokenizer_settings(sd15)
    bpe = clip_tokenizer.load_clip_bpe(sd15)
    write_cases(os.path.join(out, "cases.json"), settings["model_max_length"],
                settings["pad_id"], bpe.encode)


def unigram_tokenizer_json(pieces, pad_id, eos_id, unk_id):
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_added_token(i, pieces[i][0], False) for i in (pad_id, eos_id, unk_id)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFKC"},
            {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
             "split": True}]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [eos_id], "tokens": ["</s>"]}}},
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                    "split": True},
        "model": {"type": "Unigram", "unk_id": unk_id, "vocab": [[p, s] for p, s in pieces],
                  "byte_fallback": False},
    }


T5_MAX_LENGTH = 512  # T5's model_max_length; SD3's pipeline pads to max_sequence_length (256) itself


def unigram_pieces():
    # "夜" and the emoji 🎉 are left out of the pieces so that unknown characters occur.
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    return pieces + piece_scores(CORPUS, UNIGRAM_PIECES, leave_out="夜🎉")


def make_t5(data_dir):
    """A tokenizer folder as SD3 pipelines ship tokenizer_3 (T5TokenizerFast: tokenizer.json)."""
    folder = os.path.join(data_dir, "t5-fixture")
    os.makedirs(folder, exist_ok=True)
    _write_json(os.path.join(folder, "tokenizer.json"), unigram_tokenizer_json(unigram_pieces(), 0, 1, 2))
    _write_json(os.path.join(folder, "tokenizer_config.json"), {
        "eos_token": "</s>",
        "model_max_length": T5_MAX_LENGTH,
        "pad_token": "<pad>",
        "tokenizer_class": "T5Tokenizer",
        "unk_token": "<unk>",
    })
    _write_json(os.path.join(folder, "special_tokens_map.json"), {
        "eos_token": _map_entry("</s>"),
        "pad_token": _map_entry("<pad>"),
        "unk_token": _map_entry("<unk>"),
    })


def make_unigram(java_dir):
    pieces = unigram_pieces()
    pad_id, eos_id, unk_id = 0, 1, 2
    out = os.path.join(java_dir, "unigram")
    os.makedirs(out, exist_ok=True)
    _write_json(os.path.join(out, "tokenizer.json"),
                unigram_tokenizer_json(pieces, pad_id, eos_id, unk_id))
    tok = T5StyleTokenizer(pieces, unk_id=unk_id, eos_id=eos_id)
    write_cases(os.path.join(out, "cases.json"), UNIGRAM_MAX_LENGTH, pad_id, tok.encode)


def wordpiece_tokenizer_json(vocab):
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_added_token(vocab[t], t, False) for t in specials],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [cls], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [sep], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


def make_wordpiece(java_dir):
    # The emoji 🎉 is left out of the vocabulary so that a word becomes [UNK].
    vocab = build_vocab(CORPUS, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                        max_words=WORDPIECE_WORDS, leave_out="🎉")
    out = os.path.join(java_dir, "wordpiece")
    os.makedirs(out, exist_ok=True)
    _write_json(os.path.join(out, "tokenizer.json"), wordpiece_tokenizer_json(vocab))
    tok = BertStyleTokenizer(vocab)
    write_cases(os.path.join(out, "cases.json"), WORDPIECE_MAX_LENGTH, vocab["[PAD]"], tok.encode)


def generate(data_dir=DEFAULT_DATA, java_dir=DEFAULT_JAVA):
    make_clip(data_dir, java_dir)
    make_t5(data_dir)
    make_unigram(java_dir)
    make_wordpiece(java_dir)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="folder for clip-sd15/, clip-sd2/ and t5-fixture/")
    ap.add_argument("--java", default=DEFAULT_JAVA, help="folder for clip/, unigram/, wordpiece/")
    a = ap.parse_args(argv)
    generate(a.data, a.java)


if __name__ == "__main__":
    main()
