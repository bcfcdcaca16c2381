package io.clicktls.certificates;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.AddressedEnvelope;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DefaultDnsRecordDecoder;
import io.netty.handler.codec.dns.DnsRawRecord;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsResponse;
import io.netty.handler.codec.dns.DnsResponseCode;
import io.netty.handler.codec.dns.DnsSection;
import io.netty.resolver.dns.DnsNameResolver;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.resolver.dns.DnsServerAddressStreamProviders;
import io.netty.resolver.dns.NoopDnsCache;
import io.netty.resolver.dns.NoopDnsCnameCache;
import io.netty.resolver.dns.SingletonDnsServerAddressStreamProvider;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Whether a host name leads to this proxy in DNS, explained for a person: the CNAME chain hop by hop, the final
 * A/AAAA addresses, and a {@link Verdict}. A name leads here when a name of its chain (itself included) is one of
 * the expected names, or when its final addresses include one of the expected addresses or an address of one of the
 * expected names. Also reads CAA records ({@link #caa}), climbing the tree as RFC 8659 says.
 *
 * <p>Queries go through Netty's {@link DnsNameResolver} on one event loop thread of its own, to a given server or to
 * the system's resolvers. Reports are cached by name for their records' TTL, at least {@link #MIN_CACHE} and at most
 * {@link #MAX_CACHE}; a check that could not reach DNS is not cached. Concurrent checks of one name share one set of
 * queries, and at most {@link #MAX_IN_FLIGHT} checks run at once (more are answered {@link Verdict#UNAVAILABLE} at
 * once, so a flood cannot queue without bound).
 *
 * <p>Thread-safe; nothing blocks. Futures complete on this object's event loop, or at once from the cache: keep their
 * continuations short. Used by the issuance policy and by {@code doctor}; {@link #close} releases the thread.
 */
public final class DnsCheck implements AutoCloseable {

    static final Duration MIN_CACHE = Duration.ofSeconds(5);
    static final Duration MAX_CACHE = Duration.ofSeconds(60);
    static final int MAX_IN_FLIGHT = 256;
    private static final int MAX_HOPS = 10;
    private static final Duration DEFAULT_QUERY_TIMEOUT = Duration.ofSeconds(3);

    /** What the DNS says of a name, as far as this proxy is concerned. */
    public enum Verdict {
        /** The CNAME chain or the addresses lead to this proxy. */
        POINTS_HERE,
        /** The name resolves, but somewhere else. */
        POINTS_ELSEWHERE,
        /** No such name (NXDOMAIN), no addresses, or a CNAME loop. */
        NOT_FOUND,
        /** DNS could not be asked (timeout, SERVFAIL, too many checks at once): say nothing about the name. */
        UNAVAILABLE
    }

    /** One CNAME record: {@code name} is an alias of {@code target}. */
    public record Hop(String name, String target) {}

    /**
     * @param chain the CNAME hops from the name, in order; empty when the name has its own addresses
     * @param addresses the A and AAAA addresses at the end of the chain
     * @param explanation one or two sentences for a person, naming what to change
     * @param expected the expected names and addresses it was checked against
     * @param ttl how long the answer holds: the smallest TTL of the records read
     */
    public record Report(
            String name,
            List<Hop> chain,
            List<InetAddress> addresses,
            Verdict verdict,
            String explanation,
            List<String> expected,
            Duration ttl) {

        public Report {
            chain = List.copyOf(chain);
            addresses = List.copyOf(addresses);
            expected = List.copyOf(expected);
        }

        /** The name the chain ends at (the name itself without CNAME). */
        public String canonicalName() {
            return chain.isEmpty() ? name : chain.get(chain.size() - 1).target();
        }
    }

    /** One CAA record: {@code 0 issue "letsencrypt.org"}. */
    public record CaaRecord(int flags, String tag, String value) {

        /** The CA domain of an {@code issue} or {@code issuewild} value, without its parameters; may be empty. */
        public String issuerDomain() {
            int semicolon = value.indexOf(';');
            return (semicolon < 0 ? value : value.substring(0, semicolon))
                    .strip()
                    .toLowerCase(Locale.ROOT);
        }
    }

    /**
     * The CAA records that govern a name: those of the closest name, climbing from the name itself towards the root,
     * that has any.
     *
     * @param foundAt the name the records are at, or {@code null} when there are none (any CA may issue)
     * @param complete false when a lookup failed: the records may be missing
     */
    public record CaaReport(String name, String foundAt, List<CaaRecord> records, boolean complete) {

        public CaaReport {
            records = List.copyOf(records);
        }

        /**
         * Whether a CA identified by {@code caDomain} (e.g. {@code letsencrypt.org}) may issue a non-wildcard
         * certificate: true without {@code issue} records, else when one names it. An unknown critical tag forbids.
         */
        public boolean permits(String caDomain) {
            boolean anyIssue = false;
            for (CaaRecord record : records) {
                String tag = record.tag().toLowerCase(Locale.ROOT);
                if ((record.flags() & 0x80) != 0
                        && !tag.equals("issue")
                        && !tag.equals("issuewild")
                        && !tag.equals("iodef")) {
                    return false;
                }
                if (tag.equals("issue")) {
                    anyIssue = true;
                    if (record.issuerDomain().equals(caDomain.toLowerCase(Locale.ROOT))) {
                        return true;
                    }
                }
            }
            return !anyIssue;
        }
    }

    /** One DNS answer, decoded. */
    private record Answer(
            DnsResponseCode code, List<Hop> cnames, List<InetAddress> addresses, List<CaaRecord> caa, long minTtl) {}

    private final EventLoopGroup group;
    private final DnsNameResolver resolver;
    private final Cache<String, Report> reports;
    private final Cache<String, List<InetAddress>> expectedAddresses;
    private final Map<String, CompletableFuture<Report>> inFlight = new ConcurrentHashMap<>();
    private final Semaphore slots = new Semaphore(MAX_IN_FLIGHT);

    private DnsCheck(InetSocketAddress server, Duration queryTimeout) {
        this.group = new MultiThreadIoEventLoopGroup(
                1,
                runnable -> {
                    Thread thread = new Thread(runnable, "clicktls-dns");
                    thread.setDaemon(true);
                    return thread;
                },
                NioIoHandler.newFactory());
        this.resolver = new DnsNameResolverBuilder(group.next())
                .datagramChannelType(NioDatagramChannel.class)
                .nameServerProvider(
                        server == null
                                ? DnsServerAddressStreamProviders.platformDefault()
                                : new SingletonDnsServerAddressStreamProvider(server))
                .queryTimeoutMillis(queryTimeout.toMillis())
                .resolveCache(NoopDnsCache.INSTANCE)
                .cnameCache(NoopDnsCnameCache.INSTANCE)
                .recursionDesired(true)
                .build();
        this.reports = Caffeine.newBuilder()
                .maximumSize(50_000)
                .executor(Runnable::run)
                .expireAfter(Expiry.<String, Report>creating((name, report) -> cacheTime(report)))
                .build();
        this.expectedAddresses = Caffeine.newBuilder()
                .maximumSize(100)
                .expireAfterWrite(MAX_CACHE)
                .build();
    }

    /**
     * @param server the DNS server to ask, or {@code null} for the system's resolvers
     */
    public static DnsCheck create(InetSocketAddress server) {
        return new DnsCheck(server, DEFAULT_QUERY_TIMEOUT);
    }

    /** @param queryTimeout how long one query may take before it counts as failed */
    public static DnsCheck create(InetSocketAddress server, Duration queryTimeout) {
        return new DnsCheck(server, queryTimeout);
    }

    /**
     * Where {@code name} leads, against the expected names and addresses (as {@code on_demand.expect_dns} lists
     * them: lower-case names, IP literals).
     */
    public CompletableFuture<Report> check(String name, List<String> expected) {
        Report cached = reports.getIfPresent(name);
        if (cached != null && cached.expected().equals(expected)) {
            return CompletableFuture.completedFuture(cached);
        }
        CompletableFuture<Report> mine = new CompletableFuture<>();
        CompletableFuture<Report> running = inFlight.putIfAbsent(name, mine);
        if (running != null) {
            return running.copy();
        }
        if (!slots.tryAcquire()) {
            inFlight.remove(name, mine);
            mine.complete(new Report(
                    name,
                    List.of(),
                    List.of(),
                    Verdict.UNAVAILABLE,
                    "too many DNS checks at once; " + name + " was not checked",
                    expected,
                    Duration.ZERO));
            return mine;
        }
        Set<String> seen = new HashSet<>();
        seen.add(name);
        follow(name, name, new ArrayList<>(), seen, Long.MAX_VALUE)
                .thenCompose(partial -> judge(partial, expected))
                .exceptionally(failure -> new Report(
                        name,
                        List.of(),
                        List.of(),
                        Verdict.UNAVAILABLE,
                        "DNS lookup of " + name + " failed: " + failure.getMessage(),
                        expected,
                        Duration.ZERO))
                .whenComplete((report, failure) -> {
                    slots.release();
                    if (report.verdict() != Verdict.UNAVAILABLE) {
                        reports.put(name, report);
                    }
                    inFlight.remove(name, mine);
                    mine.complete(report);
                });
        return mine.copy();
    }

    /** A chain followed to its end, with the final addresses, before the verdict. */
    private record Resolved(
            String name,
            List<Hop> chain,
            List<InetAddress> addresses,
            boolean notFound,
            boolean loop,
            String failure,
            long minTtl) {}

    private CompletableFuture<Resolved> follow(
            String origin, String current, List<Hop> chain, Set<String> seen, long minTtl) {
        return query(current, DnsRecordType.CNAME).thenCompose(answer -> {
            long ttl = Math.min(minTtl, answer.minTtl());
            if (answer.code() == DnsResponseCode.NXDOMAIN) {
                return done(new Resolved(origin, chain, List.of(), true, false, null, ttl));
            }
            if (answer.code() != DnsResponseCode.NOERROR) {
                return done(new Resolved(
                        origin, chain, List.of(), false, false, answer.code().toString(), ttl));
            }
            String next = next(answer.cnames(), current);
            if (next != null) {
                chain.add(new Hop(current, next));
                if (!seen.add(next) || chain.size() > MAX_HOPS) {
                    return done(new Resolved(origin, chain, List.of(), false, true, null, ttl));
                }
                return follow(origin, next, chain, seen, ttl);
            }
            return addresses(current).thenApply(found -> {
                // A resolver that answers CNAME questions oddly still shows the rest of the chain here.
                String at = current;
                for (String target = next(found.cnames(), at);
                        target != null && seen.add(target);
                        target = next(found.cnames(), at)) {
                    chain.add(new Hop(at, target));
                    at = target;
                }
                boolean failed = found.code() != DnsResponseCode.NOERROR && found.code() != DnsResponseCode.NXDOMAIN;
                return new Resolved(
                        origin,
                        chain,
                        found.addresses(),
                        found.code() == DnsResponseCode.NXDOMAIN,
                        false,
                        failed ? found.code().toString() : null,
                        Math.min(ttl, found.minTtl()));
            });
        });
    }

    private static String next(List<Hop> cnames, String owner) {
        for (Hop hop : cnames) {
            if (hop.name().equals(owner)) {
                return hop.target();
            }
        }
        return null;
    }

    /** A and AAAA together; a failure of one is the failure of both. */
    private CompletableFuture<Answer> addresses(String name) {
        CompletableFuture<Answer> a = query(name, DnsRecordType.A);
        CompletableFuture<Answer> aaaa = query(name, DnsRecordType.AAAA);
        return a.thenCombine(aaaa, (v4, v6) -> {
            List<InetAddress> all = new ArrayList<>(v4.addresses());
            all.addAll(v6.addresses());
            List<Hop> cnames = new ArrayList<>(v4.cnames());
            cnames.addAll(v6.cnames());
            DnsResponseCode code = v4.code() != DnsResponseCode.NOERROR ? v4.code() : v6.code();
            return new Answer(code, cnames, all, List.of(), Math.min(v4.minTtl(), v6.minTtl()));
        });
    }

    private CompletableFuture<Report> judge(Resolved resolved, List<String> expected) {
        return addressesOf(expected).thenApply(ours -> {
            String name = resolved.name();
            String target = suggestion(expected);
            if (resolved.failure() != null) {
                return report(
                        resolved,
                        Verdict.UNAVAILABLE,
                        "DNS could not answer for " + name + " (" + resolved.failure() + "); try again later",
                        expected);
            }
            if (resolved.loop()) {
                return report(
                        resolved,
                        Verdict.NOT_FOUND,
                        name + " has a CNAME loop (" + describe(resolved.chain()) + "): point it at " + target,
                        expected);
            }
            Set<String> names = new LinkedHashSet<>();
            names.add(name);
            resolved.chain().forEach(hop -> names.add(hop.target()));
            for (String alias : names) {
                if (expected.contains(alias)) {
                    return report(
                            resolved,
                            Verdict.POINTS_HERE,
                            alias.equals(name)
                                    ? name + " is this proxy's own name"
                                    : name + " is a CNAME to " + alias + " (" + describe(resolved.chain()) + ")",
                            expected);
                }
            }
            for (InetAddress address : resolved.addresses()) {
                if (ours.contains(address)) {
                    return report(
                            resolved,
                            Verdict.POINTS_HERE,
                            name + " resolves to " + address.getHostAddress() + ", an address of this proxy",
                            expected);
                }
            }
            if (resolved.notFound()
                    || resolved.addresses().isEmpty() && resolved.chain().isEmpty()) {
                return report(
                        resolved,
                        Verdict.NOT_FOUND,
                        name + " does not resolve"
                                + (resolved.notFound() ? " (NXDOMAIN)" : " (no A or AAAA records)")
                                + ": add a CNAME from " + name + " to " + target,
                        expected);
            }
            if (!resolved.chain().isEmpty()) {
                String end = resolved.chain().get(0).target();
                return report(
                        resolved,
                        Verdict.POINTS_ELSEWHERE,
                        name + " is a CNAME to " + end
                                + (resolved.chain().size() > 1 ? " (" + describe(resolved.chain()) + ")" : "")
                                + (resolved.addresses().isEmpty() ? ", which has no addresses" : "")
                                + ": point it at " + target,
                        expected);
            }
            return report(
                    resolved,
                    Verdict.POINTS_ELSEWHERE,
                    name + " resolves to " + hostAddresses(resolved)
                            + ", not to this proxy: replace its A/AAAA records by a CNAME to " + target,
                    expected);
        });
    }

    private static Report report(Resolved resolved, Verdict verdict, String explanation, List<String> expected) {
        long seconds = Math.max(MIN_CACHE.toSeconds(), Math.min(MAX_CACHE.toSeconds(), resolved.minTtl()));
        return new Report(
                resolved.name(),
                resolved.chain(),
                resolved.addresses(),
                verdict,
                explanation,
                expected,
                Duration.ofSeconds(seconds));
    }

    /** The expected addresses: the IP literals as they are, and the A/AAAA addresses of the names. */
    private CompletableFuture<Set<InetAddress>> addressesOf(List<String> expected) {
        Set<InetAddress> literal = new HashSet<>();
        List<CompletableFuture<List<InetAddress>>> lookups = new ArrayList<>();
        for (String target : expected) {
            byte[] bytes = NetUtil.createByteArrayFromIpAddressString(target);
            if (bytes != null) {
                try {
                    literal.add(InetAddress.getByAddress(bytes));
                } catch (UnknownHostException impossible) {
                    // four or sixteen bytes
                }
                continue;
            }
            List<InetAddress> cached = expectedAddresses.getIfPresent(target);
            if (cached != null) {
                lookups.add(CompletableFuture.completedFuture(cached));
                continue;
            }
            lookups.add(toCompletable(resolver.resolveAll(target)).handle((found, failure) -> {
                if (failure != null) {
                    return List.<InetAddress>of(); // a name that does not resolve leads nowhere
                }
                List<InetAddress> plain = plain(found);
                expectedAddresses.put(target, plain);
                return plain;
            }));
        }
        return CompletableFuture.allOf(lookups.toArray(CompletableFuture[]::new))
                .thenApply(ignored -> {
                    Set<InetAddress> all = new HashSet<>(literal);
                    lookups.forEach(lookup -> all.addAll(lookup.join()));
                    return all;
                });
    }

    /**
     * The CAA records that govern {@code name} (RFC 8659 section 3): those of the name, else of its parent, and so
     * on up to (not including) the top-level domain. The resolver follows CNAMEs of each name it asks about.
     */
    public CompletableFuture<CaaReport> caa(String name) {
        return climb(name, name);
    }

    private CompletableFuture<CaaReport> climb(String origin, String at) {
        return query(at, DnsRecordType.CAA)
                .thenCompose(answer -> {
                    if (answer.code() != DnsResponseCode.NOERROR && answer.code() != DnsResponseCode.NXDOMAIN) {
                        return CompletableFuture.completedFuture(new CaaReport(origin, null, List.of(), false));
                    }
                    if (!answer.caa().isEmpty()) {
                        return CompletableFuture.completedFuture(new CaaReport(origin, at, answer.caa(), true));
                    }
                    int dot = at.indexOf('.');
                    if (dot < 0 || at.indexOf('.', dot + 1) < 0) {
                        return CompletableFuture.completedFuture(new CaaReport(origin, null, List.of(), true));
                    }
                    return climb(origin, at.substring(dot + 1));
                })
                .exceptionally(failure -> new CaaReport(origin, null, List.of(), false));
    }

    /** One question; fails only when nothing came back. The response is decoded and released on the event loop. */
    private CompletableFuture<Answer> query(String name, DnsRecordType type) {
        CompletableFuture<Answer> answer = new CompletableFuture<>();
        resolver.query(new DefaultDnsQuestion(name, type)).addListener(done -> {
            if (!done.isSuccess()) {
                answer.completeExceptionally(done.cause());
                return;
            }
            @SuppressWarnings("unchecked")
            AddressedEnvelope<DnsResponse, InetSocketAddress> envelope =
                    (AddressedEnvelope<DnsResponse, InetSocketAddress>) done.getNow();
            try {
                answer.complete(decode(envelope.content()));
            } catch (RuntimeException e) {
                answer.completeExceptionally(e);
            } finally {
                ReferenceCountUtil.release(envelope);
            }
        });
        return answer;
    }

    private static Answer decode(DnsResponse response) {
        List<Hop> cnames = new ArrayList<>();
        List<InetAddress> addresses = new ArrayList<>();
        List<CaaRecord> caa = new ArrayList<>();
        long minTtl = Long.MAX_VALUE;
        int count = response.count(DnsSection.ANSWER);
        for (int i = 0; i < count; i++) {
            DnsRecord record = response.recordAt(DnsSection.ANSWER, i);
            if (!(record instanceof DnsRawRecord raw)) {
                continue;
            }
            minTtl = Math.min(minTtl, record.timeToLive());
            ByteBuf content = raw.content();
            String owner = normalize(record.name());
            if (record.type() == DnsRecordType.CNAME) {
                cnames.add(new Hop(owner, normalize(DefaultDnsRecordDecoder.decodeName(content.duplicate()))));
            } else if (record.type() == DnsRecordType.A || record.type() == DnsRecordType.AAAA) {
                int length = content.readableBytes();
                if (length == 4 || length == 16) {
                    byte[] bytes = new byte[length];
                    content.getBytes(content.readerIndex(), bytes);
                    try {
                        addresses.add(InetAddress.getByAddress(bytes));
                    } catch (UnknownHostException impossible) {
                        // four or sixteen bytes
                    }
                }
            } else if (record.type() == DnsRecordType.CAA) {
                CaaRecord parsed = caaRecord(content);
                if (parsed != null) {
                    caa.add(parsed);
                }
            }
        }
        return new Answer(response.code(), cnames, addresses, caa, minTtl);
    }

    /** flags (1 byte), tag length (1), tag, value (the rest), per RFC 8659 section 4.1. */
    private static CaaRecord caaRecord(ByteBuf content) {
        int at = content.readerIndex();
        int length = content.readableBytes();
        if (length < 2) {
            return null;
        }
        int flags = content.getUnsignedByte(at);
        int tagLength = content.getUnsignedByte(at + 1);
        if (tagLength == 0 || 2 + tagLength > length) {
            return null;
        }
        String tag = content.toString(at + 2, tagLength, StandardCharsets.US_ASCII);
        String value = content.toString(at + 2 + tagLength, length - 2 - tagLength, StandardCharsets.UTF_8);
        return new CaaRecord(flags, tag, value);
    }

    /** The records' TTL, within [{@link #MIN_CACHE}, {@link #MAX_CACHE}]: a scanner's names come back in bursts. */
    private static Duration cacheTime(Report report) {
        return report.ttl().compareTo(MIN_CACHE) < 0 ? MIN_CACHE : report.ttl();
    }

    private static String normalize(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        return lower.endsWith(".") ? lower.substring(0, lower.length() - 1) : lower;
    }

    private static List<InetAddress> plain(List<InetAddress> found) {
        List<InetAddress> plain = new ArrayList<>(found.size());
        for (InetAddress address : found) {
            try {
                plain.add(InetAddress.getByAddress(address.getAddress()));
            } catch (UnknownHostException impossible) {
                // four or sixteen bytes
            }
        }
        return plain;
    }

    private static String suggestion(List<String> expected) {
        for (String target : expected) {
            if (NetUtil.createByteArrayFromIpAddressString(target) == null) {
                return target;
            }
        }
        return expected.isEmpty() ? "this proxy" : "this proxy (" + String.join(", ", expected) + ")";
    }

    private static String describe(List<Hop> chain) {
        StringBuilder text = new StringBuilder();
        for (Hop hop : chain) {
            if (text.length() == 0) {
                text.append(hop.name());
            }
            text.append(" → ").append(hop.target());
        }
        return text.toString();
    }

    private static String hostAddresses(Resolved resolved) {
        return resolved.addresses().stream().map(InetAddress::getHostAddress).collect(Collectors.joining(", "));
    }

    private static <T> CompletableFuture<T> done(T value) {
        return CompletableFuture.completedFuture(value);
    }

    private static <T> CompletableFuture<T> toCompletable(io.netty.util.concurrent.Future<T> future) {
        CompletableFuture<T> result = new CompletableFuture<>();
        future.addListener(done -> {
            if (done.isSuccess()) {
                result.complete(future.getNow());
            } else {
                result.completeExceptionally(done.cause());
            }
        });
        return result;
    }

    @Override
    public void close() {
        resolver.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    /**
     * An IPv4 or IPv6 literal (IPv6 also in brackets), parsed without any lookup; {@code null} for a name. Any thread.
     */
    public static InetAddress ipLiteral(String text) {
        String bare = text.startsWith("[") && text.endsWith("]") ? text.substring(1, text.length() - 1) : text;
        boolean v4 = bare.matches("(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}");
        boolean v6 = bare.indexOf(':') >= 0
                && bare.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.');
        if (!v4 && !v6) {
            return null;
        }
        try {
            return InetAddress.getByName(bare); // a literal: parsed, never looked up
        } catch (UnknownHostException e) {
            return null;
        }
    }
}
