package dev.genloom.pipelines;

import java.io.Serializable;

/**
 * An input that could not be processed, kept whole with the reason.
 *
 * @param source input file, or empty
 * @param line 1-based source line, or 0 when unknown
 * @param input the original input text
 * @param error what was wrong with it
 */
public record DeadLetter(String source, long line, String input, String error)
    implements Serializable {}
