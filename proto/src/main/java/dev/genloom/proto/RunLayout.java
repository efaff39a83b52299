package dev.genloom.proto;

/**
 * Where a pipeline run keeps its outputs, relative to its output folder: the one definition the
 * pipeline that writes them, the evaluation that reads them and the command line that names them
 * share.
 */
public final class RunLayout {
  /** One RunRecord per request id, JSON lines. */
  public static final String MANIFEST = "manifest.jsonl";

  /** One line per item that could not be generated, or input line that could not be read. */
  public static final String DEAD_LETTER = "dead-letter.jsonl";

  /** The media folder, {@code media/<request id><extension>}. */
  public static final String MEDIA = "media";

  /** Each finished item's record, {@code records/<request id>.json}. */
  public static final String RECORDS = "records";

  /** Prefix of files being written; a name with it is never a finished record or media file. */
  public static final String TEMPORARY = ".tmp-";

  private RunLayout() {}

  /** {@code media/<request id><extension>}. */
  public static String mediaPath(String requestId, MediaKind kind) {
    return MEDIA + "/" + requestId + kind.extension();
  }

  /** {@code records/<request id>.json}. */
  public static String recordPath(String requestId) {
    return RECORDS + "/" + requestId + ".json";
  }

  /** The manifest's name without its extension (Beam's text sink adds the suffix). */
  public static String manifestPrefix() {
    return MANIFEST.substring(0, MANIFEST.length() - ".jsonl".length());
  }

  /** The dead-letter file's name without its extension. */
  public static String deadLetterPrefix() {
    return DEAD_LETTER.substring(0, DEAD_LETTER.length() - ".jsonl".length());
  }
}
