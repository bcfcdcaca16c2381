package io.clicktls.config;

import io.clicktls.config.YamlTree.Entry;
import io.clicktls.config.YamlTree.ListNode;
import io.clicktls.config.YamlTree.MapNode;
import io.clicktls.config.YamlTree.Node;
import io.clicktls.config.YamlTree.Position;
import io.clicktls.config.YamlTree.ScalarNode;
import io.clicktls.platform.PlatformPresets;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Turns a {@link YamlTree} into a {@link ClickTlsConfig}, checking every key and value and collecting every problem
 * rather than stopping at the first. Defaults fill in whatever is left out, except {@code platforms} and
 * {@code domains}. One instance per load; not thread-safe.
 */
final class ConfigBinder {

    static final Endpoint DEFAULT_HTTPS = new Endpoint("0.0.0.0", 8443);
    static final Endpoint DEFAULT_HTTP = new Endpoint("0.0.0.0", 8080);
    static final Endpoint DEFAULT_ADMIN = new Endpoint("127.0.0.1", 9090);
    static final String DEFAULT_STORAGE = "data";
    static final URI LETS_ENCRYPT = URI.create("https://acme-v02.api.letsencrypt.org/directory");
    static final List<Acme.ChallengeType> DEFAULT_CHALLENGES =
            List.of(Acme.ChallengeType.TLS_ALPN_01, Acme.ChallengeType.HTTP_01);
    static final Duration DEFAULT_HANDSHAKE_WAIT = Duration.ofSeconds(10);

    private static final List<String> TOP_KEYS =
            List.of("listen", "storage", "certificates", "platforms", "domains", "upgrade", "admin", "limits");
    private static final List<String> LISTEN_KEYS = List.of("https", "http", "admin");
    private static final List<String> STORAGE_KEYS = List.of("directory");
    private static final List<String> CERTIFICATES_KEYS =
            List.of("issuer", "key_type", "acme", "on_demand", "limits", "cleanup");
    private static final List<String> ACME_KEYS = List.of("directory", "email", "trusted_ca", "challenges", "eab");
    private static final List<String> EAB_KEYS = List.of("kid", "hmac_key", "hmac_key_file");
    private static final List<String> ON_DEMAND_KEYS = List.of(
            "ask",
            "handshake_wait",
            "ask_timeout",
            "ask_cache",
            "platform",
            "expect_dns",
            "dns_server",
            "pending_handshakes");
    private static final List<String> ASK_CACHE_KEYS = List.of("allow", "deny");
    private static final List<String> PENDING_KEYS = List.of("per_client", "total");
    private static final List<String> LIMITS_KEYS = List.of(
            "orders_per_3h", "certificates_per_registered_domain_per_week", "failed_validations_per_name_per_hour");
    private static final List<String> CLEANUP_KEYS = List.of("grace");
    /** Far above any sensible setting, and far below an overflow. */
    private static final int MAX_COUNT = 1_000_000;

    private static final List<String> PLATFORM_KEYS = List.of("preset", "region", "upstream", "host_header");
    private static final List<String> DOMAIN_KEYS = List.of("name", "platform");
    private static final List<String> UPGRADE_KEYS = List.of("http", "location", "html");
    private static final List<String> ADMIN_KEYS = List.of("token", "token_file");
    static final int MIN_ADMIN_TOKEN_LENGTH = 16;
    private static final String TOKEN_EXPECTED = "at least " + MIN_ADMIN_TOKEN_LENGTH
            + " visible ASCII characters without spaces, such as the output of `openssl rand -hex 32`";

    private static final String ENDPOINT_EXPECTED = "host:port such as 0.0.0.0:8443 or [::]:443";
    private static final String PORT_EXPECTED = "1-65535 or 0";
    private static final String DURATION_EXPECTED = "a duration such as 500ms, 30s, 10m, 12h or 30d";
    private static final String DOMAIN_EXPECTED = "a DNS name such as links.example.com, or *.example.com";
    private static final String UPSTREAM_EXPECTED =
            "an http:// or https:// URL with a host and no path, such as https://sendgrid.net";
    private static final String PLATFORMS_EXPECTED =
            "a map from platform names to { preset: NAME } or { upstream: URL }";
    private static final String DOMAINS_EXPECTED = "a list of { name: HOST, platform: PLATFORM }";
    private static final String EAB_EXPECTED =
            "{ kid: KEY_ID, hmac_key: BASE64URL } or { kid: KEY_ID, hmac_key_file: FILE }, as the CA gives them";
    private static final String HMAC_KEY_EXPECTED = "the HMAC key as the CA gives it: base64url, at least 256 bits";
    /** A key file is a few dozen characters; anything this long is the wrong file. */
    private static final long HMAC_KEY_FILE_LIMIT = 4096;

    private final String file;
    private final Path baseDir;
    private final List<ConfigProblem> problems;
    /** Reused for every domain name: most configs' size is their domain list. */
    private final StringBuilder nameProblem = new StringBuilder();
    /** {@code certificates.on_demand.platform} as written; checked once the platforms are known. */
    private ScalarNode onDemandPlatform;

    ConfigBinder(String file, Path baseDir, List<ConfigProblem> problems) {
        this.file = file;
        this.baseDir = baseDir.toAbsolutePath().normalize();
        this.problems = problems;
    }

    /** Returns the config, or {@code null} when anything was reported (here or before). */
    ClickTlsConfig bind(Node rootNode, Path source) {
        if (!(rootNode instanceof MapNode root)) {
            report(
                    rootNode.position(),
                    "the file holds " + describe(rootNode) + " (expected: a map with the keys "
                            + String.join(", ", TOP_KEYS) + ")");
            return null;
        }
        checkKeys(root, "", TOP_KEYS);
        Listen listen = listen(section(root, "listen"));
        StorageSettings storage = storage(section(root, "storage"));
        Certificates certificates = certificates(section(root, "certificates"));
        Map<String, Platform> platforms = new HashMap<>();
        List<String> declaredPlatforms = new ArrayList<>();
        platforms(root, platforms, declaredPlatforms);
        List<Domain> domains = domains(root, declaredPlatforms);
        checkOnDemandPlatform(certificates, declaredPlatforms);
        Upgrade upgrade = upgrade(section(root, "upgrade"));
        Admin admin = admin(section(root, "admin"));
        adminExposure(root, listen, admin);
        ConnectionLimits limits = connectionLimits(section(root, "limits"));
        if (!problems.isEmpty()) {
            return null;
        }
        return new ClickTlsConfig(listen, storage, certificates, platforms, domains, upgrade, admin, limits, source);
    }

    // ---- sections

    private Listen listen(MapNode listen) {
        checkKeys(listen, "listen", LISTEN_KEYS);
        return new Listen(
                endpoint(listen, "https", "listen.https", DEFAULT_HTTPS),
                endpoint(listen, "http", "listen.http", DEFAULT_HTTP),
                endpoint(listen, "admin", "listen.admin", DEFAULT_ADMIN));
    }

    private StorageSettings storage(MapNode storage) {
        checkKeys(storage, "storage", STORAGE_KEYS);
        ScalarNode directory = scalar(storage, "directory", "storage.directory", "a folder");
        Path path = directory == null ? baseDir.resolve(DEFAULT_STORAGE) : path(directory, "storage.directory");
        return new StorageSettings(path);
    }

    private Certificates certificates(MapNode certificates) {
        checkKeys(certificates, "certificates", CERTIFICATES_KEYS);
        Certificates.IssuerKind issuer = choice(
                certificates,
                "issuer",
                "certificates.issuer",
                Certificates.IssuerKind.INTERNAL,
                Certificates.IssuerKind.class);
        Certificates.KeyType keyType = choice(
                certificates,
                "key_type",
                "certificates.key_type",
                Certificates.KeyType.EC256,
                Certificates.KeyType.class);
        Acme acme = acme(section(certificates, "acme", "certificates.acme"), issuer);
        OnDemand onDemand = onDemand(section(certificates, "on_demand", "certificates.on_demand"));
        Certificates.Limits limits = limits(section(certificates, "limits", "certificates.limits"));
        Certificates.Cleanup cleanup = cleanup(section(certificates, "cleanup", "certificates.cleanup"));
        return new Certificates(issuer, keyType, acme, onDemand, limits, cleanup);
    }

    private Acme acme(MapNode acme, Certificates.IssuerKind issuer) {
        checkKeys(acme, "certificates.acme", ACME_KEYS);
        URI directory = LETS_ENCRYPT;
        ScalarNode directoryNode = scalar(acme, "directory", "certificates.acme.directory", "an https:// URL");
        if (directoryNode != null) {
            directory = acmeDirectory(directoryNode);
        }
        String email = null;
        ScalarNode emailNode = scalar(acme, "email", "certificates.acme.email", "an e-mail address");
        if (emailNode != null) {
            email = email(emailNode);
        }
        Path trustedCa = null;
        ScalarNode trustedCaNode = scalar(acme, "trusted_ca", "certificates.acme.trusted_ca", "a PEM file");
        if (trustedCaNode != null) {
            trustedCa = path(trustedCaNode, "certificates.acme.trusted_ca");
            // only checked when used, so that a config can keep the line while trying the internal issuer
            if (trustedCa != null && issuer == Certificates.IssuerKind.ACME && !Files.isReadable(trustedCa)) {
                report(
                        trustedCaNode.position(),
                        "certificates.acme.trusted_ca: " + quote(trustedCaNode.text()) + " is not a readable file at "
                                + trustedCa + " (expected: a PEM file)");
            }
        }
        List<Acme.ChallengeType> challenges = challenges(acme);
        Acme.ExternalAccountBinding eab = eab(acme, issuer);
        return new Acme(directory, email, trustedCa, challenges, eab);
    }

    /**
     * {@code certificates.acme.eab}, or {@code null}. The HMAC key is a secret: no message quotes it, nor the content
     * of its file. The file is only read with {@code issuer: acme}, like {@code trusted_ca}.
     */
    private Acme.ExternalAccountBinding eab(MapNode acme, Certificates.IssuerKind issuer) {
        String path = "certificates.acme.eab";
        Entry entry = acme.get("eab");
        if (entry == null || isBlank(entry.value())) {
            return null;
        }
        if (!(entry.value() instanceof MapNode eab)) {
            reportShape(entry.value(), path, EAB_EXPECTED);
            return null;
        }
        checkKeys(eab, path, EAB_KEYS);
        ScalarNode kid = required(eab, "kid", path, "the key identifier the CA gave you");
        boolean inlineGiven = given(eab, "hmac_key");
        boolean fileGiven = given(eab, "hmac_key_file");
        if (inlineGiven && fileGiven) {
            report(
                    eab.get("hmac_key_file").keyPosition(),
                    path + ": both 'hmac_key' and 'hmac_key_file' given (expected: one of them)");
            return null;
        }
        if (!inlineGiven && !fileGiven) {
            report(
                    eab.position(),
                    path + ": neither 'hmac_key' nor 'hmac_key_file' given (expected: " + EAB_EXPECTED + ")");
            return null;
        }
        String hmacKey = null;
        if (inlineGiven) {
            ScalarNode inline = scalar(eab, "hmac_key", path + ".hmac_key", HMAC_KEY_EXPECTED);
            if (inline != null) {
                String problem = hmacKeyProblem(inline.text().strip());
                if (problem == null) {
                    hmacKey = inline.text().strip();
                } else {
                    report(
                            inline.position(),
                            path + ".hmac_key: " + problem + " (expected: " + HMAC_KEY_EXPECTED + ")");
                }
            }
        } else {
            ScalarNode file = scalar(eab, "hmac_key_file", path + ".hmac_key_file", "a file holding the HMAC key");
            if (file != null && issuer == Certificates.IssuerKind.ACME) {
                hmacKey = hmacKeyFromFile(file, path + ".hmac_key_file");
            }
        }
        if (kid == null || hmacKey == null) {
            return null;
        }
        return new Acme.ExternalAccountBinding(kid.text(), hmacKey);
    }

    private String hmacKeyFromFile(ScalarNode node, String path) {
        Path file = path(node, path);
        String expected = "a file holding " + HMAC_KEY_EXPECTED;
        String text;
        try {
            if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
                report(
                        node.position(),
                        path + ": " + quote(node.text()) + " is not a readable file at " + file + " (expected: "
                                + expected + ")");
                return null;
            }
            if (Files.size(file) > HMAC_KEY_FILE_LIMIT) {
                report(
                        node.position(),
                        path + ": " + file + " holds " + Files.size(file) + " bytes (expected: " + expected + ")");
                return null;
            }
            text = Files.readString(file, StandardCharsets.US_ASCII).strip();
        } catch (IOException | RuntimeException e) {
            report(
                    node.position(),
                    path + ": cannot read " + file + ": " + e.getClass().getSimpleName() + " (expected: " + expected
                            + ")");
            return null;
        }
        String problem = hmacKeyProblem(text);
        if (problem != null) {
            report(node.position(), path + ": the key in " + file + " " + problem + " (expected: " + expected + ")");
            return null;
        }
        return text;
    }

    /** What is wrong with an HMAC key as written, without quoting it, or {@code null}. */
    private static String hmacKeyProblem(String key) {
        if (key.isEmpty()) {
            return "is empty";
        }
        byte[] decoded;
        try {
            // the decoder acme4j uses: base64url, padding optional
            decoded = Base64.getUrlDecoder().decode(key);
        } catch (IllegalArgumentException e) {
            return key.indexOf('+') >= 0 || key.indexOf('/') >= 0
                    ? "is base64, not base64url (which writes '-' and '_' for '+' and '/')"
                    : "is not base64url";
        }
        if (decoded.length < 32) {
            // acme4j refuses shorter keys: RFC 7518 wants an HMAC key at least as long as the hash
            return "is " + decoded.length * 8 + " bits long";
        }
        return null;
    }

    private OnDemand onDemand(MapNode onDemand) {
        checkKeys(onDemand, "certificates.on_demand", ON_DEMAND_KEYS);
        URI ask = null;
        ScalarNode askNode = scalar(onDemand, "ask", "certificates.on_demand.ask", "an http:// or https:// URL");
        if (askNode != null) {
            ask = askUrl(askNode);
        }
        Duration wait = DEFAULT_HANDSHAKE_WAIT;
        ScalarNode waitNode =
                scalar(onDemand, "handshake_wait", "certificates.on_demand.handshake_wait", DURATION_EXPECTED);
        if (waitNode != null) {
            Duration parsed = duration(waitNode.text());
            if (parsed == null) {
                report(
                        waitNode.position(),
                        "certificates.on_demand.handshake_wait: " + quote(waitNode.text()) + " (expected: "
                                + DURATION_EXPECTED + ")");
            } else if (parsed.isZero()) {
                report(
                        waitNode.position(),
                        "certificates.on_demand.handshake_wait: " + quote(waitNode.text())
                                + " (expected: more than 0)");
            } else {
                wait = parsed;
            }
        }
        String path = "certificates.on_demand";
        Duration askTimeout = positiveDuration(onDemand, "ask_timeout", path, OnDemand.DEFAULT_ASK_TIMEOUT);
        MapNode cacheNode = section(onDemand, "ask_cache", path + ".ask_cache");
        checkKeys(cacheNode, path + ".ask_cache", ASK_CACHE_KEYS);
        OnDemand.AskCache askCache = new OnDemand.AskCache(
                positiveDuration(cacheNode, "allow", path + ".ask_cache", OnDemand.DEFAULT_ASK_CACHE.allow()),
                positiveDuration(cacheNode, "deny", path + ".ask_cache", OnDemand.DEFAULT_ASK_CACHE.deny()));
        onDemandPlatform = scalar(onDemand, "platform", path + ".platform", "a platform defined under 'platforms'");
        if (onDemandPlatform != null && ask == null && !given(onDemand, "ask")) {
            report(
                    onDemandPlatform.position(),
                    path + ".platform: " + quote(onDemandPlatform.text()) + " is set but " + path
                            + ".ask is not (expected: an ask endpoint to say which names it takes)");
        }
        List<String> expectDns = expectDns(onDemand, path + ".expect_dns");
        Endpoint dnsServer = dnsServer(onDemand, path + ".dns_server");
        MapNode pendingNode = section(onDemand, "pending_handshakes", path + ".pending_handshakes");
        checkKeys(pendingNode, path + ".pending_handshakes", PENDING_KEYS);
        int perClient = positiveInt(
                pendingNode, "per_client", path + ".pending_handshakes", OnDemand.DEFAULT_PENDING.perClient());
        int total = positiveInt(pendingNode, "total", path + ".pending_handshakes", OnDemand.DEFAULT_PENDING.total());
        if (perClient > total) {
            report(
                    pendingNode.position(),
                    path + ".pending_handshakes: per_client " + perClient + " is more than total " + total
                            + " (expected: per_client <= total)");
        }
        return new OnDemand(
                ask,
                wait,
                askTimeout,
                askCache,
                onDemandPlatform == null ? null : onDemandPlatform.text(),
                expectDns,
                dnsServer,
                new OnDemand.PendingHandshakes(perClient, total));
    }

    private List<String> expectDns(MapNode onDemand, String path) {
        String expected = "a list of host names and IP addresses this proxy is reached at,"
                + " such as [proxy.example.net, 203.0.113.7]";
        Entry entry = onDemand.get("expect_dns");
        if (entry == null || isBlank(entry.value())) {
            return List.of();
        }
        if (!(entry.value() instanceof ListNode list)) {
            reportShape(entry.value(), path, expected);
            return List.of();
        }
        List<String> targets = new ArrayList<>();
        for (int i = 0; i < list.items().size(); i++) {
            Node item = list.items().get(i);
            String itemPath = path + "[" + i + "]";
            if (!(item instanceof ScalarNode scalar) || scalar.blank()) {
                reportShape(item, itemPath, "a host name or an IP address");
                continue;
            }
            if (scalar.alias()) {
                continue;
            }
            String text = scalar.text();
            String target;
            if (allDigitsAndDots(text)) {
                target = ipv4Literal(text) ? text : null;
            } else if (text.indexOf(':') >= 0) {
                target = ipv6Literal(text) ? text.toLowerCase(Locale.ROOT) : null;
            } else {
                target = DnsNames.check(text, false, new StringBuilder());
            }
            if (target == null) {
                report(
                        scalar.position(),
                        itemPath + ": " + quote(text)
                                + " (expected: a host name such as proxy.example.net, or an IP address)");
            } else if (targets.contains(target)) {
                report(scalar.position(), itemPath + ": " + quote(text) + " is listed twice");
            } else {
                targets.add(target);
            }
        }
        return targets;
    }

    private Endpoint dnsServer(MapNode onDemand, String path) {
        ScalarNode node = scalar(onDemand, "dns_server", path, "an IP address and port such as 127.0.0.1:53");
        if (node == null) {
            return null;
        }
        Endpoint endpoint = endpoint(onDemand, "dns_server", path, null);
        if (endpoint == null) {
            return null;
        }
        if (!ipv4Literal(endpoint.host()) && !ipv6Literal(endpoint.host())) {
            report(
                    node.position(),
                    path + ": host " + quote(endpoint.host())
                            + " is not an IP address (expected: an IP address and port such as 127.0.0.1:53)");
            return null;
        }
        if (endpoint.port() == 0) {
            report(node.position(), path + ": port 0 (expected: 1-65535)");
            return null;
        }
        return endpoint;
    }

    private void checkOnDemandPlatform(Certificates certificates, List<String> declared) {
        String platform = certificates.onDemand().platform();
        if (platform != null && !declared.contains(platform)) {
            report(
                    onDemandPlatform.position(),
                    "certificates.on_demand.platform: " + quote(platform)
                            + " is not defined under 'platforms' (expected: "
                            + (declared.isEmpty()
                                    ? "a platform defined there"
                                    : "one of " + listForMessage(new HashSet<>(declared)))
                            + ")");
        }
    }

    private Certificates.Limits limits(MapNode limits) {
        String path = "certificates.limits";
        checkKeys(limits, path, LIMITS_KEYS);
        Certificates.Limits defaults = Certificates.Limits.DEFAULTS;
        return new Certificates.Limits(
                positiveInt(limits, "orders_per_3h", path, defaults.ordersPer3h()),
                positiveInt(
                        limits,
                        "certificates_per_registered_domain_per_week",
                        path,
                        defaults.certificatesPerRegisteredDomainPerWeek()),
                positiveInt(
                        limits,
                        "failed_validations_per_name_per_hour",
                        path,
                        defaults.failedValidationsPerNamePerHour()));
    }

    private Certificates.Cleanup cleanup(MapNode cleanup) {
        checkKeys(cleanup, "certificates.cleanup", CLEANUP_KEYS);
        return new Certificates.Cleanup(
                positiveDuration(cleanup, "grace", "certificates.cleanup", Certificates.Cleanup.DEFAULTS.grace()));
    }

    private void platforms(MapNode root, Map<String, Platform> platforms, List<String> declared) {
        Entry entry = root.get("platforms");
        if (entry == null) {
            report(root.position(), "missing key 'platforms' (expected: " + PLATFORMS_EXPECTED + ")");
            return;
        }
        Node node = entry.value();
        if (isBlank(node)) {
            return;
        }
        if (!(node instanceof MapNode map)) {
            reportShape(node, "platforms", PLATFORMS_EXPECTED);
            return;
        }
        for (Entry platformEntry : map.entries()) {
            String name = platformEntry.key();
            declared.add(name);
            String path = "platforms." + name;
            if (!validPlatformName(name)) {
                report(
                        platformEntry.keyPosition(),
                        "platforms: name " + quote(name)
                                + " (expected: up to 64 letters, digits, '-', '_' or '.', starting with a letter or digit)");
            }
            if (!(platformEntry.value() instanceof MapNode platformMap)) {
                reportShape(platformEntry.value(), path, "{ preset: NAME } or { upstream: URL }");
                continue;
            }
            Platform platform = platform(name, platformMap, path);
            if (platform != null) {
                platforms.put(name, platform);
            }
        }
    }

    private Platform platform(String name, MapNode map, String path) {
        checkKeys(map, path, PLATFORM_KEYS);
        ScalarNode preset = scalar(map, "preset", path + ".preset", "a preset name");
        ScalarNode region = scalar(map, "region", path + ".region", "an AWS region such as us-east-1");
        ScalarNode upstream = scalar(map, "upstream", path + ".upstream", UPSTREAM_EXPECTED);
        Platform.HostHeader hostHeader =
                choice(map, "host_header", path + ".host_header", null, Platform.HostHeader.class);
        boolean presetGiven = given(map, "preset");
        boolean upstreamGiven = given(map, "upstream");
        if (presetGiven && upstreamGiven) {
            report(
                    map.get("upstream").keyPosition(),
                    path + ": both 'preset' and 'upstream' given (expected: one of them)");
            return null;
        }
        if (!presetGiven && !upstreamGiven) {
            report(
                    map.position(),
                    path + ": neither 'preset' nor 'upstream' given"
                            + " (expected: { preset: NAME } or { upstream: URL })");
            return null;
        }
        if (preset == null && upstream == null) {
            return null; // given, but not as a plain value: reported already
        }
        if (upstream != null) {
            if (region != null) {
                report(region.position(), path + ".region: only a preset takes a region");
            }
            URI uri = upstreamUrl(upstream, path + ".upstream");
            return uri == null
                    ? null
                    : new Platform(name, uri, hostHeader == null ? Platform.HostHeader.PRESERVE : hostHeader);
        }
        PlatformPresets.Preset known = PlatformPresets.find(preset.text()).orElse(null);
        if (known == null) {
            report(
                    preset.position(),
                    path + ".preset: " + quote(preset.text()) + " (expected: one of "
                            + String.join(", ", PlatformPresets.names()) + ")");
            return null;
        }
        URI uri;
        if (known.regional()) {
            if (region == null) {
                if (!given(map, "region")) {
                    report(
                            map.position(),
                            path + ": preset '" + known.name()
                                    + "' needs a region (expected: region: us-east-1 or another AWS region)");
                }
                return null;
            }
            if (!PlatformPresets.validRegion(region.text())) {
                report(
                        region.position(),
                        path + ".region: " + quote(region.text()) + " (expected: an AWS region such as us-east-1)");
                return null;
            }
            uri = known.upstreamFor(region.text());
        } else {
            if (region != null) {
                report(region.position(), path + ".region: preset '" + known.name() + "' takes no region");
                return null;
            }
            uri = known.upstreamFor(null);
        }
        return new Platform(name, uri, hostHeader == null ? known.hostHeader() : hostHeader);
    }

    private List<Domain> domains(MapNode root, List<String> declaredPlatforms) {
        Entry entry = root.get("domains");
        if (entry == null) {
            report(root.position(), "missing key 'domains' (expected: " + DOMAINS_EXPECTED + ")");
            return List.of();
        }
        Node node = entry.value();
        if (isBlank(node)) {
            return List.of();
        }
        if (!(node instanceof ListNode list)) {
            reportShape(node, "domains", DOMAINS_EXPECTED);
            return List.of();
        }
        List<Node> items = list.items();
        List<Domain> domains = new ArrayList<>(items.size());
        Map<String, Position> seen = new HashMap<>(Math.max(16, items.size() * 2));
        Set<String> declared = new HashSet<>(declaredPlatforms);
        for (int i = 0; i < items.size(); i++) {
            Node item = items.get(i);
            if (!(item instanceof MapNode map)) {
                reportShape(item, "domains[" + i + "]", "{ name: HOST, platform: PLATFORM }");
                continue;
            }
            // the path strings of messages are only built for an entry with a problem: there may be 100,000 entries
            for (Entry key : map.entries()) {
                if (!key.key().equals("name") && !key.key().equals("platform")) {
                    checkKeys(map, domainPath(i), DOMAIN_KEYS);
                    break;
                }
            }
            String name = domainName(map, i, seen);
            String platform = domainPlatform(map, i, declared);
            if (name != null && platform != null) {
                domains.add(new Domain(name, platform));
            }
        }
        return domains;
    }

    private String domainName(MapNode map, int index, Map<String, Position> seen) {
        ScalarNode node = plainScalar(map.get("name"));
        if (node == null) {
            required(map, "name", domainPath(index), DOMAIN_EXPECTED);
            return null;
        }
        nameProblem.setLength(0);
        String name = DnsNames.check(node.text(), true, nameProblem);
        if (name == null) {
            report(
                    node.position(),
                    domainPath(index) + ".name: " + quote(node.text()) + " " + nameProblem + " (expected: "
                            + DOMAIN_EXPECTED + ")");
            return null;
        }
        Position first = seen.putIfAbsent(name, node.position());
        if (first != null) {
            report(
                    node.position(),
                    domainPath(index) + ".name: " + quote(name) + " is listed twice (first at line " + first.line()
                            + ")");
            return null;
        }
        return name;
    }

    private String domainPlatform(MapNode map, int index, Set<String> declared) {
        ScalarNode node = plainScalar(map.get("platform"));
        if (node == null) {
            required(map, "platform", domainPath(index), "a platform defined under 'platforms'");
            return null;
        }
        String platform = node.text();
        if (!declared.contains(platform)) {
            report(
                    node.position(),
                    domainPath(index) + ".platform: " + quote(platform)
                            + " is not defined under 'platforms'"
                            + " (expected: "
                            + (declared.isEmpty() ? "a platform defined there" : "one of " + listForMessage(declared))
                            + ")");
            return null;
        }
        return platform;
    }

    private static String domainPath(int index) {
        return "domains[" + index + "]";
    }

    /** The value of {@code entry} if it is a non-empty scalar that is not an alias, else {@code null}. */
    private static ScalarNode plainScalar(Entry entry) {
        if (entry != null && entry.value() instanceof ScalarNode scalar && !scalar.blank() && !scalar.alias()) {
            return scalar;
        }
        return null;
    }

    private Upgrade upgrade(MapNode upgrade) {
        checkKeys(upgrade, "upgrade", UPGRADE_KEYS);
        Upgrade.HttpMode http =
                choice(upgrade, "http", "upgrade.http", Upgrade.HttpMode.REDIRECT, Upgrade.HttpMode.class);
        boolean location = bool(upgrade, "location", "upgrade.location", true);
        boolean html = bool(upgrade, "html", "upgrade.html", true);
        return new Upgrade(http, location, html);
    }

    // ---- limits: (connection limits), self-contained

    private static final List<String> CONNECTION_LIMITS_KEYS = List.of("max_connections", "max_connections_per_client");

    private ConnectionLimits connectionLimits(MapNode limits) {
        checkKeys(limits, "limits", CONNECTION_LIMITS_KEYS);
        return new ConnectionLimits(
                countOrWord(limits, "max_connections", "auto", ConnectionLimits.AUTO),
                countOrWord(limits, "max_connections_per_client", "off", ConnectionLimits.OFF));
    }

    /** Under {@code limits.key}: a whole number from 1 to {@link #MAX_COUNT}, or {@code word} (and the default). */
    private int countOrWord(MapNode limits, String key, String word, int wordValue) {
        String path = "limits." + key;
        String expected = "a whole number from 1 to " + MAX_COUNT + ", or " + word;
        ScalarNode node = scalar(limits, key, path, expected);
        if (node == null || node.text().equals(word)) {
            return wordValue;
        }
        String text = node.text();
        if (!allDigits(text) || text.length() > 7 || Integer.parseInt(text) < 1 || Integer.parseInt(text) > MAX_COUNT) {
            report(node.position(), path + ": " + quote(text) + " (expected: " + expected + ")");
            return wordValue;
        }
        return Integer.parseInt(text);
    }

    /** The token is a secret: messages about it never quote its value. */
    private Admin admin(MapNode admin) {
        checkKeys(admin, "admin", ADMIN_KEYS);
        ScalarNode token = scalar(admin, "token", "admin.token", TOKEN_EXPECTED);
        ScalarNode tokenFile = scalar(admin, "token_file", "admin.token_file", "a file holding the token");
        if (token != null && tokenFile != null) {
            report(tokenFile.position(), "admin: both 'token' and 'token_file' given (expected: one of them)");
            return Admin.NONE;
        }
        if (token != null) {
            String problem = tokenProblem(token.text());
            if (problem != null) {
                report(token.position(), "admin.token: " + problem + " (expected: " + TOKEN_EXPECTED + ")");
                return Admin.NONE;
            }
            return new Admin(token.text());
        }
        if (tokenFile != null) {
            Path file = path(tokenFile, "admin.token_file");
            String text;
            try {
                text = Files.readString(file).strip();
            } catch (IOException | RuntimeException e) {
                report(
                        tokenFile.position(),
                        "admin.token_file: " + quote(tokenFile.text()) + " is not a readable file at " + file
                                + " (expected: a file holding the token)");
                return Admin.NONE;
            }
            String problem = tokenProblem(text);
            if (problem != null) {
                report(
                        tokenFile.position(),
                        "admin.token_file: the token in " + file + " " + problem + " (expected: " + TOKEN_EXPECTED
                                + ")");
                return Admin.NONE;
            }
            return new Admin(text);
        }
        return Admin.NONE;
    }

    private static String tokenProblem(String token) {
        if (token.length() < MIN_ADMIN_TOKEN_LENGTH) {
            return "is too short (" + token.length() + " characters)";
        }
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c <= ' ' || c >= 0x7f) {
                return "has a space, a control or a non-ASCII character at position " + (i + 1);
            }
        }
        return null;
    }

    /** An admin listener reachable from other machines must have a token: it can renew and forget certificates. */
    private void adminExposure(MapNode root, Listen listen, Admin admin) {
        if (admin.protectedByToken() || loopbackAddress(listen.admin().host())) {
            return;
        }
        Position at = root.position();
        Entry listenEntry = root.get("listen");
        if (listenEntry != null && listenEntry.value() instanceof MapNode listenMap) {
            Entry adminEntry = listenMap.get("admin");
            at = adminEntry != null ? adminEntry.value().position() : listenEntry.keyPosition();
        }
        report(
                at,
                "listen.admin: " + listen.admin() + " is reachable beyond this machine without a token"
                        + " (expected: a loopback address such as 127.0.0.1:9090, or admin.token set)");
    }

    /** Whether a listen host accepts connections from this machine only. */
    static boolean loopbackAddress(String host) {
        if (host.equals("localhost") || host.equals("::1") || host.equals("0:0:0:0:0:0:0:1")) {
            return true;
        }
        return allDigitsAndDots(host) && ipv4Literal(host) && host.startsWith("127.");
    }

    // ---- values

    private Endpoint endpoint(MapNode map, String key, String path, Endpoint fallback) {
        ScalarNode node = scalar(map, key, path, ENDPOINT_EXPECTED);
        if (node == null) {
            return fallback;
        }
        String text = node.text();
        String host;
        String port;
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close < 0 || close + 1 >= text.length() || text.charAt(close + 1) != ':') {
                report(node.position(), path + ": " + quote(text) + " (expected: " + ENDPOINT_EXPECTED + ")");
                return fallback;
            }
            host = text.substring(1, close);
            port = text.substring(close + 2);
            if (!ipv6Literal(host)) {
                report(
                        node.position(),
                        path + ": " + quote(host) + " is not an IPv6 address (expected: " + ENDPOINT_EXPECTED + ")");
                return fallback;
            }
        } else {
            int colon = text.lastIndexOf(':');
            if (colon <= 0) {
                report(node.position(), path + ": " + quote(text) + " (expected: " + ENDPOINT_EXPECTED + ")");
                return fallback;
            }
            host = text.substring(0, colon);
            port = text.substring(colon + 1);
            if (host.indexOf(':') >= 0) {
                report(
                        node.position(),
                        path + ": " + quote(text) + " (expected: an IPv6 address in brackets, such as [::]:443)");
                return fallback;
            }
            String hostProblem = listenHostProblem(host);
            if (hostProblem != null) {
                report(
                        node.position(),
                        path + ": host " + quote(host) + " " + hostProblem + " (expected: " + ENDPOINT_EXPECTED + ")");
                return fallback;
            }
        }
        int portNumber = port(port);
        if (portNumber < 0) {
            report(
                    node.position(),
                    path + ": port " + (port.isEmpty() ? "missing" : port) + " (expected: " + PORT_EXPECTED + ")");
            return fallback;
        }
        return new Endpoint(host, portNumber);
    }

    private URI upstreamUrl(ScalarNode node, String path) {
        URI uri = httpUrl(node, path, UPSTREAM_EXPECTED);
        if (uri == null) {
            return null;
        }
        boolean pathless = uri.getRawPath() == null
                || uri.getRawPath().isEmpty()
                || uri.getRawPath().equals("/");
        if (!pathless || uri.getRawQuery() != null || uri.getRawFragment() != null) {
            report(
                    node.position(),
                    path + ": " + quote(node.text()) + " has a path or query (expected: " + UPSTREAM_EXPECTED + ")");
            return null;
        }
        return URI.create(uri.getScheme() + "://" + uri.getHost() + (uri.getPort() >= 0 ? ":" + uri.getPort() : ""));
    }

    private URI askUrl(ScalarNode node) {
        String path = "certificates.on_demand.ask";
        URI uri = httpUrl(node, path, "an http:// or https:// URL such as http://127.0.0.1:3000/allow");
        if (uri != null && uri.getRawFragment() != null) {
            report(node.position(), path + ": " + quote(node.text()) + " has a fragment (expected: a URL without #)");
            return null;
        }
        return uri;
    }

    private URI acmeDirectory(ScalarNode node) {
        String path = "certificates.acme.directory";
        String expected = "an https:// URL, or http:// to 127.0.0.1 or localhost";
        URI uri = httpUrl(node, path, expected);
        if (uri == null) {
            return LETS_ENCRYPT;
        }
        if (uri.getScheme().equals("http") && !loopback(uri.getHost())) {
            report(node.position(), path + ": " + quote(node.text()) + " (expected: " + expected + ")");
            return LETS_ENCRYPT;
        }
        return uri;
    }

    /** An absolute http or https URL with a host and no user info; scheme and host lower-cased. */
    private URI httpUrl(ScalarNode node, String path, String expected) {
        URI uri;
        try {
            uri = new URI(node.text());
        } catch (URISyntaxException e) {
            report(
                    node.position(),
                    path + ": " + quote(node.text()) + " is not a URL: " + e.getReason() + " (expected: " + expected
                            + ")");
            return null;
        }
        String scheme = uri.getScheme() == null ? null : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!"http".equals(scheme) && !"https".equals(scheme)) {
            report(node.position(), path + ": " + quote(node.text()) + " (expected: " + expected + ")");
            return null;
        }
        if (uri.getHost() == null || uri.getRawUserInfo() != null) {
            report(
                    node.position(),
                    path + ": " + quote(node.text()) + " has no usable host (expected: " + expected + ")");
            return null;
        }
        if (uri.getPort() == 0 || uri.getPort() > 65535) {
            report(node.position(), path + ": port " + uri.getPort() + " (expected: 1-65535)");
            return null;
        }
        return URI.create(scheme + "://" + uri.getHost().toLowerCase(Locale.ROOT)
                + (uri.getPort() >= 0 ? ":" + uri.getPort() : "")
                + (uri.getRawPath() == null ? "" : uri.getRawPath())
                + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery())
                + (uri.getRawFragment() == null ? "" : "#" + uri.getRawFragment()));
    }

    private String email(ScalarNode node) {
        String text = node.text();
        int at = text.indexOf('@');
        boolean ok = at > 0 && at == text.lastIndexOf('@') && at < text.length() - 1;
        for (int i = 0; ok && i < text.length(); i++) {
            char c = text.charAt(i);
            ok = c > ' ' && c != ',' && c != '<' && c != '>' && c < 0x7f;
        }
        if (ok) {
            ok = DnsNames.check(text.substring(at + 1), false, new StringBuilder()) != null;
        }
        if (!ok) {
            report(
                    node.position(),
                    "certificates.acme.email: " + quote(text)
                            + " (expected: an e-mail address such as ops@example.com)");
            return null;
        }
        return text;
    }

    private List<Acme.ChallengeType> challenges(MapNode acme) {
        String path = "certificates.acme.challenges";
        String expected = "a list such as [tls-alpn-01, http-01]";
        Entry entry = acme.get("challenges");
        if (entry == null || isBlank(entry.value())) {
            return DEFAULT_CHALLENGES;
        }
        if (!(entry.value() instanceof ListNode list)) {
            reportShape(entry.value(), path, expected);
            return DEFAULT_CHALLENGES;
        }
        if (list.items().isEmpty()) {
            report(list.position(), path + ": empty (expected: " + expected + ")");
            return DEFAULT_CHALLENGES;
        }
        List<Acme.ChallengeType> challenges = new ArrayList<>();
        for (int i = 0; i < list.items().size(); i++) {
            Node item = list.items().get(i);
            String itemPath = path + "[" + i + "]";
            if (!(item instanceof ScalarNode scalar) || scalar.blank()) {
                reportShape(item, itemPath, "tls-alpn-01 or http-01");
                continue;
            }
            if (scalar.alias()) {
                continue;
            }
            Acme.ChallengeType type = null;
            for (Acme.ChallengeType candidate : Acme.ChallengeType.values()) {
                if (candidate.wireName().equals(scalar.text())) {
                    type = candidate;
                }
            }
            if (type == null) {
                report(
                        scalar.position(),
                        itemPath + ": " + quote(scalar.text()) + " (expected: tls-alpn-01 or http-01)");
            } else if (challenges.contains(type)) {
                report(scalar.position(), itemPath + ": " + quote(scalar.text()) + " is listed twice");
            } else {
                challenges.add(type);
            }
        }
        return challenges.isEmpty() ? DEFAULT_CHALLENGES : challenges;
    }

    private Path path(ScalarNode node, String path) {
        try {
            return baseDir.resolve(node.text()).normalize();
        } catch (InvalidPathException e) {
            report(node.position(), path + ": " + quote(node.text()) + " is not a valid path: " + e.getReason());
            return baseDir;
        }
    }

    /** One of an enum's constants, written in lower case in the file (the enums are named to match). */
    private <E extends Enum<E>> E choice(MapNode map, String key, String path, E fallback, Class<E> type) {
        E[] constants = type.getEnumConstants();
        List<String> names = new ArrayList<>(constants.length);
        for (E constant : constants) {
            names.add(constant.name().toLowerCase(Locale.ROOT));
        }
        String expected = orList(names);
        ScalarNode node = scalar(map, key, path, expected);
        if (node == null) {
            return fallback;
        }
        int index = names.indexOf(node.text());
        if (index < 0) {
            report(node.position(), path + ": " + quote(node.text()) + " (expected: " + expected + ")");
            return fallback;
        }
        return constants[index];
    }

    /** A duration above zero under {@code key}; {@code parentPath} names the map. */
    private Duration positiveDuration(MapNode map, String key, String parentPath, Duration fallback) {
        String path = parentPath + "." + key;
        ScalarNode node = scalar(map, key, path, DURATION_EXPECTED);
        if (node == null) {
            return fallback;
        }
        Duration parsed = duration(node.text());
        if (parsed == null) {
            report(node.position(), path + ": " + quote(node.text()) + " (expected: " + DURATION_EXPECTED + ")");
            return fallback;
        }
        if (parsed.isZero()) {
            report(node.position(), path + ": " + quote(node.text()) + " (expected: more than 0)");
            return fallback;
        }
        return parsed;
    }

    /** A whole number from 1 to {@link #MAX_COUNT} under {@code key}; {@code parentPath} names the map. */
    private int positiveInt(MapNode map, String key, String parentPath, int fallback) {
        String path = parentPath + "." + key;
        String expected = "a whole number from 1 to " + MAX_COUNT;
        ScalarNode node = scalar(map, key, path, expected);
        if (node == null) {
            return fallback;
        }
        String text = node.text();
        if (!allDigits(text) || text.length() > 7 || Integer.parseInt(text) < 1 || Integer.parseInt(text) > MAX_COUNT) {
            report(node.position(), path + ": " + quote(text) + " (expected: " + expected + ")");
            return fallback;
        }
        return Integer.parseInt(text);
    }

    private boolean bool(MapNode map, String key, String path, boolean fallback) {
        ScalarNode node = scalar(map, key, path, "true or false");
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
                report(node.position(), path + ": " + quote(node.text()) + " (expected: true or false)");
                return fallback;
        }
    }

    /** {@code 500ms}, {@code 30s}, {@code 10m}, {@code 12h}, {@code 30d}; {@code null} if it is not one. */
    static Duration duration(String text) {
        int digits = 0;
        while (digits < text.length() && text.charAt(digits) >= '0' && text.charAt(digits) <= '9') {
            digits++;
        }
        if (digits == 0 || digits > 9) {
            return null;
        }
        long amount = Long.parseLong(text, 0, digits, 10);
        switch (text.substring(digits)) {
            case "ms":
                return Duration.ofMillis(amount);
            case "s":
                return Duration.ofSeconds(amount);
            case "m":
                return Duration.ofMinutes(amount);
            case "h":
                return Duration.ofHours(amount);
            case "d":
                return Duration.ofDays(amount);
            default:
                return null;
        }
    }

    /** The port number, or -1 if {@code text} is not 0-65535 in plain digits. */
    private static int port(String text) {
        if (text.length() > 5 || !allDigits(text)) {
            return -1;
        }
        int port = Integer.parseInt(text);
        return port <= 65535 ? port : -1;
    }

    private static String listenHostProblem(String host) {
        if (allDigitsAndDots(host)) {
            return ipv4Literal(host) ? null : "is not an IPv4 address";
        }
        StringBuilder problem = new StringBuilder();
        return DnsNames.check(host, false, problem) == null ? problem.toString() : null;
    }

    private static boolean ipv4Literal(String host) {
        String[] parts = host.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String part : parts) {
            if (part.isEmpty() || part.length() > 3 || Integer.parseInt(part) > 255) {
                return false;
            }
        }
        return true;
    }

    private static boolean ipv6Literal(String host) {
        if (host.indexOf(':') < 0) {
            return false;
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            boolean hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!hex && c != ':' && c != '.') {
                return false;
            }
        }
        try {
            // a literal with a colon is parsed, never looked up
            return InetAddress.getByName(host) != null;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static boolean loopback(String host) {
        return host.equals("127.0.0.1") || host.equals("localhost") || host.equals("[::1]");
    }

    private static boolean validPlatformName(String name) {
        if (name.isEmpty() || name.length() > 64) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.'))) {
                return false;
            }
        }
        return true;
    }

    private static boolean allDigits(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) < '0' || text.charAt(i) > '9') {
                return false;
            }
        }
        return !text.isEmpty();
    }

    private static boolean allDigitsAndDots(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if ((c < '0' || c > '9') && c != '.') {
                return false;
            }
        }
        return true;
    }

    // ---- tree access

    private MapNode section(MapNode parent, String key) {
        return section(parent, key, key);
    }

    /** A map under {@code key}; absent or empty counts as an empty map, anything else is reported. */
    private MapNode section(MapNode parent, String key, String path) {
        Entry entry = parent.get(key);
        if (entry == null || isBlank(entry.value())) {
            return new MapNode(entry == null ? parent.position() : entry.keyPosition());
        }
        if (entry.value() instanceof MapNode map) {
            return map;
        }
        reportShape(entry.value(), path, "a map of settings");
        return new MapNode(entry.keyPosition());
    }

    /**
     * The scalar under {@code key}, or {@code null} when it is absent or empty (use the default), an alias (already
     * reported) or a map or list (reported here).
     */
    private ScalarNode scalar(MapNode map, String key, String path, String expected) {
        Entry entry = map.get(key);
        if (entry == null) {
            return null;
        }
        if (entry.value() instanceof ScalarNode scalar) {
            return scalar.alias() || scalar.blank() ? null : scalar;
        }
        reportShape(entry.value(), path, expected);
        return null;
    }

    /** Like {@link #scalar}, but an absent or empty value is reported as missing. */
    private ScalarNode required(MapNode map, String key, String parentPath, String expected) {
        Entry entry = map.get(key);
        if (entry == null) {
            report(map.position(), parentPath + ": missing key '" + key + "' (expected: " + expected + ")");
            return null;
        }
        if (isBlank(entry.value())) {
            report(entry.keyPosition(), parentPath + "." + key + ": empty (expected: " + expected + ")");
            return null;
        }
        return scalar(map, key, parentPath + "." + key, expected);
    }

    private void checkKeys(MapNode map, String path, List<String> allowed) {
        for (Entry entry : map.entries()) {
            if (!allowed.contains(entry.key())) {
                report(
                        entry.keyPosition(),
                        "unknown key " + quote(entry.key())
                                + (path.isEmpty() ? "" : " under " + quote(path))
                                + " (expected: " + String.join(", ", allowed) + ")");
            }
        }
    }

    /** Whether {@code key} is there with something other than an empty value. */
    private static boolean given(MapNode map, String key) {
        Entry entry = map.get(key);
        return entry != null && !isBlank(entry.value());
    }

    private static boolean isBlank(Node node) {
        return node instanceof ScalarNode scalar && scalar.blank();
    }

    private void reportShape(Node node, String path, String expected) {
        if (node instanceof ScalarNode scalar && scalar.alias()) {
            return;
        }
        report(node.position(), path + ": " + describe(node) + " (expected: " + expected + ")");
    }

    private static String describe(Node node) {
        if (node instanceof MapNode) {
            return "a map";
        }
        if (node instanceof ListNode) {
            return "a list";
        }
        ScalarNode scalar = (ScalarNode) node;
        return scalar.blank() ? "an empty value" : quote(scalar.text());
    }

    private void report(Position at, String message) {
        problems.add(new ConfigProblem(file, at.line(), at.column(), message));
    }

    private static String quote(String text) {
        return "'" + text + "'";
    }

    private static String orList(Collection<String> values) {
        List<String> list = new ArrayList<>(values);
        if (list.size() == 1) {
            return list.get(0);
        }
        return String.join(", ", list.subList(0, list.size() - 1)) + " or " + list.get(list.size() - 1);
    }

    private static String listForMessage(Set<String> names) {
        TreeSet<String> sorted = new TreeSet<>(names);
        List<String> shown = new ArrayList<>();
        for (String name : sorted) {
            if (shown.size() == 10) {
                shown.add("…");
                break;
            }
            shown.add(name);
        }
        return String.join(", ", shown);
    }
}
