package io.clicktls.config;

import static io.clicktls.config.Binding.quote;

import io.clicktls.config.YamlTree.Entry;
import io.clicktls.config.YamlTree.ListNode;
import io.clicktls.config.YamlTree.MapNode;
import io.clicktls.config.YamlTree.Node;
import io.clicktls.config.YamlTree.ScalarNode;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A map of settings at a path such as {@code certificates.on_demand}, read key by key: each key is named
 * {@code path.key} in problems, so a section reader writes its path once. An absent or empty key gives the
 * caller's default (which comes from the config records); a wrong value is reported and gives the default too, so
 * that the rest of the file is still checked.
 */
final class Section {

    static final String ENDPOINT_EXPECTED = "host:port such as 0.0.0.0:8443 or [::]:443";
    static final String DURATION_EXPECTED = "a duration such as 500ms, 30s, 10m, 12h or 30d";
    private static final String PORT_EXPECTED = "1-65535 or 0";
    /** Far above any sensible setting, and far below an overflow. */
    static final int MAX_COUNT = 1_000_000;

    private final Binding binding;
    private final MapNode map;
    private final String path;

    private Section(Binding binding, MapNode map, String path) {
        this.binding = binding;
        this.map = map;
        this.path = path;
    }

    /** The whole file, whose keys are named as they are. */
    static Section root(Binding binding, MapNode root) {
        return new Section(binding, root, "");
    }

    Binding binding() {
        return binding;
    }

    MapNode map() {
        return map;
    }

    String path() {
        return path;
    }

    /** {@code path.key}. */
    String pathOf(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /** The map under {@code key}; absent or empty counts as an empty map, anything else is reported. */
    Section section(String key) {
        String childPath = pathOf(key);
        Entry entry = map.get(key);
        if (entry == null || isBlank(entry.value())) {
            return new Section(binding, new MapNode(entry == null ? map.position() : entry.keyPosition()), childPath);
        }
        if (entry.value() instanceof MapNode child) {
            return new Section(binding, child, childPath);
        }
        binding.badShape(entry.value(), childPath, "a map of settings");
        return new Section(binding, new MapNode(entry.keyPosition()), childPath);
    }

    /** A map found elsewhere (a list item, a platform) read at {@code path}. */
    Section at(MapNode other, String otherPath) {
        return new Section(binding, other, otherPath);
    }

    /** Reports every key not in {@code allowed}. */
    void allowOnly(List<String> allowed) {
        for (Entry entry : map.entries()) {
            if (!allowed.contains(entry.key())) {
                binding.expected(
                        entry.keyPosition(),
                        "unknown key " + quote(entry.key()) + (path.isEmpty() ? "" : " under " + quote(path)),
                        String.join(", ", allowed));
            }
        }
    }

    Entry entry(String key) {
        return map.get(key);
    }

    /** Whether {@code key} is there with something other than an empty value. */
    boolean given(String key) {
        Entry entry = map.get(key);
        return entry != null && !isBlank(entry.value());
    }

    /**
     * The scalar under {@code key}, or {@code null} when it is absent or empty (use the default), an alias (already
     * reported) or a map or list (reported here).
     */
    ScalarNode scalar(String key, String expected) {
        Entry entry = map.get(key);
        if (entry == null) {
            return null;
        }
        if (entry.value() instanceof ScalarNode scalar) {
            return scalar.alias() || scalar.blank() ? null : scalar;
        }
        binding.badShape(entry.value(), pathOf(key), expected);
        return null;
    }

    /**
     * The list under {@code key}, or {@code null} when it is absent or empty (use the default); anything but a list is
     * reported.
     */
    ListNode list(String key, String expected) {
        Entry entry = map.get(key);
        Node value = entry == null ? null : entry.value();
        if (value instanceof ListNode list) {
            return list;
        }
        if (value != null && !isBlank(value)) {
            binding.badShape(value, pathOf(key), expected);
        }
        return null;
    }

    /** Like {@link #scalar}, but an absent or empty value is reported as missing. */
    ScalarNode required(String key, String expected) {
        Entry entry = map.get(key);
        if (entry == null) {
            binding.expected(map.position(), path + ": missing key '" + key + "'", expected);
            return null;
        }
        if (isBlank(entry.value())) {
            binding.expected(entry.keyPosition(), pathOf(key) + ": empty", expected);
            return null;
        }
        return scalar(key, expected);
    }

    /** A path resolved against the config's folder, or {@code null} when the key is absent. */
    Path path(String key, String expected) {
        ScalarNode node = scalar(key, expected);
        return node == null ? null : binding.path(node, pathOf(key));
    }

    /** One of an enum's constants, written in lower case in the file (the enums are named to match). */
    <E extends Enum<E>> E choice(String key, E fallback, Class<E> type) {
        E[] constants = type.getEnumConstants();
        List<String> names = new ArrayList<>(constants.length);
        for (E constant : constants) {
            names.add(constant.name().toLowerCase(Locale.ROOT));
        }
        String expected = Binding.orList(names);
        ScalarNode node = scalar(key, expected);
        if (node == null) {
            return fallback;
        }
        int index = names.indexOf(node.text());
        if (index < 0) {
            binding.badValue(node, pathOf(key), expected);
            return fallback;
        }
        return constants[index];
    }

    /** A duration above zero. */
    Duration positiveDuration(String key, Duration fallback) {
        ScalarNode node = scalar(key, DURATION_EXPECTED);
        if (node == null) {
            return fallback;
        }
        Duration parsed = ValueSyntax.duration(node.text());
        if (parsed == null) {
            binding.badValue(node, pathOf(key), DURATION_EXPECTED);
            return fallback;
        }
        if (parsed.isZero()) {
            binding.badValue(node, pathOf(key), "more than 0");
            return fallback;
        }
        return parsed;
    }

    /** A whole number from 1 to {@link #MAX_COUNT}. */
    int positiveInt(String key, int fallback) {
        return wholeNumber(key, 1, MAX_COUNT, "a whole number from 1 to " + MAX_COUNT, fallback);
    }

    /** A whole number from {@code min} to {@code max} (both at most {@link #MAX_COUNT}). */
    int wholeNumber(String key, int min, int max, String expected, int fallback) {
        ScalarNode node = scalar(key, expected);
        if (node == null) {
            return fallback;
        }
        String text = node.text();
        if (!ValueSyntax.allDigits(text)
                || text.length() > 7
                || Integer.parseInt(text) < min
                || Integer.parseInt(text) > max) {
            binding.badValue(node, pathOf(key), expected);
            return fallback;
        }
        return Integer.parseInt(text);
    }

    /** A whole number from 1 to {@link #MAX_COUNT}, or {@code word}, which stands for {@code wordValue}. */
    int countOrWord(String key, String word, int wordValue, int fallback) {
        String expected = "a whole number from 1 to " + MAX_COUNT + ", or " + word;
        ScalarNode node = scalar(key, expected);
        if (node != null && node.text().equals(word)) {
            return wordValue;
        }
        return node == null ? fallback : wholeNumber(key, 1, MAX_COUNT, expected, fallback);
    }

    boolean bool(String key, boolean fallback) {
        ScalarNode node = scalar(key, "true or false");
        if (node == null) {
            return fallback;
        }
        // YAML 1.1 would also read yes/no/on/off; only the two unambiguous words are accepted
        switch (node.text()) {
            case "true":
                return true;
            case "false":
                return false;
            default:
                binding.badValue(node, pathOf(key), "true or false");
                return fallback;
        }
    }

    /** {@code host:port} of a listener, or {@code [v6]:port}. */
    Endpoint endpoint(String key, Endpoint fallback) {
        String keyPath = pathOf(key);
        ScalarNode node = scalar(key, ENDPOINT_EXPECTED);
        if (node == null) {
            return fallback;
        }
        String text = node.text();
        String host;
        String port;
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close < 0 || close + 1 >= text.length() || text.charAt(close + 1) != ':') {
                binding.badValue(node, keyPath, ENDPOINT_EXPECTED);
                return fallback;
            }
            host = text.substring(1, close);
            port = text.substring(close + 2);
            if (!ValueSyntax.ipv6Literal(host)) {
                binding.expected(
                        node.position(), keyPath + ": " + quote(host) + " is not an IPv6 address", ENDPOINT_EXPECTED);
                return fallback;
            }
        } else {
            int colon = text.lastIndexOf(':');
            if (colon <= 0) {
                binding.badValue(node, keyPath, ENDPOINT_EXPECTED);
                return fallback;
            }
            host = text.substring(0, colon);
            port = text.substring(colon + 1);
            if (host.indexOf(':') >= 0) {
                binding.badValue(node, keyPath, "an IPv6 address in brackets, such as [::]:443");
                return fallback;
            }
            String hostProblem = ValueSyntax.listenHostProblem(host);
            if (hostProblem != null) {
                binding.expected(
                        node.position(), keyPath + ": host " + quote(host) + " " + hostProblem, ENDPOINT_EXPECTED);
                return fallback;
            }
        }
        int portNumber = ValueSyntax.port(port);
        if (portNumber < 0) {
            binding.expected(node.position(), keyPath + ": port " + (port.isEmpty() ? "missing" : port), PORT_EXPECTED);
            return fallback;
        }
        return new Endpoint(host, portNumber);
    }

    /** A DNS server: an IP address (never a name, which would need DNS itself) and a port. */
    Endpoint dnsServer(String key) {
        String expected = "an IP address and port such as 127.0.0.1:53";
        ScalarNode node = scalar(key, expected);
        if (node == null) {
            return null;
        }
        Endpoint endpoint = endpoint(key, null);
        if (endpoint == null) {
            return null;
        }
        if (!ValueSyntax.ipv4Literal(endpoint.host()) && !ValueSyntax.ipv6Literal(endpoint.host())) {
            binding.expected(
                    node.position(),
                    pathOf(key) + ": host " + quote(endpoint.host()) + " is not an IP address",
                    expected);
            return null;
        }
        if (endpoint.port() == 0) {
            binding.expected(node.position(), pathOf(key) + ": port 0", "1-65535");
            return null;
        }
        return endpoint;
    }

    /** An absolute http or https URL with a host and no user info; scheme and host lower-cased. */
    URI httpUrl(ScalarNode node, String keyPath, String expected) {
        URI uri;
        try {
            uri = new URI(node.text());
        } catch (URISyntaxException e) {
            binding.expected(
                    node.position(), keyPath + ": " + quote(node.text()) + " is not a URL: " + e.getReason(), expected);
            return null;
        }
        String scheme = uri.getScheme() == null ? null : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!"http".equals(scheme) && !"https".equals(scheme)) {
            binding.badValue(node, keyPath, expected);
            return null;
        }
        if (uri.getHost() == null || uri.getRawUserInfo() != null) {
            binding.expected(node.position(), keyPath + ": " + quote(node.text()) + " has no usable host", expected);
            return null;
        }
        if (uri.getPort() == 0 || uri.getPort() > 65535) {
            binding.expected(node.position(), keyPath + ": port " + uri.getPort(), "1-65535");
            return null;
        }
        return URI.create(scheme + "://" + uri.getHost().toLowerCase(Locale.ROOT)
                + (uri.getPort() >= 0 ? ":" + uri.getPort() : "")
                + (uri.getRawPath() == null ? "" : uri.getRawPath())
                + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery())
                + (uri.getRawFragment() == null ? "" : "#" + uri.getRawFragment()));
    }

    static boolean isBlank(Node node) {
        return node instanceof ScalarNode scalar && scalar.blank();
    }
}
