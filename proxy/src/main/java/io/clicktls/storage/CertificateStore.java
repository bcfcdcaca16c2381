package io.clicktls.storage;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.pki.Pem;
import java.io.IOException;
import java.math.BigInteger;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Certificates and their keys in {@link Storage}, one entry per exact host name (no wildcards):
 * {@code certificates/<name>/chain.pem}, {@code key.pem} and {@code meta.json}. The three files cannot be written in
 * one atomic step, so {@code meta.json} goes last and holds the SHA-256 of the other two: an entry whose files do not
 * match (a crash between writes) or do not parse is logged and treated as absent, so that it is issued anew rather
 * than served broken.
 *
 * <p>An index in memory says which names have an entry and when each expires ({@link StoredCertificate}), for the
 * renewal scheduler and for answers that must not wait for storage. {@link #scanIndex()} fills it once from every
 * {@code meta.json} (the chain is read only for entries written before {@code meta.json} carried the validity and
 * serial); {@link #save} and {@link #delete} keep it current from then on, also while the scan runs. Entries another
 * process writes later are not seen until the next start.
 *
 * <p>Blocking: {@link #load}, {@link #save}, {@link #delete}, {@link #names} and {@link #scanIndex} do storage I/O;
 * call them only from the blocking executor. The index readers ({@link #indexReady}, {@link #indexed},
 * {@link #forEachIndexed}, {@link #indexSize}) only read memory and may run anywhere. Thread-safe.
 */
public final class CertificateStore {

    private static final Logger log = LoggerFactory.getLogger(CertificateStore.class);
    private static final String META_SUFFIX = "/" + StorageKeys.META_FILE;
    private static final ObjectMapper JSON =
            new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /**
     * What {@code meta.json} holds; times as ISO-8601 instants, the serial in hexadecimal. {@code not_before} and
     * {@code serial} are missing from entries written by earlier versions.
     */
    record Meta(
            @JsonProperty("name") String name,
            @JsonProperty("issuer") String issuer,
            @JsonProperty("issued_at") String issuedAt,
            @JsonProperty("not_before") String notBefore,
            @JsonProperty("not_after") String notAfter,
            @JsonProperty("serial") String serial,
            @JsonProperty("chain_sha256") String chainSha256,
            @JsonProperty("key_sha256") String keySha256,
            @JsonProperty("issued_by_node") @JsonInclude(JsonInclude.Include.NON_NULL) String issuedByNode) {

        /** Without the node: what entries written before nodes had names hold. */
        Meta(
                String name,
                String issuer,
                String issuedAt,
                String notBefore,
                String notAfter,
                String serial,
                String chainSha256,
                String keySha256) {
            this(name, issuer, issuedAt, notBefore, notAfter, serial, chainSha256, keySha256, null);
        }
    }

    /** What one {@link #scanIndex()} found, for the log and for tests. */
    public record IndexScan(int indexed, int readFromChain, int skipped, Duration took) {}

    /**
     * One index entry as kept in memory: the name is the map's key, the issuer label is shared between entries, and
     * the validity and serial are flat values. With 100,000 entries that is about a third of the bytes and objects of
     * a {@link StoredCertificate} (two {@code Instant}s, a {@code BigInteger}, an issuer string per entry), which the
     * collector copies while the index is young and scans for as long as it lives. {@link StoredCertificate}s are
     * made on demand, short-lived.
     */
    private static final class Entry {
        final String issuer;
        final String issuedByNode;
        final long notBeforeSeconds;
        final long notAfterSeconds;
        final int notBeforeNanos;
        final int notAfterNanos;
        final byte[] serial;

        Entry(String issuer, String issuedByNode, Instant notBefore, Instant notAfter, BigInteger serial) {
            this.issuer = issuer;
            this.issuedByNode = issuedByNode;
            this.notBeforeSeconds = notBefore.getEpochSecond();
            this.notBeforeNanos = notBefore.getNano();
            this.notAfterSeconds = notAfter.getEpochSecond();
            this.notAfterNanos = notAfter.getNano();
            this.serial = serial.toByteArray();
        }

        StoredCertificate toStored(String name) {
            return new StoredCertificate(
                    name,
                    issuer,
                    Instant.ofEpochSecond(notBeforeSeconds, notBeforeNanos),
                    Instant.ofEpochSecond(notAfterSeconds, notAfterNanos),
                    new BigInteger(serial),
                    issuedByNode);
        }
    }

    /** Marks a name deleted while a scan runs, so that the scan does not put back what it read before the delete. */
    private static final Entry DELETED = new Entry("", null, Instant.EPOCH, Instant.EPOCH, BigInteger.ZERO);

    /** How many {@code meta.json} files {@link #scanIndex} reads at once. */
    static final int SCAN_BATCH = 500;

    private final Storage storage;
    /** This node's {@code node.name}, written into what it saves; {@code null}: none recorded. */
    private final String node;

    private final ConcurrentHashMap<String, Entry> index = new ConcurrentHashMap<>();
    /** Issuer labels and node names, one string each however many entries carry it: a handful of distinct values. */
    private final ConcurrentHashMap<String, String> issuers = new ConcurrentHashMap<>();

    private final Object scanState = new Object();
    private boolean scanning; // guarded by scanState
    private volatile boolean indexReady;

    public CertificateStore(Storage storage) {
        this(storage, null);
    }

    /** @param node this node's {@code node.name}, recorded in {@code meta.json} as the node that issued */
    public CertificateStore(Storage storage, String node) {
        this.storage = storage;
        this.node = node;
    }

    public Storage storage() {
        return storage;
    }

    /** The stored entry, or empty when there is none or it is unreadable (which is logged). Never throws. */
    public Optional<CertifiedKey> load(String name) {
        if (!StorageKeys.isSafeName(name)) {
            return Optional.empty();
        }
        try {
            String metaKey = key(name, StorageKeys.META_FILE);
            String chainKey = key(name, StorageKeys.CHAIN_FILE);
            String keyKey = key(name, StorageKeys.KEY_FILE);
            // one read for the three (one query on PostgreSQL): a handshake waits for this
            Map<String, byte[]> files = storage.loadAll(List.of(metaKey, chainKey, keyKey));
            Optional<byte[]> metaBytes = Optional.ofNullable(files.get(metaKey));
            Optional<byte[]> chainBytes = Optional.ofNullable(files.get(chainKey));
            Optional<byte[]> keyBytes = Optional.ofNullable(files.get(keyKey));
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
        } catch (StorageUnavailableException e) {
            // every lookup of a name not held while the database is down: the outage itself is logged once
            log.debug("certificate entry {} cannot be read now: {}", name, e.getMessage());
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            log.warn("certificate entry {} is unreadable; treating it as absent: {}", name, e.toString());
            return Optional.empty();
        }
    }

    /**
     * Replaces the entry for {@code certified.name()}. On a {@link RetryingStorage} that cannot write now, the entry
     * is kept in memory (loads see it) and written later: see {@link #notPersisted}.
     */
    public void save(CertifiedKey certified) throws IOException {
        Map<String, byte[]> files = files(certified);
        for (Map.Entry<String, byte[]> file : files.entrySet()) {
            storage.store(file.getKey(), file.getValue());
        }
        indexSaved(certified);
    }

    /**
     * Replaces the entry for {@code certified.name()} only while {@code lease} is still the current holder of its
     * name ({@link Storage#writeFenced}): a node paused past its lease cannot write over the certificate of the node
     * that took over. Never kept in memory for later.
     *
     * @throws LeaseLostException when another node holds the lease now (nothing is written)
     */
    public void save(CertifiedKey certified, Storage.Lease lease) throws IOException {
        storage.writeFenced(lease, files(certified), List.of());
        indexSaved(certified);
    }

    /** The entry's files in the order they are written: {@code meta.json}, which makes the entry whole, last. */
    private Map<String, byte[]> files(CertifiedKey certified) throws IOException {
        String name = certified.name();
        if (!StorageKeys.isSafeName(name)) {
            throw new IllegalArgumentException("not a storable host name: " + name);
        }
        byte[] chain = Pem.encodeChain(certified.chain());
        byte[] key = Pem.encodeKey(certified.key());
        Meta meta = new Meta(
                name,
                certified.issuer(),
                Instant.now().toString(),
                certified.notBefore().toString(),
                certified.notAfter().toString(),
                certified.leaf().getSerialNumber().toString(16),
                sha256(chain),
                sha256(key),
                node);
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put(key(name, StorageKeys.KEY_FILE), key);
        files.put(key(name, StorageKeys.CHAIN_FILE), chain);
        files.put(
                key(name, StorageKeys.META_FILE),
                JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(meta));
        return files;
    }

    /**
     * Puts a certificate read from storage into the index, e.g. one another node of a cluster wrote after this
     * node's {@link #scanIndex()}, so that renewals are planned from what storage holds. Memory only.
     */
    public void indexLoaded(CertifiedKey certified) {
        indexSaved(certified);
    }

    private void indexSaved(CertifiedKey certified) {
        index.put(
                certified.name(),
                entry(
                        certified.issuer(),
                        node,
                        certified.notBefore(),
                        certified.notAfter(),
                        certified.leaf().getSerialNumber()));
    }

    /**
     * Why the entry of {@code name} is not persisted yet, when the storage is a {@link RetryingStorage} that keeps it
     * in memory (a full or read-only disk): e.g. {@code No space left on device}. Empty when it is persisted, or
     * unknown. Memory only; may run anywhere.
     */
    public Optional<String> notPersisted(String name) {
        if (!(storage instanceof RetryingStorage retrying) || !StorageKeys.isSafeName(name)) {
            return Optional.empty();
        }
        for (String file : List.of(StorageKeys.META_FILE, StorageKeys.CHAIN_FILE, StorageKeys.KEY_FILE)) {
            Optional<String> reason = retrying.notPersisted(key(name, file));
            if (reason.isPresent()) {
                return reason;
            }
        }
        return Optional.empty();
    }

    /** @return whether there was anything to delete */
    public boolean delete(String name) throws IOException {
        if (!StorageKeys.isSafeName(name)) {
            return false;
        }
        // meta.json first: a crash part-way leaves an entry that reads as absent.
        boolean deleted = storage.delete(key(name, StorageKeys.META_FILE));
        synchronized (scanState) {
            if (scanning) {
                index.put(name, DELETED);
            } else {
                index.remove(name);
            }
        }
        deleted |= storage.delete(key(name, StorageKeys.CHAIN_FILE));
        deleted |= storage.delete(key(name, StorageKeys.KEY_FILE));
        return deleted;
    }

    /**
     * Reads {@code name}'s {@code meta.json} into the index again, after another node stored or deleted it. Blocking.
     */
    public void reindex(String name) throws IOException {
        if (!StorageKeys.isSafeName(name)) {
            return;
        }
        IndexRead read = readIndexEntry(
                name, storage.load(key(name, StorageKeys.META_FILE)).orElse(null));
        synchronized (scanState) {
            if (read != null) {
                index.put(name, read.entry());
            } else if (scanning) {
                index.put(name, DELETED);
            } else {
                index.remove(name);
            }
        }
    }

    /** Names with at least one stored file, sorted. */
    public List<String> names() throws IOException {
        TreeSet<String> names = new TreeSet<>();
        for (String key : storage.list(StorageKeys.CERTIFICATES)) {
            int slash = key.indexOf('/', StorageKeys.CERTIFICATES.length());
            if (slash > StorageKeys.CERTIFICATES.length()) {
                names.add(key.substring(StorageKeys.CERTIFICATES.length(), slash));
            }
        }
        return List.copyOf(names);
    }

    /**
     * Fills the index from every stored {@code meta.json}. Runs once per store (later calls return at once); saves and
     * deletes during the scan win over what it read. An entry that cannot be read is left out and logged. Blocking:
     * one read per {@value #SCAN_BATCH} entries, a few seconds for 100,000 entries; run it on the blocking executor,
     * not before serving.
     */
    public IndexScan scanIndex() throws IOException {
        synchronized (scanState) {
            if (scanning || indexReady) {
                return new IndexScan(0, 0, 0, Duration.ZERO);
            }
            scanning = true;
        }
        long start = System.nanoTime();
        int indexed = 0;
        int fromChain = 0;
        int skipped = 0;
        boolean complete = false;
        try {
            List<String> names = new ArrayList<>();
            for (String key : storage.list(StorageKeys.CERTIFICATES)) {
                if (!key.endsWith(META_SUFFIX)) {
                    continue;
                }
                String name = key.substring(StorageKeys.CERTIFICATES.length(), key.length() - META_SUFFIX.length());
                if (StorageKeys.isSafeName(name) && name.indexOf('/') < 0) {
                    names.add(name);
                }
            }
            // meta.json files read SCAN_BATCH at a time: on PostgreSQL one query each, not one per entry (100,000
            // round trips kept a core busy for half a minute after the start)
            for (int from = 0; from < names.size(); from += SCAN_BATCH) {
                List<String> batch = names.subList(from, Math.min(names.size(), from + SCAN_BATCH));
                Map<String, byte[]> metas;
                try {
                    metas = storage.loadAll(batch.stream()
                            .map(name -> key(name, StorageKeys.META_FILE))
                            .toList());
                } catch (IOException | RuntimeException e) {
                    skipped += batch.size();
                    log.warn(
                            "{} certificate entries ({} to {}) are unreadable; leaving them out of the index: {}",
                            batch.size(),
                            batch.get(0),
                            batch.get(batch.size() - 1),
                            e.toString());
                    continue;
                }
                for (String name : batch) {
                    try {
                        IndexRead read = readIndexEntry(name, metas.get(key(name, StorageKeys.META_FILE)));
                        if (read == null) {
                            skipped++;
                            continue;
                        }
                        index.putIfAbsent(name, read.entry());
                        indexed++;
                        fromChain += read.fromChain() ? 1 : 0;
                    } catch (IOException | RuntimeException e) {
                        skipped++;
                        log.warn(
                                "certificate entry {} is unreadable; leaving it out of the index: {}",
                                name,
                                e.toString());
                    }
                }
            }
            complete = true;
        } finally {
            synchronized (scanState) {
                scanning = false;
                index.values().removeIf(entry -> entry == DELETED);
                indexReady = complete;
            }
        }
        IndexScan scan = new IndexScan(indexed, fromChain, skipped, Duration.ofNanos(System.nanoTime() - start));
        log.info(
                "indexed {} stored certificates in {} ms ({} read from their chain, {} left out)",
                scan.indexed(),
                scan.took().toMillis(),
                scan.readFromChain(),
                scan.skipped());
        return scan;
    }

    /** Whether {@link #scanIndex()} has completed: until then the index holds only what was saved since the start. */
    public boolean indexReady() {
        return indexReady;
    }

    /** The index entry for {@code name} (exact, lower case), if it has one. Memory only. */
    public Optional<StoredCertificate> indexed(String name) {
        Entry entry = name == null ? null : index.get(name);
        return entry == null || entry == DELETED ? Optional.empty() : Optional.of(entry.toStored(name));
    }

    /** Whether the index has an entry for {@code name} (exact, lower case), valid or not. Memory only; allocates nothing. */
    public boolean hasIndexed(String name) {
        Entry entry = name == null ? null : index.get(name);
        return entry != null && entry != DELETED;
    }

    /**
     * Calls {@code action} with every index entry, in no particular order, without copying the index (each entry is
     * made for the call: keep it only if needed).
     */
    public void forEachIndexed(Consumer<StoredCertificate> action) {
        index.forEach((name, entry) -> {
            if (entry != DELETED) {
                action.accept(entry.toStored(name));
            }
        });
    }

    public int indexSize() {
        return index.size();
    }

    private record IndexRead(Entry entry, boolean fromChain) {}

    private Entry entry(String issuer, String issuedByNode, Instant notBefore, Instant notAfter, BigInteger serial) {
        return new Entry(shared(issuer), shared(issuedByNode), notBefore, notAfter, serial);
    }

    private String shared(String label) {
        if (label == null) {
            return null;
        }
        String shared = issuers.get(label);
        if (shared == null) {
            shared = issuers.size() < 64 ? issuers.computeIfAbsent(label, l -> l) : label;
        }
        return shared;
    }

    /**
     * The index entry from {@code meta.json}, or from the leaf of {@code chain.pem} for an entry written before
     * {@code meta.json} had the validity and serial; {@code null} when there is none to index.
     */
    private IndexRead readIndexEntry(String name, byte[] metaBytes) throws IOException {
        if (metaBytes == null) {
            return null; // deleted since the listing
        }
        Meta meta = JSON.readValue(metaBytes, Meta.class);
        String issuer = meta.issuer() == null ? "unknown" : meta.issuer();
        if (meta.notBefore() != null && meta.notAfter() != null && meta.serial() != null) {
            return new IndexRead(
                    entry(
                            issuer,
                            meta.issuedByNode(),
                            Instant.parse(meta.notBefore()),
                            Instant.parse(meta.notAfter()),
                            new BigInteger(meta.serial(), 16)),
                    false);
        }
        Optional<byte[]> chain = storage.load(key(name, StorageKeys.CHAIN_FILE));
        if (chain.isEmpty() || !sha256(chain.get()).equals(meta.chainSha256())) {
            log.warn("certificate entry {} has files from different writes; leaving it out of the index", name);
            return null;
        }
        X509Certificate leaf = Pem.decodeChain(chain.get()).get(0);
        return new IndexRead(
                entry(
                        issuer,
                        meta.issuedByNode(),
                        leaf.getNotBefore().toInstant(),
                        leaf.getNotAfter().toInstant(),
                        leaf.getSerialNumber()),
                true);
    }

    private static String key(String name, String file) {
        return StorageKeys.certificate(name, file);
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
