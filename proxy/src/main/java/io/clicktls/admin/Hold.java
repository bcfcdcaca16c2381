package io.clicktls.admin;

import java.time.Instant;

/**
 * Issuance for a name held back by a rate limit (the CA's or ours).
 *
 * @param reason e.g. {@code too many certificates for shop.com this week (the CA's limit)}
 * @param until when issuance may be tried again, or {@code null} when unknown
 */
public record Hold(String reason, Instant until) {}
