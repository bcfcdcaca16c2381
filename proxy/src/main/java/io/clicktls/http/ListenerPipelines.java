package io.clicktls.http;

import io.clicktls.certificates.CertificateSource;
import io.clicktls.metrics.Metrics;
import io.clicktls.tls.ClientAddress;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SniCompletionEvent;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pipelines of the two listeners, every handler added by name in this one place so that each reads top to
 * bottom:
 *
 * <pre>
 * https: (proxy) → lingering-close → last-flush → tls → idle → alpn
 *          ┬ h2:       h2 → h2-streams → client-errors
 *          │           ⇒ per stream: codec → expect-continue → link-upgrade → proxy → client-errors
 *          └ http/1.1: codec → request-timeout → keep-alive → expect-continue → link-upgrade → proxy
 *                      → client-errors
 * http:  (proxy) → lingering-close → idle → codec → request-timeout → keep-alive → expect-continue → proxy (ACME
 *        http-01, 308 to https) → client-errors
 * (proxy): proxy-protocol → proxy-source, on connections from the load balancers of listen.proxy_protocol only;
 *          both leave the pipeline once the header is read
 * </pre>
 *
 * Before any handler, each new connection passes {@link ProxyProtocolAdmission} (with {@code
 * listen.proxy_protocol}: only listed load balancers may connect, and their connections begin with the PROXY
 * protocol's decoder and header reader) and the {@link ConnectionLimiter}, which closes it at once
 * when a limit is reached. {@link ClientErrorLog} ("client-errors") is last everywhere: every error ends there, is counted and
 * closes the connection or stream. {@link LingeringClose} is first everywhere: every close of a connection passes it,
 * so that the client reads our last response, GOAWAY or alert before the connection ends.
 *
 * There is no aggregator anywhere on the proxy path: bodies stream. The initializers run on the new channel's event
 * loop; nothing here blocks.
 */
final class ListenerPipelines {

    private static final Logger log = LoggerFactory.getLogger(ListenerPipelines.class);

    private final ProxyContext context;
    private final Function<Channel, ChannelHandler> tlsHandlerFactory;
    private final CertificateSource certificates;
    private final LocalAnswers plainHttpAnswers;
    /** The https listener's: the {@code well_known} files only. */
    private final LocalAnswers httpsAnswers = new WellKnownAnswers(LocalAnswers.NONE);

    private final ChannelGroup clients;
    private final ConnectionLimiter limiter;
    private final ClientErrorLog clientErrors;
    private final ProxyProtocolAdmission proxyProtocol;
    private final LingeringClose lingeringClose = new LingeringClose();

    ListenerPipelines(
            ProxyContext context,
            Function<Channel, ChannelHandler> tlsHandlerFactory,
            CertificateSource certificates,
            LocalAnswers plainHttpAnswers,
            ChannelGroup clients,
            ConnectionLimiter limiter) {
        this.context = context;
        this.tlsHandlerFactory = tlsHandlerFactory;
        this.certificates = certificates;
        this.plainHttpAnswers = plainHttpAnswers;
        this.clients = clients;
        this.limiter = limiter;
        this.clientErrors = new ClientErrorLog(context.metrics());
        this.proxyProtocol = new ProxyProtocolAdmission(
                () -> context.config().get().config().listen().proxyProtocol(), context.metrics());
    }

    ChannelInitializer<Channel> https() {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                if (!admit(ch, ConnectionLimiter.HTTPS)) {
                    return;
                }
                ChannelPipeline p = ch.pipeline();
                p.addLast(LingeringClose.NAME, lingeringClose);
                p.addLast("last-flush", new LastFlushWithClose());
                p.addLast("tls", tlsHandlerFactory.apply(ch));
                p.addLast(
                        "idle", ClientTimeouts.idleConnection(context.settings().keepAliveIdle()));
                p.addLast("alpn", new ProtocolSelection());
                p.addLast(ClientErrorLog.NAME, clientErrors);
                // Reads are asked for from here on (TLS selection and SslHandler while handshaking, ProxyHandler
                // after; HTTP/2's connection handler asks after every read by itself): switching auto-read off
                // later, once HTTP/1.1 is chosen, cost two epoll_ctl calls per connection (read interest off, on).
                ch.config().setAutoRead(false);
                ch.read();
            }
        };
    }

    ChannelInitializer<Channel> http() {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                if (!admit(ch, ConnectionLimiter.HTTP)) {
                    return;
                }
                ChannelPipeline p = ch.pipeline();
                p.addLast(LingeringClose.NAME, lingeringClose);
                p.addLast(
                        "idle", ClientTimeouts.idleConnection(context.settings().keepAliveIdle()));
                addHttp1(p, "http", plainHttpAnswers, false);
                p.addLast(ClientErrorLog.NAME, clientErrors);
            }
        };
    }

    /**
     * Lets a new connection in, or closes it: first the PROXY protocol's source check, then the connection limits.
     * A connection from a load balancer gets the header's reader first in its pipeline, and its per-client limit
     * waits for the header.
     */
    private boolean admit(Channel ch, String listener) {
        ProxyProtocolAdmission.Source source = proxyProtocol.source(ch);
        boolean header = source == ProxyProtocolAdmission.Source.BALANCER;
        if (source == ProxyProtocolAdmission.Source.REFUSED || !limiter.admit(ch, listener, header)) {
            return false;
        }
        clients.add(ch);
        if (header) {
            proxyProtocol.expectHeader(ch.pipeline(), limiter);
        }
        return true;
    }

    private void addHttp1(ChannelPipeline p, String scheme, LocalAnswers answers, boolean tls) {
        p.addLast("codec", new ClientHttpCodec(decoderConfig()));
        p.addLast(
                "request-timeout",
                new ClientTimeouts.RequestHeaders(
                        context.settings().requestHeadersTimeout(),
                        context.settings().keepAliveIdle()));
        p.addLast("keep-alive", new HttpServerKeepAliveHandler());
        p.addLast("expect-continue", new HttpServerExpectContinueHandler());
        if (tls) {
            p.addLast("link-upgrade", linkUpgrade());
        }
        p.addLast("proxy", new ProxyHandler(context, scheme, tls, answers));
    }

    private LinkUpgradeHandler linkUpgrade() {
        Metrics metrics = context.metrics();
        return new LinkUpgradeHandler(
                context.config(), host -> certificates.cached(host).isPresent(), context.linkPorts(), metrics);
    }

    /**
     * The request decoder's limits and its strict framing rules, set explicitly so that no system property can
     * loosen them: Content-Length together with Transfer-Encoding, differing Content-Length values, a
     * Transfer-Encoding whose last coding is not chunked, or one in an HTTP/1.0 request all fail decoding (400).
     */
    static HttpDecoderConfig decoderConfig() {
        return new HttpDecoderConfig()
                .setMaxInitialLineLength(ProxySettings.MAX_INITIAL_LINE)
                .setMaxHeaderSize(ProxySettings.MAX_HEADER_SIZE)
                .setMaxChunkSize(ProxySettings.MAX_CHUNK_SIZE)
                .setValidateHeaders(true)
                .setAllowDuplicateContentLengths(false)
                .setStrictLineParsing(true)
                .setUseRfc9112TransferEncoding(true);
    }

    /** Moves the handler {@code name} to the end of the pipeline, after handlers added behind it. */
    private static void keepLast(ChannelPipeline p, String name) {
        ChannelHandler handler = p.get(name);
        if (handler != null && p.last() != handler) {
            p.remove(name);
            p.addLast(name, handler);
        }
    }

    /**
     * The HTTP/2 connection codec with every flood guard Netty has set explicitly, and {@link ControlFrameLimits}
     * for the control frames it does not limit. Header blocks up to {@link ProxySettings#H2_MAX_DECODED_HEADER_LIST}
     * are decoded so that {@link ProxyHandler} can answer an oversized one with 431 on its stream (see there).
     */
    static Http2FrameCodec http2Codec() {
        return ControlFrameLimits.install(Http2FrameCodecBuilder.forServer()
                .initialSettings(Http2Settings.defaultSettings()
                        .maxConcurrentStreams(ProxySettings.H2_MAX_CONCURRENT_STREAMS)
                        .maxHeaderListSize(ProxySettings.H2_MAX_DECODED_HEADER_LIST))
                .validateHeaders(true)
                .encoderEnforceMaxQueuedControlFrames(ProxySettings.H2_MAX_QUEUED_CONTROL_FRAMES)
                .decoderEnforceMaxConsecutiveEmptyDataFrames(ProxySettings.H2_MAX_CONSECUTIVE_EMPTY_DATA_FRAMES)
                .decoderEnforceMaxRstFramesPerWindow(
                        ProxySettings.H2_MAX_RST_FRAMES, ProxySettings.H2_RST_WINDOW_SECONDS)
                .encoderEnforceMaxRstFramesPerWindow(
                        ProxySettings.H2_MAX_RST_FRAMES_SENT, ProxySettings.H2_RST_WINDOW_SECONDS)
                .build());
    }

    /** Chooses HTTP/2 or HTTP/1.1 once the TLS handshake is done, and remembers the SNI name it was for. */
    private final class ProtocolSelection extends ApplicationProtocolNegotiationHandler {

        ProtocolSelection() {
            super(ApplicationProtocolNames.HTTP_1_1);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof SniCompletionEvent sni && sni.isSuccess() && sni.hostname() != null) {
                ctx.channel().attr(ProxyServer.SERVER_NAME).setIfAbsent(sni.hostname());
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
            ChannelPipeline p = ctx.pipeline();
            if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                p.addLast("h2", http2Codec());
                p.addLast("h2-streams", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel stream) {
                        ChannelPipeline sp = stream.pipeline();
                        sp.addLast("codec", new Http2StreamFrameToHttpObjectCodec(true));
                        sp.addLast("expect-continue", new HttpServerExpectContinueHandler());
                        sp.addLast("link-upgrade", linkUpgrade());
                        sp.addLast("proxy", new ProxyHandler(context, "https", true, httpsAnswers));
                        sp.addLast(ClientErrorLog.NAME, clientErrors);
                    }
                }));
            } else if (ApplicationProtocolNames.HTTP_1_1.equals(protocol)) {
                addHttp1(p, "https", httpsAnswers, true);
            } else {
                log.debug("unsupported application protocol {} on {}", protocol, ctx.channel());
                ctx.close();
            }
            keepLast(p, ClientErrorLog.NAME);
        }

        /**
         * Every error, also one during the handshake, goes on to {@link ClientErrorLog}: the base class would log
         * any but a TLS failure with a stack trace, one per connection a client resets mid-handshake.
         */
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.fireExceptionCaught(cause);
        }

        @Override
        protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("TLS handshake with {} failed", ClientAddress.forLog(ctx.channel()), cause);
            ctx.close();
        }
    }
}
