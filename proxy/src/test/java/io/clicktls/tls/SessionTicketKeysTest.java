package io.clicktls.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.clicktls.pki.CertifiedKey;
import io.clicktls.testing.InternalCaStack;
import io.clicktls.testing.MutableClock;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.OpenSslSessionTicketKey;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SessionTicketKeysTest {

    private static final Duration ROTATION = Duration.ofHours(12);

    @TempDir
    Path directory;

    private final byte[] secret = new byte[32];
    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-25T06:00:00Z"));
    private InternalCaStack pki;
    private CertifiedKey certified;
    private SslContext client;

    @BeforeEach
    void setUp() throws Exception {
        Arrays.fill(secret, (byte) 7);
        pki = InternalCaStack.create(directory, "links.shop.test");
        certified = pki.internalIssuer.issue("links.shop.test");
        if (OpenSsl.isAvailable()) {
            client = newClient();
        }
    }

    @AfterEach
    void tearDown() {
        ReferenceCountUtil.release(client);
        pki.close();
    }

    @Test
    void nodesWithTheSameSecretDeriveTheSameKeys() {
        SessionTicketKeys one = new SessionTicketKeys(secret, ROTATION, clock);
        SessionTicketKeys other = new SessionTicketKeys(secret.clone(), ROTATION, clock);

        assertThat(keyBytes(one.key("links.shop.test", 5))).isEqualTo(keyBytes(other.key("links.shop.test", 5)));
    }

    @Test
    void eachNameAndEachPeriodHasItsOwnKey() {
        SessionTicketKeys keys = new SessionTicketKeys(secret, ROTATION, clock);
        byte[] key = keyBytes(keys.key("links.shop.test", 5));

        assertThat(keyBytes(keys.key("links.other.test", 5))).isNotEqualTo(key);
        assertThat(keyBytes(keys.key("links.shop.test", 6))).isNotEqualTo(key);
        assertThat(keyBytes(new SessionTicketKeys(new byte[32], ROTATION, clock).key("links.shop.test", 5)))
                .isNotEqualTo(key);
    }

    @Test
    void aRotationIsDueOncePerPeriod() {
        SessionTicketKeys keys = new SessionTicketKeys(secret, ROTATION, clock);
        assertThat(keys.rotationDue()).isFalse();

        clock.advance(ROTATION);

        assertThat(keys.rotationDue()).isTrue();
        assertThat(keys.rotationDue()).isFalse();
    }

    @Test
    void aReplacedSecretGivesOtherKeysAndMakesARotationDue() {
        SessionTicketKeys keys = new SessionTicketKeys(secret, ROTATION, clock);
        byte[] before = keyBytes(keys.key("links.shop.test", 5));
        assertThat(keys.useSecret(secret.clone()))
                .as("the same secret is no change")
                .isFalse();
        assertThat(keys.rotationDue()).isFalse();

        byte[] replacement = new byte[32];
        assertThat(keys.useSecret(replacement)).isTrue();

        assertThat(keys.rotationDue()).isTrue();
        assertThat(keyBytes(keys.key("links.shop.test", 5)))
                .isNotEqualTo(before)
                .isEqualTo(keyBytes(new SessionTicketKeys(replacement, ROTATION, clock).key("links.shop.test", 5)));
    }

    @Test
    void shortSecretsAndRotationsAreRefused() {
        assertThatThrownBy(() -> new SessionTicketKeys(new byte[16], ROTATION, clock))
                .hasMessageContaining("expected: >= 32");
        assertThatThrownBy(() -> new SessionTicketKeys(secret, Duration.ofSeconds(5), clock))
                .hasMessageContaining("expected: >= 1 minute");
    }

    @Test
    void aSessionResumesOnAContextBuiltAgainFromTheSameSecret() throws Exception {
        assumeTrue(OpenSsl.isAvailable(), "BoringSSL is not available here");
        SslContext first = new TlsContexts(SslProvider.OPENSSL_REFCNT, 10, keys()).acquire(certified);
        SslContext second = new TlsContexts(SslProvider.OPENSSL_REFCNT, 10, keys()).acquire(certified);
        try {
            connect(first);

            connect(second);

            assertThat(resumptions(second))
                    .as("the second server resumed the first one's session")
                    .isEqualTo(1);
        } finally {
            ReferenceCountUtil.release(first);
            ReferenceCountUtil.release(second);
        }
    }

    @Test
    void aTicketIsAcceptedForOneMorePeriodAndThenNoMore() throws Exception {
        assumeTrue(OpenSsl.isAvailable(), "BoringSSL is not available here");
        SessionTicketKeys keys = keys();
        SslContext server = new TlsContexts(SslProvider.OPENSSL_REFCNT, 10, keys).acquire(certified);
        try {
            connect(server);
            clock.advance(ROTATION);
            keys.apply(server, certified.name());

            connect(server);
            assertThat(resumptions(server))
                    .as("resumed with the previous period's key")
                    .isEqualTo(1);

            clock.advance(ROTATION.multipliedBy(2));
            keys.apply(server, certified.name());
            connect(server);
            assertThat(resumptions(server))
                    .as("a full handshake: the key is gone")
                    .isEqualTo(1);
            assertThat(stats(server).ticketKeyFail()).isEqualTo(1);
        } finally {
            ReferenceCountUtil.release(server);
        }
    }

    @Test
    void cachedContextsTakeTheNewKeysWhenAPeriodBegins() throws Exception {
        assumeTrue(OpenSsl.isAvailable(), "BoringSSL is not available here");
        TlsContexts contexts = new TlsContexts(SslProvider.OPENSSL_REFCNT, 10, keys());
        contexts.warm(certified);
        clock.advance(ROTATION.multipliedBy(2));
        SslContext fresh = new TlsContexts(SslProvider.OPENSSL_REFCNT, 10, keys()).acquire(certified);
        SslContext cached = contexts.acquireCached(certified); // starts the rotation
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            do {
                SslContext newClient = newClient();
                try {
                    connect(newClient, cached); // the client's only ticket: from the cached context's current key
                    connect(newClient, fresh);
                } finally {
                    ReferenceCountUtil.release(newClient);
                }
            } while (resumptions(fresh) == 0 && System.nanoTime() < deadline);

            assertThat(resumptions(fresh))
                    .as("a ticket of the rotated context resumes at a fresh one")
                    .isPositive();
        } finally {
            ReferenceCountUtil.release(cached);
            ReferenceCountUtil.release(fresh);
        }
    }

    private static void runTasks(SSLEngine engine) {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }

    /** Netty's BoringSSL client keeps sessions per host and port, and offers them again. */
    private SslContext newClient() throws SSLException {
        return SslContextBuilder.forClient()
                .sslProvider(SslProvider.OPENSSL)
                .trustManager(pki.root())
                .protocols("TLSv1.3")
                .build();
    }

    private SessionTicketKeys keys() {
        return new SessionTicketKeys(secret, ROTATION, clock);
    }

    private static long resumptions(SslContext server) {
        return stats(server).ticketKeyResume() + stats(server).ticketKeyRenew();
    }

    private static io.netty.handler.ssl.OpenSslSessionStats stats(SslContext server) {
        return ((OpenSslSessionContext) server.sessionContext()).stats();
    }

    private static byte[] keyBytes(OpenSslSessionTicketKey key) {
        ByteBuffer all = ByteBuffer.allocate(OpenSslSessionTicketKey.TICKET_KEY_SIZE);
        return all.put(key.name()).put(key.hmacKey()).put(key.aesKey()).array();
    }

    /**
     * One connection in memory: a handshake, then a few bytes from the server (which carry its session tickets) read
     * by the client, which keeps the session for the next connection to the same host and port.
     */
    private void connect(SslContext server) throws SSLException {
        connect(client, server);
    }

    private static void connect(SslContext client, SslContext server) throws SSLException {
        SSLEngine clientEngine = client.newEngine(ByteBufAllocator.DEFAULT, "links.shop.test", 443);
        SSLEngine serverEngine = server.newEngine(ByteBufAllocator.DEFAULT);
        try {
            clientEngine.beginHandshake();
            serverEngine.beginHandshake();
            ByteBuffer toServer = ByteBuffer.allocate(64 * 1024);
            ByteBuffer toClient = ByteBuffer.allocate(64 * 1024);
            ByteBuffer sink = ByteBuffer.allocate(64 * 1024);
            ByteBuffer hello = ByteBuffer.wrap("hello".getBytes(StandardCharsets.US_ASCII));
            ByteBuffer empty = ByteBuffer.allocate(0);
            boolean greeted = false;
            for (int round = 0; round < 20 && !(greeted && sink.position() > 0); round++) {
                clientEngine.wrap(empty, toServer);
                runTasks(clientEngine);
                toServer.flip();
                serverEngine.unwrap(toServer, sink.clear());
                runTasks(serverEngine);
                toServer.compact();
                boolean done = serverEngine.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING;
                serverEngine.wrap(done && !greeted ? hello : empty, toClient);
                runTasks(serverEngine);
                greeted |= done && !hello.hasRemaining();
                toClient.flip();
                sink.clear();
                while (toClient.hasRemaining()) {
                    SSLEngineResult result = clientEngine.unwrap(toClient, sink);
                    runTasks(clientEngine);
                    if (result.bytesConsumed() == 0) {
                        break;
                    }
                }
                toClient.compact();
            }
            assertThat(greeted).as("handshake done").isTrue();
        } finally {
            ReferenceCountUtil.release(clientEngine);
            ReferenceCountUtil.release(serverEngine);
        }
    }
}
