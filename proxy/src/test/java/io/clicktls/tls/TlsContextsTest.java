package io.clicktls.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.clicktls.pki.CertifiedKey;
import io.clicktls.testing.InternalCaStack;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ReferenceCounted;
import java.math.BigInteger;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.stream.Stream;
import javax.net.ssl.SSLEngine;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class TlsContextsTest {

    @TempDir
    Path directory;

    private InternalCaStack pki;
    private CertifiedKey certified;
    private final List<TlsContexts> created = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        pki = InternalCaStack.create(directory, "links.shop.test");
        certified = pki.internalIssuer.issue("links.shop.test");
    }

    @AfterEach
    void tearDown() {
        created.forEach(TlsContexts::clear); // native contexts freed now, not reported as leaks after a GC
        pki.close();
    }

    private TlsContexts contexts(SslProvider provider, int maximumSize) {
        TlsContexts contexts = new TlsContexts(provider, maximumSize);
        created.add(contexts);
        return contexts;
    }

    private static void assumeAvailable(SslProvider provider) {
        if (provider == SslProvider.OPENSSL_REFCNT) {
            assumeTrue(OpenSsl.isAvailable(), "BoringSSL is not available here");
        }
    }

    @EachProvider
    void serverContextsSpeakTls13And12WithH2First(SslProvider provider) throws Exception {
        assumeAvailable(provider);
        TlsContexts contexts = contexts(provider, 10);

        SslContext context = contexts.acquire(certified);
        SSLEngine engine = context.newEngine(ByteBufAllocator.DEFAULT);
        try {
            assertThat(context.isServer()).isTrue();
            assertThat(context.applicationProtocolNegotiator().protocols()).containsExactly("h2", "http/1.1");
            // The JDK's server engines also list SSLv2Hello, a hello format the selection handler never lets through.
            assertThat(engine.getEnabledProtocols())
                    .filteredOn(protocol -> !protocol.equals("SSLv2Hello"))
                    .containsExactlyInAnyOrder("TLSv1.3", "TLSv1.2");
        } finally {
            ReferenceCountUtil.release(engine);
            ReferenceCountUtil.release(context);
        }
    }

    @EachProvider
    void challengeContextsOfferOnlyAcmeTls1(SslProvider provider) throws Exception {
        assumeAvailable(provider);
        SslContext context = contexts(provider, 10).challengeContext(certified);
        try {
            assertThat(context.applicationProtocolNegotiator().protocols()).containsExactly("acme-tls/1");
        } finally {
            ReferenceCountUtil.release(context);
        }
    }

    @Test
    void contextsAreSharedPerCertificateAndFreedOnceTheLastUserLetsGo() throws Exception {
        assumeAvailable(SslProvider.OPENSSL_REFCNT);
        TlsContexts contexts = contexts(SslProvider.OPENSSL_REFCNT, 10);
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
        TlsContexts contexts = contexts(SslProvider.OPENSSL_REFCNT, 1);
        SslContext first = contexts.acquire(certified);
        ReferenceCounted counted = (ReferenceCounted) first;
        ReferenceCountUtil.release(first);

        for (int i = 0; i < 5; i++) {
            contexts.warm(pki.internalIssuer.issue("links.shop.test"));
        }

        assertThat(contexts.size()).isLessThanOrEqualTo(1);
        assertThat(counted.refCnt()).isZero();
    }

    static Stream<Arguments> providersKeysAndVersions() {
        var cases = new ArrayList<Arguments>();
        for (SslProvider provider : List.of(SslProvider.OPENSSL_REFCNT, SslProvider.JDK)) {
            for (String key : List.of("EC", "ECDSA-BC", "EC384", "RSA")) {
                for (String version : List.of("TLSv1.3", "TLSv1.2")) {
                    cases.add(Arguments.of(provider, key, version));
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("providersKeysAndVersions")
    void everyKeyTypeHandshakesOverTls13And12WithoutAKeyStore(SslProvider provider, String key, String version)
            throws Exception {
        assumeAvailable(provider);
        CertifiedKey own = selfSigned("keys.shop.test", key);
        TlsContexts contexts = contexts(provider, 10);
        SslContext server = contexts.acquire(own);
        SslContext client = SslContextBuilder.forClient()
                .sslProvider(provider)
                .protocols(version)
                .trustManager(own.leaf())
                .build();
        SSLEngine serverEngine = server.newEngine(ByteBufAllocator.DEFAULT);
        SSLEngine clientEngine = client.newEngine(ByteBufAllocator.DEFAULT, "keys.shop.test", 443);
        try {
            TlsContexts.handshakeInMemory(clientEngine, serverEngine);

            assertThat(clientEngine.getSession().getProtocol()).isEqualTo(version);
            assertThat(clientEngine.getSession().getPeerCertificates()[0]).isEqualTo(own.leaf());
        } finally {
            ReferenceCountUtil.release(clientEngine);
            ReferenceCountUtil.release(serverEngine);
            ReferenceCountUtil.release(client);
            ReferenceCountUtil.release(server);
        }
    }

    @Test
    void aClientCertificateIsNeitherAskedForNorAccepted() throws Exception {
        assumeAvailable(SslProvider.OPENSSL_REFCNT);
        SslContext server = contexts(SslProvider.OPENSSL_REFCNT, 10).acquire(certified);
        SSLEngine engine = server.newEngine(ByteBufAllocator.DEFAULT);
        try {
            assertThat(engine.getNeedClientAuth()).isFalse();
            assertThat(engine.getWantClientAuth()).isFalse();
        } finally {
            ReferenceCountUtil.release(engine);
            ReferenceCountUtil.release(server);
        }
    }

    @EachProvider
    void validationConnectionsShareOneChallengeContextEvenWhenReadFromStorageAgain(SslProvider provider)
            throws Exception {
        assumeAvailable(provider);
        TlsContexts contexts = contexts(provider, 10);
        // what another node reads from storage: the same certificate and key in new objects
        CertifiedKey again =
                new CertifiedKey(certified.name(), certified.key(), List.copyOf(certified.chain()), certified.issuer());

        SslContext first = contexts.challengeContext(certified);
        SslContext second = contexts.challengeContext(again);
        try {
            assertThat(second).isSameAs(first);
            assertThat(contexts.challengeContextCount()).isEqualTo(1);
            assertThat(contexts.size())
                    .as("apart from the certificates' contexts")
                    .isZero();
        } finally {
            ReferenceCountUtil.release(first);
            ReferenceCountUtil.release(second);
        }
    }

    @Test
    void aPreparedChallengeContextIsHandedOutAndFreedOnceWithdrawnAndItsLastConnectionIsGone() throws Exception {
        assumeAvailable(SslProvider.OPENSSL_REFCNT);
        TlsContexts contexts = contexts(SslProvider.OPENSSL_REFCNT, 10);

        contexts.prepareChallenge(certified);
        SslContext context = contexts.challengeContext(certified);
        ReferenceCounted counted = (ReferenceCounted) context;
        SSLEngine engine = context.newEngine(ByteBufAllocator.DEFAULT);
        ReferenceCountUtil.release(context);

        assertThat(counted.refCnt()).as("the cache and the open engine").isEqualTo(2);
        contexts.releaseChallenge(certified);
        assertThat(contexts.challengeContextCount()).isZero();
        assertThat(counted.refCnt()).as("only the open engine holds it").isEqualTo(1);
        ReferenceCountUtil.release(engine);
        assertThat(counted.refCnt()).isZero();
        SslContext rebuilt = contexts.challengeContext(certified);
        assertThat(rebuilt).isNotSameAs(context);
        ReferenceCountUtil.release(rebuilt);
    }

    @Test
    void clearingAtShutdownFreesEveryContextOnceItsLastConnectionIsGone() throws Exception {
        assumeAvailable(SslProvider.OPENSSL_REFCNT);
        TlsContexts contexts = contexts(SslProvider.OPENSSL_REFCNT, 10);
        contexts.warm(certified);
        contexts.prepareChallenge(certified);
        SslContext served = contexts.acquireCached(certified);
        SslContext challenge = contexts.challengeContext(certified);
        SSLEngine open = served.newEngine(ByteBufAllocator.DEFAULT);
        ReferenceCountUtil.release(served);
        ReferenceCountUtil.release(challenge);

        contexts.clear();

        assertThat(contexts.size()).isZero();
        assertThat(contexts.challengeContextCount()).isZero();
        assertThat(((ReferenceCounted) challenge).refCnt()).isZero();
        assertThat(((ReferenceCounted) served).refCnt())
                .as("the open connection's")
                .isEqualTo(1);
        ReferenceCountUtil.release(open);
        assertThat(((ReferenceCounted) served).refCnt()).isZero();
    }

    @EachProvider
    void warmUpHandshakesInMemoryAndKeepsNothing(SslProvider provider) throws Exception {
        assumeAvailable(provider);
        TlsContexts contexts = contexts(provider, 10);

        assertThat(contexts.warmUp(selfSigned("warm-up.invalid", "EC"))).isTrue();

        assertThat(contexts.size()).isZero();
        assertThat(contexts.challengeContextCount()).isZero();
    }

    @Test
    void warmUpWithAnUnusableCertificateReportsFailureInsteadOfThrowing() throws Exception {
        assumeAvailable(SslProvider.OPENSSL_REFCNT);
        CertifiedKey mismatched = new CertifiedKey(
                "warm-up.invalid",
                selfSigned("a.invalid", "EC").key(),
                selfSigned("b.invalid", "EC").chain(),
                "test");

        assertThat(contexts(SslProvider.OPENSSL_REFCNT, 10).warmUp(mismatched)).isFalse();
    }

    private static CertifiedKey selfSigned(String name, String kind) throws Exception {
        KeyPairGenerator generator;
        String signature;
        switch (kind) {
            case "EC" -> {
                generator = KeyPairGenerator.getInstance("EC");
                generator.initialize(new ECGenParameterSpec("secp256r1"));
                signature = "SHA256withECDSA";
            }
            case "ECDSA-BC" -> { // what acme4j makes: Bouncy Castle names the key "ECDSA"
                generator = KeyPairGenerator.getInstance("ECDSA", new BouncyCastleProvider());
                generator.initialize(new ECGenParameterSpec("secp256r1"));
                signature = "SHA256withECDSA";
            }
            case "EC384" -> {
                generator = KeyPairGenerator.getInstance("EC");
                generator.initialize(new ECGenParameterSpec("secp384r1"));
                signature = "SHA384withECDSA";
            }
            case "RSA" -> {
                generator = KeyPairGenerator.getInstance("RSA");
                generator.initialize(2048);
                signature = "SHA256withRSA";
            }
            default -> throw new IllegalArgumentException(kind);
        }
        KeyPair pair = generator.generateKeyPair();
        var subject = new X500Name("CN=" + name);
        Instant now = Instant.now();
        var builder = new JcaX509v3CertificateBuilder(
                        subject,
                        BigInteger.valueOf(now.toEpochMilli()),
                        Date.from(now.minusSeconds(60)),
                        Date.from(now.plusSeconds(3600)),
                        subject,
                        pair.getPublic())
                .addExtension(
                        Extension.subjectAlternativeName,
                        false,
                        new GeneralNames(new GeneralName(GeneralName.dNSName, name)));
        var signer = new JcaContentSignerBuilder(signature);
        if (kind.endsWith("-BC")) {
            signer.setProvider(new BouncyCastleProvider());
        }
        X509Certificate certificate =
                new JcaX509CertificateConverter().getCertificate(builder.build(signer.build(pair.getPrivate())));
        return new CertifiedKey(name, pair.getPrivate(), List.of(certificate), "test");
    }
}
