package io.clicktls.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslContext;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.GZIPOutputStream;

/**
 * A stand-in for an email platform's click-tracking endpoint, on 127.0.0.1 and a free port, optionally over TLS.
 * It answers as the platforms do and records every request exactly as it arrived, for assertions (decoded in
 * {@link #requests()}, and as raw bytes in {@link #receivedBytes()}):
 *
 * <ul>
 *   <li>{@code /ls/click?...}: 302 to {@code https://destination.example/landing?x=1}
 *   <li>{@code /back}: 302 to {@code http://<request Host>/landing}
 *   <li>{@code /page}: text/html linking to {@code http://<Host>/...} and {@code http://destination.example/};
 *       {@code /page?gzip} sends it gzip-encoded, {@code /page?chunked} chunked
 *   <li>{@code /open.gif}: a 43-byte GIF
 *   <li>{@code /unsubscribe} (POST): echoes the form body
 *   <li>{@code /echo}: method, raw URI and every request header, one per line, as text
 *   <li>{@code /upload}: the body's length and SHA-256
 *   <li>{@code /cookie}: sets two cookies and redirects
 *   <li>{@code /hop}: a response carrying hop-by-hop headers and HSTS, which a proxy must not pass on
 *   <li>{@code /big?bytes=N}: N bytes, chunked; the head is sent at once, the body as fast as the connection
 *       takes it
 *   <li>{@code /delay?ms=N}: answers 200 after N milliseconds
 *   <li>{@code /truncated}: announces 1000 bytes, sends 10 and closes the connection
 *   <li>{@code /slow}: never answers; {@code /break}: closes the connection without answering
 * </ul>
 */
public final class StandInPlatform implements AutoCloseable {

    /** One 1x1 transparent GIF, as open-tracking pixels are. */
    public static final byte[] PIXEL = HexFormat.of()
            .parseHex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b");

    /** A request as the stand-in received it. */
    public record Received(String method, String rawUri, List<Map.Entry<String, String>> headers, byte[] body) {

        /** The first value of a header (any case), or {@code null}. */
        public String header(String name) {
            return headers.stream()
                    .filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(Map.Entry::getValue)
                    .findFirst()
                    .orElse(null);
        }

        public List<String> headers(String name) {
            return headers.stream()
                    .filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(Map.Entry::getValue)
                    .toList();
        }

        public String path() {
            int query = rawUri.indexOf('?');
            return query < 0 ? rawUri : rawUri.substring(0, query);
        }
    }

    /** What the stand-in answers at {@code /.well-known/assetlinks.json}. */
    public static final byte[] PLATFORM_ASSETLINKS = "[\"the platform's own\"]\n".getBytes(StandardCharsets.UTF_8);

    /** Of a {@code /big} body: the bytes not yet written to the channel. */
    private static final AttributeKey<AtomicLong> UNWRITTEN = AttributeKey.valueOf("stand-in.big.unwritten");

    private static final byte[] BIG_PIECE = new byte[8192];

    static {
        for (int i = 0; i < BIG_PIECE.length; i++) {
            BIG_PIECE[i] = (byte) ('a' + i % 26);
        }
    }

    private final EventLoopGroup group;
    private final Channel server;
    private final boolean tls;
    private final List<Received> requests = new CopyOnWriteArrayList<>();
    /** Every byte received over all connections, in arrival order (after TLS). */
    private final ByteArrayOutputStream receivedBytes = new ByteArrayOutputStream();

    private final AtomicInteger connections = new AtomicInteger();
    private final ChannelGroup open = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);

    private StandInPlatform(SslContext sslContext) {
        this.tls = sslContext != null;
        this.group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        this.server = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        connections.incrementAndGet();
                        open.add(ch);
                        if (sslContext != null) {
                            ch.pipeline().addLast(sslContext.newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast(new RawBytes());
                        ch.pipeline().addLast(new HttpServerCodec());
                        ch.pipeline().addLast(new HttpServerKeepAliveHandler());
                        ch.pipeline().addLast(new HttpObjectAggregator(16 * 1024 * 1024));
                        ch.pipeline().addLast(new Responder());
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0))
                .syncUninterruptibly()
                .channel();
    }

    /** A plain-http stand-in. */
    public static StandInPlatform start() {
        return new StandInPlatform(null);
    }

    /** An https stand-in presenting the given server context's certificate. */
    public static StandInPlatform startTls(SslContext serverContext) {
        return new StandInPlatform(serverContext);
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** The base URL a platform config points at, e.g. {@code http://127.0.0.1:4711}. */
    public URI upstream(String host) {
        return URI.create((tls ? "https://" : "http://") + host + ":" + port());
    }

    public URI upstream() {
        return upstream("127.0.0.1");
    }

    public List<Received> requests() {
        return List.copyOf(requests);
    }

    /** Requests whose path is {@code path}. */
    public List<Received> requests(String path) {
        return requests.stream().filter(r -> r.path().equals(path)).toList();
    }

    /** The last request received; fails if there is none. */
    public Received last() {
        if (requests.isEmpty()) {
            throw new AssertionError("the stand-in platform received no request");
        }
        return requests.get(requests.size() - 1);
    }

    /** TCP connections accepted so far. */
    public int connections() {
        return connections.get();
    }

    /**
     * Response bytes not yet taken by the peer, over all open connections (queued in the channel, or of a
     * {@code /big} body not yet queued because the connection was not writable): what a proxy that honours
     * backpressure leaves here while its own client is not reading.
     */
    public long pendingResponseBytes() {
        long pending = queuedResponseBytes();
        for (Channel channel : open) {
            AtomicLong unwritten = channel.attr(UNWRITTEN).get();
            if (unwritten != null) {
                pending += unwritten.get();
            }
        }
        return pending;
    }

    /** Response bytes queued in the channels (written, not yet on the wire), over all open connections. */
    long queuedResponseBytes() {
        long queued = 0;
        for (Channel channel : open) {
            var buffer = channel.unsafe().outboundBuffer();
            if (buffer != null) {
                queued += buffer.totalPendingWriteBytes();
            }
        }
        return queued;
    }

    /**
     * Every byte received since the last {@link #reset} over all connections, after TLS and before any HTTP
     * decoding: what the platform was sent, byte for byte.
     */
    public byte[] receivedBytes() {
        synchronized (receivedBytes) {
            return receivedBytes.toByteArray();
        }
    }

    public void reset() {
        synchronized (receivedBytes) {
            receivedBytes.reset();
        }
        requests.clear();
        connections.set(0);
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Records the bytes as they arrive, before the HTTP decoder reads them. */
    private final class RawBytes extends ChannelInboundHandlerAdapter {

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws IOException {
            if (msg instanceof ByteBuf bytes) {
                synchronized (receivedBytes) {
                    bytes.getBytes(bytes.readerIndex(), receivedBytes, bytes.readableBytes());
                }
            }
            ctx.fireChannelRead(msg);
        }
    }

    private final class Responder extends SimpleChannelInboundHandler<FullHttpRequest> {

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) throws Exception {
            List<Map.Entry<String, String>> headers = new ArrayList<>();
            request.headers().forEach(e -> headers.add(Map.entry(e.getKey(), e.getValue())));
            byte[] body = ByteBufUtil.getBytes(request.content());
            Received received = new Received(request.method().name(), request.uri(), List.copyOf(headers), body);
            requests.add(received);
            String host = request.headers().get(HttpHeaderNames.HOST, "");
            String query = request.uri().contains("?")
                    ? request.uri().substring(request.uri().indexOf('?') + 1)
                    : "";
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            switch (received.path()) {
                case "/ls/click" -> send(ctx, keepAlive, redirect("https://destination.example/landing?x=1"));
                case "/back" -> send(ctx, keepAlive, redirect("http://" + host + "/landing"));
                case "/page" -> page(ctx, keepAlive, host, query);
                case "/open.gif" -> send(ctx, keepAlive, full(HttpResponseStatus.OK, "image/gif", PIXEL));
                case "/unsubscribe" -> send(ctx, keepAlive, full(HttpResponseStatus.OK, "text/plain", body));
                case "/echo" -> send(ctx, keepAlive, full(HttpResponseStatus.OK, "text/plain", echo(received)));
                case "/upload" -> send(
                        ctx,
                        keepAlive,
                        full(
                                HttpResponseStatus.OK,
                                "text/plain",
                                (body.length + " " + sha256(body)).getBytes(StandardCharsets.US_ASCII)));
                case "/cookie" -> {
                    FullHttpResponse response = redirect("/landing");
                    response.headers().add(HttpHeaderNames.SET_COOKIE, "session=abc; Path=/; HttpOnly");
                    response.headers().add(HttpHeaderNames.SET_COOKIE, "seen=1; Path=/");
                    send(ctx, keepAlive, response);
                }
                case "/hop" -> {
                    FullHttpResponse response = full(HttpResponseStatus.OK, "text/plain", "hop\n".getBytes());
                    HttpUtil.setKeepAlive(response, keepAlive);
                    response.headers()
                            .add(HttpHeaderNames.CONNECTION, "X-Hop-Secret")
                            .add("X-Hop-Secret", "1")
                            .add(HttpHeaderNames.KEEP_ALIVE, "timeout=5")
                            .add("Proxy-Authenticate", "Basic")
                            .add("Strict-Transport-Security", "max-age=31536000")
                            .add("X-End-To-End", "kept");
                    ctx.writeAndFlush(response)
                            .addListener(
                                    keepAlive ? ChannelFutureListener.CLOSE_ON_FAILURE : ChannelFutureListener.CLOSE);
                }
                case "/big" -> big(ctx, Integer.parseInt(query.replace("bytes=", "")));
                case "/delay" -> ctx.executor()
                        .schedule(
                                () -> send(
                                        ctx, keepAlive, full(HttpResponseStatus.OK, "text/plain", "late\n".getBytes())),
                                Long.parseLong(query.replace("ms=", "")),
                                java.util.concurrent.TimeUnit.MILLISECONDS);
                case "/truncated" -> {
                    HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                    head.headers()
                            .set(HttpHeaderNames.CONTENT_TYPE, "text/plain")
                            .set(HttpHeaderNames.CONTENT_LENGTH, 1000);
                    ctx.write(head);
                    ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[10])))
                            .addListener(ChannelFutureListener.CLOSE);
                }
                case "/slow" -> {
                    // never answers
                }
                case "/break" -> ctx.close();
                    // what a platform might serve itself: a domain's own well_known file must win over it
                case "/.well-known/assetlinks.json" -> send(
                        ctx, keepAlive, full(HttpResponseStatus.OK, "application/json", PLATFORM_ASSETLINKS));
                default -> send(ctx, keepAlive, full(HttpResponseStatus.NOT_FOUND, "text/plain", "nope\n".getBytes()));
            }
        }

        private void page(ChannelHandlerContext ctx, boolean keepAlive, String host, String query) throws IOException {
            byte[] html = ("<!doctype html><html><body>"
                            + "<a href=\"http://" + host + "/ls/click?upn=next\">next</a> "
                            + "<a href=\"http://destination.example/\">elsewhere</a>"
                            + "</body></html>\n")
                    .getBytes(StandardCharsets.UTF_8);
            if (query.contains("gzip")) {
                ByteArrayOutputStream zipped = new ByteArrayOutputStream();
                try (GZIPOutputStream gzip = new GZIPOutputStream(zipped)) {
                    gzip.write(html);
                }
                FullHttpResponse response =
                        full(HttpResponseStatus.OK, "text/html; charset=utf-8", zipped.toByteArray());
                response.headers().set(HttpHeaderNames.CONTENT_ENCODING, HttpHeaderValues.GZIP);
                send(ctx, keepAlive, response);
            } else if (query.contains("chunked")) {
                HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/html; charset=utf-8");
                HttpUtil.setTransferEncodingChunked(head, true);
                int half = html.length / 2;
                ctx.write(head);
                ctx.write(new DefaultHttpContent(Unpooled.wrappedBuffer(html, 0, half)));
                ctx.writeAndFlush(new DefaultLastHttpContent(Unpooled.wrappedBuffer(html, half, html.length - half)));
            } else {
                send(ctx, keepAlive, full(HttpResponseStatus.OK, "text/html; charset=utf-8", html));
            }
        }

        /**
         * The head goes out at once, then the body as the connection takes it: a piece is written only while the
         * channel is writable, and the rest waits for {@link #channelWritabilityChanged}. Writing the whole body
         * before the first flush would hold the head back for as long as it takes to queue all of it.
         */
        private void big(ChannelHandlerContext ctx, int bytes) {
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
            HttpUtil.setTransferEncodingChunked(head, true);
            ctx.channel().attr(UNWRITTEN).set(new AtomicLong(bytes));
            ctx.writeAndFlush(head);
            writeBig(ctx);
        }

        private void writeBig(ChannelHandlerContext ctx) {
            AtomicLong unwritten = ctx.channel().attr(UNWRITTEN).get();
            if (unwritten == null) {
                return;
            }
            while (unwritten.get() > 0 && ctx.channel().isWritable()) {
                int n = (int) Math.min(unwritten.get(), BIG_PIECE.length);
                ctx.write(new DefaultHttpContent(Unpooled.wrappedBuffer(BIG_PIECE, 0, n)));
                unwritten.addAndGet(-n);
            }
            if (unwritten.get() == 0) {
                ctx.channel().attr(UNWRITTEN).set(null);
                ctx.writeAndFlush(new DefaultLastHttpContent());
            } else {
                ctx.flush();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
            if (ctx.channel().isWritable()) {
                writeBig(ctx);
            }
            super.channelWritabilityChanged(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private static byte[] echo(Received request) {
        StringBuilder text = new StringBuilder();
        text.append(request.method()).append(' ').append(request.rawUri()).append('\n');
        for (Map.Entry<String, String> header : request.headers()) {
            text.append(header.getKey().toLowerCase(Locale.ROOT))
                    .append(": ")
                    .append(header.getValue())
                    .append('\n');
        }
        return text.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static FullHttpResponse redirect(String location) {
        FullHttpResponse response = full(HttpResponseStatus.FOUND, "text/plain", new byte[0]);
        response.headers().set(HttpHeaderNames.LOCATION, location);
        return response;
    }

    private static FullHttpResponse full(HttpResponseStatus status, String contentType, byte[] body) {
        ByteBuf content = Unpooled.wrappedBuffer(body);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, contentType)
                .set(HttpHeaderNames.CONTENT_LENGTH, body.length);
        return response;
    }

    private static void send(ChannelHandlerContext ctx, boolean keepAlive, FullHttpResponse response) {
        HttpUtil.setKeepAlive(response, keepAlive);
        ctx.writeAndFlush(response)
                .addListener(keepAlive ? ChannelFutureListener.CLOSE_ON_FAILURE : ChannelFutureListener.CLOSE);
    }

    private static String sha256(byte[] body) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
