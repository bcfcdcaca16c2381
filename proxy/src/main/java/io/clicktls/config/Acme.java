package io.clicktls.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;

/**
 * ACME settings; only used with {@code issuer: acme}.
 *
 * @param email may be {@code null}
 * @param trustedCa extra CA (PEM) trusted for the ACME server's own HTTPS, or {@code null}
 * @param challenges in the order they are tried; never empty
 */
public record Acme(URI directory, String email, Path trustedCa, List<ChallengeType> challenges) {

    public Acme {
        challenges = List.copyOf(challenges);
    }

    public enum ChallengeType {
        TLS_ALPN_01("tls-alpn-01"),
        HTTP_01("http-01");

        private final String wireName;

        ChallengeType(String wireName) {
            this.wireName = wireName;
        }

        /** The name ACME and the config file use, e.g. {@code tls-alpn-01}. */
        public String wireName() {
            return wireName;
        }
    }
}
