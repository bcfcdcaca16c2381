package io.clicktls.tls;

import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.OpenSslSessionTicketKey;
import io.netty.handler.ssl.SslContext;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The keys that encrypt TLS session tickets (TLS 1.3 resumption, and TLS 1.2 tickets), for BoringSSL contexts.
 *
 * <p>Keys are derived, not stored: the key of a rotation period is an HMAC of one secret over the period's number
 * and the certificate's name. So keys rotate by the clock alone (every {@link #DEFAULT_ROTATION} by default), a
 * context accepts tickets of the current and the previous period, nodes given the same secret issue and accept each
 * other's tickets without talking to each other, and a ticket made for one certificate name never resumes a
 * connection for another. A running node takes the secret from storage ({@code storage.SessionTicketSecret}), so
 * every node sharing the storage shares tickets and a restart keeps them; the secret can be replaced there
 * ({@link #useSecret}). Without one it is random per process: tickets then survive neither a restart nor a move to
 * another node, which costs one full handshake.
 *
 * <p>Thread-safe.
 */
public final class SessionTicketKeys {

    /** How long one key issues tickets; it is accepted for one more period after that. */
    public static final Duration DEFAULT_ROTATION = Duration.ofHours(12);

    private static final String MAC = "HmacSHA256";
    private static final byte[] LABEL = "clicktls session ticket key v1".getBytes(StandardCharsets.US_ASCII);

    private volatile SecretKeySpec secret;
    private final long periodMillis;
    private final Clock clock;
    /** The period whose keys the contexts were last given; see {@link #rotationDue()}. */
    private final AtomicLong keyedPeriod;

    /**
     * @param secret at least 32 bytes; nodes that share it share tickets
     * @param rotation how long one key issues tickets, at least a minute
     */
    public SessionTicketKeys(byte[] secret, Duration rotation, Clock clock) {
        if (secret.length < 32) {
            throw new IllegalArgumentException("ticket key secret: " + secret.length + " bytes (expected: >= 32)");
        }
        if (rotation.compareTo(Duration.ofMinutes(1)) < 0) {
            throw new IllegalArgumentException("ticket key rotation: " + rotation + " (expected: >= 1 minute)");
        }
        this.secret = new SecretKeySpec(secret.clone(), MAC);
        this.periodMillis = rotation.toMillis();
        this.clock = clock;
        this.keyedPeriod = new AtomicLong(period());
    }

    /**
     * Derives keys from {@code secret} from now on, when it differs from the one in use (another node replaced the
     * stored secret): the next {@link #rotationDue} answers {@code true}, so every live context gets the new keys.
     * Tickets made with the old secret then no longer resume (one full handshake each).
     *
     * @return whether the secret changed
     */
    public boolean useSecret(byte[] next) {
        if (next.length < 32) {
            throw new IllegalArgumentException("ticket key secret: " + next.length + " bytes (expected: >= 32)");
        }
        SecretKeySpec replacement = new SecretKeySpec(next.clone(), MAC);
        synchronized (this) {
            if (java.security.MessageDigest.isEqual(secret.getEncoded(), replacement.getEncoded())) {
                return false;
            }
            secret = replacement;
        }
        keyedPeriod.set(Long.MIN_VALUE); // no period has this number: the next check rotates
        return true;
    }

    /** A random secret, for one process; rotates every {@link #DEFAULT_ROTATION}. */
    public static SessionTicketKeys random() {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        return new SessionTicketKeys(secret, DEFAULT_ROTATION, Clock.systemUTC());
    }

    /**
     * Gives a BoringSSL context the keys for {@code name}: the current period's key issues tickets, the previous
     * period's is still accepted. Does nothing to JDK contexts, which keep their own keys. The context must be live
     * (not yet freed) for the whole call.
     */
    public void apply(SslContext context, String name) {
        if (context.sessionContext() instanceof OpenSslSessionContext sessions) {
            long period = period();
            sessions.setTicketKeys(key(name, period), key(name, period - 1));
        }
    }

    /**
     * Whether a new period has begun since the last call that answered {@code true} (or since construction): the
     * one caller that sees {@code true} gives every live context its new keys. Cheap: a clock read and an atomic
     * read.
     */
    public boolean rotationDue() {
        long now = period();
        long keyed = keyedPeriod.get();
        return now != keyed && keyedPeriod.compareAndSet(keyed, now);
    }

    long period() {
        return Math.floorDiv(clock.millis(), periodMillis);
    }

    OpenSslSessionTicketKey key(String name, long period) {
        try {
            Mac mac = Mac.getInstance(MAC);
            mac.init(secret); // read once: a concurrent useSecret gives this key the old secret or the new, whole
            mac.update(LABEL);
            mac.update(ByteBuffer.allocate(Long.BYTES).putLong(period).array());
            mac.update(name.getBytes(StandardCharsets.UTF_8));
            byte[] first = mac.doFinal(new byte[] {1});
            // a second block: the name and the two keys need 48 bytes
            mac.update(LABEL);
            mac.update(first);
            byte[] second = mac.doFinal(new byte[] {2});
            byte[] material = Arrays.copyOf(first, first.length + second.length);
            System.arraycopy(second, 0, material, first.length, second.length);
            int n = OpenSslSessionTicketKey.NAME_SIZE;
            int h = OpenSslSessionTicketKey.HMAC_KEY_SIZE;
            int a = OpenSslSessionTicketKey.AES_KEY_SIZE;
            return new OpenSslSessionTicketKey(
                    Arrays.copyOfRange(material, 0, n),
                    Arrays.copyOfRange(material, n, n + h),
                    Arrays.copyOfRange(material, n + h, n + h + a));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }
}
