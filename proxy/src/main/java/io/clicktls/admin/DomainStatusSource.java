package io.clicktls.admin;

import io.clicktls.certificates.CertificateCleanup;
import io.clicktls.certificates.IssuanceFailure;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.Storage;
import java.io.IOException;
import java.net.URI;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * What the status page and API read from the running node, and the two actions they offer. {@code ClickTlsServer}
 * implements it by adapting the real parts (resolver, store, renewal scheduler, issuance journal), so that the
 * admin package depends on no part's internals.
 *
 * <p>Threading: every method is called on the blocking executor, never on an event loop, and may block on
 * storage; {@link #renew} must return at once.
 */
public interface DomainStatusSource {

    /** The config in force: its {@code domains} entries and platforms. */
    ConfigSnapshot config();

    /** Names with a certificate in memory now. */
    Collection<String> namesInMemory();

    /** Names with a certificate in storage. Storage I/O: may take a while with many names. */
    Collection<String> storedNames() throws IOException;

    /** The certificate served for {@code name} from memory, if loaded. */
    Optional<CertifiedKey> inMemory(String name);

    /** The certificate stored for {@code name}. Storage I/O. */
    Optional<CertifiedKey> stored(String name);

    /**
     * Why the certificate of {@code name} is not in storage yet though it is served (a full or read-only disk);
     * empty when it is persisted. Memory only.
     */
    default Optional<String> notPersisted(String name) {
        return Optional.empty();
    }

    /**
     * The {@code node.name} of the node that stored the certificate of {@code name}, when recorded: which node of a
     * cluster issued it. Memory only.
     */
    default Optional<String> issuedByNode(String name) {
        return Optional.empty();
    }

    /**
     * The node that holds the lease to order {@code name}'s certificate now, in a cluster whose storage says so
     * (PostgreSQL); empty otherwise. Storage I/O.
     */
    default Optional<Storage.LeaseHolder> orderLease(String name) {
        return Optional.empty();
    }

    /**
     * The orders in flight on every node sharing the storage: each name whose order lease is held now, with its
     * holder, by name, at most {@code limit} of them. One storage read (PostgreSQL: one query), however many names.
     *
     * @throws IOException when the storage cannot say now (a database outage): the status page goes on without them
     */
    default SortedMap<String, Storage.LeaseHolder> ordersInFlight(int limit) throws IOException {
        return new TreeMap<>();
    }

    /** Whether issuance or renewal for {@code name} runs now. */
    boolean issuing(String name);

    /** Names whose last attempt failed. */
    Collection<String> failedNames();

    /** The last failed attempt for {@code name}, cleared by a success. */
    Optional<IssuanceFailure> lastFailure(String name);

    /** When the renewal of {@code name}'s certificate is planned. */
    Optional<Instant> nextRenewal(String name);

    /** A rate limit holding issuance for {@code name} back (the issuance policy's limits); empty when none does. */
    default Optional<Hold> hold(String name) {
        return Optional.empty();
    }

    /** Set when {@code name} is no longer allowed and its certificate awaits deletion. Memory only. */
    default Optional<CertificateCleanup.Mark> marked(String name) {
        return Optional.empty();
    }

    /** Names or IP addresses customers' DNS should point at (e.g. {@code proxy.example.net}); may be empty. */
    default List<String> expectedDnsTargets() {
        return List.of();
    }

    /** Which CA issues, for the CAA check. */
    CaPolicy caPolicy();

    /** Issues or renews {@code name}'s certificate now; the future completes when it is in use, or fails. */
    CompletableFuture<?> renew(String name);

    /** Drops {@code name}'s certificate from memory and storage, and its failure record. Storage I/O. */
    boolean forget(String name) throws IOException;

    /**
     * The CA whose issuance CAA records must allow.
     *
     * @param label e.g. {@code internal} or {@code acme-v02.api.letsencrypt.org}
     * @param publicCa whether CAA applies at all (not for the internal CA)
     * @param identities the CA's CAA identities (e.g. {@code letsencrypt.org}); empty when unknown
     */
    record CaPolicy(String label, boolean publicCa, List<String> identities) {
        public CaPolicy {
            identities = List.copyOf(identities);
        }

        public static final CaPolicy INTERNAL = new CaPolicy("internal", false, List.of());

        /**
         * The CAA identities of well-known ACME CAs, by directory host; an unknown CA gets none (the CAA check then
         * says it cannot tell). {@code doctor} reads the directory's own {@code meta.caaIdentities} instead.
         */
        public static CaPolicy forAcme(URI directory, String label) {
            String host = directory.getHost() == null ? "" : directory.getHost();
            List<String> identities;
            if (host.endsWith("api.letsencrypt.org")) {
                identities = List.of("letsencrypt.org");
            } else if (host.endsWith("pki.goog")) {
                identities = List.of("pki.goog");
            } else if (host.endsWith("zerossl.com")) {
                identities = List.of("sectigo.com");
            } else if (host.endsWith("buypass.com")) {
                identities = List.of("buypass.com");
            } else if (host.endsWith("ssl.com")) {
                identities = List.of("ssl.com");
            } else {
                identities = List.of();
            }
            return new CaPolicy(label, true, identities);
        }
    }
}
