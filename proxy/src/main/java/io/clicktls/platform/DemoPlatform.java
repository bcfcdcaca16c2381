package io.clicktls.platform;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
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
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;

/**
 * A built-in stand-in for an email platform's click-tracking endpoint, so that a new user can try the whole path
 * offline ({@code run --demo-platform 127.0.0.1:8081}). It answers as the platforms do: a click redirects to its
 * destination, some redirects point back at the tracked domain over plain http, an unsubscribe page links back
 * over http, an open answers with a 1×1 GIF. Not for production.
 */
public final class DemoPlatform implements AutoCloseable {

    private static final byte[] GIF =
            Base64.getDecoder().decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7");

    private final Channel channel;

    private DemoPlatform(Channel channel) {
        this.channel = channel;
    }

    public static DemoPlatform start(
            SocketAddress address, EventLoopGroup group, Class<? extends ServerChannel> channelType)
            throws InterruptedException {
        Channel channel = new ServerBootstrap()
                .group(group)
                .channel(channelType)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline()
                                .addLast("codec", new HttpServerCodec())
                                .addLast("aggregator", new HttpObjectAggregator(64 * 1024))
                                .addLast("platform", new Responder());
                    }
                })
                .bind(address)
                .sync()
                .channel();
        return new DemoPlatform(channel);
    }

    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
    }

    private static final class Responder extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            String host = request.headers().get(HttpHeaderNames.HOST, "localhost");
            QueryStringDecoder uri = new QueryStringDecoder(request.uri());
            FullHttpResponse response;
            switch (uri.path()) {
                case "/ls/click" -> {
                    List<String> to = uri.parameters().get("to");
                    response = redirect(to != null && !to.isEmpty() ? to.get(0) : "https://example.com/");
                }
                case "/back" -> response = redirect("http://" + host + "/unsubscribe");
                case "/wf/open" -> {
                    response = body(HttpResponseStatus.OK, Unpooled.wrappedBuffer(GIF), "image/gif");
                    response.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-cache, max-age=0");
                }
                case "/unsubscribe" -> response = html(unsubscribePage(host, request));
                case "/" -> response = html(indexPage(host));
                default -> response = body(
                        HttpResponseStatus.NOT_FOUND,
                        Unpooled.copiedBuffer("no such link\n", StandardCharsets.UTF_8),
                        "text/plain; charset=utf-8");
            }
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            HttpUtil.setKeepAlive(response, keepAlive);
            var written = ctx.writeAndFlush(response);
            if (!keepAlive) {
                written.addListener(ChannelFutureListener.CLOSE);
            }
        }

        private static String indexPage(String host) {
            return "<!doctype html><title>demo platform</title><h1>Demo email platform</h1><ul>"
                    + "<li><a href=\"http://" + host + "/ls/click?to=https://example.com/sale\">a tracked click</a>"
                    + "<li><a href=\"http://" + host + "/back\">a redirect back to the tracked domain</a>"
                    + "<li><a href=\"http://" + host + "/unsubscribe\">unsubscribe</a>"
                    + "<li><a href=\"http://example.com/\">the shop itself (never rewritten)</a></ul>\n";
        }

        private static String unsubscribePage(String host, FullHttpRequest request) {
            String done = request.method().name().equals("POST")
                    ? "<p>Unsubscribed: " + escape(request.content().toString(StandardCharsets.UTF_8)) + "</p>"
                    : "";
            return "<!doctype html><title>unsubscribe</title>" + done
                    + "<form method=\"post\" action=\"http://" + host + "/unsubscribe\">"
                    + "<input name=\"email\" value=\"you@example.com\"><button>Unsubscribe</button></form>"
                    + "<p><a href=\"http://example.com/privacy\">privacy policy</a></p>\n";
        }

        private static String escape(String s) {
            return s.replace("&", "&amp;")
                    .replace("<", "&lt;")
                    .replace(">", "&gt;")
                    .replace("\"", "&quot;");
        }

        private static FullHttpResponse redirect(String location) {
            FullHttpResponse response = body(HttpResponseStatus.FOUND, Unpooled.EMPTY_BUFFER, "text/plain");
            response.headers().set(HttpHeaderNames.LOCATION, location);
            return response;
        }

        private static FullHttpResponse html(String page) {
            return body(
                    HttpResponseStatus.OK,
                    Unpooled.copiedBuffer(page, StandardCharsets.UTF_8),
                    "text/html; charset=utf-8");
        }

        private static FullHttpResponse body(HttpResponseStatus status, ByteBuf content, String type) {
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
            response.headers()
                    .set(HttpHeaderNames.CONTENT_TYPE, type)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
            return response;
        }
    }
}
