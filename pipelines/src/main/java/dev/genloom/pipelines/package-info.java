/** The Beam batch job that fans prompts out to Genloom workers: inputs, fan-out, outputs. */
package dev.genloom.pipelines;
