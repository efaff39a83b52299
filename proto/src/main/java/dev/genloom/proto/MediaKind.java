package dev.genloom.proto;

import java.util.Locale;

/** The media a run holds: a mime type and the file extension it is stored under. */
public enum MediaKind {
  PNG("image/png", ".png"),
  MP4("video/mp4", ".mp4");

  private final String mimeType;
  private final String extension;

  MediaKind(String mimeType, String extension) {
    this.mimeType = mimeType;
    this.extension = extension;
  }

  public String mimeType() {
    return mimeType;
  }

  /** With its dot: ".png". */
  public String extension() {
    return extension;
  }

  /** The kind of a {@code Media.mime_type}; an unknown type is refused by name. */
  public static MediaKind ofMimeType(String mimeType) {
    for (MediaKind kind : values()) {
      if (kind.mimeType.equals(mimeType)) {
        return kind;
      }
    }
    throw new IllegalArgumentException(
        "mime_type: '" + mimeType + "' is not image/png or video/mp4");
  }

  /** The kind of a stored file, by its extension (any case); an unknown one is refused. */
  public static MediaKind ofFileName(String name) {
    String lower = name.toLowerCase(Locale.ROOT);
    for (MediaKind kind : values()) {
      if (lower.endsWith(kind.extension)) {
        return kind;
      }
    }
    throw new IllegalArgumentException("'" + name + "' is neither a .png nor an .mp4 file");
  }
}
