package io.clicktls.http;

import io.clicktls.acme.Challenges;
import io.clicktls.certificates.CertificateSource;
import io.clicktls.certificates.PendingHandshakes;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.ConnectionLimits;
import io.clicktls.config.Listen;
import io.clicktls.config.ProxyProtocol;
import io.clicktls.metrics.Metrics;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.unix.UnixChannel;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.handler.ssl.SslContext;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.dns.DnsAddressResolverGroup;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The https and http listeners and the proxy path behind them. Built with {@link #builder()}; {@link #start()}
 * binds both listeners, {@link #close()} stops accepting, lets requests in flight finish (up to a drain timeout)
 * and closes every connection. The event loop groups belong to the caller and are not shut down here.
 *
 * <p>Thread-safe: {@code start} and {@code close} may be called from any thread (not from an event loop).
 */
public final class ProxyServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);

    /**
     * The SNI host name a client's TLS connection was established for. The TLS layer may set it on the connection
     * channel; otherwise it is taken from an {@code SniCompletionEvent} or from the SSL session.
     */
    public static final AttributeKey<String> SERVER_NAME = AttributeKey.valueOf(ProxyServer.class, "serverName");

    private final Builder settings;
    private final ProxySettings limits;
    private final ChannelGroup clients = new DefaultChannelGroup("clients", GlobalEventExecutor.INSTANCE);
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AddressResolverGroup<? extends SocketAddress> resolver;
    private final boolean ownsResolver;
    private final UpstreamPool pool;
    private final ConnectionLimiter limiter;
    private volatile Channel httpsChannel;
    private volatile Channel httpChannel;
    /** Every listening socket: with SO_REUSEPORT one per worker event loop and listener, else the two above. */
    private final List<Channel> listeners = new CopyOnWriteArrayList<>();
    /** Set as each listener is bound: until the http one is, links naming its port are left alone. */
    private volatile LinkPorts linkPorts = LinkPorts.STANDARD;

    private ProxyServer(Builder b) {
        this.settings = b;
        this.limits = new ProxySettings(
                b.connectTimeout,
                b.responseTimeout,
                b.keepAliveIdle,
                b.requestHeadersTimeout,
                b.upstreamIdleTimeout,
                b.maxIdlePerUpstream,
                b.drainTimeout);
        this.ownsResolver = b.resolver == null;
        this.resolver = ownsResolver ? dnsResolver(b.channelType, b.datagramChannelType) : b.resolver;
        this.pool = new UpstreamPool(b.channelType, resolver, b.upstreamSslContext, limits);
        this.limiter = new ConnectionLimiter(
                () -> b.config.get().config().limits(), b.metrics, ConnectionLimiter.processDescriptorLimit());
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Binds the https and then the http listener, at the builder's addresses or else the config's {@code listen}
     * (port 0 picks a free port). Blocks until both are bound. With epoll or io_uring each worker event loop gets its
     * own socket on each port (SO_REUSEPORT) and accepts on it; with NIO the boss group accepts.
     *
     * @throws IllegalStateException when a listener cannot bind
     */
    public ProxyServer start() {
        Listen listen = settings.config.get().config().listen();
        InetSocketAddress httpsAddress = settings.httpsAddress != null
                ? settings.httpsAddress
                : listen.https().toSocketAddress();
        InetSocketAddress httpAddress = settings.httpAddress != null
                ? settings.httpAddress
                : listen.http().toSocketAddress();
        ProxyContext context =
                new ProxyContext(settings.config, pool, settings.metrics, limits, inFlight, () -> linkPorts);
        PlainHttpAnswers plainHttp = new PlainHttpAnswers(
                settings.config,
                settings.certificates,
                settings.challenges,
                settings.challengeExecutor,
                this::publicHttpsPort,
                settings.metrics,
                settings.pendingLookups);
        // the well_known files before the 308: app-link verifiers must get them over http as they are
        ListenerPipelines pipelines = new ListenerPipelines(
                context,
                settings.tlsHandlerFactory,
                settings.certificates,
                new WellKnownAnswers(plainHttp),
                clients,
                limiter);
        httpsChannel = bind(httpsAddress, pipelines.https(), "https");
        try {
            linkPorts = new LinkPorts(publicHttpsPort(), -1, httpsPort()); // rejects a redirect port out of range
            httpChannel = bind(httpAddress, pipelines.http(), "http");
        } catch (RuntimeException e) {
            closeListeners();
            throw e;
        }
        linkPorts = new LinkPorts(publicHttpsPort(), httpPort(), httpsPort());
        if (limiter.maxConnections() > limiter.derivedMaxConnections()) {
            log.warn(
                    "limits.max_connections {} is above the {} that the descriptor limit {} leaves room for (with"
                            + " upstream connections and a reserve): the process may run out of descriptors",
                    limiter.maxConnections(),
                    limiter.derivedMaxConnections(),
                    ConnectionLimiter.processDescriptorLimit());
        }
        log.info(
                "listening: https {} http {}; at most {} client connections ({})",
                httpsChannel.localAddress(),
                httpChannel.localAddress(),
                limiter.maxConnections(),
                settings.config.get().config().limits().maxConnections() == ConnectionLimits.AUTO
                        ? "derived from the descriptor limit " + ConnectionLimiter.processDescriptorLimit()
                        : "limits.max_connections");
        ProxyProtocol proxyProtocol = listen.proxyProtocol();
        if (proxyProtocol.enabled()) {
            log.info(
                    "PROXY protocol: the https and http listeners take connections only from {}, each beginning with"
                            + " a header that names the client",
                    proxyProtocol.from());
        }
        return this;
    }

    /** The port the https listener is bound to. */
    public int httpsPort() {
        return ((InetSocketAddress) requireStarted(httpsChannel).localAddress()).getPort();
    }

    /** The port the http listener is bound to. */
    public int httpPort() {
        return ((InetSocketAddress) requireStarted(httpChannel).localAddress()).getPort();
    }

    /** Client connections open on the https and http listeners together. */
    public int clientConnections() {
        return limiter.open();
    }

    /** Requests currently between upstream connection and end of response. */
    public int requestsInFlight() {
        return inFlight.get();
    }

    /**
     * Stops accepting, waits up to the drain timeout for requests in flight, then closes every client and upstream
     * connection. Idempotent.
     */
    @Override
    public void close() {
        closeListeners();
        long deadline = System.nanoTime() + settings.drainTimeout.toNanos();
        while (inFlight.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        clients.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        pool.close();
        if (ownsResolver) {
            resolver.close();
        }
    }

    private int publicHttpsPort() {
        return settings.redirectHttpsPort > 0 ? settings.redirectHttpsPort : httpsPort();
    }

    /**
     * Listens on {@code address}. With a native transport (epoll, io_uring) every worker event loop gets a socket of
     * its own on the same port (SO_REUSEPORT; the kernel spreads connections over them), so a connection is accepted
     * and served on one thread: no hand-over from an acceptor thread, which costs a wake-up and a context switch per
     * connection. With NIO the boss group accepts for all workers.
     *
     * @return the first socket, whose address is the listener's
     */
    private Channel bind(InetSocketAddress address, ChannelHandler initializer, String name) {
        if (!UnixChannel.class.isAssignableFrom(settings.serverChannelType)) {
            return bind(settings.boss, settings.worker, address, initializer, name, false);
        }
        Channel first = null;
        InetSocketAddress at = address;
        for (EventExecutor executor : settings.worker) {
            EventLoop loop = (EventLoop) executor;
            Channel channel = bind(loop, loop, at, initializer, name, true);
            if (first == null) {
                first = channel;
                // port 0 picks a port once; the other sockets join it
                int port = ((InetSocketAddress) channel.localAddress()).getPort();
                at = new InetSocketAddress(address.getAddress(), port);
            }
        }
        return first;
    }

    private Channel bind(
            EventLoopGroup parent,
            EventLoopGroup child,
            InetSocketAddress address,
            ChannelHandler initializer,
            String name,
            boolean reusePort) {
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(parent, child)
                .channel(settings.serverChannelType)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                // TCP_NODELAY is Netty's default for accepted sockets: setting it again costs a system call each
                .handler(limiter.acceptErrors())
                .childHandler(initializer);
        if (reusePort) {
            bootstrap.option(UnixChannelOption.SO_REUSEPORT, true);
        }
        var bound = bootstrap.bind(address).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            closeListeners();
            throw new IllegalStateException("cannot listen for " + name + " on " + address, bound.cause());
        }
        listeners.add(bound.channel());
        limiter.listening(bound.channel());
        return bound.channel();
    }

    private void closeListeners() {
        for (Channel listener : listeners) {
            limiter.closed(listener);
            listener.close().syncUninterruptibly();
        }
        listeners.clear();
    }

    private static Channel requireStarted(Channel channel) {
        if (channel == null) {
            throw new IllegalStateException("not started");
        }
        return channel;
    }

    /**
     * Upstream names are resolved with Netty's asynchronous DNS resolver rather than the JDK's
     * {@code InetAddress}: the JDK lookup blocks, and Netty's default resolver group runs it on the event loop. Its
     * cache keeps each record for its TTL, so a platform that moves its addresses is followed without a restart, and
     * it reads {@code /etc/hosts} and {@code /etc/resolv.conf} as the system does.
     */
    private static AddressResolverGroup<InetSocketAddress> dnsResolver(
            Class<? extends Channel> socketChannelType, Class<? extends DatagramChannel> datagramChannelType) {
        Class<? extends DatagramChannel> datagram =
                datagramChannelType != null ? datagramChannelType : matchingDatagramChannel(socketChannelType);
        DnsNameResolverBuilder builder = new DnsNameResolverBuilder().datagramChannelType(datagram);
        if (SocketChannel.class.isAssignableFrom(socketChannelType)) {
            @SuppressWarnings("unchecked")
            Class<? extends SocketChannel> tcp = (Class<? extends SocketChannel>) socketChannelType;
            builder.socketChannelType(tcp);
        }
        return new DnsAddressResolverGroup(builder);
    }

    /** NioSocketChannel → NioDatagramChannel, EpollSocketChannel → EpollDatagramChannel, and so on. */
    @SuppressWarnings("unchecked")
    private static Class<? extends DatagramChannel> matchingDatagramChannel(Class<? extends Channel> socketChannel) {
        String name = socketChannel.getName().replace("SocketChannel", "DatagramChannel");
        try {
            Class<?> type = Class.forName(name, true, socketChannel.getClassLoader());
            if (DatagramChannel.class.isAssignableFrom(type)) {
                return (Class<? extends DatagramChannel>) type;
            }
        } catch (ClassNotFoundException e) {
            // reported below
        }
        throw new IllegalArgumentException("no datagram channel type matches " + socketChannel.getName()
                + "; pass one to ProxyServer.Builder.datagramChannelType");
    }

    /** Collects what the listeners need. Required: everything up to {@link #upstreamSslContext}. */
    public static final class Builder {

        private Supplier<ConfigSnapshot> config;
        private EventLoopGroup boss;
        private EventLoopGroup worker;
        private Class<? extends ServerChannel> serverChannelType;
        private Class<? extends Channel> channelType;
        private Class<? extends DatagramChannel> datagramChannelType;
        private Function<Channel, ChannelHandler> tlsHandlerFactory;
        private CertificateSource certificates;
        private Challenges challenges = Challenges.NONE;
        private PendingHandshakes pendingLookups;
        private Executor challengeExecutor;
        private Metrics metrics;
        private SslContext upstreamSslContext;
        private AddressResolverGroup<? extends SocketAddress> resolver;
        private InetSocketAddress httpsAddress;
        private InetSocketAddress httpAddress;
        private int redirectHttpsPort;
        private Duration connectTimeout;
        private Duration responseTimeout;
        private Duration keepAliveIdle;
        private Duration requestHeadersTimeout;
        private Duration upstreamIdleTimeout;
        private int maxIdlePerUpstream;
        private Duration drainTimeout;

        private Builder() {
            ProxySettings defaults = ProxySettings.defaults();
            connectTimeout = defaults.upstreamConnectTimeout();
            responseTimeout = defaults.upstreamResponseTimeout();
            keepAliveIdle = defaults.keepAliveIdle();
            requestHeadersTimeout = defaults.requestHeadersTimeout();
            upstreamIdleTimeout = defaults.upstreamIdleTimeout();
            maxIdlePerUpstream = defaults.maxIdlePerUpstream();
            drainTimeout = defaults.drainTimeout();
        }

        /** The live config, read per request (routing, {@code upgrade}) and at start ({@code listen}). */
        public Builder config(Supplier<ConfigSnapshot> config) {
            this.config = config;
            return this;
        }

        /**
         * The caller's event loops: {@code worker} serves clients and upstreams; {@code boss} accepts with NIO (native
         * transports accept on each worker, see {@link #start()}).
         */
        public Builder eventLoops(EventLoopGroup boss, EventLoopGroup worker) {
            this.boss = boss;
            this.worker = worker;
            return this;
        }

        /** Channel types matching the event loops, e.g. {@code NioServerSocketChannel} and {@code NioSocketChannel}. */
        public Builder channelTypes(
                Class<? extends ServerChannel> serverChannelType, Class<? extends Channel> channelType) {
            this.serverChannelType = serverChannelType;
            this.channelType = channelType;
            return this;
        }

        /**
         * For the DNS resolver; by default the datagram channel named like the socket channel type
         * ({@code NioSocketChannel} → {@code NioDatagramChannel}, {@code EpollSocketChannel} →
         * {@code EpollDatagramChannel}).
         */
        public Builder datagramChannelType(Class<? extends DatagramChannel> datagramChannelType) {
            this.datagramChannelType = datagramChannelType;
            return this;
        }

        /**
         * Makes the first handler of each https connection: production passes the TLS layer's selection handler
         * (which replaces itself with an {@code SslHandler} after the ClientHello); tests may pass
         * {@code ch -> sslContext.newHandler(ch.alloc())}. The TLS contexts must offer ALPN {@code h2} and
         * {@code http/1.1}.
         */
        public Builder tlsHandlerFactory(Function<Channel, ChannelHandler> tlsHandlerFactory) {
            this.tlsHandlerFactory = tlsHandlerFactory;
            return this;
        }

        /** Decides the http→https redirect and which links may be upgraded. */
        public Builder certificates(CertificateSource certificates) {
            this.certificates = certificates;
            return this;
        }

        /**
         * The node's bound on lookups waited for, shared with the TLS listener, so that plain-http requests for names
         * without a certificate take the same per-client slots as handshakes; {@code null} (the default): no bound.
         */
        public Builder pendingLookups(PendingHandshakes pendingLookups) {
            this.pendingLookups = pendingLookups;
            return this;
        }

        /** http-01 answers; {@link Challenges#NONE} by default. */
        public Builder challenges(Challenges challenges) {
            this.challenges = challenges;
            return this;
        }

        /**
         * Runs http-01 challenge lookups (tokens from storage on a node that did not order); never an event loop.
         * Best an executor of their own: the CA gives a validation a few seconds.
         */
        public Builder challengeExecutor(Executor challengeExecutor) {
            this.challengeExecutor = challengeExecutor;
            return this;
        }

        public Builder metrics(Metrics metrics) {
            this.metrics = metrics;
            return this;
        }

        /**
         * A client context for HTTPS upstreams (production: the JDK's default trust; no ALPN, or http/1.1 only).
         * SNI and hostname verification are set per connection for the upstream's host name.
         */
        public Builder upstreamSslContext(SslContext upstreamSslContext) {
            this.upstreamSslContext = upstreamSslContext;
            return this;
        }

        /** Overrides the DNS resolver for upstream names (tests); closed by the caller. */
        public Builder resolver(AddressResolverGroup<? extends SocketAddress> resolver) {
            this.resolver = resolver;
            return this;
        }

        /** Overrides {@code listen.https} and {@code listen.http} of the config. */
        public Builder addresses(InetSocketAddress https, InetSocketAddress http) {
            this.httpsAddress = https;
            this.httpAddress = http;
            return this;
        }

        /**
         * The https port clients see, for 308 redirects and upgraded links, when it differs from the bound one (a
         * port mapping in front of the proxy). By default the bound port; 443 is left out of the URL.
         */
        public Builder redirectHttpsPort(int port) {
            this.redirectHttpsPort = port;
            return this;
        }

        /** Upstream TCP connect plus TLS handshake; 5 s by default (then 502). */
        public Builder upstreamConnectTimeout(Duration timeout) {
            this.connectTimeout = timeout;
            return this;
        }

        /** From the request fully sent to the upstream's response headers; 30 s by default (then 504). */
        public Builder upstreamResponseTimeout(Duration timeout) {
            this.responseTimeout = timeout;
            return this;
        }

        /** A client connection without a request (or any traffic) for this long is closed; 60 s by default. */
        public Builder keepAliveIdle(Duration idle) {
            this.keepAliveIdle = idle;
            return this;
        }

        /** A new client connection must deliver its first request's headers within this; 30 s by default. */
        public Builder requestHeadersTimeout(Duration timeout) {
            this.requestHeadersTimeout = timeout;
            return this;
        }

        /** Idle upstream connections are kept this long; 15 s by default. */
        public Builder upstreamIdleTimeout(Duration timeout) {
            this.upstreamIdleTimeout = timeout;
            return this;
        }

        /** Idle connections kept per upstream and event loop; 32 by default. */
        public Builder maxIdlePerUpstream(int max) {
            this.maxIdlePerUpstream = max;
            return this;
        }

        /** How long {@link ProxyServer#close()} waits for requests in flight; 10 s by default. */
        public Builder drainTimeout(Duration timeout) {
            this.drainTimeout = timeout;
            return this;
        }

        public ProxyServer build() {
            Objects.requireNonNull(config, "config");
            Objects.requireNonNull(boss, "eventLoops");
            Objects.requireNonNull(worker, "eventLoops");
            Objects.requireNonNull(serverChannelType, "channelTypes");
            Objects.requireNonNull(channelType, "channelTypes");
            Objects.requireNonNull(tlsHandlerFactory, "tlsHandlerFactory");
            Objects.requireNonNull(certificates, "certificates");
            Objects.requireNonNull(challenges, "challenges");
            Objects.requireNonNull(challengeExecutor, "challengeExecutor");
            Objects.requireNonNull(metrics, "metrics");
            Objects.requireNonNull(upstreamSslContext, "upstreamSslContext");
            return new ProxyServer(this);
        }
    }
}
