package io.clicktls.admin;

import java.time.Instant;

/**
 * The last failed attempt to issue or renew a name's certificate, for the status page and {@code doctor}.
 *
 * @param message what went wrong, in the CA's own words where the CA said something
 * @param at when the attempt failed
 * @param failures attempts failed in a row
 * @param retryAt when the CA said trying again makes sense, or {@code null}
 */
public record IssuanceFailure(String message, Instant at, int failures, Instant retryAt) {}
