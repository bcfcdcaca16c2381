package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageUnavailableException;
import io.clicktls.testing.ForwardingStorage;
import io.clicktls.testing.InternalCaStack;
import io.clicktls.testing.ManualScheduledExecutor;
import io.clicktls.tls.TlsContexts;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two resolvers over one storage folder stand for two nodes of a cluster (the file storage's leases are the same
 * contract as PostgreSQL's, see {@code storage/postgres}): one order per name between them, and fencing. The storage's
 * clock is the stack's mutable clock, so a lease runs out when the test says.
 */
class OrderLeaseTest {

    private static final String NAME = "links.shop.test";
    private static final Duration LEASE = Duration.ofSeconds(30);

    @TempDir
    Path directory;

    private InternalCaStack pki;

    @BeforeEach
    void setUp() throws Exception {
        pki = InternalCaStack.create(directory, NAME);
    }

    @AfterEach
    void tearDown() {
        pki.close();
    }

    /** An issuer that signals when it starts and finishes only when the test lets it; counts its calls. */
    private final class GatedIssuer implements CertificateIssuer {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicInteger calls = new AtomicInteger();
        /** Whether, once released, it fails as a CA's refused validation would, instead of issuing. */
        volatile boolean failWhenReleased;

        @Override
        public CertifiedKey issue(String name) throws IssuanceException {
            calls.incrementAndGet();
            entered.countDown();
            try {
                if (!release.await(30, TimeUnit.SECONDS)) {
                    throw new IssuanceException("the test never released the issuer");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IssuanceException("interrupted", e);
            }
            if (failWhenReleased) {
                throw new IssuanceException("tls-alpn-01 validation of " + name + " failed: unauthorized");
            }
            return pki.internalIssuer.issue(name);
        }

        @Override
        public String label() {
            return "gated";
        }
    }

    private CertificateResolver node(CertificateIssuer issuer, ScheduledExecutorService timers) {
        return node(issuer, timers, pki.storage);
    }

    private CertificateResolver node(CertificateIssuer issuer, ScheduledExecutorService timers, Storage storage) {
        TlsContexts contexts = InternalCaStack.contexts(TlsContexts.preferredProvider());
        return CertificateResolver.builder()
                .config(pki.config)
                .store(new io.clicktls.storage.CertificateStore(storage))
                .issuer(issuer)
                .policy(pki.policy)
                .blocking(pki.blocking)
                .metrics(pki.metrics)
                .clock(pki.clock)
                .events(CertificateEvents.of(contexts::warm, contexts::invalidate))
                .leases(LEASE, timers)
                .build();
    }

    @Test
    void aSecondNodeWaitsForTheFirstNodesOrderInsteadOfPlacingItsOwn() throws Exception {
        GatedIssuer issuer = new GatedIssuer();
        CertificateResolver nodeA = node(issuer, null);
        CertificateResolver nodeB = node(issuer, null);

        CompletableFuture<CertifiedKey> onA = nodeA.certificate(NAME);
        assertThat(issuer.entered.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<CertifiedKey> onB = nodeB.certificate(NAME);
        Thread.sleep(3 * OrderLeases.POLL); // node B looks at storage a few times meanwhile
        issuer.release.countDown();

        CertifiedKey fromA = onA.get(10, TimeUnit.SECONDS);
        CertifiedKey fromB = onB.get(10, TimeUnit.SECONDS);
        assertThat(fromB.leaf()).isEqualTo(fromA.leaf());
        assertThat(issuer.calls).hasValue(1);
        assertThat(pki.metrics.scrape()).contains("clicktls_lease_waits_total{outcome=\"certificate\"} 1.0");
    }

    @Test
    void aNodeThatWaitedForAnOrderThatFailedHoldsBackInsteadOfOrderingAgain() throws Exception {
        GatedIssuer failing = new GatedIssuer();
        failing.failWhenReleased = true;
        InternalCaStack.CountingIssuer issuerB = new InternalCaStack.CountingIssuer(pki.internalIssuer);
        CertificateResolver nodeA = node(failing, null);
        CertificateResolver nodeB = node(issuerB, null);

        CompletableFuture<CertifiedKey> onA = nodeA.certificate(NAME);
        assertThat(failing.entered.await(10, TimeUnit.SECONDS)).isTrue();
        // node B looks before node A fails: no failure in its memory, the lease held by node A
        CompletableFuture<CertifiedKey> onB = nodeB.certificate(NAME);
        Thread.sleep(2 * OrderLeases.POLL); // node B is waiting for node A's order
        failing.release.countDown();

        assertThatThrownBy(() -> onA.get(10, TimeUnit.SECONDS)).hasMessageContaining("validation");
        // node B takes the lease node A gave back, and finds the failure node A recorded: the backoff, no order
        assertThatThrownBy(() -> onB.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(IssuanceHeldBackException.class);
        assertThat(issuerB.calls()).isZero();
        assertThat(failing.calls).hasValue(1);
    }

    @Test
    void aSharedStorageThatCannotGiveTheLeaseNowMeansNoOrderRatherThanAnOrderWithoutIt() throws Exception {
        InternalCaStack.CountingIssuer issuer = new InternalCaStack.CountingIssuer(pki.internalIssuer);
        Storage down = new ForwardingStorage(pki.storage) {
            @Override
            public Optional<? extends Lease> tryLease(String name, Duration duration) throws IOException {
                throw new StorageUnavailableException("database unreachable (Connection refused)", null);
            }
        };
        CertificateResolver node = node(issuer, null, down);

        assertThatThrownBy(() -> node.certificate(NAME).get(10, TimeUnit.SECONDS))
                .hasCauseInstanceOf(NameRefusedException.class)
                .hasMessageContaining("not ordering without it");
        assertThat(issuer.calls()).isZero();
        assertThat(pki.metrics.scrape())
                .contains("clicktls_on_demand_denied_total{reason=\"storage_unavailable\"} 1.0");
    }

    @Test
    void aLeaseRefusedWhileEveryPooledConnectionIsBusyIsAskedForAgainAndOneOrderIsPlaced() throws Exception {
        InternalCaStack.CountingIssuer issuer = new InternalCaStack.CountingIssuer(pki.internalIssuer);
        AtomicInteger refusals = new AtomicInteger(2);
        Storage busy = new ForwardingStorage(pki.storage) {
            @Override
            public Optional<? extends Lease> tryLease(String name, Duration duration) throws IOException {
                if (refusals.getAndDecrement() > 0) {
                    throw new StorageUnavailableException("database busy: every pooled connection in use", null, true);
                }
                return super.tryLease(name, duration);
            }
        };
        CertificateResolver node = node(issuer, null, busy);

        CertifiedKey issued = node.certificate(NAME).get(10, TimeUnit.SECONDS);

        assertThat(issued.name()).isEqualTo(NAME);
        assertThat(issuer.calls()).isEqualTo(1);
        assertThat(refusals.get()).isNegative(); // asked three times
        assertThat(pki.metrics.scrape()).doesNotContain("reason=\"storage_unavailable\"} 1.0");
    }

    @Test
    void aNodePausedPastItsLeaseCannotOverwriteTheCertificateOfTheNodeThatTookOver() throws Exception {
        GatedIssuer paused = new GatedIssuer();
        // Node A's timer never runs: its lease is not renewed, as in a long pause of the whole process.
        CertificateResolver nodeA = node(paused, new ManualScheduledExecutor(pki.clock.instant()));
        InternalCaStack.CountingIssuer fast = new InternalCaStack.CountingIssuer(pki.internalIssuer);
        CertificateResolver nodeB = node(fast, null);

        CompletableFuture<CertifiedKey> onA = nodeA.certificate(NAME);
        assertThat(paused.entered.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<CertifiedKey> onB = nodeB.certificate(NAME);
        Thread.sleep(3 * OrderLeases.POLL); // node B finds the lease held and waits
        assertThat(onB).isNotDone();
        pki.clock.advance(LEASE.plusSeconds(1));
        CertifiedKey fromB = onB.get(10, TimeUnit.SECONDS);
        paused.release.countDown();
        CertifiedKey fromA = onA.get(10, TimeUnit.SECONDS);

        assertThat(fast.calls()).isEqualTo(1);
        assertThat(fromA.leaf()).isEqualTo(fromB.leaf());
        assertThat(pki.store.load(NAME).orElseThrow().leaf()).isEqualTo(fromB.leaf());
        assertThat(pki.metrics.scrape())
                .contains("clicktls_lease_lost_total 1.0")
                .contains("clicktls_lease_waits_total{outcome=\"expired\"} 1.0");
    }
}
