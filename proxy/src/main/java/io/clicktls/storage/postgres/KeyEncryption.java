package io.clicktls.storage.postgres;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.Set;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Encrypts private keys before they go into the database, with AES-256-GCM and a key from a file the database never
 * sees. A sealed value is a version byte ({@code 1}), a random 12-byte nonce, then the ciphertext with its 16-byte
 * tag; the storage key is the associated data, so a value copied to another key does not decrypt. Which values are
 * private keys is decided by name: storage keys ending in {@code key.pem} ({@code certificates/<name>/key.pem},
 * {@code acme/account-key.pem}, {@code ca/root-key.pem}).
 *
 * <p>No message of this class contains a key, a value or the key file's content. Thread-safe.
 */
final class KeyEncryption {

    private static final Logger log = LoggerFactory.getLogger(KeyEncryption.class);

    static final byte VERSION = 1;
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final int KEY_BYTES = 32;
    private static final String TRANSFORMATION = "AES/GCM/NoPadding";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final SecretKey key;

    KeyEncryption(byte[] key) {
        if (key.length != KEY_BYTES) {
            throw new IllegalArgumentException("an AES-256 key has 32 bytes, not " + key.length);
        }
        this.key = new SecretKeySpec(key, "AES");
    }

    /**
     * Reads a key file holding 32 bytes in base64 ({@code openssl rand -base64 32}). Warns when others than the
     * owner may read it.
     */
    static KeyEncryption fromFile(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII).strip();
        } catch (IOException e) {
            throw new IOException("storage.postgres.encryption_key_file " + file + ": cannot read it ("
                    + e.getClass().getSimpleName() + ")");
        }
        byte[] key;
        try {
            key = Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            key = new byte[0];
        }
        if (key.length != KEY_BYTES) {
            throw new IOException("storage.postgres.encryption_key_file " + file
                    + ": expected 32 bytes in base64 (make one with: openssl rand -base64 32)");
        }
        warnIfOthersMayRead(file);
        try {
            return new KeyEncryption(key);
        } finally {
            Arrays.fill(key, (byte) 0);
        }
    }

    private static void warnIfOthersMayRead(Path file) {
        try {
            Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
            if (permissions.contains(PosixFilePermission.GROUP_READ)
                    || permissions.contains(PosixFilePermission.OTHERS_READ)) {
                log.warn(
                        "storage.postgres.encryption_key_file {} can be read by others than its owner (chmod 600)",
                        file);
            }
        } catch (IOException | UnsupportedOperationException e) {
            // Not a POSIX file system: nothing to check.
        }
    }

    /** Whether values under this storage key are private keys, stored encrypted. */
    static boolean appliesTo(String storageKey) {
        return storageKey.endsWith("key.pem");
    }

    /** Whether a stored value is in the sealed format (and not, say, a PEM written before encryption was on). */
    static boolean isSealed(byte[] stored) {
        return stored.length > 0 && stored[0] == VERSION;
    }

    byte[] seal(String storageKey, byte[] plain) {
        byte[] nonce = new byte[NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        try {
            Cipher cipher = Cipher.getInstance(TRANSFORMATION);
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            cipher.updateAAD(storageKey.getBytes(StandardCharsets.UTF_8));
            byte[] sealed = new byte[1 + NONCE_BYTES + cipher.getOutputSize(plain.length)];
            sealed[0] = VERSION;
            System.arraycopy(nonce, 0, sealed, 1, NONCE_BYTES);
            cipher.doFinal(plain, 0, plain.length, sealed, 1 + NONCE_BYTES);
            return sealed;
        } catch (GeneralSecurityException e) {
            // AES-GCM is part of every Java runtime; this is a broken installation, not bad input.
            throw new IllegalStateException("AES-GCM unavailable", e);
        }
    }

    /**
     * @throws IOException when the value was sealed with another key, under another storage key, or altered; the
     *     message says so without quoting anything secret
     */
    byte[] open(String storageKey, byte[] sealed) throws IOException {
        if (!isSealed(sealed) || sealed.length < 1 + NONCE_BYTES + TAG_BITS / 8) {
            throw new IOException("cannot decrypt " + storageKey + ": not in the encrypted format (version "
                    + (sealed.length == 0 ? "none" : Byte.toUnsignedInt(sealed[0])) + ")");
        }
        try {
            Cipher cipher = Cipher.getInstance(TRANSFORMATION);
            cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, sealed, 1, NONCE_BYTES));
            cipher.updateAAD(storageKey.getBytes(StandardCharsets.UTF_8));
            return cipher.doFinal(sealed, 1 + NONCE_BYTES, sealed.length - 1 - NONCE_BYTES);
        } catch (AEADBadTagException e) {
            throw new IOException("cannot decrypt " + storageKey
                    + ": storage.postgres.encryption_key_file is not the key it was written with, or the value was"
                    + " altered or moved from another key");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM unavailable", e);
        }
    }
}
