package io.clicktls.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.acme.Challenges;
import io.clicktls.certificates.CertificateResolver;
import io.clicktls.certificates.IssuanceException;
import io.clicktls.testing.InternalCaStack;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The selection handler on an embedded channel: only paths that complete on the calling thread. */
class TlsSelectionHandlerTest {

    @TempDir
    Path directory;

    private InternalCaStack pki;
    private final AtomicInteger blockingTasks = new AtomicInteger();
    private CertificateResolver resolver;
    private TlsContexts contexts;

    @BeforeEach
    void setUp() throws Exception {
        pki = InternalCaStack.create(directory, "links.shop.test");
        Executor counting = task -> {
            blockingTasks.incrementAndGet();
            pki.blocking.execute(task);
        };
        contexts = InternalCaStack.contexts(SslProvider.JDK);
        resolver = pki.resolver(contexts, counting);
    }

    @AfterEach
    void tearDown() {
        pki.close();
    }

    private EmbeddedChannel channel() {
        Executor counted = task -> {
            blockingTasks.incrementAndGet();
            pki.blocking.execute(task);
        };
        return new EmbeddedChannel(new TlsSelectionHandler(new TlsSelectionHandler.Shared(
                resolver, contexts, Challenges.NONE, counted, counted, pki.config, pki.metrics, null)));
    }

    private static ByteBuf hello(String serverName, String... alpn) throws Exception {
        return Unpooled.wrappedBuffer(ClientHelloParserTest.jdkClientHello(serverName, alpn));
    }

    @Test
    void aCertificateInMemoryIsSelectedOnTheSpotWithoutAnyThreadHop() throws Exception {
        resolver.certificate("links.shop.test").get(10, TimeUnit.SECONDS);
        int before = blockingTasks.get();
        EmbeddedChannel channel = channel();

        channel.writeInbound(hello("links.shop.test", "h2"));

        assertThat(channel.pipeline().get(TlsSelectionHandler.SSL_HANDLER_NAME)).isInstanceOf(SslHandler.class);
        assertThat(channel.pipeline().get(TlsSelectionHandler.class)).isNull();
        assertThat(blockingTasks.get()).isEqualTo(before);
        // The buffered hello went on to the SslHandler, which answered with a ServerHello.
        ByteBuf serverHello = channel.readOutbound();
        assertThat(serverHello.getUnsignedByte(0)).isEqualTo((short) 22);
        serverHello.release();
        channel.finishAndReleaseAll();
    }

    @Test
    void theSelectedNameReachesTheHandlersAfterTlsNormalizedInAnSniCompletionEvent() throws Exception {
        resolver.certificate("links.shop.test").get(10, TimeUnit.SECONDS);
        List<Object> events = new ArrayList<>();
        EmbeddedChannel channel = channelRecordingEvents(events);

        channel.writeInbound(hello("Links.Shop.TEST", "h2"));

        assertThat(events)
                .filteredOn(SniCompletionEvent.class::isInstance)
                .singleElement()
                .satisfies(event -> {
                    assertThat(((SniCompletionEvent) event).hostname()).isEqualTo("links.shop.test");
                    assertThat(((SniCompletionEvent) event).isSuccess()).isTrue();
                });
        channel.finishAndReleaseAll();
    }

    @Test
    void aRefusedNameSendsNoSniCompletionEvent() throws Exception {
        List<Object> events = new ArrayList<>();
        EmbeddedChannel channel = channelRecordingEvents(events);

        channel.writeInbound(hello("127.0.0.1", "h2"));

        assertAlert(channel, 112);
        assertThat(events).noneMatch(SniCompletionEvent.class::isInstance);
        channel.finishAndReleaseAll();
    }

    @Test
    void aHelloWithoutSniGetsAnUnrecognizedNameAlertAndTheChannelCloses() throws Exception {
        EmbeddedChannel channel = channel();

        channel.writeInbound(hello(null, "h2"));

        assertAlert(channel, 112);
        assertThat(pki.metrics.scrape()).contains("clicktls_tls_handshakes_total{result=\"no_sni\"} 1.0");
        assertThat(blockingTasks).hasValue(0);
    }

    @Test
    void aNameThatIsNotAHostNameIsRefusedWithoutStorageOrIssuance() throws Exception {
        EmbeddedChannel channel = channel();

        channel.writeInbound(hello("127.0.0.1", "h2"));

        assertAlert(channel, 112);
        assertThat(pki.metrics.scrape()).contains("clicktls_tls_handshakes_total{result=\"unknown_name\"} 1.0");
        assertThat(blockingTasks).hasValue(0);
        assertThat(pki.issuer.calls()).isZero();
    }

    @Test
    void aNameWhoseIssuanceBacksOffGetsAnInternalErrorAlertOnTheSpotWithoutAskingTheCa() throws Exception {
        pki.store.scanIndex();
        pki.issuer.failNext(new IssuanceException("CA unreachable: connection refused"));
        assertThatThrownBy(() -> resolver.certificate("links.shop.test").get(10, TimeUnit.SECONDS))
                .hasCauseInstanceOf(IssuanceException.class);
        int before = blockingTasks.get();
        EmbeddedChannel channel = channel();

        channel.writeInbound(hello("links.shop.test", "h2"));

        assertAlert(channel, 80);
        assertThat(pki.metrics.scrape()).contains("clicktls_tls_handshakes_total{result=\"backoff\"} 1.0");
        assertThat(blockingTasks.get()).isEqualTo(before);
        assertThat(pki.issuer.calls()).isEqualTo(1);
    }

    @Test
    void aNameRemovedFromTheConfigGetsUnrecognizedNameThoughItsCertificateIsInMemory() throws Exception {
        resolver.certificate("links.shop.test").get(10, TimeUnit.SECONDS);
        pki.config.replace(InternalCaStack.config(directory, Duration.ofSeconds(10), List.of("other.shop.test")));
        EmbeddedChannel channel = channel();

        channel.writeInbound(hello("links.shop.test", "h2"));

        assertAlert(channel, 112);
        assertThat(pki.metrics.scrape()).contains("clicktls_tls_handshakes_total{result=\"unknown_name\"} 1.0");
    }

    @Test
    void plainHttpGetsADecodeErrorAlert() {
        EmbeddedChannel channel = channel();

        channel.writeInbound(Unpooled.copiedBuffer("GET / HTTP/1.1\r\n\r\n", StandardCharsets.US_ASCII));

        assertAlert(channel, 50);
        assertThat(pki.metrics.scrape()).contains("clicktls_tls_handshakes_total{result=\"malformed\"} 1.0");
    }

    @Test
    void aClientHelloWithAMalformedExtensionGetsADecodeErrorAlert() throws Exception {
        ByteBuf hello = hello("links.shop.test", "h2");
        // Shorten the extensions' total length by one, so that the last extension overruns it.
        int sessionIdAt = 5 + 4 + 2 + 32; // record header, handshake header, version, random
        int cipherSuitesAt = sessionIdAt + 1 + hello.getUnsignedByte(sessionIdAt);
        int compressionAt = cipherSuitesAt + 2 + hello.getUnsignedShort(cipherSuitesAt);
        int extensionsAt = compressionAt + 1 + hello.getUnsignedByte(compressionAt);
        hello.setShort(extensionsAt, hello.getUnsignedShort(extensionsAt) - 1);
        EmbeddedChannel channel = channel();

        channel.writeInbound(hello);

        assertAlert(channel, 50);
    }

    private static void assertAlert(EmbeddedChannel channel, int description) {
        ByteBuf alert = channel.readOutbound();
        assertThat(ByteBufUtil.getBytes(alert)).containsExactly(21, 3, 3, 0, 2, 2, description);
        alert.release();
        assertThat(channel.isActive()).isFalse();
        channel.finishAndReleaseAll();
    }

    /** {@link #channel()} with a last handler that adds every user event reaching it to {@code events}. */
    private EmbeddedChannel channelRecordingEvents(List<Object> events) {
        EmbeddedChannel channel = channel();
        channel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                events.add(evt);
            }
        });
        return channel;
    }
}
