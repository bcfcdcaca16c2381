package io.clicktls.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.clicktls.pki.CertifiedKey;
import io.clicktls.testing.TestPki;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ReferenceCounted;
import java.nio.file.Path;
import javax.net.ssl.SSLEngine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TlsContextsTest {

    @TempDir
    Path directory;

    private TestPki pki;
    private CertifiedKey certified;

    @BeforeEach
    void setUp() throws Exception {
        pki = TestPki.create(directory, "links.shop.test");
        certified = pki.internalIssuer.issue("links.shop.test");
    }

    @AfterEach
    void tearDown() {
        pki.close();
    }

    private static void assumeAvailable(SslProvider provider) {
        if (provider == SslProvider.OPENSSL_REFCNT) {
            assumeTrue(OpenSsl.isAvailable(), "BoringSSL is not available here");
        }
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL_REFCNT", "JDK"})
    void serverContextsSpeakTls13And12WithH2First(SslProvider provider) throws Exception {
        assumeAvailable(provider);
        TlsContexts contexts = new TlsContexts(provider, 10);

        SslContext context = contexts.acquire(certified);
        SSLEngine engine = context.newEngine(ByteBufAllocator.DEFAULT);
        try {
            assertThat(context.isServer()).isTrue();
            assertThat(context.applicationProtocolNegotiator().protocols()).containsExactly("h2", "http/1.1");
            // The JDK's server engines also list SSLv2Hello, a hello format the selection handler never lets through.
            assertThat(engine.getEnabledProtocols()).filteredOn(protocol -> !protocol.equals("SSLv2Hello"))
                    .containsExactlyInAnyOrder("TLSv1.3", "TLSv1.2");
        } finally {
            ReferenceCountUtil.release(engine);
            ReferenceCountUtil.release(context);
        }
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL_REFCNT", "JDK"})
    void challengeContextsOfferOnlyAcmeTls1(SslProvider provider) throws Exception {
        assumeAvailable(provider);
        SslContext context = new TlsContexts(provider, 10).challengeContext(certified);
        try {
            assertThat(context.applicationProtocolNegotiator().protocols()).containsExactly("acme-tls/1");
        } finally {
            ReferenceCountUtil.release(context);
        }
    }

    @Test
    void contextsAreSharedPerCertificateAndFreedOnceTheLastUserLetsGo() throws Exception {
        assumeAvailable(SslProvider.OPENSSL_REFCNT);
        TlsContexts contexts = new TlsContexts(SslProvider.OPENSSL_REFCNT, 10);
        contexts.warm(certified);

        SslContext first = contexts.acquireCached(certified);
        SslContext second = contexts.acquire(certified);
        ReferenceCounted counted = (ReferenceCounted) first;

        assertThat(second).isSameAs(first);
        assertThat(counted.refCnt()).as("the cache and two callers").isEqualTo(3);
        SSLEngine engine = first.newEngine(ByteBufAllocator.DEFAULT);
        ReferenceCountUtil.release(first);
        ReferenceCountUtil.release(second);
        contexts.invalidate(certified);
        assertThat(counted.refCnt()).as("only the open engine holds it").isEqualTo(1);
        assertThat(contexts.acquireCached(certified)).isNull();
        ReferenceCountUtil.release(engine);
        assertThat(counted.refCnt()).isZero();
    }

    @Test
    void aBoundedCacheReleasesWhatItEvicts() throws Exception {
        assumeAvailable(SslProvider.OPENSSL_REFCNT);
        TlsContexts contexts = new TlsContexts(SslProvider.OPENSSL_REFCNT, 1);
        SslContext first = contexts.acquire(certified);
        ReferenceCounted counted = (ReferenceCounted) first;
        ReferenceCountUtil.release(first);

        for (int i = 0; i < 5; i++) {
            contexts.warm(pki.internalIssuer.issue("links.shop.test"));
        }

        assertThat(contexts.size()).isLessThanOrEqualTo(1);
        assertThat(counted.refCnt()).isZero();
    }
}
