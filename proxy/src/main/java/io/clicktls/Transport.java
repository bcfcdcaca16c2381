package io.clicktls;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The event loops and channel types: native epoll where available, NIO otherwise. One acceptor thread and one
 * worker event loop per core; the upstream connection of a request runs on its client's event loop.
 */
public record Transport(
        EventLoopGroup boss,
        EventLoopGroup workers,
        Class<? extends ServerChannel> serverChannel,
        Class<? extends Channel> clientChannel,
        String name) implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Transport.class);

    /** @param workerThreads 0 for one per core */
    public static Transport create(int workerThreads) {
        boolean epoll = Epoll.isAvailable() && !Boolean.getBoolean("clicktls.nio");
        IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        int threads = workerThreads > 0 ? workerThreads : Runtime.getRuntime().availableProcessors();
        Transport transport = new Transport(
                new MultiThreadIoEventLoopGroup(1, factory),
                new MultiThreadIoEventLoopGroup(threads, factory),
                epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class,
                epoll ? EpollSocketChannel.class : NioSocketChannel.class,
                epoll ? "epoll" : "nio");
        if (!epoll) {
            log.info("native epoll transport not available ({}); using NIO", Epoll.unavailabilityCause());
        }
        return transport;
    }

    @Override
    public void close() {
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
