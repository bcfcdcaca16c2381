package io.clicktls.acme;

import com.sun.net.httpserver.HttpServer;
import io.clicktls.pki.CertifiedKey;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.Mapping;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * Test stand-ins for the proxy's listeners until they are merged: an http-01 responder (JDK {@code HttpServer})
 * and a tls-alpn-01 responder (Netty, SNI-selected RFC 8737 certificate, ALPN {@code acme-tls/1} only), both on
 * 127.0.0.1 and answering from whatever {@link Challenges} is current. Names in {@link #refuseTlsAlpn} get no
 * certificate, so the CA's tls-alpn-01 validation fails for them.
 */
final class ChallengeResponders implements AutoCloseable {

    volatile Challenges current = Challenges.NONE;
    final Set<String> refuseTlsAlpn = ConcurrentHashMap.newKeySet();
    /** Host headers of the http-01 requests answered, and SNI names of the tls-alpn-01 handshakes seen. */
    final List<String> httpRequests = new CopyOnWriteArrayList<>();

    final List<String> tlsHandshakes = new CopyOnWriteArrayList<>();

    private final HttpServer http;
    private final EventLoopGroup group;
    private final Channel tls;

    ChallengeResponders() throws IOException, InterruptedException {
        http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        http.createContext("/.well-known/acme-challenge/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            String token = path.substring(path.lastIndexOf('/') + 1);
            httpRequests.add(String.valueOf(exchange.getRequestHeaders().getFirst("Host")));
            Optional<String> answer = current.httpKeyAuthorization(token);
            byte[] body = answer.orElse("no such challenge").getBytes(StandardCharsets.US_ASCII);
            exchange.getResponseHeaders().set("Content-Type", "text/plain");
            exchange.sendResponseHeaders(answer.isPresent() ? 200 : 404, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        http.start();

        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        tls = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        Mapping<String, SslContext> contexts = ChallengeResponders.this::contextFor;
                        channel.pipeline().addLast(new SniHandler(contexts));
                        channel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
                                if (event instanceof SslHandshakeCompletionEvent) {
                                    ctx.close(); // the CA only looks at the certificate
                                }
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                ctx.close();
                            }
                        });
                    }
                })
                .bind(InetAddress.getLoopbackAddress(), 0)
                .sync()
                .channel();
    }

    private SslContext contextFor(String name) {
        tlsHandshakes.add(String.valueOf(name));
        Optional<CertifiedKey> certificate =
                name == null || refuseTlsAlpn.contains(name) ? Optional.empty() : current.tlsAlpnCertificate(name);
        if (certificate.isEmpty()) {
            // fails the handshake at once (the CA sees a closed connection), rather than leaving it to time out
            throw new IllegalStateException("no tls-alpn-01 certificate for " + name);
        }
        try {
            return SslContextBuilder.forServer(
                            certificate.get().key(), certificate.get().chain())
                    .sslProvider(SslProvider.JDK)
                    .applicationProtocolConfig(new ApplicationProtocolConfig(
                            ApplicationProtocolConfig.Protocol.ALPN,
                            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                            "acme-tls/1"))
                    .build();
        } catch (SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    int httpPort() {
        return http.getAddress().getPort();
    }

    int tlsPort() {
        return ((InetSocketAddress) tls.localAddress()).getPort();
    }

    @Override
    public void close() {
        http.stop(0);
        tls.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
