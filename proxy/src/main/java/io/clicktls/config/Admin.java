package io.clicktls.config;

/**
 * The admin listener's protection ({@code admin:} in the file; the address is {@code listen.admin}).
 *
 * @param token the bearer token required on every admin path except {@code /healthz}, or {@code null} for none
 *     (only allowed while {@code listen.admin} is a loopback address). Never logged: {@link #toString()} hides it.
 */
public record Admin(String token) {

    /** No token: the admin listener must stay on loopback. */
    public static final Admin NONE = new Admin(null);

    /** A shorter token could be guessed. */
    public static final int MIN_TOKEN_LENGTH = 16;

    public boolean protectedByToken() {
        return token != null;
    }

    @Override
    public String toString() {
        return "Admin[token=" + (token == null ? "none" : "(set)") + "]";
    }
}
