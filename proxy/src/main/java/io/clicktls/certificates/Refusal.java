package io.clicktls.certificates;

/**
 * Why a name gets no certificate now: one value per reason, each with the label it is counted under in
 * {@code clicktls_on_demand_denied_total{reason}} (a contract: dashboards and alerts use these labels), the TLS alert
 * a handshake waiting for the certificate is refused with, and whether the refusal says something lasting about the
 * name or only "not now".
 */
public enum Refusal {
    /** Not a host name a public CA could issue for (IP literal, empty, too long, bad label, public suffix). */
    INVALID_NAME("invalid_name", Alert.UNRECOGNIZED_NAME, true),
    /** No {@code domains} entry matches the name and there is no {@code ask} endpoint. */
    NOT_CONFIGURED("not_configured", Alert.UNRECOGNIZED_NAME, true),
    /** The {@code ask} endpoint could allow the name, but no {@code on_demand.platform} says where it would go. */
    NO_PLATFORM("no_platform", Alert.UNRECOGNIZED_NAME, true),
    /** The {@code ask} endpoint said no. */
    ASK_DENIED("ask_denied", Alert.UNRECOGNIZED_NAME, true),
    /** The {@code ask} endpoint failed or timed out, and the name had no allow in the cache. */
    ASK_UNAVAILABLE("ask_unavailable", Alert.UNRECOGNIZED_NAME, false),
    /** Too many questions to the {@code ask} endpoint in flight. */
    ASK_BUSY("ask_busy", Alert.UNRECOGNIZED_NAME, false),
    /** The name resolves somewhere other than this proxy. */
    DNS_ELSEWHERE("dns_elsewhere", Alert.UNRECOGNIZED_NAME, true),
    /** The name does not resolve (NXDOMAIN, no addresses, a CNAME loop). */
    DNS_NOT_FOUND("dns_not_found", Alert.UNRECOGNIZED_NAME, true),
    /** DNS could not be asked (timeout, SERVFAIL, too many checks at once). */
    DNS_UNAVAILABLE("dns_unavailable", Alert.UNRECOGNIZED_NAME, false),
    /** A CAA record forbids the configured CA. */
    CAA_FORBIDS("caa_forbids", Alert.UNRECOGNIZED_NAME, true),
    /** An issuance rate limit holds the name back; {@link IssuancePolicy#hold} says until when. */
    RATE_LIMITED("rate_limited", Alert.UNRECOGNIZED_NAME, false),
    /**
     * The client that first asked for this new name has used its share of the registered domain's new names
     * ({@link IssuanceLimits#NEW_NAMES_PER_CLIENT}); other clients, and renewals, are not held back by it.
     */
    CLIENT_BUDGET("client_budget", Alert.UNRECOGNIZED_NAME, false),
    /** Too many lookups already wait on issuance, from the client or in all ({@link PendingHandshakes}). */
    TOO_MANY_PENDING("too_many_pending", Alert.INTERNAL_ERROR, false),
    /** The name's last issuance failed and the backoff does not allow another attempt yet; the CA is not asked. */
    BACKOFF("backoff", Alert.INTERNAL_ERROR, false),
    /**
     * The storage shared by the nodes (PostgreSQL) cannot be reached: a new certificate could be neither coordinated
     * with the other nodes nor kept, so it waits until the storage is back; stored names are still served.
     */
    STORAGE_UNAVAILABLE("storage_unavailable", Alert.INTERNAL_ERROR, false);

    /** The TLS alerts a refused handshake ends with (RFC 8446 section 6), sent in plaintext before any key exists. */
    public enum Alert {
        DECODE_ERROR(50),
        INTERNAL_ERROR(80),
        UNRECOGNIZED_NAME(112);

        private final byte code;

        Alert(int code) {
            this.code = (byte) code;
        }

        /** The AlertDescription byte. */
        public byte code() {
            return code;
        }
    }

    private final String label;
    private final Alert alert;
    private final boolean isFinal;

    Refusal(String label, Alert alert, boolean isFinal) {
        this.label = label;
        this.alert = alert;
        this.isFinal = isFinal;
    }

    /** The {@code reason} label of {@code clicktls_on_demand_denied_total}. */
    public String label() {
        return label;
    }

    /**
     * The alert for a handshake refused for this reason: {@code unrecognized_name} when the name is not served,
     * {@code internal_error} when it might be served later (busy, backing off).
     */
    public Alert alert() {
        return alert;
    }

    /**
     * Whether the refusal says something lasting about the name (not configured, denied, DNS elsewhere), as opposed
     * to "could not find out now" or "not now".
     */
    public boolean isFinal() {
        return isFinal;
    }

    @Override
    public String toString() {
        return label;
    }
}
