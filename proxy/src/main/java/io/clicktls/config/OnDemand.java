package io.clicktls.config;

import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * On-demand issuance during the TLS handshake, and who may ask for it.
 *
 * @param ask endpoint asked about names outside {@code domains} ({@code GET ask?domain=NAME}, 2xx allows), or
 *     {@code null}
 * @param handshakeWait how long a handshake waits for a certificate being issued before it fails
 * @param askTimeout how long one question to {@code ask} may take, connection included
 * @param askCache how long the endpoint's answers are remembered
 * @param platform the platform for names the {@code ask} endpoint allows that match no {@code domains} entry, or
 *     {@code null} (then such names get no certificate: there would be nowhere to send their requests)
 * @param expectDns names and IP addresses this proxy is reached at: a name must lead to one of them (CNAME chain, or
 *     A/AAAA records equal to one of the addresses or to those of one of the names) before it is issued for; empty
 *     turns the DNS check off. Names lower-case ASCII, addresses as written.
 * @param dnsServer the DNS server for that check, or {@code null} for the system's resolvers
 * @param pendingHandshakes how many handshakes may wait on issuance or {@code ask} at once
 * @param prefetch whether exact names listed in {@code domains} (and {@code domains_file}) without a certificate are
 *     issued in the background at start and when a reload adds them, rather than on their first handshake
 */
public record OnDemand(
        URI ask,
        Duration handshakeWait,
        Duration askTimeout,
        AskCache askCache,
        String platform,
        List<String> expectDns,
        Endpoint dnsServer,
        PendingHandshakes pendingHandshakes,
        boolean prefetch) {

    public static final Duration DEFAULT_HANDSHAKE_WAIT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_ASK_TIMEOUT = Duration.ofSeconds(2);
    public static final AskCache DEFAULT_ASK_CACHE = new AskCache(Duration.ofHours(1), Duration.ofMinutes(5));
    public static final PendingHandshakes DEFAULT_PENDING = new PendingHandshakes(16, 512);
    public static final boolean DEFAULT_PREFETCH = true;

    public OnDemand {
        expectDns = List.copyOf(expectDns);
    }

    /** The defaults for everything but {@code ask} and {@code handshake_wait}. */
    public OnDemand(URI ask, Duration handshakeWait) {
        this(
                ask,
                handshakeWait,
                DEFAULT_ASK_TIMEOUT,
                DEFAULT_ASK_CACHE,
                null,
                List.of(),
                null,
                DEFAULT_PENDING,
                DEFAULT_PREFETCH);
    }

    /** Whether names are DNS-checked before issuance: whenever {@link #expectDns} lists something. */
    public boolean dnsCheck() {
        return !expectDns.isEmpty();
    }

    /** How long each kind of {@code ask} answer is trusted. */
    public record AskCache(Duration allow, Duration deny) {}

    /**
     * Bounds on handshakes waiting for a certificate not in memory yet (issuance, storage, {@code ask}).
     *
     * @param perClient per client IP address
     * @param total for the whole node
     */
    public record PendingHandshakes(int perClient, int total) {}
}
