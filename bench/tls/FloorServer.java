import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.concurrent.EventExecutor;
import java.io.File;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * The least a Netty server on netty-tcnative's BoringSSL can spend per request: TLS 1.3 (session tickets on, as
 * BoringSSL does by default), HTTP/1.1 requests found by their blank line, and a fixed 302 answered without any
 * upstream. No header parsing, no routing, no forwarding, no metrics, no timeouts. The same design choices as
 * clicktls where they change the CPU: epoll, one event loop per core, each with its own listening socket
 * (SO_REUSEPORT), pooled buffers, leak detection off.
 *
 * <p>It is a floor, not a product: whatever it spends per request under compare.sh's loads, clicktls, which also
 * parses the request, forwards it to the platform and rewrites the answer, cannot spend less on this stack. Compare
 * it with HAProxy's CPU per request to see which ratios the stack can reach at all (bench/tls/README.md).
 *
 * <pre>java -cp proxy/target/clicktls.jar bench/tls/FloorServer.java PORT CHAIN.pem KEY.pem [threads]</pre>
 */
final class FloorServer {

    private static final byte[] BLANK_LINE = "\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final ByteBuf BLANK_LINE_NEEDLE = Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(BLANK_LINE));
    private static final byte[] CLOSE = "connection: close".getBytes(StandardCharsets.US_ASCII);
    private static final ByteBuf KEEP_ALIVE_REPLY = reply("");
    private static final ByteBuf CLOSE_REPLY = reply("Connection: close\r\n");

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: FloorServer PORT CHAIN.pem KEY.pem [threads]");
            System.exit(2);
        }
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        int port = Integer.parseInt(args[0]);
        SslContext tls = SslContextBuilder.forServer(new File(args[1]), new File(args[2]))
                .sslProvider(SslProvider.OPENSSL_REFCNT)
                .protocols("TLSv1.3", "TLSv1.2")
                .build();
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : Runtime.getRuntime().availableProcessors();
        MultiThreadIoEventLoopGroup loops = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
        ChannelInitializer<SocketChannel> pipeline = new ChannelInitializer<>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                ch.pipeline().addLast(tls.newHandler(ch.alloc()), new Answer());
            }
        };
        for (EventExecutor executor : loops) {
            EventLoop loop = (EventLoop) executor;
            new ServerBootstrap()
                    .group(loop, loop)
                    .channel(EpollServerSocketChannel.class)
                    .option(UnixChannelOption.SO_REUSEPORT, true)
                    .option(io.netty.channel.ChannelOption.SO_BACKLOG, 1024)
                    .childHandler(pipeline)
                    .bind(new InetSocketAddress("127.0.0.1", port))
                    .sync();
        }
        System.out.println("floor server on 127.0.0.1:" + port + ", " + threads + " event loops");
    }

    private static ByteBuf reply(String extraHeader) {
        String text = "HTTP/1.1 302 Found\r\nLocation: https://destination.example/landing\r\n" + extraHeader
                + "Content-Length: 0\r\n\r\n";
        return Unpooled.unreleasableBuffer(
                Unpooled.directBuffer().writeBytes(text.getBytes(StandardCharsets.US_ASCII)).asReadOnly());
    }

    /** Answers each request (bytes up to a blank line) with the fixed 302; closes after one that asks to. */
    private static final class Answer extends ChannelInboundHandlerAdapter {

        private ByteBuf pending;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            if (pending != null) {
                in = pending.writeBytes(in);
                ((ByteBuf) msg).release();
                pending = null;
            }
            int end;
            while ((end = ByteBufUtil.indexOf(BLANK_LINE_NEEDLE, in)) >= 0) {
                int length = end + BLANK_LINE.length - in.readerIndex();
                boolean close = indexOfIgnoreCase(in, in.readerIndex(), length, CLOSE) >= 0;
                in.skipBytes(length);
                if (close) {
                    ctx.writeAndFlush(CLOSE_REPLY.duplicate()).addListener(ChannelFutureListener.CLOSE);
                    in.release();
                    return;
                }
                ctx.write(KEEP_ALIVE_REPLY.duplicate(), ctx.voidPromise());
            }
            if (in.isReadable()) {
                pending = ctx.alloc().buffer(in.readableBytes() + 1024).writeBytes(in);
            }
            in.release();
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (pending != null) {
                pending.release();
                pending = null;
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        private static int indexOfIgnoreCase(ByteBuf buf, int from, int length, byte[] lowerNeedle) {
            outer:
            for (int i = from; i <= from + length - lowerNeedle.length; i++) {
                for (int j = 0; j < lowerNeedle.length; j++) {
                    int b = buf.getByte(i + j);
                    if (b >= 'A' && b <= 'Z') {
                        b += 'a' - 'A';
                    }
                    if (b != lowerNeedle[j]) {
                        continue outer;
                    }
                }
                return i;
            }
            return -1;
        }
    }
}
