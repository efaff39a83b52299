/** Prompt tokenization from a package's Hugging Face {@code tokenizer.json}. */
package dev.genloom.generators.text;
