package io.clicktls.admin;

import java.time.Instant;
import java.util.List;

/**
 * Issuance for a name held back: by a rate limit (the CA's or ours), or, for a listed name issued ahead of its first
 * click, until its DNS leads to this proxy.
 *
 * @param reason e.g. {@code too many certificates for shop.com this week (the CA's limit)}, or for DNS what the name
 *     resolves to, e.g. {@code waiting for DNS: links.shop.com resolves to 203.0.113.9, ...}
 * @param until when issuance may be tried again, or {@code null} when unknown
 * @param kind what it waits for
 * @param expected for {@link Kind#DNS}: the names or addresses the name should lead to ({@code on_demand.expect_dns});
 *     empty otherwise or when none is configured
 */
public record Hold(String reason, Instant until, Kind kind, List<String> expected) {

    /** What a held name waits for; shown as its state ({@code held} or {@code waiting_for_dns}). */
    public enum Kind {
        RATE_LIMIT,
        DNS
    }

    public Hold {
        expected = List.copyOf(expected);
    }

    /** A rate limit. */
    public Hold(String reason, Instant until) {
        this(reason, until, Kind.RATE_LIMIT, List.of());
    }

    /** A listed name whose DNS does not lead here yet, tried again at {@code until}. */
    public static Hold waitingForDns(String reason, Instant until, List<String> expected) {
        return new Hold(reason, until, Kind.DNS, expected);
    }
}
