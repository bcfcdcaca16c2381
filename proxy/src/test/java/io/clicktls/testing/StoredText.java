package io.clicktls.testing;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

/** Storage values written and read back as UTF-8 text, for storage tests. */
public final class StoredText {

    private StoredText() {}

    public static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** The loaded value as text, or {@code null} when nothing was stored. */
    public static String text(Optional<byte[]> value) {
        return value.map(bytes -> new String(bytes, StandardCharsets.UTF_8)).orElse(null);
    }
}
