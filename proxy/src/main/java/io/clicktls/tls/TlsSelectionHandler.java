package io.clicktls.tls;

import io.clicktls.acme.Challenges;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.DomainTable;
import io.clicktls.issuance.IssuanceException;
import io.clicktls.issuance.IssuancePolicy;
import io.clicktls.issuance.PendingHandshakes;
import io.clicktls.issuance.RefusalLog;
import io.clicktls.metrics.Metrics;
import io.clicktls.pki.CertifiedKey;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SslClientHelloHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks the certificate for a TLS connection from its ClientHello, then replaces itself with an {@link SslHandler}
 * named {@value #SSL_HANDLER_NAME} so that the handlers after it see a plain TLS pipeline.
 * <ul>
 *   <li>ALPN offering exactly {@code acme-tls/1}: the tls-alpn-01 challenge certificate from {@link Challenges}
 *       (looked up on the blocking executor), with ALPN {@code acme-tls/1} only;</li>
 *   <li>otherwise the name's certificate from {@link CertificateResolver#certificate}, waiting at most
 *       {@code on_demand.handshake_wait} (the wait is applied to a copy: timing out never cancels an issuance);</li>
 *   <li>no SNI, a malformed hello, a refused or unknown name, a timeout: the handshake fails at once with a TLS alert.
 *       There is no default certificate, so a client never sees another name's certificate;</li>
 *   <li>a certificate not in memory makes the handshake wait, and handshakes that start a lookup are bounded per
 *       client address and in all ({@link PendingHandshakes}, {@code on_demand.pending_handshakes}): beyond the
 *       bound the handshake is refused at once ({@code too_many_pending}) before any storage, {@code ask} or issuance
 *       work starts; a handshake joining a lookup already under way for its name needs no slot;</li>
 *   <li>a connection whose ClientHello has not arrived within {@link #HELLO_DEADLINE} is closed.</li>
 * </ul>
 * Once a context is selected, the normalized SNI name goes down the pipeline in an {@link SniCompletionEvent}, as
 * Netty's {@code SniHandler} does, so that the handlers after it know the connection's name without asking the
 * engine (which costs a JNI call and an IDN conversion per connection).
 * Counts {@code clicktls_tls_handshakes_total{result}}: {@code ok} once the TLS handshake succeeds, else
 * {@code unknown_name} (not served: unknown, or removed from the config), {@code no_sni}, {@code malformed},
 * {@code timeout}, {@code backoff} (no certificate, and the name's issuance is held back after a failure; the CA is
 * not asked), {@code too_many_pending} or {@code failed}.
 *
 * <p>One instance per channel. Runs on the channel's event loop; must not block: a certificate and context in memory
 * are used on the spot, anything else is waited for without blocking.
 */
public final class TlsSelectionHandler extends SslClientHelloHandler<SslContext> {

    /** The name of the {@link SslHandler} that replaces this handler. */
    public static final String SSL_HANDLER_NAME = "ssl";

    static final String OK = "ok";
    static final String UNKNOWN_NAME = "unknown_name";
    static final String NO_SNI = "no_sni";
    static final String MALFORMED = "malformed";
    static final String TIMEOUT = "timeout";
    static final String BACKOFF = "backoff";
    static final String TOO_MANY_PENDING = IssuancePolicy.TOO_MANY_PENDING;
    /** How long a new connection may take to send its ClientHello; the idle timeout is far longer. */
    static final Duration HELLO_DEADLINE = Duration.ofSeconds(10);

    static final String FAILED = "failed";

    private static final Logger log = LoggerFactory.getLogger(TlsSelectionHandler.class);
    /** One for the node: its bounds are on what the whole log shows. */
    private static final RefusalLog REFUSALS = new RefusalLog();

    private static final byte ALERT_DECODE_ERROR = 50;
    private static final byte ALERT_INTERNAL_ERROR = 80;
    private static final byte ALERT_UNRECOGNIZED_NAME = 112;

    /** Why no context was selected; stackless, as refusals are routine. */
    private static final class Refusal extends Exception {
        final String result;

        Refusal(String result) {
            super(result, null, false, false);
            this.result = result;
        }
    }

    private final CertificateResolver resolver;
    private final Challenges challenges;
    private final Executor blocking;
    private final Supplier<ConfigSnapshot> config;
    private final Metrics metrics;
    private final PendingHandshakes pending;
    private boolean refused;
    /** When the ClientHello lookup started, for {@link Metrics#handshakeDuration}. */
    private long lookupStart;
    /** The normalized SNI name of the lookup, for the {@link SniCompletionEvent}. */
    private String serverName;

    private ScheduledFuture<?> helloDeadline;

    /**
     * @param blocking runs challenge lookups and context builds that missed the cache; never an event loop
     * @param config read once per handshake for {@code on_demand.handshake_wait}
     */
    public TlsSelectionHandler(
            CertificateResolver resolver,
            Challenges challenges,
            Executor blocking,
            Supplier<ConfigSnapshot> config,
            Metrics metrics) {
        this(resolver, challenges, blocking, config, metrics, null);
    }

    /** @param pending the node's count of waiting handshakes, or {@code null} for no bound */
    public TlsSelectionHandler(
            CertificateResolver resolver,
            Challenges challenges,
            Executor blocking,
            Supplier<ConfigSnapshot> config,
            Metrics metrics,
            PendingHandshakes pending) {
        this.resolver = resolver;
        this.challenges = challenges;
        this.blocking = blocking;
        this.config = config;
        this.metrics = metrics;
        this.pending = pending;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        super.handlerAdded(ctx);
        helloDeadline = ctx.executor()
                .schedule(
                        () -> {
                            if (!refused) {
                                refused = true;
                                metrics.handshake(TIMEOUT);
                                ctx.channel().close();
                            }
                        },
                        HELLO_DEADLINE.toMillis(),
                        TimeUnit.MILLISECONDS);
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) throws Exception {
        cancelHelloDeadline();
        super.handlerRemoved0(ctx);
    }

    private void cancelHelloDeadline() {
        if (helloDeadline != null) {
            helloDeadline.cancel(false);
            helloDeadline = null;
        }
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        if (refused) {
            in.skipBytes(in.readableBytes()); // the alert is on its way and the channel closing
            return;
        }
        try {
            super.decode(ctx, in, out);
        } catch (NotSslRecordException | TooLongFrameException e) {
            // The superclass already closed the channel.
            refused = true;
            metrics.handshake(MALFORMED);
            throw e;
        }
    }

    @Override
    protected Future<SslContext> lookup(ChannelHandlerContext ctx, ByteBuf clientHello) {
        cancelHelloDeadline();
        lookupStart = System.nanoTime();
        Optional<ClientHello> hello = ClientHelloParser.parseBody(clientHello);
        if (hello.isEmpty()) {
            return ctx.executor().newFailedFuture(new Refusal(MALFORMED));
        }
        String requested = hello.get().serverName();
        if (requested == null) {
            return ctx.executor().newFailedFuture(new Refusal(NO_SNI));
        }
        String name = DomainTable.normalize(requested);
        this.serverName = name;
        if (hello.get().offersOnly(TlsContexts.ACME_TLS_1)) {
            return bridge(ctx, challengeContext(name));
        }
        Optional<CertifiedKey> inMemory = resolver.cached(name);
        if (inMemory.isPresent()) {
            SslContext context = resolver.contexts().acquireCached(inMemory.get());
            if (context != null) {
                return ctx.executor().newSucceededFuture(context); // the usual case: no thread hop at all
            }
            return bridge(ctx, serverContext(inMemory.get()));
        }
        // Anything else may wait (storage, ask, DNS, issuance): a slot first, so a flood of names cannot queue work
        // without bound. Joining a lookup already under way costs no work: a scanner's burst of clicks on one new
        // name takes one slot, not one per connection.
        InetAddress client = clientAddress(ctx);
        PendingHandshakes.Permit permit = null;
        if (pending != null && !resolver.lookingUp(name)) {
            permit = pending.tryAcquire(
                            client,
                            config.get().config().certificates().onDemand().pendingHandshakes())
                    .orElse(null);
            if (permit == null) {
                metrics.onDemandDenied(TOO_MANY_PENDING);
                return ctx.executor().newFailedFuture(new Refusal(TOO_MANY_PENDING));
            }
        }
        CompletableFuture<CertifiedKey> certificate =
                resolver.certificate(name, client).copy();
        // A timer of this event loop rather than orTimeout, whose JDK timer thread would be woken for every lookup
        // and compete for a core with the thread doing the lookup.
        ScheduledFuture<?> timeout = certificate.isDone()
                ? null
                : ctx.executor()
                        .schedule(
                                () -> certificate.completeExceptionally(new TimeoutException()),
                                handshakeWait().toNanos(),
                                TimeUnit.NANOSECONDS);
        CompletableFuture<SslContext> context = certificate.thenCompose(this::serverContext);
        if (permit != null) {
            PendingHandshakes.Permit held = permit;
            context.whenComplete((result, failure) -> held.close());
        }
        Future<SslContext> selected = bridge(ctx, context);
        if (timeout != null) {
            selected.addListener(done -> timeout.cancel(false)); // on this event loop
        }
        return selected;
    }

    private static InetAddress clientAddress(ChannelHandlerContext ctx) {
        SocketAddress remote = ctx.channel().remoteAddress();
        return remote instanceof InetSocketAddress inet && inet.getAddress() != null
                ? inet.getAddress()
                : InetAddress.getLoopbackAddress();
    }

    @Override
    protected void onLookupComplete(ChannelHandlerContext ctx, Future<SslContext> future) {
        if (!future.isSuccess()) {
            refuse(ctx, future.cause());
            return;
        }
        SslContext context = future.getNow();
        try {
            if (ctx.isRemoved() || !ctx.channel().isActive()) {
                return; // the client left while we waited
            }
            SslHandler ssl = context.newHandler(ctx.alloc());
            try {
                ctx.pipeline().replace(this, SSL_HANDLER_NAME, ssl);
            } catch (RuntimeException e) {
                ReferenceCountUtil.safeRelease(ssl.engine());
                throw e;
            }
            // Fired from the SslHandler's place: every handler after TLS sees it, before any decrypted byte.
            ctx.pipeline().context(ssl).fireUserEventTriggered(new SniCompletionEvent(serverName));
            long start = lookupStart;
            ssl.handshakeFuture().addListener(done -> {
                metrics.handshake(done.isSuccess() ? OK : FAILED);
                if (done.isSuccess()) {
                    metrics.handshakeDuration(System.nanoTime() - start);
                }
            });
        } finally {
            ReferenceCountUtil.release(context); // the engine holds its own reference now
        }
    }

    private CompletableFuture<SslContext> serverContext(CertifiedKey certified) {
        SslContext cached = resolver.contexts().acquireCached(certified);
        if (cached != null) {
            return CompletableFuture.completedFuture(cached);
        }
        return CompletableFuture.supplyAsync(
                () -> {
                    try {
                        return resolver.contexts().acquire(certified);
                    } catch (Exception e) {
                        throw new CompletionException(e);
                    }
                },
                blocking);
    }

    private CompletableFuture<SslContext> challengeContext(String name) {
        try {
            return CompletableFuture.supplyAsync(
                            () -> {
                                CertifiedKey certified = challenges
                                        .tlsAlpnCertificate(name)
                                        .orElseThrow(() -> new CompletionException(new Refusal(UNKNOWN_NAME)));
                                try {
                                    return resolver.contexts().challengeContext(certified);
                                } catch (Exception e) {
                                    throw new CompletionException(e);
                                }
                            },
                            blocking)
                    .orTimeout(handshakeWait().toNanos(), TimeUnit.NANOSECONDS);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e); // the blocking executor is saturated
        }
    }

    /** Hands a result over to the event loop; a context that arrives after the channel gave up is released. */
    private static Future<SslContext> bridge(ChannelHandlerContext ctx, CompletableFuture<SslContext> context) {
        Promise<SslContext> promise = ctx.executor().newPromise();
        context.whenComplete((result, failure) -> {
            if (failure != null) {
                promise.tryFailure(
                        failure instanceof CompletionException && failure.getCause() != null
                                ? failure.getCause()
                                : failure);
            } else if (!promise.trySuccess(result)) {
                ReferenceCountUtil.release(result);
            }
        });
        return promise;
    }

    private void refuse(ChannelHandlerContext ctx, Throwable cause) {
        refused = true;
        String result;
        byte alert;
        if (cause instanceof Refusal refusal) {
            result = refusal.result;
            alert = MALFORMED.equals(result)
                    ? ALERT_DECODE_ERROR
                    : TOO_MANY_PENDING.equals(result) ? ALERT_INTERNAL_ERROR : ALERT_UNRECOGNIZED_NAME;
        } else if (cause instanceof NameRefusedException refusal) {
            result = UNKNOWN_NAME;
            alert = ALERT_UNRECOGNIZED_NAME;
            REFUSALS.refused(refusal.name(), refusal.reason());
        } else if (cause instanceof IssuanceHeldBackException) {
            result = BACKOFF; // routine while a CA is down: counted, and logged when the failure was recorded
            alert = ALERT_INTERNAL_ERROR;
        } else if (cause instanceof TimeoutException) {
            result = TIMEOUT;
            alert = ALERT_INTERNAL_ERROR;
        } else if (cause instanceof IssuanceException) {
            result = FAILED; // the resolver already warned, once per failure
            alert = ALERT_INTERNAL_ERROR;
        } else {
            result = FAILED;
            alert = ALERT_INTERNAL_ERROR;
            log.warn("no TLS context for a handshake from {}: {}", ctx.channel().remoteAddress(), cause.toString());
        }
        metrics.handshake(result);
        if (log.isDebugEnabled()) {
            log.debug("refused a TLS handshake from {}: {}", ctx.channel().remoteAddress(), cause.getMessage());
        }
        if (!ctx.channel().isActive()) {
            return;
        }
        // A plaintext fatal alert, as a TLS stack sends before the handshake has keys: TLS 1.2 record version.
        ByteBuf record = ctx.alloc().buffer(7).writeBytes(new byte[] {21, 3, 3, 0, 2, 2, alert});
        ctx.writeAndFlush(record).addListener(ChannelFutureListener.CLOSE);
    }

    private Duration handshakeWait() {
        return config.get().config().certificates().onDemand().handshakeWait();
    }
}
