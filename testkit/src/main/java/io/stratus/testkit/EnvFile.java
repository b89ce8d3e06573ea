package io.stratus.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads the {@code KEY=VALUE} environment files the {@code deploy/scripts/*-up.sh}
 * scripts write: one assignment a line, keys shell identifiers, a value
 * optionally enclosed in double or single quotes (which are removed). Blank
 * lines, {@code #} comments and other lines are ignored; a later assignment
 * wins.
 */
final class EnvFile {

    private EnvFile() {
    }

    /**
     * Reads and parses an env file (strict UTF-8).
     *
     * @param file the file
     * @return the variables, in file order
     * @throws IOException if the file cannot be read
     */
    static Map<String, String> read(Path file) throws IOException {
        return parse(Files.readString(file, StandardCharsets.UTF_8));
    }

    /**
     * Parses the text of an env file.
     *
     * @param text the file's content
     * @return the variables, in file order
     */
    static Map<String, String> parse(String text) {
        Map<String, String> env = new LinkedHashMap<>();
        for (String raw : text.split("\n")) {
            String line = raw.strip();
            int eq = line.indexOf('=');
            if (line.isEmpty() || line.startsWith("#") || eq <= 0) {
                continue;
            }
            String key = line.substring(0, eq);
            if (!key.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                continue;
            }
            String value = line.substring(eq + 1);
            if (value.length() >= 2 && (value.startsWith("\"") && value.endsWith("\"")
                    || value.startsWith("'") && value.endsWith("'"))) {
                value = value.substring(1, value.length() - 1);
            }
            env.put(key, value);
        }
        return env;
    }
}
