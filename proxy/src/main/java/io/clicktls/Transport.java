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
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.ResourceLeakDetector;
import java.nio.channels.spi.SelectorProvider;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The event loops and channel types: native epoll where available, NIO otherwise; io_uring when asked for with
 * {@code -Dclicktls.transport=io_uring} (measured as an option, not the default: see {@link #create}). One acceptor
 * thread and one worker event loop per core; the upstream connection of a request runs on its client's event loop.
 * With epoll and NIO a worker loop that has run for half a millisecond without blocking yields its core to a sibling
 * loop waiting for that same core ({@link YieldingSelectStrategy}): two busy loops stacked on one core otherwise take
 * turns a whole scheduler tick at a time.
 */
public record Transport(
        EventLoopGroup boss,
        EventLoopGroup workers,
        Class<? extends ServerChannel> serverChannel,
        Class<? extends Channel> clientChannel,
        String name)
        implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Transport.class);

    private static final long DEFAULT_STALL_MICROS = 500;

    /**
     * The transport named by the system property {@code clicktls.transport} ({@code epoll}, {@code io_uring} or
     * {@code nio}; {@code -Dclicktls.nio=true} still means {@code nio}), else epoll when it loads, else NIO. A
     * transport asked for but not available here falls back the same way, saying so.
     *
     * @param workerThreads 0 for one per core
     */
    public static Transport create(int workerThreads) {
        quietLeakDetection();
        String wanted = System.getProperty("clicktls.transport", Boolean.getBoolean("clicktls.nio") ? "nio" : "epoll")
                .toLowerCase(Locale.ROOT);
        int threads = workerThreads > 0 ? workerThreads : Runtime.getRuntime().availableProcessors();
        if (wanted.equals("io_uring") || wanted.equals("iouring")) {
            if (IoUring.isAvailable()) {
                return create(
                        IoUringIoHandler::newFactory,
                        threads,
                        IoUringServerSocketChannel.class,
                        IoUringSocketChannel.class,
                        "io_uring");
            }
            log.info("io_uring transport not available ({}); trying epoll", IoUring.unavailabilityCause());
            wanted = "epoll";
        }
        if (wanted.equals("epoll")) {
            if (Epoll.isAvailable()) {
                return create(
                        () -> EpollIoHandler.newFactory(0, YieldingSelectStrategy.factory(stallNanos())),
                        threads,
                        EpollServerSocketChannel.class,
                        EpollSocketChannel.class,
                        "epoll");
            }
            log.info("native epoll transport not available ({}); using NIO", Epoll.unavailabilityCause());
        } else if (!wanted.equals("nio")) {
            log.warn("clicktls.transport={} is not one of epoll, io_uring, nio; using NIO", wanted);
        }
        return create(
                () -> NioIoHandler.newFactory(
                        SelectorProvider.provider(), YieldingSelectStrategy.factory(stallNanos())),
                threads,
                NioServerSocketChannel.class,
                NioSocketChannel.class,
                "nio");
    }

    /**
     * How long an event loop may work without blocking, and a sibling go without a turn, before the first yields its
     * core to the second if the second waits for that core: {@code -Dclicktls.loopStallMicros} (default 500; 0 turns
     * it off). See {@link YieldingSelectStrategy}.
     */
    static long stallNanos() {
        return TimeUnit.MICROSECONDS.toNanos(Long.getLong("clicktls.loopStallMicros", DEFAULT_STALL_MICROS));
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
            Supplier<IoHandlerFactory> factory,
            int threads,
            Class<? extends ServerChannel> serverChannel,
            Class<? extends Channel> clientChannel,
            String name) {
        return new Transport(
                new MultiThreadIoEventLoopGroup(1, factory.get()),
                // a factory per group: the select strategies of one group watch each other
                new MultiThreadIoEventLoopGroup(threads, factory.get()),
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
