package io.clicktls.admin;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.buffer.Unpooled;
import io.netty.channel.AddressedEnvelope;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DefaultDnsRawRecord;
import io.netty.handler.codec.dns.DefaultDnsRecordDecoder;
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
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

/**
 * Looks up what the status page and {@code doctor} show about a name's DNS: the CNAME chain, the A and AAAA
 * addresses at its end, and the CAA records that apply (RFC 8659: the closest name up the tree that has some).
 *
 * <p>Stand-in until {@code issuance/DnsCheck} is merged: then the verdicts come from there and this class keeps
 * only what DnsCheck does not offer, or goes.
 *
 * <p>Asynchronous: queries run on one private NIO thread and never block the caller; the futures complete on that
 * thread, so callers must not block in their continuations. No caching: every call asks the server. Thread-safe.
 */
public final class DnsProbe implements AutoCloseable {

    /** CAA's record type (RFC 8659); Netty has no constant for it. */
    static final DnsRecordType CAA = DnsRecordType.valueOf(257);
    private static final int MAX_CNAME_HOPS = 8;

    /** One DNS name's answer: the chain of CNAMEs followed, the addresses at its end, or what went wrong. */
    public record Resolution(String name, List<String> cnameChain, List<InetAddress> addresses, String problem) {

        public Resolution {
            cnameChain = List.copyOf(cnameChain);
            addresses = List.copyOf(addresses);
        }

        /** The name the addresses belong to: the end of the CNAME chain, or the name itself. */
        public String canonicalName() {
            return cnameChain.isEmpty() ? name : cnameChain.get(cnameChain.size() - 1);
        }

        public boolean resolved() {
            return problem == null && !addresses.isEmpty();
        }
    }

    /** One CAA record. */
    public record CaaRecord(int flags, String tag, String value) {
        @Override
        public String toString() {
            return flags + " " + tag + " \"" + value + "\"";
        }
    }

    /**
     * The CAA records that govern a name.
     *
     * @param foundAt the name they were found at, or {@code null} when no name up the tree has any
     * @param problem a lookup failure (then nothing can be said), or {@code null}
     */
    public record CaaLookup(String foundAt, List<CaaRecord> records, String problem) {
        public CaaLookup {
            records = List.copyOf(records);
        }
    }

    /** What one query answered. */
    private record Answer(DnsResponseCode code, List<DnsRecord> records) {}

    private final EventLoopGroup group;
    private final DnsNameResolver resolver;
    private final String serverLabel;

    private DnsProbe(EventLoopGroup group, DnsNameResolver resolver, String serverLabel) {
        this.group = group;
        this.resolver = resolver;
        this.serverLabel = serverLabel;
    }

    /**
     * @param server the DNS server to ask, or {@code null} for the system's ({@code /etc/resolv.conf})
     * @param timeout per query
     */
    public static DnsProbe create(InetSocketAddress server, Duration timeout) {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, runnable -> {
            Thread thread = new Thread(runnable, "clicktls-dns");
            thread.setDaemon(true);
            return thread;
        }, NioIoHandler.newFactory());
        DnsNameResolverBuilder builder = new DnsNameResolverBuilder(group.next())
                .datagramChannelType(NioDatagramChannel.class)
                .queryTimeoutMillis(timeout.toMillis())
                .resolveCache(NoopDnsCache.INSTANCE)
                .cnameCache(NoopDnsCnameCache.INSTANCE)
                .recursionDesired(true)
                .nameServerProvider(server == null
                        ? DnsServerAddressStreamProviders.platformDefault()
                        : new SingletonDnsServerAddressStreamProvider(server));
        return new DnsProbe(group, builder.build(),
                server == null ? "the system's DNS servers" : server.getHostString() + ":" + server.getPort());
    }

    /** Which DNS servers answer, for messages. */
    public String server() {
        return serverLabel;
    }

    /** Follows the CNAME chain from {@code name} (at most 8 hops), then asks for A and AAAA at its end. */
    public CompletableFuture<Resolution> resolve(String name) {
        return followCnames(lower(name), new ArrayList<>()).thenCompose(chain -> {
            if (chain.problem() != null) {
                return CompletableFuture.completedFuture(chain);
            }
            String end = chain.canonicalName();
            CompletableFuture<Answer> a = query(end, DnsRecordType.A);
            CompletableFuture<Answer> aaaa = query(end, DnsRecordType.AAAA);
            return a.thenCombine(aaaa, (four, six) -> {
                List<InetAddress> addresses = new ArrayList<>();
                addAddresses(four, DnsRecordType.A, addresses);
                addAddresses(six, DnsRecordType.AAAA, addresses);
                String problem = null;
                if (four.code().equals(DnsResponseCode.NXDOMAIN)) {
                    problem = end + " does not exist (NXDOMAIN)";
                } else if (addresses.isEmpty() && !four.code().equals(DnsResponseCode.NOERROR)) {
                    problem = "the DNS server answered " + four.code().toString().toLowerCase(Locale.ROOT)
                            + " for " + end;
                } else if (addresses.isEmpty()) {
                    problem = end + " has no A or AAAA record";
                }
                return new Resolution(chain.name(), chain.cnameChain(), addresses, problem);
            });
        }).exceptionally(failure -> new Resolution(lower(name), List.of(), List.of(), describe(failure)));
    }

    private CompletableFuture<Resolution> followCnames(String name, List<String> chain) {
        String current = chain.isEmpty() ? name : chain.get(chain.size() - 1);
        return query(current, DnsRecordType.CNAME).thenCompose(answer -> {
            if (answer.code().equals(DnsResponseCode.NXDOMAIN)) {
                return CompletableFuture.completedFuture(new Resolution(name, chain, List.of(),
                        current + " does not exist (NXDOMAIN)"));
            }
            String target = null;
            for (DnsRecord record : answer.records()) {
                if (record.type().equals(DnsRecordType.CNAME) && lower(record.name()).equals(current)) {
                    target = lower(cnameTarget(record));
                }
            }
            if (target == null) {
                return CompletableFuture.completedFuture(new Resolution(name, chain, List.of(), null));
            }
            if (chain.contains(target) || target.equals(name) || chain.size() >= MAX_CNAME_HOPS) {
                chain.add(target);
                return CompletableFuture.completedFuture(new Resolution(name, chain, List.of(),
                        "the CNAME chain loops or is longer than " + MAX_CNAME_HOPS + " hops"));
            }
            chain.add(target);
            return followCnames(name, chain);
        });
    }

    /** The CAA records for {@code name}: at the name, else at its parent, and so on up to the top-level domain. */
    public CompletableFuture<CaaLookup> caa(String name) {
        return caaFrom(lower(name)).exceptionally(failure -> new CaaLookup(null, List.of(), describe(failure)));
    }

    private CompletableFuture<CaaLookup> caaFrom(String name) {
        return query(name, CAA).thenCompose(answer -> {
            if (!answer.code().equals(DnsResponseCode.NOERROR) && !answer.code().equals(DnsResponseCode.NXDOMAIN)) {
                // a CA must not issue when the CAA lookup fails (RFC 8659 §4): worth saying
                return CompletableFuture.completedFuture(new CaaLookup(null, List.of(), "the CAA lookup for "
                        + name + " failed: " + answer.code().toString().toLowerCase(Locale.ROOT)));
            }
            List<CaaRecord> records = new ArrayList<>();
            for (DnsRecord record : answer.records()) {
                if (record.type().equals(CAA) && record instanceof ByteBufHolder holder) {
                    CaaRecord caa = parseCaa(holder.content());
                    if (caa != null) {
                        records.add(caa);
                    }
                }
            }
            if (!records.isEmpty()) {
                return CompletableFuture.completedFuture(new CaaLookup(name, records, null));
            }
            int dot = name.indexOf('.');
            if (dot < 0 || name.indexOf('.', dot + 1) < 0) {
                return CompletableFuture.completedFuture(new CaaLookup(null, List.of(), null));
            }
            return caaFrom(name.substring(dot + 1));
        });
    }

    private CompletableFuture<Answer> query(String name, DnsRecordType type) {
        CompletableFuture<Answer> result = new CompletableFuture<>();
        resolver.query(new DefaultDnsQuestion(name + ".", type)).addListener(future -> {
            if (!future.isSuccess()) {
                result.completeExceptionally(future.cause());
                return;
            }
            @SuppressWarnings("unchecked")
            AddressedEnvelope<DnsResponse, InetSocketAddress> envelope =
                    (AddressedEnvelope<DnsResponse, InetSocketAddress>) future.getNow();
            try {
                DnsResponse response = envelope.content();
                List<DnsRecord> records = new ArrayList<>();
                for (int i = 0; i < response.count(DnsSection.ANSWER); i++) {
                    DnsRecord record = response.recordAt(DnsSection.ANSWER, i);
                    // copied out: the response's buffers go back to the pool when the envelope is released
                    records.add(record instanceof ByteBufHolder holder ? copy(record, holder.content()) : record);
                }
                result.complete(new Answer(response.code(), records));
            } catch (RuntimeException e) {
                result.completeExceptionally(e);
            } finally {
                envelope.release();
            }
        });
        return result;
    }

    private static DnsRecord copy(DnsRecord record, ByteBuf content) {
        byte[] bytes = new byte[content.readableBytes()];
        content.getBytes(content.readerIndex(), bytes);
        return new DefaultDnsRawRecord(record.name(), record.type(), record.dnsClass(),
                record.timeToLive(), Unpooled.wrappedBuffer(bytes));
    }

    private static String cnameTarget(DnsRecord record) {
        ByteBuf content = ((ByteBufHolder) record).content();
        return stripDot(DefaultDnsRecordDecoder.decodeName(content.duplicate()));
    }

    private static void addAddresses(Answer answer, DnsRecordType type, List<InetAddress> into) {
        for (DnsRecord record : answer.records()) {
            if (record.type().equals(type) && record instanceof ByteBufHolder holder) {
                ByteBuf content = holder.content();
                byte[] bytes = new byte[content.readableBytes()];
                content.getBytes(content.readerIndex(), bytes);
                try {
                    into.add(InetAddress.getByAddress(bytes));
                } catch (UnknownHostException malformed) {
                    // neither 4 nor 16 bytes: not an address
                }
            }
        }
    }

    /** flags (1 byte), tag length (1 byte), tag, value (the rest); {@code null} when malformed. */
    static CaaRecord parseCaa(ByteBuf content) {
        ByteBuf in = content.duplicate();
        if (in.readableBytes() < 2) {
            return null;
        }
        int flags = in.readUnsignedByte();
        int tagLength = in.readUnsignedByte();
        if (tagLength == 0 || in.readableBytes() < tagLength) {
            return null;
        }
        String tag = in.readCharSequence(tagLength, StandardCharsets.US_ASCII).toString().toLowerCase(Locale.ROOT);
        String value = in.readCharSequence(in.readableBytes(), StandardCharsets.UTF_8).toString();
        return new CaaRecord(flags, tag, value);
    }

    private static String describe(Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        String message = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        return "DNS lookup failed: " + message;
    }

    private static String lower(String name) {
        return stripDot(name.toLowerCase(Locale.ROOT));
    }

    private static String stripDot(String name) {
        return name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
    }

    @Override
    public void close() {
        resolver.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
