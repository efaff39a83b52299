package dev.genloom.pipelines;

import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.GeneratorConfig;
import dev.genloom.proto.v1.ListModelsRequest;
import dev.genloom.proto.v1.ModelSummary;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * Asks every worker of a launch for its models before any item is expanded: a model no worker
 * serves is refused with the list of what they serve, and a fleet none of whose workers answers
 * fails in seconds with each address and the cause.
 */
public final class FleetCheck {
  /** What the fleet answered: the models served, and the workers that did not answer. */
  public record Answer(Set<String> models, List<String> unreachable) {}

  private FleetCheck() {}

  /**
   * Checks the launch's models against the fleet's {@code ListModels}.
   *
   * @throws IllegalArgumentException naming the unknown model, or every unreachable worker
   */
  public static Answer check(GeneratePipelineOptions options, long deadlineSeconds) {
    List<GeneratorConfig> configs = GeneratePipeline.configs(options);
    WorkerPool pool = WorkerPool.forAddresses(options.getWorkers(), WorkerSecurity.from(options));
    Set<String> models = new TreeSet<>();
    List<String> unreachable = new ArrayList<>();
    int workers = WorkerPool.parse(options.getWorkers()).size();
    for (int i = 0; i < workers; i++) {
      try {
        GenerationServiceGrpc.newBlockingStub(pool.channel(i))
            .withCallCredentials(pool.callCredentials())
            .withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS)
            .listModels(ListModelsRequest.getDefaultInstance())
            .getModelsList()
            .stream()
            .map(ModelSummary::getName)
            .forEach(models::add);
      } catch (StatusRuntimeException e) {
        unreachable.add(pool.address(i) + ": " + describe(e));
      }
    }
    if (models.isEmpty() && !unreachable.isEmpty()) {
      throw new IllegalArgumentException(
          "workers: no worker answered: " + String.join("; ", unreachable));
    }
    for (GeneratorConfig config : configs) {
      if (!models.contains(config.getModel())) {
        throw new IllegalArgumentException(
            "model: '"
                + config.getModel()
                + "' (configuration "
                + config.getId()
                + ") is not served by the workers; they serve "
                + models);
      }
    }
    return new Answer(models, unreachable);
  }

  /** A failed call as a reader wants it: the cause ("connection refused"), not "io exception". */
  public static String describe(StatusRuntimeException e) {
    Status status = e.getStatus();
    Throwable cause = status.getCause();
    while (cause != null && cause.getCause() != null && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    String detail = cause != null && cause.getMessage() != null ? cause.getMessage() : null;
    String description = status.getDescription();
    StringBuilder text = new StringBuilder(status.getCode().toString());
    if (detail != null) {
      text.append(": ").append(detail.replaceFirst("^[^:]*: ", ""));
    } else if (description != null) {
      text.append(": ").append(description);
    }
    if (status.getCode() == Status.Code.UNAVAILABLE
        && detail != null
        && detail.toLowerCase(java.util.Locale.ROOT).contains("connection refused")) {
      return "connection refused (is a worker listening there?)";
    }
    return text.toString();
  }
}
