package dev.genloom.evaluation;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * NumPy {@code .npz} archives of little-endian float64/float32/int64 arrays in C order: the format
 * pytorch-fid uses for statistics ({@code mu}, {@code sigma}).
 */
public final class Npz {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([<>|=]?)([fi])(\\d)'");
  private static final Pattern FORTRAN = Pattern.compile("'fortran_order':\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

  private Npz() {}

  /** One array: its shape and values widened to double. */
  public record Array(long[] shape, double[] data) {
    public int rows() {
      return shape.length == 0 ? 1 : (int) shape[0];
    }

    public int cols() {
      return shape.length < 2 ? 1 : (int) shape[1];
    }
  }

  public static Map<String, Array> read(Path file) {
    Map<String, Array> arrays = new LinkedHashMap<>();
    try (ZipInputStream zip = new ZipInputStream(Files.newInputStream(file))) {
      for (ZipEntry entry = zip.getNextEntry(); entry != null; entry = zip.getNextEntry()) {
        String name = entry.getName();
        if (!name.endsWith(".npy")) {
          continue;
        }
        arrays.put(name.substring(0, name.length() - 4), readNpy(zip, file + ":" + name));
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + file + " as .npz: " + e.getMessage(), e);
    }
    if (arrays.isEmpty()) {
      throw new IllegalArgumentException(file + " holds no arrays (is it an .npz file?)");
    }
    return arrays;
  }

  private static Array readNpy(InputStream in, String where) throws IOException {
    byte[] magic = in.readNBytes(6);
    if (!Arrays.equals(magic, MAGIC)) {
      throw new IOException(where + " is not a .npy array");
    }
    int major = in.read();
    in.read();
    int headerLength;
    if (major == 1) {
      byte[] len = in.readNBytes(2);
      headerLength = (len[0] & 0xFF) | (len[1] & 0xFF) << 8;
    } else {
      byte[] len = in.readNBytes(4);
      headerLength = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }
    String header = new String(in.readNBytes(headerLength), StandardCharsets.ISO_8859_1);
    Matcher d = DESCR.matcher(header);
    Matcher f = FORTRAN.matcher(header);
    Matcher s = SHAPE.matcher(header);
    if (!d.find() || !f.find() || !s.find()) {
      throw new IOException(where + ": unsupported .npy header " + header.strip());
    }
    if (d.group(1).equals(">") || f.group(1).equals("True")) {
      throw new IOException(where + ": only little-endian C-order arrays are supported");
    }
    String[] dims = s.group(1).split(",");
    long[] shape =
        Arrays.stream(dims)
            .map(String::strip)
            .filter(x -> !x.isEmpty())
            .mapToLong(Long::parseLong)
            .toArray();
    long count = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
    int width = Integer.parseInt(d.group(3));
    char kind = d.group(2).charAt(0);
    byte[] raw = in.readNBytes(Math.toIntExact(count * width));
    if (raw.length != count * width) {
      throw new IOException(where + " is truncated");
    }
    ByteBuffer buf = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
    double[] data = new double[(int) count];
    for (int i = 0; i < count; i++) {
      data[i] =
          switch (kind + "" + width) {
            case "f8" -> buf.getDouble();
            case "f4" -> buf.getFloat();
            case "i8" -> buf.getLong();
            case "i4" -> buf.getInt();
            default -> throw new IOException(where + ": unsupported dtype " + kind + width);
          };
    }
    return new Array(shape, data);
  }

  /** Writes float64 arrays as an uncompressed .npz, as numpy.savez does. */
  public static void write(Path file, Map<String, Array> arrays) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    try (OutputStream out = Files.newOutputStream(file);
        ZipOutputStream zip = new ZipOutputStream(out)) {
      for (Map.Entry<String, Array> entry : arrays.entrySet()) {
        zip.putNextEntry(new ZipEntry(entry.getKey() + ".npy"));
        zip.write(npy(entry.getValue()));
        zip.closeEntry();
      }
    }
  }

  private static byte[] npy(Array array) {
    StringBuilder shape = new StringBuilder();
    for (long dim : array.shape()) {
      shape.append(dim).append(", ");
    }
    String dims =
        array.shape().length == 1
            ? shape.toString().strip()
            : shape.toString().replaceAll(", $", "");
    String header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + dims + "), }";
    int total = MAGIC.length + 4 + header.length() + 1;
    int padding = (64 - total % 64) % 64;
    header = header + " ".repeat(padding) + "\n";
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(MAGIC);
    out.write(1);
    out.write(0);
    out.write(header.length() & 0xFF);
    out.write(header.length() >> 8);
    out.writeBytes(header.getBytes(StandardCharsets.ISO_8859_1));
    ByteBuffer buf = ByteBuffer.allocate(array.data().length * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (double v : array.data()) {
      buf.putDouble(v);
    }
    out.writeBytes(buf.array());
    return out.toByteArray();
  }
}
