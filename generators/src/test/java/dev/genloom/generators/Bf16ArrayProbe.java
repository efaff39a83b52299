package dev.genloom.generators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Creates one BFLOAT16 NDArray on DJL's PyTorch engine and prints "survived". Run in a child JVM by
 * {@link HalfPrecisionBoundaryTest}: in DJL 0.35 the process dies instead.
 */
public final class Bf16ArrayProbe {
  private Bf16ArrayProbe() {}

  public static void main(String[] args) {
    try (NDManager manager = NDManager.newBaseManager()) {
      System.out.println("engine " + manager.getEngine().getEngineName());
      System.out.flush();
      NDArray a = manager.zeros(new Shape(2), DataType.BFLOAT16);
      System.out.println("created " + a.getDataType());
    }
    System.out.println("survived");
  }
}
