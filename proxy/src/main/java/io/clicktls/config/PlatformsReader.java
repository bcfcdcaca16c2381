package io.clicktls.config;

import static io.clicktls.config.Binding.quote;

import io.clicktls.config.YamlTree.Entry;
import io.clicktls.config.YamlTree.MapNode;
import io.clicktls.config.YamlTree.Node;
import io.clicktls.config.YamlTree.ScalarNode;
import io.clicktls.platform.PlatformPresets;
import java.net.URI;
import java.util.List;
import java.util.Map;

/** {@code platforms:} the email platforms, each a preset or an upstream URL. */
final class PlatformsReader {

    private static final List<String> KEYS =
            List.of("preset", "region", "upstream", "host_header", "upgrade", "well_known");
    private static final String PLATFORMS_EXPECTED =
            "a map from platform names to { preset: NAME } or { upstream: URL }";
    private static final String PLATFORM_EXPECTED = "{ preset: NAME } or { upstream: URL }";
    static final String UPSTREAM_EXPECTED =
            "an http:// or https:// URL with a host and no path, such as https://sendgrid.net";

    private PlatformsReader() {}

    /**
     * Puts every valid platform in {@code platforms} and every name declared, valid or not, in {@code declared} (so
     * that domains naming a broken platform are not reported a second time as naming an unknown one).
     *
     * @param upgrade the top-level {@code upgrade:} settings, which a platform's {@code upgrade} keys are laid over
     */
    static void read(Section root, Upgrade upgrade, Map<String, Platform> platforms, List<String> declared) {
        Binding binding = root.binding();
        Entry entry = root.entry("platforms");
        if (entry == null) {
            binding.expected(root.map().position(), "missing key 'platforms'", PLATFORMS_EXPECTED);
            return;
        }
        Node node = entry.value();
        if (Section.isBlank(node)) {
            return;
        }
        if (!(node instanceof MapNode map)) {
            binding.badShape(node, "platforms", PLATFORMS_EXPECTED);
            return;
        }
        for (Entry platformEntry : map.entries()) {
            String name = platformEntry.key();
            declared.add(name);
            String path = "platforms." + name;
            if (!validPlatformName(name)) {
                binding.expected(
                        platformEntry.keyPosition(),
                        "platforms: name " + quote(name),
                        "up to 64 letters, digits, '-', '_' or '.', starting with a letter or digit");
            }
            if (!(platformEntry.value() instanceof MapNode platformMap)) {
                binding.badShape(platformEntry.value(), path, PLATFORM_EXPECTED);
                continue;
            }
            Section section = root.at(platformMap, path);
            DomainOptions options = DomainOptionsReader.read(section, upgrade, DomainOptions.NONE, false);
            Platform platform = platform(name, section, options);
            if (platform != null) {
                platforms.put(name, platform);
            }
        }
    }

    private static Platform platform(String name, Section platform, DomainOptions options) {
        platform.allowOnly(KEYS);
        Binding binding = platform.binding();
        String path = platform.path();
        ScalarNode preset = platform.scalar("preset", "a preset name");
        ScalarNode region = platform.scalar("region", "an AWS region such as us-east-1");
        ScalarNode upstream = platform.scalar("upstream", UPSTREAM_EXPECTED);
        Platform.HostHeader hostHeader = platform.choice("host_header", null, Platform.HostHeader.class);
        boolean presetGiven = platform.given("preset");
        boolean upstreamGiven = platform.given("upstream");
        if (presetGiven && upstreamGiven) {
            binding.expected(
                    platform.entry("upstream").keyPosition(),
                    path + ": both 'preset' and 'upstream' given",
                    "one of them");
            return null;
        }
        if (!presetGiven && !upstreamGiven) {
            binding.expected(
                    platform.map().position(), path + ": neither 'preset' nor 'upstream' given", PLATFORM_EXPECTED);
            return null;
        }
        if (preset == null && upstream == null) {
            return null; // given, but not as a plain value: reported already
        }
        if (upstream != null) {
            if (region != null) {
                binding.report(region.position(), path + ".region: only a preset takes a region");
            }
            URI uri = upstreamUrl(platform, upstream);
            return uri == null
                    ? null
                    : new Platform(name, uri, hostHeader == null ? Platform.HostHeader.PRESERVE : hostHeader, options);
        }
        PlatformPresets.Preset known = PlatformPresets.find(preset.text()).orElse(null);
        if (known == null) {
            binding.badValue(preset, path + ".preset", "one of " + String.join(", ", PlatformPresets.names()));
            return null;
        }
        URI uri;
        if (known.regional()) {
            if (region == null) {
                if (!platform.given("region")) {
                    binding.expected(
                            platform.map().position(),
                            path + ": preset '" + known.name() + "' needs a region",
                            "region: us-east-1 or another AWS region");
                }
                return null;
            }
            if (!PlatformPresets.validRegion(region.text())) {
                binding.badValue(region, path + ".region", "an AWS region such as us-east-1");
                return null;
            }
            uri = known.upstreamFor(region.text());
        } else {
            if (region != null) {
                binding.report(region.position(), path + ".region: preset '" + known.name() + "' takes no region");
                return null;
            }
            uri = known.upstreamFor(null);
        }
        return new Platform(name, uri, hostHeader == null ? known.hostHeader() : hostHeader, options);
    }

    private static URI upstreamUrl(Section platform, ScalarNode node) {
        String path = platform.pathOf("upstream");
        URI uri = platform.httpUrl(node, path, UPSTREAM_EXPECTED);
        if (uri == null) {
            return null;
        }
        boolean pathless = uri.getRawPath() == null
                || uri.getRawPath().isEmpty()
                || uri.getRawPath().equals("/");
        if (!pathless || uri.getRawQuery() != null || uri.getRawFragment() != null) {
            platform.binding()
                    .expected(
                            node.position(),
                            path + ": " + quote(node.text()) + " has a path or query",
                            UPSTREAM_EXPECTED);
            return null;
        }
        return URI.create(uri.getScheme() + "://" + uri.getHost() + (uri.getPort() >= 0 ? ":" + uri.getPort() : ""));
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
}
