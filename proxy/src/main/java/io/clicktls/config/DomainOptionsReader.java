package io.clicktls.config;

import static io.clicktls.config.Binding.quote;

import io.clicktls.config.YamlTree.Entry;
import io.clicktls.config.YamlTree.MapNode;
import io.clicktls.config.YamlTree.Node;
import io.clicktls.config.YamlTree.ScalarNode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code upgrade} and {@code well_known} under a platform or a {@code domains} entry: the options of its domains.
 * The {@code well_known} files are read here, so a missing or oversized file is a problem of this load (the last good
 * config keeps serving) and an edit to one takes effect with the next reload.
 */
final class DomainOptionsReader {

    /** The keys this reader takes from a platform's or an entry's map. */
    static final List<String> KEYS = List.of("upgrade", "well_known");

    static final String PREFIX = "/.well-known/";
    /** An app-links file is a few kilobytes; anything this large is the wrong file, and every one is held in memory. */
    static final int MAX_FILE_BYTES = 1024 * 1024;

    private static final String WELL_KNOWN_EXPECTED = "a map from paths under /.well-known/ to local files";
    private static final String PATH_EXPECTED =
            "a path under /.well-known/ such as apple-app-site-association or assetlinks.json";
    private static final String FILE_EXPECTED = "a readable file of at most " + MAX_FILE_BYTES + " bytes";

    private DomainOptionsReader() {}

    /**
     * The options set in {@code entry} laid over {@code inherited} (a platform's, or {@link DomainOptions#NONE}); when
     * the entry sets neither key, {@code inherited} itself, or {@link DomainOptions#NONE} for a domain entry so that
     * 100,000 entries share their platform's options rather than copies of them.
     *
     * @param topLevel the top-level {@code upgrade:} settings, which a first override is laid over
     * @param domainEntry whether {@code entry} is a {@code domains} entry (which then falls back to its platform)
     */
    static DomainOptions read(Section entry, Upgrade topLevel, DomainOptions inherited, boolean domainEntry) {
        boolean upgradeGiven = entry.given("upgrade");
        boolean wellKnownGiven = entry.given("well_known");
        if (!upgradeGiven && !wellKnownGiven) {
            return domainEntry ? DomainOptions.NONE : inherited;
        }
        Upgrade upgrade = inherited.upgrade();
        if (upgradeGiven) {
            upgrade = UpgradeReader.read(entry.section("upgrade"), inherited.upgradeOr(topLevel));
        }
        Map<String, WellKnownFile> files = new LinkedHashMap<>(inherited.wellKnown());
        if (wellKnownGiven) {
            readFiles(entry, files);
        }
        return new DomainOptions(upgrade, files);
    }

    private static void readFiles(Section entry, Map<String, WellKnownFile> files) {
        String path = entry.pathOf("well_known");
        Node node = entry.entry("well_known").value();
        if (!(node instanceof MapNode map)) {
            entry.binding().badShape(node, path, WELL_KNOWN_EXPECTED);
            return;
        }
        Binding binding = entry.binding();
        for (Entry file : map.entries()) {
            String keyPath = path + "." + file.key();
            String requestPath = requestPath(file.key());
            if (requestPath == null) {
                binding.expected(file.keyPosition(), path + ": " + quote(file.key()), PATH_EXPECTED);
                continue;
            }
            if (requestPath.startsWith(PREFIX + "acme-challenge/") || requestPath.equals(PREFIX + "acme-challenge")) {
                binding.expected(
                        file.keyPosition(),
                        path + ": " + quote(file.key()) + " is reserved for ACME http-01 challenges",
                        PATH_EXPECTED);
                continue;
            }
            if (!(file.value() instanceof ScalarNode scalar) || scalar.blank() || scalar.alias()) {
                binding.badShape(file.value(), keyPath, "a local file, relative to the config file's folder");
                continue;
            }
            WellKnownFile read = readFile(binding, scalar, keyPath, requestPath);
            if (read != null) {
                files.put(requestPath, read);
            }
        }
    }

    private static WellKnownFile readFile(Binding binding, ScalarNode node, String keyPath, String requestPath) {
        Path file = binding.path(node, keyPath);
        byte[] content = binding.smallFile(node, keyPath, file, MAX_FILE_BYTES, FILE_EXPECTED, FILE_EXPECTED);
        return content == null ? null : new WellKnownFile(file, contentType(requestPath), content);
    }

    /**
     * {@code /.well-known/} and the key, which may be written with that prefix or without it; {@code null} when the
     * key is not a plain path there: segments of RFC 3986 unreserved characters only (so that a request matches it
     * byte for byte, with no percent-decoding to agree on), no empty, {@code .} or {@code ..} segment.
     */
    static String requestPath(String key) {
        String rest;
        if (key.startsWith(PREFIX)) {
            rest = key.substring(PREFIX.length());
        } else if (key.startsWith("/")) {
            return null;
        } else {
            rest = key;
        }
        if (rest.isEmpty() || rest.length() > 255) {
            return null;
        }
        for (String segment : rest.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                return null;
            }
            for (int i = 0; i < segment.length(); i++) {
                char c = segment.charAt(i);
                boolean unreserved = (c >= 'a' && c <= 'z')
                        || (c >= 'A' && c <= 'Z')
                        || (c >= '0' && c <= '9')
                        || c == '-'
                        || c == '.'
                        || c == '_'
                        || c == '~';
                if (!unreserved) {
                    return null;
                }
            }
        }
        return PREFIX + rest;
    }

    /**
     * By the request path's extension. Both app-links files are JSON: {@code assetlinks.json} by its name, and
     * Apple's {@code apple-app-site-association} has no extension and must be served as {@code application/json}.
     */
    static String contentType(String requestPath) {
        String name = requestPath.substring(requestPath.lastIndexOf('/') + 1);
        int dot = name.lastIndexOf('.');
        String extension = dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
        return switch (extension) {
            case "", "json" -> "application/json";
            case "txt" -> "text/plain; charset=utf-8";
            case "html", "htm" -> "text/html; charset=utf-8";
            case "xml" -> "application/xml";
            case "jwks" -> "application/jwk-set+json";
            default -> "application/octet-stream";
        };
    }
}
