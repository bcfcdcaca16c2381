package io.clicktls.config;

import static io.clicktls.config.Binding.quote;

import io.clicktls.config.YamlTree.Entry;
import io.clicktls.config.YamlTree.ListNode;
import io.clicktls.config.YamlTree.Node;
import io.clicktls.config.YamlTree.ScalarNode;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;

/**
 * {@code certificates.on_demand:} issuance during the handshake. Its {@code platform} can only be checked once the
 * platforms are read: {@link #checkPlatform}.
 */
final class OnDemandReader {

    private static final List<String> KEYS = List.of(
            "ask",
            "handshake_wait",
            "ask_timeout",
            "ask_cache",
            "platform",
            "expect_dns",
            "dns_server",
            "pending_handshakes",
            "prefetch");
    private static final List<String> ASK_CACHE_KEYS = List.of("allow", "deny");
    private static final List<String> PENDING_KEYS = List.of("per_client", "total");

    private final Section onDemand;
    /** {@code platform} as written; checked once the platforms are known. */
    private ScalarNode platform;

    OnDemandReader(Section onDemand) {
        this.onDemand = onDemand;
    }

    OnDemand read() {
        onDemand.allowOnly(KEYS);
        Binding binding = onDemand.binding();
        String path = onDemand.path();
        URI ask = null;
        ScalarNode askNode = onDemand.scalar("ask", "an http:// or https:// URL");
        if (askNode != null) {
            ask = askUrl(askNode);
        }
        Duration wait = onDemand.positiveDuration("handshake_wait", OnDemand.DEFAULT_HANDSHAKE_WAIT);
        Duration askTimeout = onDemand.positiveDuration("ask_timeout", OnDemand.DEFAULT_ASK_TIMEOUT);
        Section cache = onDemand.section("ask_cache");
        cache.allowOnly(ASK_CACHE_KEYS);
        OnDemand.AskCache askCache = new OnDemand.AskCache(
                cache.positiveDuration("allow", OnDemand.DEFAULT_ASK_CACHE.allow()),
                cache.positiveDuration("deny", OnDemand.DEFAULT_ASK_CACHE.deny()));
        platform = onDemand.scalar("platform", "a platform defined under 'platforms'");
        if (platform != null && ask == null && !onDemand.given("ask")) {
            binding.expected(
                    platform.position(),
                    path + ".platform: " + quote(platform.text()) + " is set but " + path + ".ask is not",
                    "an ask endpoint to say which names it takes");
        }
        List<String> expectDns = expectDns();
        Endpoint dnsServer = onDemand.dnsServer("dns_server");
        Section pending = onDemand.section("pending_handshakes");
        pending.allowOnly(PENDING_KEYS);
        int perClient = pending.positiveInt("per_client", OnDemand.DEFAULT_PENDING.perClient());
        int total = pending.positiveInt("total", OnDemand.DEFAULT_PENDING.total());
        if (perClient > total) {
            binding.expected(
                    pending.map().position(),
                    pending.path() + ": per_client " + perClient + " is more than total " + total,
                    "per_client <= total");
        }
        boolean prefetch = onDemand.bool("prefetch", OnDemand.DEFAULT_PREFETCH);
        return new OnDemand(
                ask,
                wait,
                askTimeout,
                askCache,
                platform == null ? null : platform.text(),
                expectDns,
                dnsServer,
                new OnDemand.PendingHandshakes(perClient, total),
                prefetch);
    }

    /** Reports an on-demand platform that is not one of {@code declared}. */
    void checkPlatform(OnDemand read, List<String> declared) {
        String name = read.platform();
        if (name != null && !declared.contains(name)) {
            onDemand.binding()
                    .expected(
                            platform.position(),
                            onDemand.pathOf("platform") + ": " + quote(name) + " is not defined under 'platforms'",
                            declared.isEmpty()
                                    ? "a platform defined there"
                                    : "one of " + Binding.listForMessage(new HashSet<>(declared)));
        }
    }

    private URI askUrl(ScalarNode node) {
        String path = onDemand.pathOf("ask");
        URI uri = onDemand.httpUrl(node, path, "an http:// or https:// URL such as http://127.0.0.1:3000/allow");
        if (uri != null && uri.getRawFragment() != null) {
            onDemand.binding()
                    .expected(node.position(), path + ": " + quote(node.text()) + " has a fragment", "a URL without #");
            return null;
        }
        return uri;
    }

    private List<String> expectDns() {
        Binding binding = onDemand.binding();
        String path = onDemand.pathOf("expect_dns");
        String expected = "a list of host names and IP addresses this proxy is reached at,"
                + " such as [proxy.example.net, 203.0.113.7]";
        Entry entry = onDemand.entry("expect_dns");
        if (entry == null || Section.isBlank(entry.value())) {
            return List.of();
        }
        if (!(entry.value() instanceof ListNode list)) {
            binding.badShape(entry.value(), path, expected);
            return List.of();
        }
        List<String> targets = new ArrayList<>();
        for (int i = 0; i < list.items().size(); i++) {
            Node item = list.items().get(i);
            String itemPath = path + "[" + i + "]";
            if (!(item instanceof ScalarNode scalar) || scalar.blank()) {
                binding.badShape(item, itemPath, "a host name or an IP address");
                continue;
            }
            if (scalar.alias()) {
                continue;
            }
            String text = scalar.text();
            String target;
            if (ValueSyntax.allDigitsAndDots(text)) {
                target = ValueSyntax.ipv4Literal(text) ? text : null;
            } else if (text.indexOf(':') >= 0) {
                target = ValueSyntax.ipv6Literal(text) ? text.toLowerCase(Locale.ROOT) : null;
            } else {
                target = HostNames.check(text, false, new StringBuilder());
            }
            if (target == null) {
                binding.badValue(scalar, itemPath, "a host name such as proxy.example.net, or an IP address");
            } else if (targets.contains(target)) {
                binding.report(scalar.position(), itemPath + ": " + quote(text) + " is listed twice");
            } else {
                targets.add(target);
            }
        }
        return targets;
    }
}
