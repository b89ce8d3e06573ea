package io.stratus.conductor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The conductor's layering, read from its sources: the gRPC and REST adapters ({@code api},
 * {@code openstack}) and the event messages ({@code events}) import nothing from {@code db}
 * (the application layer hands them plain views), only {@code db} builds queries, and no class grows past 300
 * lines.
 */
class LayeringTest {
  private static final Path MAIN = Path.of("src/main/java/io/stratus/conductor");
  private static final Pattern QUERY = Pattern.compile(
      "\\.(createNativeQuery|createQuery|createMutationQuery|createSelectionQuery|createNamedQuery)\\(");
  private static final int MAX_LINES = 300;

  private static List<Path> sources(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(p -> p.toString().endsWith(".java")).sorted().toList();
    }
  }

  @Test
  void theAdaptersAndTheEventsImportNothingFromTheDatabaseLayer() throws IOException {
    List<String> found = new ArrayList<>();
    for (String layer : List.of("api", "events", "openstack")) {
      List<Path> files = sources(MAIN.resolve(layer));
      assertTrue(!files.isEmpty(), "read the " + layer + " sources from " + MAIN.toAbsolutePath());
      for (Path f : files) {
        for (String line : Files.readAllLines(f)) {
          if (line.startsWith("import io.stratus.conductor.db.")
              || line.startsWith("import static io.stratus.conductor.db.")) {
            found.add(MAIN.relativize(f) + ": " + line);
          }
        }
      }
    }
    assertEquals(List.of(), found);
  }

  @Test
  void onlyTheDatabaseLayerBuildsQueries() throws IOException {
    List<String> found = new ArrayList<>();
    int inDb = 0;
    for (Path f : sources(MAIN)) {
      boolean db = MAIN.relativize(f).startsWith("db");
      for (String line : Files.readAllLines(f)) {
        if (QUERY.matcher(line).find()) {
          if (db) {
            inDb++;
          } else {
            found.add(MAIN.relativize(f) + ": " + line.strip());
          }
        }
      }
    }
    assertTrue(inDb > 5, "the db layer's queries were found: " + inDb);
    assertEquals(List.of(), found);
  }

  @Test
  void noClassIsLongerThan300Lines() throws IOException {
    List<String> found = new ArrayList<>();
    for (Path f : sources(MAIN)) {
      long lines = Files.readAllLines(f).size();
      if (lines > MAX_LINES) {
        found.add(MAIN.relativize(f) + ": " + lines + " lines");
      }
    }
    assertEquals(List.of(), found);
  }
}
