package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.pki.CertifiedKey;
import io.clicktls.testing.InternalCaStack;
import io.clicktls.tls.CertificateLoadExecutor;
import io.clicktls.tls.InMemoryHandshake;
import io.clicktls.tls.TlsContexts;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ReferenceCounted;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLEngine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateResolverTest {

    @TempDir
    Path directory;

    private InternalCaStack pki;
    private CertificateResolver resolver;
    private TlsContexts contexts;

    @BeforeEach
    void setUp() throws Exception {
        pki = InternalCaStack.create(directory, "links.shop.test", "*.wild.test");
        contexts = InternalCaStack.contexts(TlsContexts.preferredProvider());
        resolver = pki.resolver(contexts);
    }

    @AfterEach
    void tearDown() throws Exception {
        pki.close();
    }

    private static CertifiedKey await(CompletableFuture<CertifiedKey> future) throws Exception {
        return future.get(10, TimeUnit.SECONDS);
    }

    @Test
    void twentyConcurrentRequestsForANewNameIssueOneCertificate() throws Exception {
        pki.issuer.delay(Duration.ofMillis(300));
        ExecutorService callers = Executors.newFixedThreadPool(20);
        CountDownLatch start = new CountDownLatch(1);
        List<CompletableFuture<CertifiedKey>> futures = new ArrayList<>();
        try {
            List<java.util.concurrent.Future<CompletableFuture<CertifiedKey>>> submitted = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                submitted.add(callers.submit(() -> {
                    start.await();
                    return resolver.certificate("links.shop.test");
                }));
            }
            start.countDown();
            for (var future : submitted) {
                futures.add(future.get(10, TimeUnit.SECONDS));
            }
        } finally {
            callers.shutdownNow();
        }

        CertifiedKey first = await(futures.get(0));
        for (CompletableFuture<CertifiedKey> future : futures) {
            assertThat(await(future)).isSameAs(first);
        }
        assertThat(pki.issuer.calls()).isEqualTo(1);
        assertThat(pki.metrics.scrape()).contains("clicktls_certificates_issued_total{result=\"ok\"} 1.0");
    }

    @Test
    void aMemoryHitIsCompleteAtOnce() throws Exception {
        CertifiedKey issued = await(resolver.certificate("links.shop.test"));

        CompletableFuture<CertifiedKey> again = resolver.certificate("LINKS.shop.test.");

        assertThat(again).isCompletedWithValue(issued);
        assertThat(resolver.cached("links.shop.test")).contains(issued);
        assertThat(contexts.acquireCached(issued)).isNotNull();
    }

    @Test
    void afterARestartTheCertificateComesFromStorageNotANewIssuance() throws Exception {
        CertifiedKey issued = await(resolver.certificate("links.shop.test"));

        CertificateResolver restarted = pki.resolver();
        CertifiedKey loaded = await(restarted.certificate("links.shop.test"));

        assertThat(loaded.leaf()).isEqualTo(issued.leaf());
        assertThat(pki.issuer.calls()).isEqualTo(1);
    }

    @Test
    void aStoredCertificateIsLoadedOnTheLoadsExecutorAndNothingWaitsOnTheBlockingOne() throws Exception {
        CertifiedKey issued = await(resolver.certificate("links.shop.test"));
        AtomicInteger blockingTasks = new AtomicInteger();
        List<String> loadThreads = new CopyOnWriteArrayList<>();
        try (CertificateLoadExecutor loads = CertificateLoadExecutor.create(1, 8, pki.blocking)) {
            TlsContexts restartedContexts = new TlsContexts(TlsContexts.preferredProvider(), 10);
            CertificateResolver restarted = restartedResolver(
                    restartedContexts,
                    task -> {
                        blockingTasks.incrementAndGet();
                        pki.blocking.execute(task);
                    },
                    task -> loads.execute(() -> {
                        loadThreads.add(Thread.currentThread().getName());
                        task.run();
                    }));

            CertifiedKey loaded = await(restarted.certificate("links.shop.test"));

            assertThat(loaded.leaf()).isEqualTo(issued.leaf());
            assertThat(restartedContexts.acquireCached(loaded)).isNotNull();
            assertThat(loadThreads).singleElement().asString().startsWith("clicktls-certificate-load-");
            assertThat(blockingTasks).hasValue(0);
        }
    }

    @Test
    void aStoredCertificateIsServedWhileIssuancesOccupyEveryBlockingThread() throws Exception {
        CertifiedKey issued = await(resolver.certificate("links.shop.test"));
        ExecutorService busyBlocking = Executors.newSingleThreadExecutor();
        CountDownLatch issuanceDone = new CountDownLatch(1);
        try (CertificateLoadExecutor loads = CertificateLoadExecutor.create(1, 8, busyBlocking)) {
            busyBlocking.execute(() -> {
                try {
                    issuanceDone.await(); // a slow ACME order holding the only blocking thread
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            TlsContexts restartedContexts = new TlsContexts(TlsContexts.preferredProvider(), 10);
            CertificateResolver restarted = restartedResolver(restartedContexts, busyBlocking, loads);

            CertifiedKey loaded = restarted.certificate("links.shop.test").get(5, TimeUnit.SECONDS);

            assertThat(loaded.leaf()).isEqualTo(issued.leaf());
            assertThat(issuanceDone.getCount()).isEqualTo(1);
        } finally {
            issuanceDone.countDown();
            busyBlocking.shutdownNow();
        }
    }

    @Test
    void aLoadThatNoExecutorTakesFailsTheLookupAtOnceAndTheNextLookupLoads() throws Exception {
        CertifiedKey issued = await(resolver.certificate("links.shop.test"));
        AtomicBoolean full = new AtomicBoolean(true);
        CertificateResolver restarted =
                restartedResolver(new TlsContexts(TlsContexts.preferredProvider(), 10), pki.blocking, task -> {
                    if (full.get()) {
                        throw new RejectedExecutionException("full");
                    }
                    pki.blocking.execute(task);
                });

        CompletableFuture<CertifiedKey> refused = restarted.certificate("links.shop.test");

        assertThat(refused).isCompletedExceptionally();
        assertThatThrownBy(refused::join).hasCauseInstanceOf(RejectedExecutionException.class);
        assertThat(restarted.lookingUp("links.shop.test")).isFalse();
        full.set(false);
        assertThat(await(restarted.certificate("links.shop.test")).leaf()).isEqualTo(issued.leaf());
        assertThat(pki.issuer.calls()).isEqualTo(1);
    }

    /** A resolver over the same storage, as after a restart, with the executors given. */
    private CertificateResolver restartedResolver(TlsContexts contexts, Executor blocking, Executor loads) {
        return CertificateResolver.builder()
                .config(pki.config)
                .store(pki.store)
                .issuer(pki.issuer)
                .policy(pki.policy)
                .failures(new IssuanceFailures(pki.storage, pki.clock))
                .blocking(blocking)
                .loads(loads)
                .metrics(pki.metrics)
                .clock(pki.clock)
                .events(CertificateEvents.of(contexts::warm, contexts::invalidate))
                .maximumSize(10)
                .build();
    }

    @Test
    void aNameOutsideTheDomainTableIsRefusedWithoutIssuing() {
        CompletableFuture<CertifiedKey> refused = resolver.certificate("evil.example.com");

        assertThatThrownBy(() -> await(refused))
                .isInstanceOf(ExecutionException.class)
                .cause()
                .isInstanceOfSatisfying(
                        NameRefusedException.class, e -> assertThat(e.reason()).isEqualTo(Refusal.NOT_CONFIGURED));
        assertThat(pki.issuer.calls()).isZero();
        assertThat(pki.metrics.scrape()).contains("clicktls_on_demand_denied_total{reason=\"not_configured\"} 1.0");
        assertThat(resolver.inMemory()).isEmpty();
    }

    @Test
    void aNameRemovedFromTheConfigIsRefusedAtOnceThoughItsCertificateIsInMemoryAndStored() throws Exception {
        CertifiedKey issued = await(resolver.certificate("links.shop.test"));

        pki.config.replace(InternalCaStack.config(directory, Duration.ofSeconds(10), List.of("*.wild.test")));
        CompletableFuture<CertifiedKey> refused = resolver.certificate("links.shop.test");

        assertThat(refused).isCompletedExceptionally();
        assertThatThrownBy(refused::join).cause().isInstanceOfSatisfying(NameRefusedException.class, e -> assertThat(
                        e.reason())
                .isEqualTo(Refusal.NOT_CONFIGURED));
        assertThat(resolver.cached("links.shop.test")).isEmpty();
        assertThat(pki.store.load("links.shop.test")).isPresent();
        // After a restart it is not served from storage either, and no storage is read to say so.
        assertThat(pki.resolver().certificate("links.shop.test")).isCompletedExceptionally();

        pki.config.replace(InternalCaStack.config(directory, Duration.ofSeconds(10), List.of("links.shop.test")));
        assertThat(resolver.certificate("links.shop.test")).isCompletedWithValue(issued);
        assertThat(pki.issuer.calls()).isEqualTo(1);
    }

    @Test
    void aNameThatIsNotAHostNameIsRefusedAtOnce() {
        CompletableFuture<CertifiedKey> refused = resolver.certificate("127.0.0.1");

        assertThat(refused).isCompletedExceptionally();
        assertThatThrownBy(refused::join).hasCauseInstanceOf(NameRefusedException.class);
        assertThat(pki.metrics.scrape()).contains("clicktls_on_demand_denied_total{reason=\"invalid_name\"} 1.0");
        assertThat(pki.issuer.calls()).isZero();
    }

    @Test
    void aFailedIssuanceIsRecordedHeldBackForAMinuteThenTriedAgainAndASuccessClearsIt() throws Exception {
        pki.issuer.failNext(new IssuanceException("urn:ietf:params:acme:error:dns: NXDOMAIN looking up A"));

        assertThatThrownBy(() -> await(resolver.certificate("a.wild.test")))
                .hasCauseInstanceOf(IssuanceException.class);
        IssuanceFailure failure = resolver.lastFailure("a.wild.test").orElseThrow();
        assertThat(failure.message()).isEqualTo("urn:ietf:params:acme:error:dns: NXDOMAIN looking up A");
        assertThat(failure.failures()).isEqualTo(1);
        assertThat(failure.retryAt()).isEqualTo(pki.clock.instant().plus(Duration.ofMinutes(1)));

        assertThatThrownBy(() -> await(resolver.certificate("a.wild.test")))
                .cause()
                .isInstanceOf(IssuanceHeldBackException.class)
                .hasMessageContaining("NXDOMAIN");
        assertThat(pki.issuer.calls())
                .as("no second call to the CA while held back")
                .isEqualTo(1);
        assertThat(pki.metrics.scrape()).contains("clicktls_on_demand_denied_total{reason=\"backoff\"} 1.0");

        pki.clock.advance(Duration.ofMinutes(1));
        CertifiedKey second = await(resolver.certificate("a.wild.test"));

        assertThat(second.name()).isEqualTo("a.wild.test");
        assertThat(pki.issuer.calls()).isEqualTo(2);
        assertThat(resolver.lastFailure("a.wild.test")).isEmpty();
        assertThat(pki.metrics.scrape()).contains("clicktls_certificates_issued_total{result=\"failed\"} 1.0");
    }

    @Test
    void aHeldBackNameFailsAtOnceWithoutAThreadHopOnceTheIndexSaysNothingIsStored() throws Exception {
        pki.store.scanIndex();
        pki.issuer.failNext(new IssuanceException(
                "CA unreachable: connection refused", null, pki.clock.instant().plus(Duration.ofSeconds(30))));
        assertThatThrownBy(() -> await(resolver.certificate("a.wild.test")))
                .hasCauseInstanceOf(IssuanceException.class);

        CompletableFuture<CertifiedKey> again = resolver.certificate("a.wild.test");

        assertThat(again).isCompletedExceptionally();
        assertThatThrownBy(again::join).cause().isInstanceOf(IssuanceHeldBackException.class);
        assertThat(resolver.lastFailure("a.wild.test").orElseThrow().retryAt())
                .isEqualTo(pki.clock.instant().plus(Duration.ofSeconds(30)));
        assertThat(pki.issuer.calls()).isEqualTo(1);
    }

    @Test
    void aNameWithAValidCertificateIsServedWhileItsRenewalBacksOff() throws Exception {
        CertifiedKey issued = await(resolver.certificate("links.shop.test"));
        pki.issuer.failNext(new IssuanceException("the CA refused links.shop.test: rejectedIdentifier"));

        assertThatThrownBy(() -> await(resolver.renew("links.shop.test"))).hasCauseInstanceOf(IssuanceException.class);

        assertThat(resolver.lastFailure("links.shop.test")).isPresent();
        assertThat(resolver.certificate("links.shop.test")).isCompletedWithValue(issued);
        CertificateResolver restarted = pki.resolver();
        assertThat(await(restarted.certificate("links.shop.test")).leaf()).isEqualTo(issued.leaf());
        assertThat(restarted.lastFailure("links.shop.test")).isPresent();
        assertThat(pki.issuer.calls()).isEqualTo(2);
    }

    @Test
    void anExpiredCertificateCountsAsAbsentButOneAboutToExpireIsStillServed() throws Exception {
        CertifiedKey issued = await(resolver.certificate("links.shop.test"));

        pki.clock.advance(Duration.ofDays(80));
        assertThat(await(resolver.certificate("links.shop.test"))).isSameAs(issued);
        assertThat(await(pki.resolver().certificate("links.shop.test")).leaf()).isEqualTo(issued.leaf());

        pki.clock.advance(Duration.ofDays(11));
        CertifiedKey fresh = await(resolver.certificate("links.shop.test"));
        assertThat(fresh.leaf()).isNotEqualTo(issued.leaf());
        assertThat(pki.issuer.calls()).isEqualTo(2);
    }

    @Test
    void renewSwapsInANewCertificateAndContextAndStoresIt() throws Exception {
        CertifiedKey issued = await(resolver.certificate("links.shop.test"));
        SslContext oldContext = contexts.acquireCached(issued);
        List<CertifiedKey> announced = new ArrayList<>();
        resolver.onIssued(announced::add);

        CertifiedKey renewed = await(resolver.renew("links.shop.test"));

        assertThat(renewed.leaf().getSerialNumber()).isNotEqualTo(issued.leaf().getSerialNumber());
        assertThat(resolver.certificate("links.shop.test")).isCompletedWithValue(renewed);
        assertThat(resolver.cached("links.shop.test")).contains(renewed);
        assertThat(contexts.acquireCached(issued)).isNull();
        SslContext newContext = contexts.acquireCached(renewed);
        assertThat(newContext).isNotNull().isNotSameAs(oldContext);
        assertThat(pki.store.load("links.shop.test").orElseThrow().leaf()).isEqualTo(renewed.leaf());
        assertThat(announced).containsExactly(renewed);
        if (oldContext instanceof ReferenceCounted counted) {
            // Only the reference we took is left: the cache let go, and our release frees it.
            assertThat(counted.refCnt()).isEqualTo(1);
        }
        ReferenceCountUtil.release(oldContext);
        ReferenceCountUtil.release(newContext);
    }

    @Test
    void memoryHoldsAtMostItsBoundAndAnEvictedNameIsServedFromStorageWithAWorkingContext() throws Exception {
        TlsContexts boundedContexts = new TlsContexts(TlsContexts.preferredProvider(), 2);
        CertificateResolver bounded = CertificateResolver.builder()
                .config(pki.config)
                .store(pki.store)
                .issuer(pki.issuer)
                .policy(pki.policy)
                .blocking(pki.blocking)
                .metrics(pki.metrics)
                .clock(pki.clock)
                .events(CertificateEvents.of(boundedContexts::warm, boundedContexts::invalidate))
                .maximumSize(2)
                .build();
        List<CertifiedKey> issued = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            issued.add(await(bounded.certificate("n" + i + ".wild.test")));
        }

        assertThat(bounded.inMemory()).hasSizeLessThanOrEqualTo(2);
        assertThat(boundedContexts.size()).isLessThanOrEqualTo(2);
        for (CertifiedKey first : issued) {
            CertifiedKey again = await(bounded.certificate(first.name()));
            assertThat(again.leaf()).isEqualTo(first.leaf());
            SslContext server = boundedContexts.acquire(again);
            SslContext client = SslContextBuilder.forClient()
                    .sslProvider(boundedContexts.provider())
                    .trustManager(pki.root())
                    .build();
            SSLEngine serverEngine = server.newEngine(ByteBufAllocator.DEFAULT);
            SSLEngine clientEngine = client.newEngine(ByteBufAllocator.DEFAULT, first.name(), 443);
            try {
                InMemoryHandshake.run(clientEngine, serverEngine);
                assertThat(clientEngine.getSession().getPeerCertificates()[0]).isEqualTo(first.leaf());
            } finally {
                ReferenceCountUtil.release(clientEngine);
                ReferenceCountUtil.release(serverEngine);
                ReferenceCountUtil.release(client);
                ReferenceCountUtil.release(server);
            }
        }
        assertThat(pki.issuer.calls()).isEqualTo(6); // evicted names came back from storage, not from the CA
        assertThat(bounded.inMemory()).hasSizeLessThanOrEqualTo(2);
    }

    @Test
    void aRenewedCertificateReplacesTheCachedOneAlsoForANewResolverReadingStorage() throws Exception {
        CertifiedKey issued = await(resolver.certificate("links.shop.test"));
        CertifiedKey renewed = await(resolver.renew("links.shop.test"));

        CertifiedKey loaded = await(pki.resolver().certificate("links.shop.test"));

        assertThat(loaded.leaf()).isEqualTo(renewed.leaf()).isNotEqualTo(issued.leaf());
        assertThat(loaded.key().getEncoded()).isEqualTo(renewed.key().getEncoded());
    }

    @Test
    void concurrentRenewalsOfOneNameIssueOnce() throws Exception {
        await(resolver.certificate("links.shop.test"));
        pki.issuer.delay(Duration.ofMillis(200));

        CompletableFuture<CertifiedKey> first = resolver.renew("links.shop.test");
        CompletableFuture<CertifiedKey> second = resolver.renew("links.shop.test");

        assertThat(await(first)).isSameAs(await(second));
        assertThat(pki.issuer.calls()).isEqualTo(2);
    }

    @Test
    void forgetDropsTheCertificateFromMemoryAndStorage() throws Exception {
        await(resolver.certificate("links.shop.test"));

        resolver.forget("links.shop.test");

        assertThat(resolver.cached("links.shop.test")).isEmpty();
        assertThat(pki.store.load("links.shop.test")).isEmpty();
        assertThat(resolver.inMemory()).isEmpty();
    }

    @Test
    void gaugesShowTheCountAndTheEarliestExpiry() throws Exception {
        await(resolver.certificate("links.shop.test"));
        pki.clock.advance(Duration.ofDays(10));
        await(resolver.certificate("a.wild.test"));

        String scrape = pki.metrics.scrape();

        assertThat(scrape).contains("clicktls_certificates 2.0");
        double earliest = Double.parseDouble(scrape.lines()
                .filter(line -> line.startsWith("clicktls_certificate_expiry_earliest_seconds "))
                .findFirst()
                .orElseThrow()
                .split(" ")[1]);
        assertThat(earliest).isCloseTo(Duration.ofDays(80).toSeconds(), org.assertj.core.data.Offset.offset(2.0));

        resolver.forget("links.shop.test");
        double after = Double.parseDouble(pki.metrics
                .scrape()
                .lines()
                .filter(line -> line.startsWith("clicktls_certificate_expiry_earliest_seconds "))
                .findFirst()
                .orElseThrow()
                .split(" ")[1]);
        assertThat(after).isCloseTo(Duration.ofDays(90).toSeconds(), org.assertj.core.data.Offset.offset(2.0));
    }
}
