package io.clicktls.config;

import java.net.URI;
import java.time.Duration;

/**
 * On-demand issuance during the TLS handshake.
 *
 * @param ask endpoint asked about names outside {@code domains} ({@code GET ask?domain=NAME}, 2xx allows), or
 *     {@code null}
 * @param handshakeWait how long a handshake waits for a certificate being issued before it fails
 */
public record OnDemand(URI ask, Duration handshakeWait) {}
