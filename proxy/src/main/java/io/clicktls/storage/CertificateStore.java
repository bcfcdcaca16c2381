package io.clicktls.storage;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.pki.Pem;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Certificates and their keys in {@link Storage}, one entry per exact host name (no wildcards):
 * {@code certificates/<name>/chain.pem}, {@code key.pem} and {@code meta.json}. The three files cannot be written in
 * one atomic step, so {@code meta.json} goes last and holds the SHA-256 of the other two: an entry whose files do not
 * match (a crash between writes) or do not parse is logged and treated as absent, so that it is issued anew rather
 * than served broken.
 *
 * <p>Blocking: storage I/O; call only from the blocking executor. Thread-safe.
 */
public final class CertificateStore {

    private static final Logger log = LoggerFactory.getLogger(CertificateStore.class);
    private static final String PREFIX = "certificates/";
    private static final Pattern NAME = Pattern.compile("[a-z0-9_-][a-z0-9._-]{0,252}");
    private static final ObjectMapper JSON =
            new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** What {@code meta.json} holds; times as ISO-8601 instants. */
    record Meta(
            @JsonProperty("name") String name,
            @JsonProperty("issuer") String issuer,
            @JsonProperty("issued_at") String issuedAt,
            @JsonProperty("not_after") String notAfter,
            @JsonProperty("chain_sha256") String chainSha256,
            @JsonProperty("key_sha256") String keySha256) {}

    private final Storage storage;

    public CertificateStore(Storage storage) {
        this.storage = storage;
    }

    public Storage storage() {
        return storage;
    }

    /** The stored entry, or empty when there is none or it is unreadable (which is logged). Never throws. */
    public Optional<CertifiedKey> load(String name) {
        if (!validName(name)) {
            return Optional.empty();
        }
        try {
            Optional<byte[]> metaBytes = storage.load(key(name, "meta.json"));
            Optional<byte[]> chainBytes = storage.load(key(name, "chain.pem"));
            Optional<byte[]> keyBytes = storage.load(key(name, "key.pem"));
            if (metaBytes.isEmpty() && chainBytes.isEmpty() && keyBytes.isEmpty()) {
                return Optional.empty();
            }
            if (metaBytes.isEmpty() || chainBytes.isEmpty() || keyBytes.isEmpty()) {
                log.warn("certificate entry {} is incomplete; treating it as absent", name);
                return Optional.empty();
            }
            Meta meta = JSON.readValue(metaBytes.get(), Meta.class);
            if (!sha256(chainBytes.get()).equals(meta.chainSha256())
                    || !sha256(keyBytes.get()).equals(meta.keySha256())) {
                log.warn("certificate entry {} has files from different writes; treating it as absent", name);
                return Optional.empty();
            }
            List<X509Certificate> chain = Pem.decodeChain(chainBytes.get());
            PrivateKey key = Pem.decodeKey(keyBytes.get());
            return Optional.of(new CertifiedKey(name, key, chain, meta.issuer() == null ? "unknown" : meta.issuer()));
        } catch (IOException | RuntimeException e) {
            log.warn("certificate entry {} is unreadable; treating it as absent: {}", name, e.toString());
            return Optional.empty();
        }
    }

    /** Replaces the entry for {@code certified.name()}. */
    public void save(CertifiedKey certified) throws IOException {
        String name = certified.name();
        if (!validName(name)) {
            throw new IllegalArgumentException("not a storable host name: " + name);
        }
        byte[] chain = Pem.encodeChain(certified.chain());
        byte[] key = Pem.encodeKey(certified.key());
        Meta meta = new Meta(name, certified.issuer(), Instant.now().toString(), certified.notAfter().toString(),
                sha256(chain), sha256(key));
        storage.store(key(name, "key.pem"), key);
        storage.store(key(name, "chain.pem"), chain);
        storage.store(key(name, "meta.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(meta));
    }

    /** @return whether there was anything to delete */
    public boolean delete(String name) throws IOException {
        if (!validName(name)) {
            return false;
        }
        // meta.json first: a crash part-way leaves an entry that reads as absent.
        boolean deleted = storage.delete(key(name, "meta.json"));
        deleted |= storage.delete(key(name, "chain.pem"));
        deleted |= storage.delete(key(name, "key.pem"));
        return deleted;
    }

    /** Names with at least one stored file, sorted. */
    public List<String> names() throws IOException {
        TreeSet<String> names = new TreeSet<>();
        for (String key : storage.list(PREFIX)) {
            int slash = key.indexOf('/', PREFIX.length());
            if (slash > PREFIX.length()) {
                names.add(key.substring(PREFIX.length(), slash));
            }
        }
        return List.copyOf(names);
    }

    private static boolean validName(String name) {
        return name != null && NAME.matcher(name).matches() && !name.contains("..");
    }

    private static String key(String name, String file) {
        return PREFIX + name + "/" + file;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
