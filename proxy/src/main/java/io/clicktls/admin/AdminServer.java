package io.clicktls.admin;

import io.clicktls.certificates.DnsCheck;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.Endpoint;
import io.clicktls.config.HostNames;
import io.clicktls.config.Platform;
import io.clicktls.metrics.Metrics;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.ReadTimeoutHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin listener:
 * <ul>
 *   <li>{@code GET /healthz}: for load balancers and monitors; never needs the token. {@code 200 ok} while the
 *       listeners are up; {@code 200 degraded: <why>} while they serve but something needs an operator (e.g. the
 *       storage takes no writes: certificates are served from memory and would be issued again after a restart);
 *       {@code 503 listeners down} otherwise. With {@code ?strict} a degraded node answers 503 too, for monitors that
 *       alert on the status code; a load balancer uses the plain form, so that a node that still serves every name
 *       is not taken out of rotation (often all nodes share the cause, and none would be left);</li>
 *   <li>{@code GET /metrics}: the Prometheus text format;</li>
 *   <li>{@code GET /status?q=&page=&size=}: the status page (HTML); {@code GET /api/domains?q=&page=&size=}: the
 *       same as JSON; {@code GET /api/domains/{name}}: one name, with a fresh DNS check;</li>
 *   <li>{@code POST /api/domains/{name}/certificate}: issue or renew now (202); {@code DELETE}: forget the
 *       certificate (200). The status page's buttons post forms there ({@code action=renew|forget}).</li>
 * </ul>
 * Access rules are {@link AdminAccess}'s. Listens on loopback unless configured otherwise, and refuses to listen
 * beyond it without a token.
 *
 * <p>Threading: requests are parsed and checked on the event loop; everything that reads storage, renders or scrapes
 * runs on the blocking executor, and the response is written back on the event loop, in request order.
 */
public final class AdminServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
    private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
    private static final String JSON = "application/json";
    private static final String HTML = "text/html";
    private static final String API_PREFIX = "/api/domains";
    /** How long the list waits for DNS checks of the rows shown before rendering without them. */
    static final Duration PAGE_DNS_WAIT = Duration.ofMillis(1500);
    /** How long one name's detail waits for its DNS check. */
    static final Duration DETAIL_DNS_WAIT = Duration.ofSeconds(5);

    private final Endpoint endpoint;
    private final Metrics metrics;
    private final BooleanSupplier healthy;
    private final EventLoopGroup group;
    private final Class<? extends ServerChannel> channelType;
    private Supplier<Optional<String>> degraded = Optional::empty;
    private Supplier<String> token = () -> null;
    private AdminAccess access = new AdminAccess(() -> null);
    private Executor blocking = Runnable::run;
    private DomainStatusSource source;
    private DomainDirectory directory;
    private DomainDns dns;
    private Clock clock = Clock.systemUTC();
    private Channel channel;

    /**
     * @param healthy whether the proxy's listeners are up; read on every {@code /healthz}
     */
    public AdminServer(
            Endpoint endpoint,
            Metrics metrics,
            BooleanSupplier healthy,
            EventLoopGroup group,
            Class<? extends ServerChannel> channelType) {
        this.endpoint = endpoint;
        this.metrics = metrics;
        this.healthy = healthy;
        this.group = group;
        this.channelType = channelType;
    }

    /**
     * Requires {@code admin.token} on every path but {@code /healthz}.
     *
     * @param token read per request, so that a reload can change it; {@code null} for none
     */
    public AdminServer token(Supplier<String> token) {
        this.token = token;
        this.access = new AdminAccess(token);
        return this;
    }

    /**
     * Why the node is degraded, or empty while it is not: shown by {@code /healthz} and the status page. Read on the
     * event loop for every {@code /healthz}: must not block.
     */
    public AdminServer degraded(Supplier<Optional<String>> degraded) {
        this.degraded = degraded;
        return this;
    }

    /** Where scrapes, storage reads and rendering run: the bounded blocking executor, never an event loop. */
    public AdminServer blockingExecutor(Executor blocking) {
        this.blocking = blocking;
        return this;
    }

    /**
     * Enables {@code /status} and {@code /api/domains}.
     *
     * @param dnsCheck for the DNS column and checks, or {@code null} to leave DNS out
     */
    public AdminServer status(DomainStatusSource source, DnsCheck dnsCheck, Clock clock) {
        this.source = source;
        this.clock = clock;
        this.directory = new DomainDirectory(source, clock);
        this.dns = dnsCheck == null ? null : new DomainDns(dnsCheck, clock);
        return this;
    }

    public AdminServer start() throws InterruptedException {
        String host = endpoint.host();
        boolean loopback = host.equals("localhost") || host.equals("::1") || host.startsWith("127.");
        if (!loopback && token.get() == null) {
            // the config refuses this already; a config built in code must not get around it
            throw new IllegalStateException(
                    "the admin listener " + endpoint + " is reachable beyond this machine without admin.token");
        }
        channel = new ServerBootstrap()
                .group(group)
                .channel(channelType)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline()
                                .addLast("timeout", new ReadTimeoutHandler(60))
                                .addLast("codec", new HttpServerCodec(4096, 8192, 8192))
                                .addLast("keepalive", new HttpServerKeepAliveHandler())
                                .addLast("aggregator", new HttpObjectAggregator(64 * 1024))
                                .addLast("routes", new Routes());
                    }
                })
                .bind(endpoint.toSocketAddress())
                .sync()
                .channel();
        log.info(
                "admin listening on {} ({})",
                channel.localAddress(),
                token.get() == null ? "no token: loopback only" : "token required");
        return this;
    }

    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.close().syncUninterruptibly();
        }
    }

    /** What a handler needs of a request, copied off the pooled buffers before any thread hop. */
    private record Request(
            HttpMethod method,
            String path,
            Map<String, List<String>> parameters,
            HttpHeaders headers,
            String body,
            boolean formBody,
            String remote) {

        String parameter(String name) {
            List<String> values = parameters.get(name);
            return values == null || values.isEmpty() ? null : values.get(0);
        }

        int intParameter(String name, int fallback) {
            try {
                String value = parameter(name);
                return value == null ? fallback : Integer.parseInt(value.strip());
            } catch (NumberFormatException e) {
                return fallback;
            }
        }
    }

    /** One channel's requests, answered in order. Runs on the channel's event loop. */
    private final class Routes extends SimpleChannelInboundHandler<FullHttpRequest> {
        private CompletableFuture<?> previous = CompletableFuture.completedFuture(null);

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            boolean head = request.method().equals(HttpMethod.HEAD);
            CompletableFuture<FullHttpResponse> response;
            try {
                response = handle(copy(ctx, request));
            } catch (RuntimeException e) {
                response = CompletableFuture.failedFuture(e);
            }
            CompletableFuture<FullHttpResponse> answered = response.exceptionally(AdminServer::failure);
            previous = previous.thenCompose(ignored -> answered)
                    .thenAcceptAsync(r -> write(ctx, r, keepAlive, head), ctx.executor());
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("admin connection failed", cause);
            ctx.close();
        }
    }

    private static Request copy(ChannelHandlerContext ctx, FullHttpRequest request) {
        QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        String contentType =
                request.headers().get(HttpHeaderNames.CONTENT_TYPE, "").toLowerCase(Locale.ROOT);
        boolean form = contentType.startsWith("application/x-www-form-urlencoded")
                || contentType.startsWith("multipart/form-data")
                || contentType.startsWith("text/plain");
        String body = request.content().toString(StandardCharsets.UTF_8);
        Map<String, List<String>> parameters = new java.util.HashMap<>(uri.parameters());
        if (contentType.startsWith("application/x-www-form-urlencoded")) {
            parameters.putAll(new QueryStringDecoder("?" + body).parameters());
        }
        HttpHeaders headers = new DefaultHttpHeaders().set(request.headers());
        return new Request(
                request.method(),
                uri.path(),
                parameters,
                headers,
                body,
                form,
                String.valueOf(ctx.channel().remoteAddress()));
    }

    /** Runs on the event loop: cheap checks here, everything else handed to the blocking executor. */
    private CompletableFuture<FullHttpResponse> handle(Request request) {
        String path = request.path();
        boolean read =
                request.method().equals(HttpMethod.GET) || request.method().equals(HttpMethod.HEAD);
        if (path.equals("/healthz")) {
            if (!read) {
                return done(methodNotAllowed("GET, HEAD"));
            }
            if (!healthy.getAsBoolean()) {
                return done(text(HttpResponseStatus.SERVICE_UNAVAILABLE, "listeners down\n", "text/plain"));
            }
            Optional<String> why = degraded.get();
            if (why.isEmpty()) {
                return done(text(HttpResponseStatus.OK, "ok\n", "text/plain"));
            }
            String strict = request.parameter("strict");
            boolean alert = strict != null && !strict.equals("0") && !strict.equalsIgnoreCase("false");
            return done(text(
                    alert ? HttpResponseStatus.SERVICE_UNAVAILABLE : HttpResponseStatus.OK,
                    "degraded: " + why.get() + "\n",
                    "text/plain"));
        }
        AdminAccess.Denial denial = access.check(request.headers());
        if (denial != null) {
            return done(denied(denial));
        }
        if (path.equals("/") && read) {
            return done(redirect("/status"));
        }
        if (path.equals("/metrics")) {
            return read
                    ? offLoop(() -> text(HttpResponseStatus.OK, metrics.scrape(), PROMETHEUS_TEXT))
                    : done(methodNotAllowed("GET, HEAD"));
        }
        boolean statusPath = path.equals("/status") || path.equals(API_PREFIX) || path.startsWith(API_PREFIX + "/");
        if (source == null || !statusPath) {
            return done(text(HttpResponseStatus.NOT_FOUND, "not found\n", "text/plain"));
        }
        if (path.equals("/status") || path.equals(API_PREFIX)) {
            return read ? list(request, path.equals("/status")) : done(methodNotAllowed("GET, HEAD"));
        }
        String rest = path.substring(API_PREFIX.length() + 1);
        if (rest.endsWith("/certificate")) {
            String name = decode(rest.substring(0, rest.length() - "/certificate".length()));
            return certificateAction(request, name);
        }
        if (rest.isEmpty() || rest.indexOf('/') >= 0) {
            return done(text(HttpResponseStatus.NOT_FOUND, "not found\n", "text/plain"));
        }
        return read ? detail(decode(rest)) : done(methodNotAllowed("GET, HEAD"));
    }

    private CompletableFuture<FullHttpResponse> list(Request request, boolean html) {
        String query = Optional.ofNullable(request.parameter("q")).orElse("");
        int page = request.intParameter("page", 1);
        int size = request.intParameter("size", DomainDirectory.DEFAULT_SIZE);
        String notice = request.parameter("notice");
        return offLoopValue(() -> directory.page(query, page, size))
                .thenCompose(this::withDns)
                .thenApplyAsync(
                        listed -> {
                            String why = degraded.get().orElse(null);
                            return html
                                    ? htmlPage(
                                            StatusPage.render(listed, access.formToken(), notice, why, clock.instant()))
                                    : text(HttpResponseStatus.OK, StatusJson.page(listed, why, clock.instant()), JSON);
                        },
                        blocking);
    }

    private CompletableFuture<FullHttpResponse> detail(String name) {
        return offLoopValue(() -> directory.one(name)).thenCompose(found -> {
            if (found.isEmpty()) {
                return done(json(
                        HttpResponseStatus.NOT_FOUND,
                        StatusJson.message(
                                "error",
                                HostNames.normalize(name) + " is neither configured nor known to this proxy")));
            }
            DomainStatus status = found.get();
            if (dns == null || status.pattern()) {
                return done(json(HttpResponseStatus.OK, StatusJson.one(status)));
            }
            CompletableFuture<DnsStatus> check = checkDns(status);
            return check.copy()
                    .completeOnTimeout(null, DETAIL_DNS_WAIT.toMillis(), TimeUnit.MILLISECONDS)
                    .thenApply(report -> json(
                            HttpResponseStatus.OK, StatusJson.one(report == null ? status : status.withDns(report))));
        });
    }

    /** Fills in fresh DNS reports, starting checks for the rows without one and waiting a little for them. */
    private CompletableFuture<DomainDirectory.Page> withDns(DomainDirectory.Page page) {
        if (dns == null) {
            return CompletableFuture.completedFuture(page);
        }
        List<CompletableFuture<DnsStatus>> checks = new ArrayList<>();
        for (DomainStatus status : page.domains()) {
            checks.add(
                    status.pattern()
                            ? CompletableFuture.completedFuture(null)
                            : dns.cached(status.name())
                                    .map(CompletableFuture::completedFuture)
                                    .orElseGet(() -> checkDns(status)));
        }
        return CompletableFuture.allOf(checks.toArray(CompletableFuture[]::new))
                .completeOnTimeout(null, PAGE_DNS_WAIT.toMillis(), TimeUnit.MILLISECONDS)
                .handle((ignored, failure) -> {
                    List<DomainStatus> rows = new ArrayList<>(page.domains().size());
                    for (int i = 0; i < page.domains().size(); i++) {
                        DnsStatus report =
                                checks.get(i).isDone() && !checks.get(i).isCompletedExceptionally()
                                        ? checks.get(i).join()
                                        : null;
                        DomainStatus row = page.domains().get(i);
                        rows.add(report == null ? row : row.withDns(report));
                    }
                    return page.withDomains(rows);
                });
    }

    private CompletableFuture<DnsStatus> checkDns(DomainStatus status) {
        ConfigSnapshot config = source.config();
        Platform platform =
                status.platform() == null ? null : config.config().platforms().get(status.platform());
        return dns.check(
                status.name(),
                platform == null ? null : platform.upstreamHost(),
                source.expectedDnsTargets(),
                source.caPolicy());
    }

    private CompletableFuture<FullHttpResponse> certificateAction(Request request, String rawName) {
        boolean post = request.method().equals(HttpMethod.POST);
        boolean delete = request.method().equals(HttpMethod.DELETE);
        if (!post && !delete) {
            return done(methodNotAllowed("POST, DELETE"));
        }
        AdminAccess.Denial denial =
                access.checkChange(request.headers(), request.formBody(), request.parameter("form_token"));
        if (denial != null) {
            return done(denied(denial));
        }
        String action = delete
                ? "forget"
                : Optional.ofNullable(request.parameter("action")).orElse("renew");
        boolean form = request.formBody();
        String name = HostNames.normalize(rawName);
        if (!HostNames.isValid(name)) {
            return done(json(
                    HttpResponseStatus.BAD_REQUEST,
                    StatusJson.message("error", "'" + rawName + "' is not a host name")));
        }
        String back = safeReturn(request.parameter("return"));
        switch (action) {
            case "renew":
                return offLoopValue(() -> source.config().domains().serves(name))
                        .thenApply(served -> {
                            if (!served) {
                                String message = name + " is not in the config's domains: add it there first";
                                return form
                                        ? redirect(withNotice(back, message))
                                        : json(HttpResponseStatus.CONFLICT, StatusJson.message("error", message));
                            }
                            metrics.adminAction("renew");
                            log.info("admin: certificate for {} requested now (from {})", name, request.remote());
                            source.renew(name).whenComplete((done, failure) -> directory.invalidate());
                            return form
                                    ? redirect(withNotice(back, "Issuing a certificate for " + name + " now."))
                                    : json(
                                            HttpResponseStatus.ACCEPTED,
                                            StatusJson.message(
                                                    "name",
                                                    name,
                                                    "action",
                                                    "renew",
                                                    "status",
                                                    "started",
                                                    "status_url",
                                                    API_PREFIX + "/" + name));
                        });
            case "forget":
                return offLoopValue(() -> {
                            try {
                                return source.forget(name);
                            } catch (IOException e) {
                                throw new CompletionException(e);
                            }
                        })
                        .thenApply(forgotten -> {
                            directory.invalidate();
                            metrics.adminAction("forget");
                            log.info(
                                    "admin: forgot the certificate of {} (from {}; {})",
                                    name,
                                    request.remote(),
                                    forgotten ? "deleted" : "there was none");
                            return form
                                    ? redirect(withNotice(
                                            back,
                                            forgotten
                                                    ? "Forgot the certificate of " + name + "."
                                                    : name + " had no certificate to forget."))
                                    : json(
                                            HttpResponseStatus.OK,
                                            StatusJson.message(
                                                    "name",
                                                    name,
                                                    "action",
                                                    "forget",
                                                    "status",
                                                    forgotten ? "forgotten" : "nothing to forget"));
                        });
            default:
                return done(json(
                        HttpResponseStatus.BAD_REQUEST,
                        StatusJson.message("error", "action '" + action + "' (expected: renew or forget)")));
        }
    }

    /** A form's return address: only the status page itself, so the form cannot redirect elsewhere. */
    private static String safeReturn(String value) {
        if (value == null
                || !value.startsWith("/status")
                || value.contains("//")
                || value.contains("\\")
                || value.chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
            return "/status";
        }
        return value;
    }

    private static String withNotice(String back, String notice) {
        String base = back.replaceAll("([?&])notice=[^&]*&?", "$1");
        if (base.endsWith("&") || base.endsWith("?")) {
            base = base.substring(0, base.length() - 1);
        }
        return base + (base.contains("?") ? "&" : "?") + "notice=" + URLEncoder.encode(notice, StandardCharsets.UTF_8);
    }

    private CompletableFuture<FullHttpResponse> offLoop(Supplier<FullHttpResponse> work) {
        return offLoopValue(work);
    }

    private <T> CompletableFuture<T> offLoopValue(Supplier<T> work) {
        try {
            return CompletableFuture.supplyAsync(work, blocking);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static void write(ChannelHandlerContext ctx, FullHttpResponse response, boolean keepAlive, boolean head) {
        if (head) {
            response.content().clear();
        }
        HttpUtil.setKeepAlive(response, keepAlive);
        var future = ctx.writeAndFlush(response);
        if (!keepAlive) {
            future.addListener(ChannelFutureListener.CLOSE);
        }
    }

    private static FullHttpResponse failure(Throwable failure) {
        Throwable cause =
                failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof RejectedExecutionException) {
            return text(HttpResponseStatus.SERVICE_UNAVAILABLE, "busy: try again shortly\n", "text/plain");
        }
        log.warn("admin request failed: {}", cause.toString());
        return json(HttpResponseStatus.INTERNAL_SERVER_ERROR, StatusJson.message("error", cause.toString()));
    }

    private static FullHttpResponse denied(AdminAccess.Denial denial) {
        switch (denial) {
            case UNAUTHENTICATED: {
                FullHttpResponse response = text(
                        HttpResponseStatus.UNAUTHORIZED,
                        "admin.token required: send Authorization: Bearer TOKEN\n",
                        "text/plain");
                response.headers()
                        .add(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"clicktls admin\"")
                        .add(HttpHeaderNames.WWW_AUTHENTICATE, "Basic realm=\"clicktls admin\", charset=\"UTF-8\"");
                return response;
            }
            case FOREIGN_HOST:
                return text(
                        HttpResponseStatus.FORBIDDEN,
                        "this admin listener answers only to localhost or an IP address in the Host header\n",
                        "text/plain");
            default:
                return text(
                        HttpResponseStatus.FORBIDDEN,
                        "changes from a browser must come from this listener's /status page\n",
                        "text/plain");
        }
    }

    private static CompletableFuture<FullHttpResponse> done(FullHttpResponse response) {
        return CompletableFuture.completedFuture(response);
    }

    private static FullHttpResponse methodNotAllowed(String allowed) {
        FullHttpResponse response = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "method not allowed\n", "text/plain");
        response.headers().set(HttpHeaderNames.ALLOW, allowed);
        return response;
    }

    private static FullHttpResponse redirect(String location) {
        FullHttpResponse response = text(HttpResponseStatus.SEE_OTHER, "", "text/plain");
        response.headers().set(HttpHeaderNames.LOCATION, location);
        return response;
    }

    private static FullHttpResponse json(HttpResponseStatus status, String body) {
        return text(status, body, JSON);
    }

    private static FullHttpResponse htmlPage(String body) {
        FullHttpResponse response = text(HttpResponseStatus.OK, body, HTML);
        response.headers()
                .set(
                        "Content-Security-Policy",
                        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self';"
                                + " frame-ancestors 'none'; base-uri 'none'")
                .set("X-Frame-Options", "DENY")
                .set("X-Content-Type-Options", "nosniff")
                .set("Referrer-Policy", "same-origin");
        return response;
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body, String contentType) {
        FullHttpResponse response = new DefaultFullHttpResponse(
                HttpVersion.HTTP_1_1, status, Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        response.headers()
                .set(
                        HttpHeaderNames.CONTENT_TYPE,
                        contentType.startsWith("text/plain;") ? contentType : contentType + "; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes())
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        return response;
    }

    private static String decode(String text) {
        try {
            return URLDecoder.decode(text, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return text;
        }
    }
}
