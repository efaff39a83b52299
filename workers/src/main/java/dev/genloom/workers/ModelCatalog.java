package dev.genloom.workers;

import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.CacheSchedule;
import dev.genloom.proto.v1.GetModelResponse;
import dev.genloom.proto.v1.ListModelsResponse;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.ModelSummary;
import java.util.Optional;

/** Describes the loaded model packages in the service's wire types. */
final class ModelCatalog {
  private final ModelRepository repository;

  ModelCatalog(ModelRepository repository) {
    this.repository = repository;
  }

  ListModelsResponse list() {
    ListModelsResponse.Builder response = ListModelsResponse.newBuilder();
    for (ModelPackage pkg : repository.packages()) {
      if (pkg.kind() == dev.genloom.proto.v1.ModelKind.MODEL_KIND_FEATURES) {
        continue; // feature networks serve evaluation, not generation
      }
      response.addModels(summary(pkg.manifest()));
    }
    return response.build();
  }

  Optional<GetModelResponse> get(String name) {
    return repository
        .find(name)
        .map(ModelPackage::manifest)
        .map(
            manifest -> {
              GetModelResponse.Builder response =
                  GetModelResponse.newBuilder()
                      .setSummary(summary(manifest))
                      .addAllQuality(manifest.getQualityList());
              for (CacheSchedule schedule : manifest.getCacheSchedulesList()) {
                // Per-block step masks stay on the worker; clients see what each schedule is.
                response.addCacheSchedules(schedule.toBuilder().clearBlocks());
              }
              return response.build();
            });
  }

  private static ModelSummary summary(ModelManifest manifest) {
    return ModelSummary.newBuilder()
        .setName(manifest.getName())
        .setKind(manifest.getKind())
        .setDescription(manifest.getDescription())
        .setDefaults(manifest.getDefaults())
        .addAllSupportedSizes(manifest.getSupportedSizesList())
        .addAllSupportedFrameCounts(manifest.getSupportedFrameCountsList())
        .setSizeConstraint(manifest.getSizeConstraint())
        .build();
  }
}
