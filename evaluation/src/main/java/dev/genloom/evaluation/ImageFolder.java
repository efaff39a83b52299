package dev.genloom.evaluation;

import dev.genloom.generators.MediaFiles;
import dev.genloom.generators.RgbImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/** The PNG and JPEG images of a folder (recursively), in path order. */
public final class ImageFolder {
  private ImageFolder() {}

  public static List<Path> list(Path folder) {
    if (!Files.isDirectory(folder)) {
      throw new IllegalArgumentException(folder + " is not a folder of images");
    }
    try (Stream<Path> files = Files.walk(folder)) {
      List<Path> images =
          files
              .filter(Files::isRegularFile)
              .filter(
                  p -> {
                    String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
                    return name.endsWith(".png") || name.endsWith(".jpg") || name.endsWith(".jpeg");
                  })
              .sorted()
              .toList();
      if (images.isEmpty()) {
        throw new IllegalArgumentException(folder + " holds no PNG or JPEG images");
      }
      return images;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + folder, e);
    }
  }

  public static List<RgbImage> read(Path folder) {
    return list(folder).stream().map(MediaFiles::readImage).toList();
  }
}
