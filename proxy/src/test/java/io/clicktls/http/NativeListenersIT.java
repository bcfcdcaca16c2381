package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The proxy on the native epoll transport, where each worker event loop listens on the port itself. */
class NativeListenersIT extends ProxyFixture {

    @Test
    void everyWorkerListensOnTheOnePortAndCloseFreesIt() throws Exception {
        assumeTrue(Epoll.isAvailable(), "epoll is not available here");
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
        EventLoopGroup acceptor = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory()); // left idle
        InetAddress loopback = InetAddress.getLoopbackAddress();
        ProxyServer own = proxyBuilder()
                .eventLoops(acceptor, loops)
                .channelTypes(EpollServerSocketChannel.class, EpollSocketChannel.class)
                .addresses(new InetSocketAddress(loopback, 0), new InetSocketAddress(loopback, 0))
                .build()
                .start();
        int httpsPort = own.httpsPort();
        int httpPort = own.httpPort();
        try {
            for (int i = 0; i < 8; i++) { // new connections each time: the kernel spreads them over the sockets
                assertThat(curlHttps(httpsPort, "links.shop.test", "/echo").status())
                        .isEqualTo(200);
            }
            assertThat(rawHttp(httpPort, "GET /ls/click HTTP/1.1\r\nHost: links.shop.test\r\n\r\n"))
                    .startsWith("HTTP/1.1 30");
            assertThatThrownBy(() -> new ServerSocket(httpsPort, 50, loopback).close())
                    .as("the port is taken")
                    .isInstanceOf(BindException.class);
        } finally {
            own.close();
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            acceptor.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }

        new ServerSocket(httpsPort, 50, loopback).close(); // every listening socket is gone
        new ServerSocket(httpPort, 50, loopback).close();
    }
}
