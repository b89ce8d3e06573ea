package io.stratus.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Finds the Stratus repository checkout that holds the fixtures' scripts under
 * {@code deploy/scripts}: the directory named by {@code $STRATUS_REPO} (or, for
 * callers that honour it, a system property) when set, else the nearest
 * directory at or above the working directory that contains the script asked for.
 */
final class RepoScripts {

    /** Environment variable naming the repository root. */
    static final String REPO_ENV = "STRATUS_REPO";

    private RepoScripts() {
    }

    /**
     * The repository root holding {@code script}, from {@code $STRATUS_REPO} or
     * the working directory and its parents.
     *
     * @param script path of a script relative to the root, for example {@code deploy/scripts/ceph-up.sh}
     * @return the absolute, normalised root
     * @throws IllegalStateException if {@code $STRATUS_REPO} is set but lacks the
     *     script, or no directory at or above the working directory has it
     */
    static Path root(String script) {
        return root(script, null);
    }

    /**
     * Like {@link #root(String)}, but the system property {@code property}
     * (when set) takes precedence over {@code $STRATUS_REPO}.
     *
     * @param script path of a script relative to the root
     * @param property name of a system property naming the root, or null for none
     * @return the absolute, normalised root
     * @throws IllegalStateException if the configured root lacks the script, or
     *     no directory at or above the working directory has it
     */
    static Path root(String script, String property) {
        String configured = property == null ? null : System.getProperty(property);
        String source = "system property " + property;
        if (configured == null || configured.isBlank()) {
            configured = System.getenv(REPO_ENV);
            source = "$" + REPO_ENV;
        }
        if (configured != null && !configured.isBlank()) {
            Path root = Paths.get(configured).toAbsolutePath().normalize();
            if (!Files.isRegularFile(root.resolve(script))) {
                throw new IllegalStateException(source + "=" + configured + " does not contain " + script);
            }
            return root;
        }
        Path start = Paths.get("").toAbsolutePath().normalize();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve(script))) {
                return dir;
            }
        }
        throw new IllegalStateException("cannot find " + script + " in " + start
                + " or any parent directory; set " + REPO_ENV + " to the Stratus repository root");
    }
}
