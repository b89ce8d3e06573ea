package io.stratus.support.launch;

import io.stratus.support.config.ConfigException;
import java.nio.file.Path;
import java.util.function.Function;

/** What every service's {@code main} does first: read {@code [--config FILE]}, load config. */
public final class Launch {
  private Launch() {}

  /**
   * Picks the log format before the first logger exists: {@code STRATUS_LOG_FORMAT} unset
   * or {@code text} keeps the service's {@code logback.xml}, {@code json} selects its
   * {@code logback-json.xml} (unless {@code logback.configurationFile} is set already);
   * anything else stops start-up with status 2.
   */
  static void logFormat(String program, String format) {
    if (format == null || format.isEmpty() || format.equals("text")) {
      return;
    }
    if (!format.equals("json")) {
      System.err.println(program + ": STRATUS_LOG_FORMAT must be text or json, not '" + format
          + "'");
      System.exit(2);
    }
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty("logback.configurationFile", "logback-json.xml");
    }
  }

  /**
   * Parses {@code [--config FILE]} and loads the configuration with {@code loader}; on a
   * wrong command line or configuration prints the problem and exits with status 2.
   */
  public static <T> T config(String program, String[] args, Function<Path, T> loader) {
    logFormat(program, System.getenv("STRATUS_LOG_FORMAT"));
    Path file = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--config") && i + 1 < args.length) {
        file = Path.of(args[++i]);
      } else {
        System.err.println("usage: " + program + " [--config FILE]");
        System.exit(2);
      }
    }
    try {
      return loader.apply(file);
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      throw e;  // not reached
    }
  }
}
