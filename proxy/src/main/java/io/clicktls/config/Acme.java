package io.clicktls.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * ACME settings; only used with {@code issuer: acme}.
 *
 * @param email may be {@code null}
 * @param trustedCa extra CA (PEM) trusted for the ACME server's own HTTPS, or {@code null}
 * @param challenges in the order they are tried; never empty
 * @param eab the external account binding a CA such as ZeroSSL or Google Trust Services asks for, or {@code null}
 * @param profile the ACME profile (draft-ietf-acme-profiles) asked for in every order, e.g. {@code shortlived}, or
 *     {@code null} for the CA's default; checked against the directory's {@code meta.profiles} at start
 */
public record Acme(
        URI directory,
        String email,
        Path trustedCa,
        List<ChallengeType> challenges,
        ExternalAccountBinding eab,
        String profile) {

    /** Let's Encrypt's production directory. */
    public static final URI DEFAULT_DIRECTORY = URI.create("https://acme-v02.api.letsencrypt.org/directory");

    public static final List<ChallengeType> DEFAULT_CHALLENGES =
            List.of(ChallengeType.TLS_ALPN_01, ChallengeType.HTTP_01);

    public Acme {
        challenges = List.copyOf(challenges);
    }

    /** Without an ACME profile: the CA's default. */
    public Acme(
            URI directory, String email, Path trustedCa, List<ChallengeType> challenges, ExternalAccountBinding eab) {
        this(directory, email, trustedCa, challenges, eab, null);
    }

    /** Without external account binding (Let's Encrypt, Pebble by default). */
    public Acme(URI directory, String email, Path trustedCa, List<ChallengeType> challenges) {
        this(directory, email, trustedCa, challenges, null, null);
    }

    /** The same settings asking for another ACME profile ({@code null}: the CA's default). */
    public Acme withProfile(String newProfile) {
        return new Acme(directory, email, trustedCa, challenges, eab, newProfile);
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

    /**
     * External account binding (RFC 8555, section 7.3.4): the key identifier and HMAC key a CA hands out to tie a
     * new ACME account to an account with the CA. Only used when the account is registered.
     *
     * @param keyId the key identifier ({@code kid}) as the CA gives it
     * @param hmacKey the HMAC key, base64url as the CA gives it (checked to decode to at least 256 bits). A secret:
     *     {@link #toString()} leaves it out, so that no log line or error message can show it
     */
    public record ExternalAccountBinding(String keyId, String hmacKey) {

        public ExternalAccountBinding {
            Objects.requireNonNull(keyId, "keyId");
            Objects.requireNonNull(hmacKey, "hmacKey");
        }

        @Override
        public String toString() {
            return "ExternalAccountBinding[keyId=" + keyId + ", hmacKey=(secret)]";
        }
    }
}
