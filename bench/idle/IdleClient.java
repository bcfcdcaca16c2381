import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ResourceLeakDetector;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Opens COUNT TLS connections to a server, makes one request on each as a browser's click does (HTTP/1.1 keep-alive,
 * or h2: preface, SETTINGS, one GET on stream 1), reads the answer, and then leaves every connection idle and open
 * until HOLD seconds after RAMP_LIMIT (counted from its start) before closing them all and exiting. One thread and epoll, so one process holds many thousand
 * connections for a few MB of its own; at most CONCURRENT connections are being set up at a time.
 *
 * <p>Prints {@code ready N} once N connections have had their answer (every 1,000 and at the end), {@code failed N}
 * for connections that failed before their answer, {@code dropped N} for answered ones the server closed while
 * idle, and {@code holding N} (the connections open) when the ramp is over. Exits by
 * itself, RAMP_LIMIT + HOLD seconds after it started; the ramp stops at RAMP_LIMIT seconds whether it is done or
 * not.
 *
 * <pre>java -cp proxy/target/clicktls.jar bench/idle/IdleClient.java HOST PORT SNI h1|h2 COUNT SOURCE_ADDRESS
 *     CONCURRENT HOLD RAMP_LIMIT</pre>
 */
final class IdleClient {

    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private static int count;
    private static int concurrent;
    private static final AtomicInteger started = new AtomicInteger();
    private static final AtomicInteger ready = new AtomicInteger();
    private static final AtomicInteger failed = new AtomicInteger();
    private static final AtomicInteger dropped = new AtomicInteger();
    private static volatile boolean rampOver;
    private static volatile boolean closing;
    private static Bootstrap bootstrap;
    private static InetSocketAddress remote;
    private static InetSocketAddress local;

    public static void main(String[] args) throws Exception {
        if (args.length < 9) {
            System.err.println(
                    "usage: IdleClient HOST PORT SNI h1|h2 COUNT SOURCE_ADDRESS CONCURRENT HOLD_SECONDS RAMP_LIMIT_SECONDS");
            System.exit(2);
        }
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        remote = new InetSocketAddress(args[0], Integer.parseInt(args[1]));
        String sni = args[2];
        boolean h2 = args[3].equals("h2");
        count = Integer.parseInt(args[4]);
        local = new InetSocketAddress(args[5], 0);
        concurrent = Integer.parseInt(args[6]);
        int hold = Integer.parseInt(args[7]);
        int rampLimit = Integer.parseInt(args[8]);

        SslContext tls = SslContextBuilder.forClient()
                .sslProvider(SslProvider.OPENSSL_REFCNT)
                .trustManager(InsecureTrustManagerFactory.INSTANCE) // the server under test, on loopback
                .protocols("TLSv1.3")
                .applicationProtocolConfig(new ApplicationProtocolConfig(
                        Protocol.ALPN,
                        SelectorFailureBehavior.NO_ADVERTISE,
                        SelectedListenerFailureBehavior.ACCEPT,
                        h2 ? ApplicationProtocolNames.HTTP_2 : ApplicationProtocolNames.HTTP_1_1))
                .build();
        ByteBuf request = Unpooled.unreleasableBuffer(h2 ? h2Request(sni) : h1Request(sni));
        MultiThreadIoEventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        bootstrap = new Bootstrap()
                .group(loop)
                .channel(EpollSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline()
                                .addLast(
                                        tls.newHandler(ch.alloc(), sni, remote.getPort()),
                                        new Click(request.duplicate(), h2));
                    }
                });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(rampLimit);
        loop.execute(() -> {
            for (int i = 0; i < Math.min(concurrent, count); i++) {
                connectNext();
            }
        });
        while (ready.get() + failed.get() < count && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        rampOver = true; // no more connections: the reading is of what is open now
        System.out.println("holding " + (ready.get() - dropped.get()) + " (failed " + failed.get() + ")");
        System.out.flush();
        // every client process of a run lets go at the same time (they start together), whichever finished its ramp
        // first, so that the reading taken after the last ramp sees all of them
        long release = hold == 0 ? 0 : deadline + TimeUnit.SECONDS.toNanos(hold); // 0: close at once
        TimeUnit.NANOSECONDS.sleep(Math.max(0, release - System.nanoTime()));
        System.out.println("closing; " + dropped.get() + " were closed by the server while idle");
        System.out.flush();
        closing = true;
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        System.exit(0);
    }

    /** Runs on the event loop: starts one more connection while any are left to start. */
    private static void connectNext() {
        if (rampOver || started.incrementAndGet() > count) {
            return;
        }
        bootstrap.connect(remote, local).addListener(f -> {
            if (!f.isSuccess()) {
                fail();
            }
        });
    }

    private static void fail() {
        if (closing) {
            return;
        }
        int n = failed.incrementAndGet();
        if (n == 1 || n % 1000 == 0) {
            System.out.println("failed " + n);
        }
        connectNext();
    }

    private static ByteBuf h1Request(String sni) {
        return Unpooled.wrappedBuffer(("GET /click/abc HTTP/1.1\r\nHost: " + sni + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * The client preface, an empty SETTINGS frame, and one HEADERS frame (stream 1, END_STREAM | END_HEADERS) for
     * {@code GET https://SNI/}: HPACK static-table indexes for :method GET (2), :scheme https (7) and :path / (4),
     * and :authority (1) as a literal without indexing.
     */
    private static ByteBuf h2Request(String sni) {
        byte[] host = sni.getBytes(StandardCharsets.US_ASCII);
        ByteBuf b = Unpooled.buffer();
        b.writeBytes(PREFACE);
        b.writeMedium(0).writeByte(0x4).writeByte(0).writeInt(0); // SETTINGS, empty
        int length = 3 + 2 + host.length;
        b.writeMedium(length).writeByte(0x1).writeByte(0x5).writeInt(1); // HEADERS, END_STREAM | END_HEADERS
        b.writeByte(0x82).writeByte(0x87).writeByte(0x84);
        b.writeByte(0x01).writeByte(host.length).writeBytes(host);
        return b;
    }

    /**
     * Sends the request once the handshake is done; counts the connection ready at the first answer (h1: any bytes;
     * h2: a HEADERS frame, after acknowledging the server's SETTINGS) and starts the next one. Then discards
     * whatever the server sends. Runs on the event loop.
     */
    private static final class Click extends ChannelInboundHandlerAdapter {

        private final ByteBuf request;
        private final boolean h2;
        private ByteBuf frames;
        private boolean answered;
        private boolean settingsAcked;

        Click(ByteBuf request, boolean h2) {
            this.request = request;
            this.h2 = h2;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslHandshakeCompletionEvent done) {
                if (done.isSuccess()) {
                    ctx.writeAndFlush(request);
                } else {
                    ctx.close();
                }
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            if (answered) {
                in.release();
                return;
            }
            if (!h2) {
                in.release();
                answered();
                return;
            }
            frames = frames == null ? in : Unpooled.wrappedBuffer(frames, in);
            while (frames.readableBytes() >= 9) {
                int length = frames.getUnsignedMedium(frames.readerIndex());
                if (frames.readableBytes() < 9 + length) {
                    break;
                }
                int type = frames.getUnsignedByte(frames.readerIndex() + 3);
                int flags = frames.getUnsignedByte(frames.readerIndex() + 4);
                frames.skipBytes(9 + length);
                if (type == 0x4 && (flags & 0x1) == 0 && !settingsAcked) {
                    settingsAcked = true;
                    ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 0x4, 0x1, 0, 0, 0, 0}));
                } else if (type == 0x1) {
                    answered();
                    break;
                }
            }
            if (answered || !frames.isReadable()) {
                frames.release();
                frames = null;
            }
        }

        private void answered() {
            answered = true;
            int n = ready.incrementAndGet();
            if (n % 1000 == 0 || n == count) {
                System.out.println("ready " + n);
            }
            connectNext();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (frames != null) {
                frames.release();
                frames = null;
            }
            if (!answered) {
                fail();
            } else if (!closing) {
                int n = dropped.incrementAndGet();
                if (n == 1 || n % 1000 == 0) {
                    System.out.println("dropped " + n + " (closed by the server while idle)");
                }
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
