package io.clicktls.tls;

import io.clicktls.acme.Challenges;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.DomainTable;
import io.clicktls.metrics.Metrics;
import io.clicktls.pki.CertifiedKey;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslClientHelloHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
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
 *       There is no default certificate, so a client never sees another name's certificate.</li>
 * </ul>
 * Counts {@code clicktls_tls_handshakes_total{result}}: {@code ok} once the TLS handshake succeeds, else
 * {@code unknown_name}, {@code no_sni}, {@code malformed}, {@code timeout} or {@code failed}.
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
    static final String FAILED = "failed";

    private static final Logger log = LoggerFactory.getLogger(TlsSelectionHandler.class);
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
    private boolean refused;

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
        this.resolver = resolver;
        this.challenges = challenges;
        this.blocking = blocking;
        this.config = config;
        this.metrics = metrics;
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
        Optional<ClientHello> hello = ClientHelloParser.parseBody(clientHello);
        if (hello.isEmpty()) {
            return ctx.executor().newFailedFuture(new Refusal(MALFORMED));
        }
        String serverName = hello.get().serverName();
        if (serverName == null) {
            return ctx.executor().newFailedFuture(new Refusal(NO_SNI));
        }
        String name = DomainTable.normalize(serverName);
        if (hello.get().offersOnly(TlsContexts.ACME_TLS_1)) {
            return bridge(ctx, challengeContext(name));
        }
        CompletableFuture<CertifiedKey> certificate = resolver.certificate(name);
        if (certificate.isDone() && !certificate.isCompletedExceptionally()) {
            SslContext context = resolver.contexts().acquireCached(certificate.join());
            if (context != null) {
                return ctx.executor().newSucceededFuture(context); // the usual case: no thread hop at all
            }
        }
        CompletableFuture<SslContext> context = certificate.copy()
                .orTimeout(handshakeWait().toNanos(), TimeUnit.NANOSECONDS)
                .thenCompose(this::serverContext);
        return bridge(ctx, context);
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
            ssl.handshakeFuture().addListener(done -> metrics.handshake(done.isSuccess() ? OK : FAILED));
        } finally {
            ReferenceCountUtil.release(context); // the engine holds its own reference now
        }
    }

    private CompletableFuture<SslContext> serverContext(CertifiedKey certified) {
        SslContext cached = resolver.contexts().acquireCached(certified);
        if (cached != null) {
            return CompletableFuture.completedFuture(cached);
        }
        return CompletableFuture.supplyAsync(() -> {
            try {
                return resolver.contexts().acquire(certified);
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        }, blocking);
    }

    private CompletableFuture<SslContext> challengeContext(String name) {
        try {
            return CompletableFuture.supplyAsync(() -> {
                CertifiedKey certified = challenges.tlsAlpnCertificate(name)
                        .orElseThrow(() -> new CompletionException(new Refusal(UNKNOWN_NAME)));
                try {
                    return resolver.contexts().challengeContext(certified);
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            }, blocking).orTimeout(handshakeWait().toNanos(), TimeUnit.NANOSECONDS);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e); // the blocking executor is saturated
        }
    }

    /** Hands a result over to the event loop; a context that arrives after the channel gave up is released. */
    private static Future<SslContext> bridge(ChannelHandlerContext ctx, CompletableFuture<SslContext> context) {
        Promise<SslContext> promise = ctx.executor().newPromise();
        context.whenComplete((result, failure) -> {
            if (failure != null) {
                promise.tryFailure(failure instanceof CompletionException && failure.getCause() != null
                        ? failure.getCause() : failure);
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
            alert = MALFORMED.equals(result) ? ALERT_DECODE_ERROR : ALERT_UNRECOGNIZED_NAME;
        } else if (cause instanceof NameRefusedException) {
            result = UNKNOWN_NAME;
            alert = ALERT_UNRECOGNIZED_NAME;
        } else if (cause instanceof TimeoutException) {
            result = TIMEOUT;
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
