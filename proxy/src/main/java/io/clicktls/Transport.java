package io.clicktls;

import io.clicktls.config.Tuning;
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
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.ResourceLeakDetector;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The event loops and channel types, as {@code tuning.transport} and {@code tuning.event_loops} say: native epoll
 * where available, NIO otherwise; io_uring when asked for (measured as an option, not the default). One acceptor
 * thread and, by default, one worker event loop per core; the upstream connection of a request runs on its client's
 * event loop. Netty's own select strategy: a loop blocks in the selector when it has nothing to do.
 */
public record Transport(
        EventLoopGroup boss,
        EventLoopGroup workers,
        Class<? extends ServerChannel> serverChannel,
        Class<? extends Channel> clientChannel,
        String name)
        implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Transport.class);

    /**
     * The transport {@code tuning} names; {@code auto} is epoll when it loads, else NIO. A transport asked for but not
     * available here falls back the same way, saying so.
     */
    public static Transport create(Tuning tuning) {
        quietLeakDetection();
        int threads = tuning.eventLoops() > 0
                ? tuning.eventLoops()
                : Runtime.getRuntime().availableProcessors();
        Tuning.TransportKind wanted = tuning.transport();
        if (wanted == Tuning.TransportKind.IO_URING) {
            if (IoUring.isAvailable()) {
                return create(
                        IoUringIoHandler.newFactory(),
                        threads,
                        IoUringServerSocketChannel.class,
                        IoUringSocketChannel.class,
                        "io_uring");
            }
            log.warn(
                    "tuning.transport io_uring is not available here ({}); trying epoll",
                    IoUring.unavailabilityCause());
            wanted = Tuning.TransportKind.EPOLL;
        }
        if (wanted != Tuning.TransportKind.NIO) {
            if (Epoll.isAvailable()) {
                return create(
                        EpollIoHandler.newFactory(),
                        threads,
                        EpollServerSocketChannel.class,
                        EpollSocketChannel.class,
                        "epoll");
            }
            if (wanted == Tuning.TransportKind.EPOLL) {
                log.warn("tuning.transport epoll is not available here ({}); using NIO", Epoll.unavailabilityCause());
            } else {
                log.info("native epoll transport not available ({}); using NIO", Epoll.unavailabilityCause());
            }
        }
        return create(NioIoHandler.newFactory(), threads, NioServerSocketChannel.class, NioSocketChannel.class, "nio");
    }

    /**
     * Netty's buffer leak detection samples one buffer in 128 and records a stack trace for it: about a tenth of the
     * CPU of a keep-alive request here. Off for the server unless {@code -Dio.netty.leakDetection.level} asks for it.
     */
    private static void quietLeakDetection() {
        if (System.getProperty("io.netty.leakDetection.level") == null
                && System.getProperty("io.netty.leakDetectionLevel") == null) {
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        }
    }

    private static Transport create(
            IoHandlerFactory factory,
            int threads,
            Class<? extends ServerChannel> serverChannel,
            Class<? extends Channel> clientChannel,
            String name) {
        return new Transport(
                new MultiThreadIoEventLoopGroup(1, factory),
                new MultiThreadIoEventLoopGroup(threads, factory),
                serverChannel,
                clientChannel,
                name);
    }

    @Override
    public void close() {
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
