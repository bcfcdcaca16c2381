package io.clicktls.certificates;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import io.clicktls.config.OnDemand;
import io.clicktls.metrics.Metrics;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks the operator's endpoint whether a name may have a certificate: {@code GET <ask>?domain=NAME}; a 2xx allows,
 * a 1xx, 3xx or 4xx denies (redirects are not followed), a 5xx, a timeout or a connection failure means the endpoint
 * is unavailable. Answers are cached by name in a bounded cache, allows for {@code ask_cache.allow} and denies for
 * {@code ask_cache.deny}. An allow is kept {@link #STALE_ALLOW_WINDOW} longer than its TTL: past the TTL the endpoint
 * is asked again, and if it is unavailable then (or too busy to ask), the old allow still holds (stale-if-error).
 * A name with no allow in the cache is refused while the endpoint is unavailable. Concurrent questions about one name
 * share one request; at most {@code maxInFlight} requests run at once, beyond that a name is refused at once as
 * {@link Refusal#ASK_BUSY}.
 *
 * <p>The JDK {@link HttpClient} on two threads of its own does the requests: asks are rare (a cache miss for a name
 * outside {@code domains}, bounded in number), and it brings HTTPS, connection reuse, timeouts and "never follow
 * redirects" without code of ours; nothing runs on the proxy's event loops.
 *
 * <p>Thread-safe. {@link #cached} and {@link #ask} never block; the futures complete on the client's threads, or at
 * once for a fresh cached answer.
 */
final class AskClient implements AutoCloseable {

    /** How long an allow past its TTL still stands in for an endpoint that does not answer. */
    static final Duration STALE_ALLOW_WINDOW = Duration.ofHours(24);

    static final int DEFAULT_MAX_IN_FLIGHT = 32;
    static final int DEFAULT_CACHE_SIZE = 200_000;

    private static final Logger log = LoggerFactory.getLogger(AskClient.class);

    /** What the cache knows of a name right now. */
    enum Known {
        ALLOWED,
        DENIED,
        /** An allow past its TTL: the endpoint is to be asked again, but it still holds if the endpoint fails. */
        STALE_ALLOWED,
        UNKNOWN
    }

    /** An answer and, in ticker nanoseconds, until when it is fresh and until when it is kept. */
    private record Answer(boolean allowed, long freshUntil, long keepUntil) {}

    /** The outcome of asking: allowed, or refused with a reason. */
    record Verdict(boolean allowed, Refusal reason) {
        static final Verdict ALLOW = new Verdict(true, null);
        static final Verdict DENIED = new Verdict(false, Refusal.ASK_DENIED);
        static final Verdict UNAVAILABLE = new Verdict(false, Refusal.ASK_UNAVAILABLE);
        static final Verdict BUSY = new Verdict(false, Refusal.ASK_BUSY);
    }

    private final Ticker ticker;
    private final Cache<String, Answer> answers;
    private final Map<String, CompletableFuture<Verdict>> inFlight = new ConcurrentHashMap<>();
    private final Semaphore slots;
    private final ExecutorService threads;
    private final HttpClient client;
    private final AtomicBoolean failing = new AtomicBoolean();
    private volatile URI endpoint;

    AskClient() {
        this(Ticker.systemTicker(), DEFAULT_MAX_IN_FLIGHT, DEFAULT_CACHE_SIZE);
    }

    /** @param ticker for the cache and freshness: tests pass a fake one */
    /** Exposes the answer cache as {@code cache_*{cache="ask_decisions"}}. */
    void monitor(Metrics metrics) {
        metrics.cache("ask_decisions", answers);
    }

    AskClient(Ticker ticker, int maxInFlight, int cacheSize) {
        this.ticker = ticker;
        this.slots = new Semaphore(maxInFlight);
        this.answers = Caffeine.newBuilder()
                .maximumSize(cacheSize)
                .recordStats()
                .ticker(ticker)
                .executor(Runnable::run) // no listeners: eviction is cheap
                .expireAfter(Expiry.<String, Answer>creating(
                        (name, answer) -> Duration.ofNanos(Math.max(0, answer.keepUntil() - ticker.read()))))
                .build();
        AtomicInteger count = new AtomicInteger();
        this.threads = Executors.newFixedThreadPool(2, runnable -> {
            Thread thread = new Thread(runnable, "clicktls-ask-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        this.client = HttpClient.newBuilder()
                .executor(threads)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(OnDemand.DEFAULT_ASK_TIMEOUT)
                .build();
    }

    /** What the cache says of {@code name} now. Memory only; any thread. */
    Known cached(String name) {
        Answer answer = answers.getIfPresent(name);
        if (answer == null) {
            return Known.UNKNOWN;
        }
        if (!answer.allowed()) {
            return Known.DENIED;
        }
        return ticker.read() - answer.freshUntil() < 0 ? Known.ALLOWED : Known.STALE_ALLOWED;
    }

    /**
     * Whether {@code endpoint} allows {@code name}: from the cache while the answer is fresh (an already completed
     * future, no I/O), else by asking.
     */
    CompletableFuture<Verdict> ask(String name, URI endpoint, OnDemand settings) {
        if (!endpoint.equals(this.endpoint)) {
            forgetAnswersOfAnotherEndpoint(endpoint);
        }
        Known known = cached(name);
        if (known == Known.ALLOWED) {
            return CompletableFuture.completedFuture(Verdict.ALLOW);
        }
        if (known == Known.DENIED) {
            return CompletableFuture.completedFuture(Verdict.DENIED);
        }
        CompletableFuture<Verdict> mine = new CompletableFuture<>();
        CompletableFuture<Verdict> running = inFlight.putIfAbsent(name, mine);
        if (running != null) {
            return running.copy();
        }
        if (!slots.tryAcquire()) {
            inFlight.remove(name, mine);
            mine.complete(known == Known.STALE_ALLOWED ? Verdict.ALLOW : Verdict.BUSY);
            return mine;
        }
        try {
            send(name, endpoint, settings).whenComplete((verdict, failure) -> {
                slots.release();
                inFlight.remove(name, mine);
                mine.complete(verdict);
            });
        } catch (RuntimeException e) {
            slots.release();
            inFlight.remove(name, mine);
            mine.complete(unavailable(name, endpoint, e));
        }
        return mine.copy();
    }

    private CompletableFuture<Verdict> send(String name, URI endpoint, OnDemand settings) {
        HttpRequest request = HttpRequest.newBuilder(question(endpoint, name))
                .timeout(settings.askTimeout())
                .header("User-Agent", "clicktls")
                .GET()
                .build();
        return client.sendAsync(request, HttpResponse.BodyHandlers.discarding())
                // a hard bound too: the request timeout does not always cover a slow connect or body
                .orTimeout(settings.askTimeout().toNanos(), TimeUnit.NANOSECONDS)
                .handle((response, failure) -> {
                    if (failure != null) {
                        return unavailable(name, endpoint, unwrap(failure));
                    }
                    int status = response.statusCode();
                    if (status >= 500) {
                        return unavailable(name, endpoint, new IllegalStateException("HTTP " + status));
                    }
                    recovered(endpoint);
                    boolean allowed = status >= 200 && status < 300;
                    remember(name, allowed, settings);
                    log.debug("ask {} for {}: HTTP {}, {}", endpoint, name, status, allowed ? "allowed" : "denied");
                    return allowed ? Verdict.ALLOW : Verdict.DENIED;
                });
    }

    private void remember(String name, boolean allowed, OnDemand settings) {
        long now = ticker.read();
        Answer answer;
        if (allowed) {
            long fresh = now + settings.askCache().allow().toNanos();
            answer = new Answer(true, fresh, fresh + STALE_ALLOW_WINDOW.toNanos());
        } else {
            long fresh = now + settings.askCache().deny().toNanos();
            answer = new Answer(false, fresh, fresh);
        }
        answers.put(name, answer);
    }

    /** The endpoint failed: a stale allow still holds, anything else is refused (and nothing is cached). */
    private Verdict unavailable(String name, URI endpoint, Throwable cause) {
        if (failing.compareAndSet(false, true)) {
            log.warn(
                    "ask endpoint {} is unavailable ({}): names it allowed before stay allowed for up to {} h; "
                            + "other names are refused until it answers",
                    endpoint,
                    describe(cause),
                    STALE_ALLOW_WINDOW.toHours());
        }
        return cached(name) == Known.STALE_ALLOWED ? Verdict.ALLOW : Verdict.UNAVAILABLE;
    }

    private void recovered(URI endpoint) {
        if (failing.compareAndSet(true, false)) {
            log.info("ask endpoint {} answers again", endpoint);
        }
    }

    private synchronized void forgetAnswersOfAnotherEndpoint(URI next) {
        if (next.equals(endpoint)) {
            return;
        }
        if (endpoint != null) {
            log.info("ask endpoint changed from {} to {}: forgetting its cached answers", endpoint, next);
            answers.invalidateAll();
        }
        endpoint = next;
    }

    static URI question(URI endpoint, String name) {
        String text = endpoint.toString();
        String separator = endpoint.getRawQuery() == null ? "?" : "&";
        return URI.create(text + separator + "domain=" + URLEncoder.encode(name, StandardCharsets.UTF_8));
    }

    private static Throwable unwrap(Throwable failure) {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }

    private static String describe(Throwable cause) {
        String message = cause.getMessage();
        return cause.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }

    @Override
    public void close() {
        threads.shutdownNow();
    }
}
