import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.concurrent.EventExecutor;
import java.io.File;
import java.net.InetSocketAddress;

/**
 * The HTTP/2 twin of {@code FloorServer}: the least a Netty server on netty-tcnative's BoringSSL can spend on a click
 * as a browser makes it (new connection, full TLS 1.3 handshake, ALPN h2, one GET answered 302). TLS 1.3 with ALPN
 * {@code h2} only, Netty's {@code Http2FrameCodec} (connection preface, SETTINGS, HPACK, flow control, stream
 * states), and every HEADERS frame that opens a request answered with a fixed 302 that ends the stream. No upstream,
 * no header inspection, no routing, no metrics, no timeouts. The same choices as clicktls and {@code FloorServer}
 * where they change the CPU: epoll, one event loop per core, each with its own listening socket (SO_REUSEPORT),
 * pooled buffers, leak detection off.
 *
 * <p>It is a floor, not a product: clicktls, which also turns the request into HTTP/1.1 for the platform and the
 * answer back into HTTP/2, cannot spend less per click on this stack. compare.sh measures it in the same round as
 * clicktls and HAProxy (bench/README.md).
 *
 * <pre>java -cp proxy/target/clicktls.jar bench/tls/H2FloorServer.java PORT CHAIN.pem KEY.pem [threads]</pre>
 */
final class H2FloorServer {

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: H2FloorServer PORT CHAIN.pem KEY.pem [threads]");
            System.exit(2);
        }
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        int port = Integer.parseInt(args[0]);
        // A client that offers no ALPN gets h2 all the same: this server speaks nothing else.
        SslContext tls = SslContextBuilder.forServer(new File(args[1]), new File(args[2]))
                .sslProvider(SslProvider.OPENSSL_REFCNT)
                .protocols("TLSv1.3", "TLSv1.2")
                .applicationProtocolConfig(new ApplicationProtocolConfig(
                        Protocol.ALPN,
                        SelectorFailureBehavior.NO_ADVERTISE,
                        SelectedListenerFailureBehavior.ACCEPT,
                        ApplicationProtocolNames.HTTP_2))
                .build();
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : Runtime.getRuntime().availableProcessors();
        MultiThreadIoEventLoopGroup loops = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
        Answer answer = new Answer();
        ChannelInitializer<SocketChannel> pipeline = new ChannelInitializer<>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                ch.pipeline()
                        .addLast(
                                tls.newHandler(ch.alloc()),
                                Http2FrameCodecBuilder.forServer().build(),
                                answer);
            }
        };
        for (EventExecutor executor : loops) {
            EventLoop loop = (EventLoop) executor;
            new ServerBootstrap()
                    .group(loop, loop)
                    .channel(EpollServerSocketChannel.class)
                    .option(UnixChannelOption.SO_REUSEPORT, true)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childHandler(pipeline)
                    .bind(new InetSocketAddress("127.0.0.1", port))
                    .sync();
        }
        System.out.println("h2 floor server on 127.0.0.1:" + port + ", " + threads + " event loops");
    }

    /**
     * Answers the HEADERS frame that opens each stream with the fixed 302 and ends the stream; drops every other
     * frame (DATA of a request body, SETTINGS and PING are handled by the codec). Stateless, so one instance serves
     * every channel; it runs on the channel's event loop.
     */
    @ChannelHandler.Sharable
    private static final class Answer extends ChannelInboundHandlerAdapter {

        // read-only after construction; Http2FrameCodec only reads the headers it encodes
        private static final Http2Headers FOUND = new DefaultHttp2Headers()
                .status("302")
                .set("location", "https://destination.example/landing")
                .setInt("content-length", 0);

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2HeadersFrame request && request.headers().method() != null) {
                ctx.write(new DefaultHttp2HeadersFrame(FOUND, true).stream(request.stream()), ctx.voidPromise());
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
