package dev.genloom.pipelines;

import java.util.List;
import org.apache.beam.sdk.options.PipelineOptions;
import org.apache.beam.sdk.options.PipelineOptionsRegistrar;

/** Makes Genloom's options known to every PipelineOptionsFactory (and to --help=...). */
public final class GeneratePipelineOptionsRegistrar implements PipelineOptionsRegistrar {
  @Override
  public Iterable<Class<? extends PipelineOptions>> getPipelineOptions() {
    return List.of(GeneratePipelineOptions.class);
  }
}
