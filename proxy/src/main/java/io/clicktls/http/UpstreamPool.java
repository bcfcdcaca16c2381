package io.clicktls.http;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * Keep-alive HTTP/1.1 connections to upstreams, one pool per event loop: a request's upstream connection lives on
 * the event loop of the client connection it serves, so bytes move between the two without a thread hop and the
 * per-loop pools need no locks.
 *
 * <p>A connection is lent to one exchange at a time. An idle connection found closed when it is taken is discarded
 * and the next one tried: the only retry there is, because nothing has been written yet. Idle connections are
 * closed after {@link ProxySettings#upstreamIdleTimeout()} (or one second before the upstream's own announced
 * keep-alive timeout) so that a request is rarely written to a connection the upstream is closing.
 *
 * <p>HTTPS upstreams get SNI and hostname verification for the upstream's host name, while the request's Host
 * header stays the tracked domain.
 *
 * <p>{@link #acquire} and {@link #release} run on the given event loop; they never block.
 */
final class UpstreamPool implements AutoCloseable {

    private final Class<? extends Channel> channelType;
    private final AddressResolverGroup<? extends SocketAddress> resolver;
    private final SslContext sslContext;
    private final ProxySettings settings;
    private final Map<EventLoop, Map<UpstreamKey, ArrayDeque<UpstreamConnection>>> idle = new ConcurrentHashMap<>();
    private final ChannelGroup all = new DefaultChannelGroup("upstreams", GlobalEventExecutor.INSTANCE);
    private volatile boolean closed;

    UpstreamPool(
            Class<? extends Channel> channelType,
            AddressResolverGroup<? extends SocketAddress> resolver,
            SslContext sslContext,
            ProxySettings settings) {
        this.channelType = channelType;
        this.resolver = resolver;
        this.sslContext = sslContext;
        this.settings = settings;
    }

    /**
     * A connection to {@code key} on {@code loop}: an idle one if there is one alive, else a new one (connected,
     * TLS handshake done). Must be called on {@code loop}; the future completes on it.
     */
    Future<UpstreamConnection> acquire(EventLoop loop, UpstreamKey key) {
        ArrayDeque<UpstreamConnection> connections = idleOn(loop).get(key);
        if (connections != null) {
            UpstreamConnection connection;
            // Most recently used first: the least likely to have been closed by the upstream.
            while ((connection = connections.pollLast()) != null) {
                connection.stopIdleTimer();
                if (connection.channel().isActive()) {
                    return loop.newSucceededFuture(connection);
                }
                connection.channel().close();
            }
        }
        return connect(loop, key);
    }

    /**
     * Takes a connection back after an exchange. Must be called on the connection's event loop.
     *
     * @param reusable the exchange ended cleanly: the whole request was sent, the whole response read, and the
     *     upstream did not ask to close
     */
    void release(UpstreamConnection connection, boolean reusable) {
        connection.unbind();
        Channel channel = connection.channel();
        if (!reusable || closed || !channel.isActive()) {
            channel.close();
            return;
        }
        EventLoop loop = channel.eventLoop();
        ArrayDeque<UpstreamConnection> connections =
                idleOn(loop).computeIfAbsent(connection.key(), k -> new ArrayDeque<>());
        while (connections.size() >= settings.maxIdlePerUpstream()) {
            connections.pollFirst().channel().close();
        }
        connections.addLast(connection);
        // A read pending while idle is how a close by the upstream is noticed (and the connection dropped) at once.
        // Auto-read stays off throughout: a read is kept pending instead, so the socket stays registered for input
        // and lending and taking back a connection costs no epoll_ctl.
        connection.read();
        connection.startIdleTimer(idleTimeoutMillis(connection));
    }

    /** Called by an idle connection that closed. On its event loop. */
    void forget(UpstreamConnection connection) {
        Map<UpstreamKey, ArrayDeque<UpstreamConnection>> byKey =
                idle.get(connection.channel().eventLoop());
        if (byKey != null) {
            ArrayDeque<UpstreamConnection> connections = byKey.get(connection.key());
            if (connections != null) {
                connections.remove(connection);
            }
        }
    }

    /** Closes every upstream connection, idle or not. */
    @Override
    public void close() {
        closed = true;
        all.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    private Future<UpstreamConnection> connect(EventLoop loop, UpstreamKey key) {
        Promise<UpstreamConnection> promise = loop.newPromise();
        if (closed) {
            return promise.setFailure(new IllegalStateException("proxy closing"));
        }
        int connectMillis = (int)
                Math.min(Integer.MAX_VALUE, settings.upstreamConnectTimeout().toMillis());
        Bootstrap bootstrap = new Bootstrap()
                .group(loop)
                .channel(channelType)
                .resolver(resolver)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectMillis)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ChannelPipeline p = ch.pipeline();
                        if (key.tls()) {
                            p.addLast("ssl", newSslHandler(ch, key, connectMillis));
                        }
                        p.addLast("codec", new UpstreamHttpCodec(decoderConfig()));
                        p.addLast("upstream", new UpstreamConnection(ch, key, UpstreamPool.this));
                    }
                });
        ChannelFuture connected = bootstrap.connect(key.host(), key.port());
        Channel channel = connected.channel();
        all.add(channel);
        connected.addListener(f -> {
            if (!f.isSuccess()) {
                promise.tryFailure(f.cause());
                return;
            }
            UpstreamConnection connection = channel.pipeline().get(UpstreamConnection.class);
            SslHandler ssl = channel.pipeline().get(SslHandler.class);
            if (ssl == null) {
                promise.trySuccess(connection);
                return;
            }
            ssl.handshakeFuture().addListener(h -> {
                if (h.isSuccess()) {
                    promise.trySuccess(connection);
                } else {
                    channel.close();
                    promise.tryFailure(h.cause());
                }
            });
        });
        return promise;
    }

    private SslHandler newSslHandler(Channel ch, UpstreamKey key, int handshakeMillis) {
        SslHandler ssl = sslContext.newHandler(ch.alloc(), key.host(), key.port());
        SSLEngine engine = ssl.engine();
        SSLParameters parameters = engine.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        engine.setSSLParameters(parameters);
        ssl.setHandshakeTimeoutMillis(handshakeMillis);
        return ssl;
    }

    private long idleTimeoutMillis(UpstreamConnection connection) {
        long millis = settings.upstreamIdleTimeout().toMillis();
        long hint = connection.keepAliveHintSeconds();
        if (hint > 0) {
            millis = Math.min(millis, Duration.ofSeconds(hint).minusSeconds(1).toMillis());
        }
        return Math.max(millis, 0);
    }

    private Map<UpstreamKey, ArrayDeque<UpstreamConnection>> idleOn(EventLoop loop) {
        return idle.computeIfAbsent(loop, l -> new HashMap<>());
    }

    private static HttpDecoderConfig decoderConfig() {
        return new HttpDecoderConfig()
                .setMaxInitialLineLength(ProxySettings.MAX_INITIAL_LINE)
                .setMaxHeaderSize(ProxySettings.MAX_UPSTREAM_HEADER_SIZE)
                .setMaxChunkSize(ProxySettings.MAX_CHUNK_SIZE)
                .setValidateHeaders(true)
                .setAllowDuplicateContentLengths(false)
                .setUseRfc9112TransferEncoding(true);
    }
}
