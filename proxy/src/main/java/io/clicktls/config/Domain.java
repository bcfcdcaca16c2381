package io.clicktls.config;

/**
 * A tracked-domain entry.
 *
 * @param name an exact lower-case host name, or {@code *.} followed by one, matching exactly one more label
 * @param platform the key of a {@link Platform}
 * @param options what the entry sets for itself ({@code upgrade}, {@code well_known}), its platform's merged in;
 *     {@link DomainOptions#NONE} when it sets nothing (then its platform's apply)
 */
public record Domain(String name, String platform, DomainOptions options) {

    public Domain {
        options = options == null ? DomainOptions.NONE : options;
    }

    /** An entry that sets no options of its own (as every {@code domains_file} line). */
    public Domain(String name, String platform) {
        this(name, platform, DomainOptions.NONE);
    }

    public boolean wildcard() {
        return name.startsWith("*.");
    }
}
