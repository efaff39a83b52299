package dev.genloom.proto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class RunLayoutTest {
  @Test
  void mediaAndRecordsAreNamedByRequestIdAndKind() {
    assertEquals("media/ab12.png", RunLayout.mediaPath("ab12", MediaKind.PNG));
    assertEquals("media/ab12.mp4", RunLayout.mediaPath("ab12", MediaKind.ofMimeType("video/mp4")));
    assertEquals("records/ab12.json", RunLayout.recordPath("ab12"));
    assertEquals("manifest", RunLayout.manifestPrefix());
    assertEquals("dead-letter", RunLayout.deadLetterPrefix());
  }

  @Test
  void kindsComeFromMimeTypesAndFileNamesAndOthersAreRefusedByName() {
    assertEquals(MediaKind.MP4, MediaKind.ofFileName("media/x.MP4"));
    assertEquals(MediaKind.PNG, MediaKind.ofFileName("x.png"));
    assertEquals(
        "mime_type: 'image/webp' is not image/png or video/mp4",
        assertThrows(IllegalArgumentException.class, () -> MediaKind.ofMimeType("image/webp"))
            .getMessage());
    assertEquals(
        "'x.gif' is neither a .png nor an .mp4 file",
        assertThrows(IllegalArgumentException.class, () -> MediaKind.ofFileName("x.gif"))
            .getMessage());
  }
}
