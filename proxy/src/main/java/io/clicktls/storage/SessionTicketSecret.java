package io.clicktls.storage;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;

/**
 * The secret TLS session ticket keys are derived from, kept in {@link Storage} under
 * {@link StorageKeys#SESSION_TICKET_SECRET}: made once, by whichever node needs it first, and read by the others, so
 * that a ticket issued by one node resumes on another and after a restart. The keys themselves rotate by the clock
 * (see {@code tls.SessionTicketKeys}); the stored secret only changes when an operator replaces or deletes it.
 *
 * <p>Stored as a PEM-style block of 48 random bytes. Blocking: call from the blocking executor or while starting.
 */
public final class SessionTicketSecret {

    static final int BYTES = 48;
    private static final String BEGIN = "-----BEGIN CLICKTLS SESSION TICKET SECRET-----\n";
    private static final String END = "-----END CLICKTLS SESSION TICKET SECRET-----\n";

    private SessionTicketSecret() {}

    /**
     * The stored secret, made and stored first if there is none (or what is stored is unreadable), in one
     * {@link Storage#update}: two nodes starting together end up with the same secret.
     */
    public static byte[] loadOrCreate(Storage storage) throws IOException {
        Optional<byte[]> stored = storage.update(
                StorageKeys.SESSION_TICKET_SECRET,
                current -> current.flatMap(SessionTicketSecret::parse).isPresent() ? null : format(random()));
        return stored.flatMap(SessionTicketSecret::parse)
                .orElseThrow(() -> new IOException("cannot read " + StorageKeys.SESSION_TICKET_SECRET
                        + " just written: the storage gave back something else"));
    }

    /** The stored secret, or empty when none is stored or it is unreadable. */
    public static Optional<byte[]> load(Storage storage) throws IOException {
        return storage.load(StorageKeys.SESSION_TICKET_SECRET).flatMap(SessionTicketSecret::parse);
    }

    private static byte[] random() {
        byte[] secret = new byte[BYTES];
        new SecureRandom().nextBytes(secret);
        return secret;
    }

    static byte[] format(byte[] secret) {
        return (BEGIN + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(secret) + "\n" + END)
                .getBytes(StandardCharsets.US_ASCII);
    }

    static Optional<byte[]> parse(byte[] stored) {
        String text = new String(stored, StandardCharsets.US_ASCII).strip();
        if (!text.startsWith(BEGIN.strip()) || !text.endsWith(END.strip())) {
            return Optional.empty();
        }
        String body =
                text.substring(BEGIN.length() - 1, text.length() - END.strip().length());
        try {
            byte[] secret = Base64.getMimeDecoder().decode(body);
            return secret.length >= 32 ? Optional.of(secret) : Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}
