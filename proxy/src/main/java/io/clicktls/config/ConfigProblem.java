package io.clicktls.config;

/**
 * One thing wrong with a config file, at the position of the offending key or value.
 *
 * @param file the file as the user named it (e.g. {@code config/clicktls.yml})
 * @param line 1-based
 * @param column 1-based
 * @param message names the key, the value and what was expected, e.g.
 *     {@code listen.https: port 70000 (expected: 1-65535 or 0)}
 */
public record ConfigProblem(String file, int line, int column, String message) {

    /** {@code file:line:column: message}, the form editors and CI logs link to. */
    @Override
    public String toString() {
        return file + ":" + line + ":" + column + ": " + message;
    }
}
