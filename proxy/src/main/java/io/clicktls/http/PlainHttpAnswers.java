package io.clicktls.http;

import io.clicktls.acme.Challenges;
import io.clicktls.certificates.CertificateSource;
import io.clicktls.certificates.PendingHandshakes;
import io.clicktls.certificates.Refusal;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.DomainTable;
import io.clicktls.config.OnDemand;
import io.clicktls.config.Upgrade;
import io.clicktls.metrics.Metrics;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the plain-http listener answers itself: ACME http-01 challenges (for any Host; the path is reserved and
 * never forwarded) and, for a tracked domain with {@code upgrade.http: redirect} (its own, its platform's or the
 * top-level setting) whose certificate is in hand, a
 * 308 to the same path and query over https. A certificate not yet in memory is looked up (and issued, if the
 * policy allows) for at most {@code on_demand.handshake_wait}; when none comes, the request is forwarded as it is,
 * so that a failed issuance never breaks a link that worked over http.
 *
 * <p>Such a lookup is bounded as a TLS handshake's is: a slot of {@code on_demand.pending_handshakes} for the client
 * (shared with the TLS listener; joining a lookup under way needs none), and a new name's order spends the client's
 * budget ({@code certificates.limits.new_names_per_client_per_registered_domain_per_week}). Without a slot the
 * request is forwarded over http at once, counted as {@code too_many_pending}.
 *
 * <p>Runs on the event loop; the challenge lookup (storage I/O) runs on {@code challengeLookups}.
 *
 * @param pending the node's bound on waiting lookups, shared with the TLS listener; {@code null}: none
 */
record PlainHttpAnswers(
        Supplier<ConfigSnapshot> config,
        CertificateSource certificates,
        Challenges challenges,
        Executor challengeLookups,
        IntSupplier httpsPort,
        Metrics metrics,
        PendingHandshakes pending)
        implements LocalAnswers {

    private static final Logger log = LoggerFactory.getLogger(PlainHttpAnswers.class);
    static final String CHALLENGE_PREFIX = "/.well-known/acme-challenge/";
    /** ACME tokens are base64url (RFC 8555 section 8.1). */
    private static final Pattern TOKEN = Pattern.compile("[A-Za-z0-9_-]{1,256}");

    @Override
    public CompletionStage<FullHttpResponse> answer(
            HttpRequest request, String target, String host, DomainTable.Route route, InetAddress client) {
        if (target.startsWith(CHALLENGE_PREFIX)) {
            return challenge(request, target.substring(CHALLENGE_PREFIX.length()));
        }
        if (route == null) {
            return null;
        }
        ConfigSnapshot snapshot = config.get();
        // the domain's own upgrade.http (or its platform's) before the top-level one
        if (route.options().upgradeOr(snapshot.config().upgrade()).http() != Upgrade.HttpMode.REDIRECT) {
            return null;
        }
        if (certificates.cached(host).isPresent()) {
            return CompletableFuture.completedFuture(redirect(host, target));
        }
        OnDemand onDemand = snapshot.config().certificates().onDemand();
        Duration wait = onDemand.handshakeWait();
        // The same bound as a handshake's: a flood of new names over http must not queue lookups without end.
        PendingHandshakes.Permit permit = null;
        if (pending != null && !certificates.lookingUp(host)) {
            permit = pending.tryAcquire(
                            client == null ? InetAddress.getLoopbackAddress() : client, onDemand.pendingHandshakes())
                    .orElse(null);
            if (permit == null) {
                metrics.onDemandDenied(Refusal.TOO_MANY_PENDING.label());
                return null;
            }
        }
        CompletableFuture<?> certificate;
        try {
            // A copy, so that the timeout never cancels the issuance other requests and handshakes wait for.
            certificate =
                    certificates.certificate(host, client).copy().orTimeout(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
            if (permit != null) {
                permit.close();
            }
            log.debug("no certificate for {}: forwarding over http", host, e);
            return null;
        }
        if (permit != null) {
            PendingHandshakes.Permit held = permit;
            certificate.whenComplete((c, failure) -> held.close());
        }
        return certificate.handle((c, failure) -> {
            if (failure != null) {
                log.debug("no certificate for {} within {}: forwarding over http", host, wait, failure);
                return null;
            }
            return redirect(host, target);
        });
    }

    private CompletionStage<FullHttpResponse> challenge(HttpRequest request, String token) {
        if (!HttpMethod.GET.equals(request.method()) && !HttpMethod.HEAD.equals(request.method())
                || !TOKEN.matcher(token).matches()) {
            return CompletableFuture.completedFuture(ErrorResponses.response(ErrorResponses.Failure.NOT_FOUND));
        }
        return CompletableFuture.supplyAsync(() -> challenges.httpKeyAuthorization(token), challengeLookups)
                .handle((answer, failure) -> {
                    if (failure != null) {
                        log.warn("http-01 lookup for token {} failed", token, failure);
                        return ErrorResponses.response(ErrorResponses.Failure.NOT_FOUND);
                    }
                    return answer.map(PlainHttpAnswers::keyAuthorization)
                            .orElseGet(() -> ErrorResponses.response(ErrorResponses.Failure.NOT_FOUND));
                });
    }

    private static FullHttpResponse keyAuthorization(String keyAuthorization) {
        byte[] body = keyAuthorization.getBytes(StandardCharsets.US_ASCII);
        FullHttpResponse response =
                new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.wrappedBuffer(body));
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream")
                .set(HttpHeaderNames.CONTENT_LENGTH, body.length)
                .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
        return response;
    }

    private FullHttpResponse redirect(String host, String target) {
        int port = httpsPort.getAsInt();
        String location = "https://" + host + (port == 443 ? "" : ":" + port) + target;
        byte[] body = ("Moved to " + location + "\n").getBytes(StandardCharsets.US_ASCII);
        FullHttpResponse response = new DefaultFullHttpResponse(
                HttpVersion.HTTP_1_1, HttpResponseStatus.PERMANENT_REDIRECT, Unpooled.wrappedBuffer(body));
        response.headers()
                .set(HttpHeaderNames.LOCATION, location)
                .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=us-ascii")
                .set(HttpHeaderNames.CONTENT_LENGTH, body.length)
                .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
        metrics.linkUpgraded("redirect", 1);
        return response;
    }
}
