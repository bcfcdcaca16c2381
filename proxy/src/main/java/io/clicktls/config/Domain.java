package io.clicktls.config;

/**
 * A tracked-domain entry.
 *
 * @param name an exact lower-case host name, or {@code *.} followed by one, matching exactly one more label
 * @param platform the key of a {@link Platform}
 */
public record Domain(String name, String platform) {

    public boolean wildcard() {
        return name.startsWith("*.");
    }
}
