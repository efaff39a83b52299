package dev.genloom.generators;

import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.jcodec.api.awt.AWTSequenceEncoder;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.io.SeekableByteChannel;
import org.jcodec.common.model.Rational;

/** Writes generated media: PNG images, H.264 MP4 videos and PNG contact sheets. */
public final class MediaFiles {
  private MediaFiles() {}

  public static void writePng(RgbImage image, Path file) throws IOException {
    createParent(file);
    Files.write(file, image.toPng());
  }

  /** Frames left to right in one row. */
  public static RgbImage contactSheet(List<RgbImage> frames) {
    int w = frames.get(0).width();
    int h = frames.get(0).height();
    BufferedImage sheet = new BufferedImage(w * frames.size(), h, BufferedImage.TYPE_INT_RGB);
    for (int i = 0; i < frames.size(); i++) {
      sheet.getGraphics().drawImage(frames.get(i).toBufferedImage(), i * w, 0, null);
    }
    return RgbImage.fromBufferedImage(sheet);
  }

  /** Encodes the frames as H.264 in an MP4 container. */
  public static void writeMp4(List<RgbImage> frames, int fps, Path file) throws IOException {
    createParent(file);
    try (SeekableByteChannel channel = NIOUtils.writableChannel(file.toFile())) {
      AWTSequenceEncoder encoder = new AWTSequenceEncoder(channel, Rational.R(fps, 1));
      for (RgbImage frame : frames) {
        encoder.encodeImage(frame.toBufferedImage());
      }
      encoder.finish();
    }
  }

  /** MP4 bytes for the frames (via a temporary file). */
  public static byte[] mp4Bytes(List<RgbImage> frames, int fps) throws IOException {
    File tmp = File.createTempFile("genloom-", ".mp4");
    try {
      writeMp4(frames, fps, tmp.toPath());
      return Files.readAllBytes(tmp.toPath());
    } finally {
      Files.deleteIfExists(tmp.toPath());
    }
  }

  /**
   * Decodes every frame of an MP4 written by {@link #writeMp4} (H.264); errors name the file. The
   * frames are the codec's reconstruction, so they differ slightly from the frames encoded.
   */
  public static List<RgbImage> readMp4(Path file) {
    List<RgbImage> frames = new java.util.ArrayList<>();
    try (SeekableByteChannel channel = NIOUtils.readableChannel(file.toFile())) {
      org.jcodec.api.FrameGrab grab = org.jcodec.api.FrameGrab.createFrameGrab(channel);
      org.jcodec.common.model.Picture picture;
      while ((picture = grab.getNativeFrame()) != null) {
        frames.add(RgbImage.fromBufferedImage(org.jcodec.scale.AWTUtil.toBufferedImage(picture)));
      }
    } catch (IOException | org.jcodec.api.JCodecException | RuntimeException e) {
      throw new IllegalArgumentException(
          "video: cannot decode " + file + " as MP4: " + e.getMessage(), e);
    }
    if (frames.isEmpty()) {
      throw new IllegalArgumentException("video: " + file + " holds no frames");
    }
    return frames;
  }

  /** Reads a PNG or JPEG; errors name the file. */
  public static RgbImage readImage(Path file) {
    try {
      BufferedImage image = ImageIO.read(file.toFile());
      if (image == null) {
        throw new IllegalArgumentException(
            "reference: " + file + " is not a readable PNG or JPEG image");
      }
      return RgbImage.fromBufferedImage(image);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "reference: cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  private static void createParent(Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
  }
}
