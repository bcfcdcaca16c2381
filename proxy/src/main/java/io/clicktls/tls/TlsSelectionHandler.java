package io.clicktls.tls;

import io.clicktls.acme.Challenges;
import io.clicktls.certificates.CertificateResolver;
import io.clicktls.certificates.IssuanceException;
import io.clicktls.certificates.IssuanceHeldBackException;
import io.clicktls.certificates.NameRefusedException;
import io.clicktls.certificates.PendingHandshakes;
import io.clicktls.certificates.Refusal;
import io.clicktls.certificates.RefusalLog;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.HostNames;
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

    /** How long a new connection may take to send its ClientHello; the idle timeout is far longer. */
    static final Duration HELLO_DEADLINE = Duration.ofSeconds(10);

    /**
     * How a handshake ended: its {@code clicktls_tls_handshakes_total{result}} label (a contract) and the alert it is
     * refused with. The outcomes of a refused name take their alert from its {@link Refusal}.
     */
    enum Outcome {
        OK("ok", null),
        UNKNOWN_NAME("unknown_name", Refusal.Alert.UNRECOGNIZED_NAME),
        NO_SNI("no_sni", Refusal.Alert.UNRECOGNIZED_NAME),
        MALFORMED("malformed", Refusal.Alert.DECODE_ERROR),
        TIMEOUT("timeout", Refusal.Alert.INTERNAL_ERROR),
        BACKOFF(Refusal.BACKOFF.label(), Refusal.BACKOFF.alert()),
        TOO_MANY_PENDING(Refusal.TOO_MANY_PENDING.label(), Refusal.TOO_MANY_PENDING.alert()),
        FAILED("failed", Refusal.Alert.INTERNAL_ERROR);

        final String label;
        final Refusal.Alert alert;

        Outcome(String label, Refusal.Alert alert) {
            this.label = label;
            this.alert = alert;
        }

        /** A name refused by the policy is counted as not served; waiting names by why they wait. */
        static Outcome of(Refusal refusal) {
            return switch (refusal) {
                case BACKOFF -> BACKOFF;
                case TOO_MANY_PENDING -> TOO_MANY_PENDING;
                case STORAGE_UNAVAILABLE -> FAILED; // a name that may well be served once the storage is back
                default -> UNKNOWN_NAME;
            };
        }
    }

    private static final Logger log = LoggerFactory.getLogger(TlsSelectionHandler.class);
    /** One for the node: its bounds are on what the whole log shows. */
    private static final RefusalLog REFUSALS = new RefusalLog();

    /** Why this handler selected no context before asking for a certificate; stackless, as refusals are routine. */
    private static final class Rejected extends Exception {
        final Outcome outcome;

        Rejected(Outcome outcome) {
            super(outcome.label, null, false, false);
            this.outcome = outcome;
        }
    }

    private final Shared shared;
    private boolean refused;
    /** When the ClientHello lookup started, for {@link Metrics#handshakeDuration}. */
    private long lookupStart;
    /** The normalized SNI name of the lookup, for the {@link SniCompletionEvent}. */
    private String serverName;

    private ScheduledFuture<?> helloDeadline;

    /**
     * What the handlers of all connections share, made once per node.
     *
     * @param contexts the TLS contexts of the resolver's certificates (they follow its events)
     * @param blocking runs context builds that missed the cache; never an event loop
     * @param challengeAnswers runs tls-alpn-01 challenge lookups (storage I/O on a node that did not order): an
     *     executor of their own, never an event loop, and not the one orders queue on, since the CA gives a
     *     validation a few seconds while a burst of new names can fill the blocking executor for minutes
     * @param config read once per handshake for {@code on_demand.handshake_wait}
     * @param pending the node's count of waiting handshakes, or {@code null} for no bound
     */
    public record Shared(
            CertificateResolver resolver,
            TlsContexts contexts,
            Challenges challenges,
            Executor blocking,
            Executor challengeAnswers,
            Supplier<ConfigSnapshot> config,
            Metrics metrics,
            PendingHandshakes pending) {}

    public TlsSelectionHandler(Shared shared) {
        this.shared = shared;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        super.handlerAdded(ctx);
        helloDeadline = ctx.executor()
                .schedule(
                        () -> {
                            if (!refused) {
                                refused = true;
                                shared.metrics().handshake(Outcome.TIMEOUT.label);
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
            shared.metrics().handshake(Outcome.MALFORMED.label);
            throw e;
        }
    }

    @Override
    protected Future<SslContext> lookup(ChannelHandlerContext ctx, ByteBuf clientHello) {
        cancelHelloDeadline();
        lookupStart = System.nanoTime();
        Optional<ClientHello> hello = ClientHelloParser.parseBody(clientHello);
        if (hello.isEmpty()) {
            return ctx.executor().newFailedFuture(new Rejected(Outcome.MALFORMED));
        }
        String requested = hello.get().serverName();
        if (requested == null) {
            return ctx.executor().newFailedFuture(new Rejected(Outcome.NO_SNI));
        }
        String name = HostNames.normalize(requested);
        this.serverName = name;
        if (hello.get().offersOnly(TlsContexts.ACME_TLS_1)) {
            return bridge(ctx, challengeContext(name));
        }
        Optional<CertifiedKey> inMemory = shared.resolver().cached(name);
        if (inMemory.isPresent()) {
            SslContext context = shared.contexts().acquireCached(inMemory.get());
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
        if (shared.pending() != null && !shared.resolver().lookingUp(name)) {
            permit = shared.pending()
                    .tryAcquire(
                            client,
                            shared.config()
                                    .get()
                                    .config()
                                    .certificates()
                                    .onDemand()
                                    .pendingHandshakes())
                    .orElse(null);
            if (permit == null) {
                shared.metrics().onDemandDenied(Refusal.TOO_MANY_PENDING.label());
                return ctx.executor().newFailedFuture(new Rejected(Outcome.TOO_MANY_PENDING));
            }
        }
        CompletableFuture<CertifiedKey> certificate =
                shared.resolver().certificate(name, client).copy();
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
        SocketAddress remote = ClientAddress.of(ctx.channel());
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
                shared.metrics().handshake(done.isSuccess() ? Outcome.OK.label : Outcome.FAILED.label);
                if (done.isSuccess()) {
                    shared.metrics().handshakeDuration(System.nanoTime() - start);
                }
            });
        } finally {
            ReferenceCountUtil.release(context); // the engine holds its own reference now
        }
    }

    private CompletableFuture<SslContext> serverContext(CertifiedKey certified) {
        SslContext cached = shared.contexts().acquireCached(certified);
        if (cached != null) {
            return CompletableFuture.completedFuture(cached);
        }
        return CompletableFuture.supplyAsync(
                () -> {
                    try {
                        return shared.contexts().acquire(certified);
                    } catch (Exception e) {
                        throw new CompletionException(e);
                    }
                },
                shared.blocking());
    }

    private CompletableFuture<SslContext> challengeContext(String name) {
        try {
            return CompletableFuture.supplyAsync(
                            () -> {
                                CertifiedKey certified = shared.challenges()
                                        .tlsAlpnCertificate(name)
                                        .orElseThrow(() -> new CompletionException(new Rejected(Outcome.UNKNOWN_NAME)));
                                try {
                                    return shared.contexts().challengeContext(certified);
                                } catch (Exception e) {
                                    throw new CompletionException(e);
                                }
                            },
                            shared.challengeAnswers())
                    .orTimeout(handshakeWait().toNanos(), TimeUnit.NANOSECONDS);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e); // the challenge executor is saturated
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
        Outcome outcome;
        Refusal.Alert alert;
        Refusal refusal = refusalOf(cause);
        if (cause instanceof Rejected rejected) {
            outcome = rejected.outcome;
            alert = outcome.alert;
        } else if (refusal != null) {
            outcome = Outcome.of(refusal);
            alert = refusal.alert();
            if (cause instanceof NameRefusedException named) {
                REFUSALS.refused(named.name(), refusal.label());
            } // a backoff is routine while a CA is down: counted, and logged when the failure was recorded
        } else {
            outcome = cause instanceof TimeoutException ? Outcome.TIMEOUT : Outcome.FAILED;
            alert = outcome.alert;
            if (outcome == Outcome.FAILED && !(cause instanceof IssuanceException)) {
                // an IssuanceException was already logged by the resolver, once per failure
                log.warn(
                        "no TLS context for a handshake from {}: {}",
                        ClientAddress.forLog(ctx.channel()),
                        cause.toString());
            }
        }
        shared.metrics().handshake(outcome.label);
        if (log.isDebugEnabled()) {
            log.debug("refused a TLS handshake from {}: {}", ClientAddress.forLog(ctx.channel()), cause.getMessage());
        }
        if (!ctx.channel().isActive()) {
            return;
        }
        // A plaintext fatal alert, as a TLS stack sends before the handshake has keys: TLS 1.2 record version.
        ByteBuf record = ctx.alloc().buffer(7).writeBytes(new byte[] {21, 3, 3, 0, 2, 2, alert.code()});
        ctx.writeAndFlush(record).addListener(ChannelFutureListener.CLOSE);
    }

    /** The policy's reason when {@code cause} is a refusal of the name, else {@code null}. */
    private static Refusal refusalOf(Throwable cause) {
        if (cause instanceof NameRefusedException named) {
            return named.reason();
        }
        return cause instanceof IssuanceHeldBackException held ? held.reason() : null;
    }

    private Duration handshakeWait() {
        return shared.config().get().config().certificates().onDemand().handshakeWait();
    }
}
