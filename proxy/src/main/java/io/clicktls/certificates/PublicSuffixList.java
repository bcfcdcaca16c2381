package io.clicktls.certificates;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.net.IDN;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The Public Suffix List (publicsuffix.org, MPL-2.0, bundled as {@code /public_suffix_list.dat}): which part of a
 * host name is a public suffix ({@code com}, {@code co.uk}, {@code github.io}) and which is the registered domain
 * ({@code shop.co.uk}), the unit CAs count certificates by. Both the ICANN and the private sections are used, as
 * Let's Encrypt does. Rules: {@code a.b} (a suffix), {@code *.b} (every label under {@code b} is a suffix) and
 * {@code !a.b} (an exception to a wildcard: {@code a.b} is a registered domain). A name no rule matches has its last
 * label as suffix.
 *
 * <p>Immutable and thread-safe; a lookup costs one hash probe or three per label and allocates the suffix strings.
 */
public final class PublicSuffixList {

    private static final String RESOURCE = "/public_suffix_list.dat";

    private final Set<String> rules;
    /** The parents of wildcard rules: {@code bd} for {@code *.bd}. */
    private final Set<String> wildcardParents;

    private final Set<String> exceptions;

    private PublicSuffixList(Set<String> rules, Set<String> wildcardParents, Set<String> exceptions) {
        this.rules = rules;
        this.wildcardParents = wildcardParents;
        this.exceptions = exceptions;
    }

    private static final class Bundled {
        static final PublicSuffixList INSTANCE = loadBundled();
    }

    /** The list shipped in the jar, read once on first use. */
    public static PublicSuffixList bundled() {
        return Bundled.INSTANCE;
    }

    private static PublicSuffixList loadBundled() {
        try (InputStream in = PublicSuffixList.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the class path");
            }
            return parse(new InputStreamReader(in, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE, e);
        }
    }

    /** Reads a list in the publicsuffix.org format; internationalized rules are kept in punycode. */
    public static PublicSuffixList parse(Reader source) throws IOException {
        Set<String> rules = new HashSet<>();
        Set<String> wildcards = new HashSet<>();
        Set<String> exceptions = new HashSet<>();
        BufferedReader reader = new BufferedReader(source);
        for (String line = reader.readLine(); line != null; line = reader.readLine()) {
            // A rule is the first word of a line; comments start with //.
            String rule = line.strip();
            int space = rule.indexOf(' ');
            if (space >= 0) {
                rule = rule.substring(0, space);
            }
            if (rule.isEmpty() || rule.startsWith("//")) {
                continue;
            }
            if (rule.startsWith("!")) {
                exceptions.add(ascii(rule.substring(1)));
            } else if (rule.startsWith("*.")) {
                wildcards.add(ascii(rule.substring(2)));
            } else {
                rules.add(ascii(rule));
            }
        }
        return new PublicSuffixList(Set.copyOf(rules), Set.copyOf(wildcards), Set.copyOf(exceptions));
    }

    private static String ascii(String rule) {
        return IDN.toASCII(rule, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
    }

    /**
     * The public suffix of a lower-case ASCII host name without a trailing dot: the whole name when the name is
     * itself a public suffix, the last label when no rule matches.
     */
    public String publicSuffix(String name) {
        int start = 0;
        while (true) {
            String candidate = name.substring(start);
            if (exceptions.contains(candidate)) {
                return parent(candidate);
            }
            if (rules.contains(candidate)) {
                return candidate;
            }
            String parent = parent(candidate);
            if (parent == null) {
                return candidate; // the last label: the default rule "*"
            }
            if (wildcardParents.contains(parent)) {
                return candidate;
            }
            start = name.length() - parent.length();
        }
    }

    /**
     * The registered domain of a host name: its public suffix and one more label ({@code links.shop.co.uk} →
     * {@code shop.co.uk}); empty when the name is a public suffix itself.
     */
    public Optional<String> registeredDomain(String name) {
        String suffix = publicSuffix(name);
        if (suffix.length() >= name.length()) {
            return Optional.empty();
        }
        int end = name.length() - suffix.length() - 1; // the dot before the suffix
        int dot = name.lastIndexOf('.', end - 1);
        return Optional.of(name.substring(dot + 1));
    }

    /** Whether the name is a public suffix, for which no CA issues a certificate. */
    public boolean isPublicSuffix(String name) {
        return publicSuffix(name).length() == name.length();
    }

    private static String parent(String name) {
        int dot = name.indexOf('.');
        return dot < 0 ? null : name.substring(dot + 1);
    }
}
