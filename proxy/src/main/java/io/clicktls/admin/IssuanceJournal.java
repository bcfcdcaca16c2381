package io.clicktls.admin;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.issuance.CertificateIssuer;
import io.clicktls.issuance.IssuanceException;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.Storage;
import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which names are being issued now and how each one's last attempt failed, seen by wrapping the
 * {@link CertificateIssuer}: every first issuance and renewal goes through it. Failures are kept in storage under
 * {@code status/failures/<name>.json} so that a restart and {@code doctor} still see them; a success deletes the
 * entry.
 *
 * <p>Stand-in: once the resolver keeps per-name failure state itself ({@code CertificateResolver.lastFailure}),
 * {@code ClickTlsServer} reads that instead and this class goes.
 *
 * <p>Threading: {@link #wrap}'s issuer runs where the resolver runs issuance (the blocking executor) and writes
 * storage there; the readers never block and run on any thread. Thread-safe.
 */
public final class IssuanceJournal {

    static final String PREFIX = "status/failures/";

    private static final Logger log = LoggerFactory.getLogger(IssuanceJournal.class);
    private static final ObjectMapper JSON =
            new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** The stored form of a failure; times as ISO-8601 instants. */
    record Entry(
            @JsonProperty("name") String name,
            @JsonProperty("message") String message,
            @JsonProperty("at") String at,
            @JsonProperty("failures") int failures,
            @JsonProperty("retry_at") String retryAt) {

        IssuanceFailure failure() {
            return new IssuanceFailure(message, Instant.parse(at), failures,
                    retryAt == null ? null : Instant.parse(retryAt));
        }
    }

    private final Storage storage;
    private final Clock clock;
    private final Map<String, IssuanceFailure> failures = new ConcurrentHashMap<>();
    private final Map<String, Instant> running = new ConcurrentHashMap<>();

    public IssuanceJournal(Storage storage, Clock clock) {
        this.storage = storage;
        this.clock = clock;
    }

    /** Reads the failures kept from earlier runs. Storage I/O: call on the blocking executor. */
    public void load() {
        try {
            for (String key : storage.list(PREFIX)) {
                if (key.endsWith(".json")) {
                    read(storage, key).ifPresent(entry -> failures.putIfAbsent(entry.name(), entry.failure()));
                }
            }
        } catch (IOException e) {
            log.warn("cannot read earlier issuance failures: {}", e.toString());
        }
    }

    /** The failure kept in {@code storage} for {@code name}, for {@code doctor} when no proxy is running. */
    public static Optional<IssuanceFailure> stored(Storage storage, String name) {
        return read(storage, key(name)).map(Entry::failure);
    }

    /** {@code issuer}, reporting each attempt here. */
    public CertificateIssuer wrap(CertificateIssuer issuer) {
        return new CertificateIssuer() {
            @Override
            public CertifiedKey issue(String name) throws IssuanceException {
                running.put(name, clock.instant());
                try {
                    CertifiedKey certified = issuer.issue(name);
                    succeeded(name);
                    return certified;
                } catch (IssuanceException e) {
                    failed(name, e.getMessage(), e.retryAfter());
                    throw e;
                } catch (RuntimeException e) {
                    failed(name, e.toString(), null);
                    throw e;
                } finally {
                    running.remove(name);
                }
            }

            @Override
            public String label() {
                return issuer.label();
            }
        };
    }

    public boolean issuing(String name) {
        return running.containsKey(name);
    }

    public Optional<IssuanceFailure> lastFailure(String name) {
        return Optional.ofNullable(failures.get(name));
    }

    public Collection<String> failedNames() {
        return List.copyOf(failures.keySet());
    }

    public int failingCount() {
        return failures.size();
    }

    /** Forgets {@code name}'s failure (the operator forgot the name). Storage I/O. */
    public void clear(String name) throws IOException {
        if (failures.remove(name) != null) {
            storage.delete(key(name));
        }
    }

    private void succeeded(String name) {
        if (failures.remove(name) != null) {
            try {
                storage.delete(key(name));
            } catch (IOException | RuntimeException e) {
                log.warn("cannot delete the failure record of {}: {}", name, e.toString());
            }
        }
    }

    private void failed(String name, String message, Instant retryAt) {
        String text = message == null || message.isBlank() ? "failed without a message" : message;
        IssuanceFailure failure = failures.compute(name, (key, previous) -> new IssuanceFailure(text,
                clock.instant(), previous == null ? 1 : previous.failures() + 1, retryAt));
        Entry entry = new Entry(name, failure.message(), failure.at().toString(), failure.failures(),
                retryAt == null ? null : retryAt.toString());
        try {
            storage.store(key(name), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(entry));
        } catch (IOException | RuntimeException e) {
            log.warn("cannot store the failure record of {}: {}", name, e.toString());
        }
    }

    private static Optional<Entry> read(Storage storage, String key) {
        try {
            Optional<byte[]> bytes = storage.load(key);
            if (bytes.isEmpty()) {
                return Optional.empty();
            }
            Entry entry = JSON.readValue(bytes.get(), Entry.class);
            return entry.name() == null || entry.at() == null ? Optional.empty() : Optional.of(entry);
        } catch (IOException | RuntimeException e) {
            log.warn("ignoring unreadable failure record {}: {}", key, e.toString());
            return Optional.empty();
        }
    }

    private static String key(String name) {
        return PREFIX + name + ".json";
    }
}
