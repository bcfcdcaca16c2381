package io.clicktls.platform;

import io.clicktls.config.Platform;
import java.net.URI;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The email platforms clicktls knows by name, so that a config can say {@code { preset: sendgrid }} instead of an
 * upstream URL. Upstreams and tracked paths are from the platforms' public docs (see docs/architecture.md, "Email platforms"); every platform
 * expects the branded domain as Host, so every preset preserves it.
 */
public final class PlatformPresets {

    /** AWS region names: {@code us-east-1}, {@code eu-central-1}, {@code us-gov-west-1}, {@code ap-southeast-4}. */
    private static final Pattern AWS_REGION = Pattern.compile("[a-z]{2}(-[a-z]+){1,2}-[0-9]{1,2}");

    /**
     * A known platform.
     *
     * @param name what {@code preset:} says, e.g. {@code sendgrid-eu}
     * @param upstream the upstream URL; for a regional preset it contains {@code {region}}
     * @param regional whether the preset needs a {@code region:} (Amazon SES)
     * @param hostHeader the Host the platform expects
     * @param trackedPaths path prefixes the platform is known to use for clicks and opens, for diagnostics; may be
     *     empty or incomplete, never used to refuse a request
     */
    public record Preset(
            String name, String upstream, boolean regional, Platform.HostHeader hostHeader, List<String> trackedPaths) {

        public Preset {
            trackedPaths = List.copyOf(trackedPaths);
        }

        /**
         * The upstream for this preset.
         *
         * @param region required for a regional preset, ignored otherwise; must satisfy {@link #validRegion}
         */
        public URI upstreamFor(String region) {
            if (!regional) {
                return URI.create(upstream);
            }
            if (region == null || !validRegion(region)) {
                throw new IllegalArgumentException(
                        "preset " + name + ": region " + region + " (expected: an AWS region such as us-east-1)");
            }
            return URI.create(upstream.replace("{region}", region));
        }
    }

    private static final Map<String, Preset> PRESETS = presets();

    private PlatformPresets() {}

    public static Optional<Preset> find(String name) {
        return Optional.ofNullable(PRESETS.get(name));
    }

    /** Every preset name, in a stable order (for error messages and docs). */
    public static Set<String> names() {
        return PRESETS.keySet();
    }

    /** Whether {@code region} is written like an AWS region; it is not checked against AWS's current list. */
    public static boolean validRegion(String region) {
        return region != null
                && region.length() <= 32
                && AWS_REGION.matcher(region).matches();
    }

    private static Map<String, Preset> presets() {
        Map<String, Preset> presets = new LinkedHashMap<>();
        List<String> sendgrid = List.of("/ls/click", "/wf/click", "/uni/", "/ss/", "/wf/open");
        add(presets, "sendgrid", "https://sendgrid.net", sendgrid);
        add(presets, "sendgrid-eu", "https://eu.sendgrid.net", sendgrid);
        // mailgun.org answers tracking requests over plain http only
        List<String> mailgun = List.of("/c/", "/o/");
        add(presets, "mailgun", "http://mailgun.org", mailgun);
        add(presets, "mailgun-eu", "http://eu.mailgun.org", mailgun);
        List<String> sparkpost = List.of("/f/", "/q/", "/e/");
        add(presets, "sparkpost", "https://spgo.io", sparkpost);
        add(presets, "sparkpost-eu", "https://eu.spgo.io", sparkpost);
        presets.put(
                "amazon-ses",
                new Preset(
                        "amazon-ses",
                        "https://r.{region}.awstrack.me",
                        true,
                        Platform.HostHeader.PRESERVE,
                        List.of("/CL0/", "/CL1/", "/I0/")));
        // only the open path is known for Customer.io and none for Iterable (docs/architecture.md); not guessed here
        List<String> customerio = List.of("/e/o/");
        add(presets, "customerio", "https://track.customer.io", customerio);
        add(presets, "customerio-eu", "https://track-eu.customer.io", customerio);
        List<String> iterable = List.of();
        add(presets, "iterable", "https://links.iterable.com", iterable);
        add(presets, "iterable-eu", "https://links.eu.iterable.com", iterable);
        return Collections.unmodifiableMap(presets);
    }

    private static void add(Map<String, Preset> presets, String name, String upstream, List<String> paths) {
        presets.put(name, new Preset(name, upstream, false, Platform.HostHeader.PRESERVE, paths));
    }
}
