import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * One new TLS connection per name, each with that name as SNI and one {@code GET /} over it: prints percentiles of
 * the server's reply time (the ClientHello written to the first byte of the server's answer: certificate lookup,
 * context and the server's handshake crypto, the server's whole share of the handshake), of the handshake time (TCP
 * connected to TLS finished, which adds the client's own crypto: the JDK's, slower than the server's) and of the
 * whole exchange. The served certificate must name
 * the host asked for and the answer must be a 302; anything else counts as an error. Every name is used once, so
 * neither side can resume a session.
 *
 * <p>The chain is not verified (that would add client CPU on a 2-core machine to what is measured); the
 * certificate's subject alternative names are checked instead.
 *
 * <p>{@code java HandshakeProbe.java HOST PORT NAMES_FILE FIRST COUNT CONCURRENCY [LABEL [WARM_FIRST WARM_COUNT]]}
 * uses lines FIRST..FIRST+COUNT-1 of NAMES_FILE. With WARM_COUNT, lines WARM_FIRST.. are handshaken first, one at a
 * time and not measured, so that the client's own TLS code is compiled before it measures (a cold JVM's first
 * hundreds of handshakes take several times longer on the client side).
 */
public final class HandshakeProbe {

    private HandshakeProbe() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 6) {
            System.err.println("usage: HandshakeProbe HOST PORT NAMES_FILE FIRST COUNT CONCURRENCY [LABEL "
                    + "[WARM_FIRST WARM_COUNT]]");
            System.exit(64);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        List<String> all = Files.readAllLines(Path.of(args[2]));
        int first = Integer.parseInt(args[3]);
        int count = Math.min(Integer.parseInt(args[4]), all.size() - first);
        int concurrency = Integer.parseInt(args[5]);
        String label = args.length > 6 ? args[6] : "probe";
        List<String> names = all.subList(first, first + count);

        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(null, new TrustManager[] {new AcceptingTrustManager()}, null);
        tls.getClientSessionContext().setSessionCacheSize(1);
        SSLSocketFactory factory = tls.getSocketFactory();
        if (args.length > 8) {
            int warmFirst = Integer.parseInt(args[7]);
            int warmCount = Math.min(Integer.parseInt(args[8]), all.size() - warmFirst);
            int warmErrors = 0;
            for (String name : all.subList(warmFirst, warmFirst + warmCount)) {
                try {
                    exchange(factory, host, port, name);
                } catch (Exception e) {
                    warmErrors++;
                }
            }
            System.out.printf("%s: client warmed up on %d names (%d errors)%n", label, warmCount, warmErrors);
        }

        long[] replyNanos = new long[count];
        long[] handshakeNanos = new long[count];
        long[] totalNanos = new long[count];
        AtomicInteger next = new AtomicInteger();
        AtomicInteger errors = new AtomicInteger();
        AtomicReference<String> firstError = new AtomicReference<>();
        AtomicLong started = new AtomicLong(System.nanoTime());
        ExecutorService pool = Executors.newFixedThreadPool(concurrency);
        for (int t = 0; t < concurrency; t++) {
            pool.execute(() -> {
                for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                    String name = names.get(i);
                    try {
                        long[] times = exchange(factory, host, port, name);
                        handshakeNanos[i] = times[0];
                        totalNanos[i] = times[1];
                        replyNanos[i] = times[2];
                    } catch (Exception e) {
                        handshakeNanos[i] = -1;
                        replyNanos[i] = -1;
                        totalNanos[i] = -1;
                        errors.incrementAndGet();
                        firstError.compareAndSet(null, name + ": " + e);
                    }
                }
            });
        }
        pool.shutdown();
        if (!pool.awaitTermination(30, TimeUnit.MINUTES)) {
            System.err.println("probe did not finish in 30 minutes");
            System.exit(1);
        }
        double seconds = (System.nanoTime() - started.get()) / 1e9;
        long[] replies = Arrays.stream(replyNanos).filter(n -> n >= 0).sorted().toArray();
        long[] handshakes = Arrays.stream(handshakeNanos).filter(n -> n >= 0).sorted().toArray();
        long[] totals = Arrays.stream(totalNanos).filter(n -> n >= 0).sorted().toArray();
        System.out.printf("%s: %d connections in %.1f s (%.0f/s), concurrency %d, %d errors%n", label, count, seconds,
                count / seconds, concurrency, errors.get());
        System.out.printf("%s: server reply ms p50 %.2f p90 %.2f p99 %.2f max %.2f%n", label, ms(replies, 0.50),
                ms(replies, 0.90), ms(replies, 0.99), ms(replies, 1.0));
        System.out.printf("%s: handshake ms p50 %.2f p90 %.2f p99 %.2f max %.2f%n", label, ms(handshakes, 0.50),
                ms(handshakes, 0.90), ms(handshakes, 0.99), ms(handshakes, 1.0));
        System.out.printf("%s: connect+handshake+request ms p50 %.2f p90 %.2f p99 %.2f max %.2f%n", label,
                ms(totals, 0.50), ms(totals, 0.90), ms(totals, 0.99), ms(totals, 1.0));
        if (firstError.get() != null) {
            System.out.println(label + ": first error: " + firstError.get());
        }
    }

    /** @return nanoseconds for the handshake, for the whole exchange, and for the server's reply to the hello */
    private static long[] exchange(SSLSocketFactory factory, String host, int port, String name) throws Exception {
        long start = System.nanoTime();
        try (TimedSocket plain = new TimedSocket()) {
            plain.setTcpNoDelay(true);
            plain.connect(new InetSocketAddress(host, port), 10_000);
            plain.setSoTimeout(10_000);
            try (SSLSocket socket = (SSLSocket) factory.createSocket(plain, name, port, true)) {
                SSLParameters parameters = socket.getSSLParameters();
                parameters.setServerNames(List.of(new SNIHostName(name)));
                parameters.setApplicationProtocols(new String[] {"http/1.1"});
                socket.setSSLParameters(parameters);
                long connected = System.nanoTime();
                socket.startHandshake();
                long handshaken = System.nanoTime();
                X509Certificate leaf = (X509Certificate) socket.getSession().getPeerCertificates()[0];
                if (!names(leaf).contains(name)) {
                    throw new IllegalStateException("certificate does not name " + name + ": " + names(leaf));
                }
                OutputStream out = socket.getOutputStream();
                out.write(("GET / HTTP/1.1\r\nHost: " + name + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.flush();
                String status = statusLine(socket.getInputStream());
                if (!status.startsWith("HTTP/1.1 302")) {
                    throw new IllegalStateException("answer: " + status);
                }
                return new long[] {handshaken - connected, System.nanoTime() - start, plain.replyNanos()};
            }
        }
    }

    /**
     * A socket that notes when its first write (the ClientHello) began and when its first read returned data (the
     * start of the server's first flight). The TLS socket is layered over it and uses its streams. The clock starts
     * before the write: on a busy machine the server's wake-up may preempt the client right after the write, and a
     * clock read then would miss the server's work.
     */
    private static final class TimedSocket extends Socket {
        private long firstWriteStart;
        private long firstReadDone;
        private InputStream in;
        private OutputStream out;

        long replyNanos() {
            return firstReadDone - firstWriteStart;
        }

        @Override
        public synchronized InputStream getInputStream() throws java.io.IOException {
            if (in == null) {
                InputStream raw = super.getInputStream();
                in = new java.io.FilterInputStream(raw) {
                    @Override
                    public int read(byte[] b, int off, int len) throws java.io.IOException {
                        int n = super.read(b, off, len);
                        if (n > 0 && firstReadDone == 0) {
                            firstReadDone = System.nanoTime();
                        }
                        return n;
                    }

                    @Override
                    public int read() throws java.io.IOException {
                        int n = super.read();
                        if (n >= 0 && firstReadDone == 0) {
                            firstReadDone = System.nanoTime();
                        }
                        return n;
                    }
                };
            }
            return in;
        }

        @Override
        public synchronized OutputStream getOutputStream() throws java.io.IOException {
            if (out == null) {
                OutputStream raw = super.getOutputStream();
                out = new java.io.FilterOutputStream(raw) {
                    @Override
                    public void write(byte[] b, int off, int len) throws java.io.IOException {
                        if (firstWriteStart == 0) {
                            firstWriteStart = System.nanoTime();
                        }
                        raw.write(b, off, len);
                    }
                };
            }
            return out;
        }
    }

    private static List<String> names(X509Certificate certificate) throws Exception {
        List<String> names = new ArrayList<>();
        Collection<List<?>> alternatives = certificate.getSubjectAlternativeNames();
        if (alternatives != null) {
            for (List<?> alternative : alternatives) {
                names.add(String.valueOf(alternative.get(1)));
            }
        }
        return names;
    }

    private static String statusLine(InputStream in) throws Exception {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b = in.read(); b != -1 && b != '\n'; b = in.read()) {
            line.write(b);
        }
        return line.toString(StandardCharsets.US_ASCII).trim();
    }

    private static double ms(long[] sorted, double quantile) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int index = (int) Math.ceil(quantile * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))] / 1e6;
    }

    /** The chain is not what is measured; the names in the leaf are checked by the caller. */
    private static final class AcceptingTrustManager implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
