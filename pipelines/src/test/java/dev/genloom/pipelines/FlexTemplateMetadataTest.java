package dev.genloom.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.beans.Introspector;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.beam.sdk.options.Default;
import org.apache.beam.sdk.options.Description;
import org.apache.beam.sdk.options.Validation;
import org.junit.jupiter.api.Test;

/**
 * The Dataflow Flex Template metadata ({@code infra/dataflow/metadata.json}) declares exactly the
 * properties of {@link GeneratePipelineOptions}, with their descriptions, required flags and
 * defaults, so the template cannot drift from the options the pipeline reads.
 */
class FlexTemplateMetadataTest {
  /** Maven runs tests in the module folder; the metadata lives at the repository root's infra/. */
  private static final Path METADATA = Path.of("..", "infra", "dataflow", "metadata.json");

  /** The getters declared on GeneratePipelineOptions itself, by Beam property name. */
  private static Map<String, Method> optionGetters() {
    Map<String, Method> getters = new TreeMap<>();
    for (Method m : GeneratePipelineOptions.class.getDeclaredMethods()) {
      if (m.getParameterCount() != 0 || m.isSynthetic() || !Modifier.isAbstract(m.getModifiers())) {
        continue;
      }
      String name = m.getName();
      String property = null;
      if (name.startsWith("get") && name.length() > 3 && m.getReturnType() != void.class) {
        property = name.substring(3);
      } else if (name.startsWith("is")
          && name.length() > 2
          && (m.getReturnType() == boolean.class || m.getReturnType() == Boolean.class)) {
        property = name.substring(2);
      }
      if (property != null) {
        getters.put(Introspector.decapitalize(property), m);
      }
    }
    return getters;
  }

  private static JsonNode metadata() throws Exception {
    assertTrue(Files.isRegularFile(METADATA), METADATA.toAbsolutePath() + " is missing");
    return new ObjectMapper().readTree(METADATA.toFile());
  }

  private static Map<String, JsonNode> parametersByName(JsonNode metadata) {
    JsonNode parameters = metadata.get("parameters");
    assertTrue(parameters != null && parameters.isArray(), "metadata.json: no parameters array");
    Map<String, JsonNode> byName = new TreeMap<>();
    for (JsonNode p : parameters) {
      JsonNode name = p.get("name");
      assertTrue(name != null && name.isTextual(), "a parameter without a name: " + p);
      assertNull(byName.put(name.asText(), p), "parameter declared twice: " + name);
    }
    return byName;
  }

  /** The value of the @Default.* annotation on a getter, as the template would spell it. */
  private static Optional<String> defaultValue(Method getter) {
    if (getter.isAnnotationPresent(Default.String.class)) {
      return Optional.of(getter.getAnnotation(Default.String.class).value());
    }
    if (getter.isAnnotationPresent(Default.Integer.class)) {
      return Optional.of(String.valueOf(getter.getAnnotation(Default.Integer.class).value()));
    }
    if (getter.isAnnotationPresent(Default.Long.class)) {
      return Optional.of(String.valueOf(getter.getAnnotation(Default.Long.class).value()));
    }
    if (getter.isAnnotationPresent(Default.Boolean.class)) {
      return Optional.of(String.valueOf(getter.getAnnotation(Default.Boolean.class).value()));
    }
    if (getter.isAnnotationPresent(Default.Double.class)) {
      return Optional.of(String.valueOf(getter.getAnnotation(Default.Double.class).value()));
    }
    return Optional.empty();
  }

  @Test
  void parameterNamesAreExactlyTheOptionProperties() throws Exception {
    Map<String, Method> getters = optionGetters();
    assertFalse(getters.isEmpty(), "no getters found on GeneratePipelineOptions");
    assertEquals(
        new TreeSet<>(getters.keySet()),
        new TreeSet<>(parametersByName(metadata()).keySet()),
        "infra/dataflow/metadata.json parameters vs GeneratePipelineOptions properties");
  }

  @Test
  void eachParameterMatchesItsOption() throws Exception {
    Map<String, JsonNode> parameters = parametersByName(metadata());
    List<String> problems = new ArrayList<>();
    for (Map.Entry<String, Method> e : optionGetters().entrySet()) {
      String name = e.getKey();
      Method getter = e.getValue();
      JsonNode p = parameters.get(name);
      if (p == null) {
        problems.add(name + ": not declared");
        continue;
      }
      JsonNode label = p.get("label");
      if (label == null || !label.isTextual() || label.asText().isBlank()) {
        problems.add(name + ": label missing");
      }
      Description description = getter.getAnnotation(Description.class);
      if (description == null) {
        problems.add(name + ": the getter has no @Description to compare helpText with");
      } else if (!p.path("helpText").isTextual()
          || !description.value().equals(p.get("helpText").asText())) {
        problems.add(
            name
                + ": helpText '"
                + p.path("helpText").asText()
                + "' is not the @Description '"
                + description.value()
                + "'");
      }
      boolean required = getter.isAnnotationPresent(Validation.Required.class);
      JsonNode optional = p.get("isOptional");
      if (optional == null || !optional.isBoolean() || optional.asBoolean() == required) {
        problems.add(
            name
                + ": isOptional must be "
                + !required
                + " (@Validation.Required: "
                + required
                + ")");
      }
      Optional<String> expectedDefault = defaultValue(getter);
      JsonNode actualDefault = p.get("defaultValue");
      if (expectedDefault.isPresent()) {
        if (actualDefault == null || !expectedDefault.get().equals(actualDefault.asText())) {
          problems.add(name + ": defaultValue must be '" + expectedDefault.get() + "'");
        }
      } else if (actualDefault != null) {
        problems.add(name + ": defaultValue given but the option has no @Default");
      }
    }
    assertEquals(List.of(), problems, "infra/dataflow/metadata.json");
  }

  @Test
  void templateHasANameAndIsBatch() throws Exception {
    JsonNode metadata = metadata();
    assertFalse(metadata.path("name").asText().isBlank(), "metadata.json: name");
    assertFalse(metadata.path("description").asText().isBlank(), "metadata.json: description");
    assertFalse(metadata.path("streaming").asBoolean(false), "the pipeline is a batch job");
  }
}
