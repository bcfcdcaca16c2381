package io.clicktls.admin;

import io.clicktls.config.Endpoint;
import io.clicktls.metrics.Metrics;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.ReadTimeoutHandler;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin listener: {@code /healthz} and {@code /metrics}. Listens on loopback by default. Requests are small
 * and answered from memory on the event loop.
 */
public final class AdminServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
    private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

    private final Endpoint endpoint;
    private final Metrics metrics;
    private final BooleanSupplier healthy;
    private final EventLoopGroup group;
    private final Class<? extends ServerChannel> channelType;
    private Channel channel;

    /**
     * @param healthy whether the proxy's listeners are up; read on every {@code /healthz}
     */
    public AdminServer(
            Endpoint endpoint,
            Metrics metrics,
            BooleanSupplier healthy,
            EventLoopGroup group,
            Class<? extends ServerChannel> channelType) {
        this.endpoint = endpoint;
        this.metrics = metrics;
        this.healthy = healthy;
        this.group = group;
        this.channelType = channelType;
    }

    public AdminServer start() throws InterruptedException {
        channel = new ServerBootstrap()
                .group(group)
                .channel(channelType)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline()
                                .addLast("timeout", new ReadTimeoutHandler(60))
                                .addLast("codec", new HttpServerCodec(4096, 8192, 8192))
                                .addLast("keepalive", new HttpServerKeepAliveHandler())
                                .addLast("aggregator", new HttpObjectAggregator(64 * 1024))
                                .addLast("routes", new Routes());
                    }
                })
                .bind(endpoint.toSocketAddress())
                .sync()
                .channel();
        log.info("admin listening on {}", channel.localAddress());
        return this;
    }

    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.close().syncUninterruptibly();
        }
    }

    private final class Routes extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            String path = new QueryStringDecoder(request.uri()).path();
            FullHttpResponse response;
            if (!request.method().equals(HttpMethod.GET) && !request.method().equals(HttpMethod.HEAD)) {
                response = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "method not allowed\n", "text/plain");
            } else if (path.equals("/healthz")) {
                response = healthy.getAsBoolean()
                        ? text(HttpResponseStatus.OK, "ok\n", "text/plain")
                        : text(HttpResponseStatus.SERVICE_UNAVAILABLE, "listeners down\n", "text/plain");
            } else if (path.equals("/metrics")) {
                response = text(HttpResponseStatus.OK, metrics.scrape(), PROMETHEUS_TEXT);
            } else {
                response = text(HttpResponseStatus.NOT_FOUND, "not found\n", "text/plain");
            }
            if (request.method().equals(HttpMethod.HEAD)) {
                response.content().clear();
            }
            HttpUtil.setKeepAlive(response, HttpUtil.isKeepAlive(request));
            var future = ctx.writeAndFlush(response);
            if (!HttpUtil.isKeepAlive(request)) {
                future.addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("admin connection failed", cause);
            ctx.close();
        }
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body, String contentType) {
        FullHttpResponse response = new DefaultFullHttpResponse(
                HttpVersion.HTTP_1_1, status, Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, contentType.startsWith("text/plain;") ? contentType
                        : contentType + "; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes())
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        return response;
    }
}
