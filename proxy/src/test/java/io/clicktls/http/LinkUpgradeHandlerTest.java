package io.clicktls.http;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.Domain;
import io.clicktls.config.Platform;
import io.clicktls.config.Upgrade;
import io.clicktls.metrics.Metrics;
import io.clicktls.testing.ConfigInCode;
import io.micrometer.core.instrument.Counter;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ResourceLeakDetector;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.InflaterInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LinkUpgradeHandlerTest {

    private static final String PAGE = "<!doctype html><html><head><title>Se désabonner — 日本</title></head>"
            + "<body>\n"
            + "<a href=\"http://links.shop.com/ls/click?upn=abc123&amp;t=1\">unsubscribe</a>\n"
            + "<a href=\"http://www.shop.com/\">shop</a> <a href=\"http://links.shop.com.evil.net/\">x</a>\n"
            + "<a href=\"http://nocert.brand.test/wf/click\">no certificate yet</a>\n"
            + "<form action='http://email.brand.test:80/ls/unsub' method=post></form>\n"
            + "<script>var u=\"http:\\/\\/links.shop.com\\/wf\\/open\";</script></body></html>\n";
    private static final String PAGE_UPGRADED = PAGE.replace("\"http://links.shop.com/", "\"https://links.shop.com/")
            .replace("'http://email.brand.test:80/", "'https://email.brand.test/")
            .replace("http:\\/\\/links.shop.com", "https:\\/\\/links.shop.com");
    private static final int PAGE_LINKS = 3;
    /** Links written behind listeners on 8443/8080: without port, with 80, 8080, 8443, and another port. */
    private static final String PORTS_PAGE = "<html><body>\n"
            + "<a href=\"http://links.shop.com/ls/click?upn=1\">a</a> <a href='http://links.shop.com:80/b'>b</a>\n"
            + "<a href=http://email.brand.test:8080/c>c</a> <script>u=\"http:\\/\\/links.shop.com:8443\\/d\"</script>\n"
            + "<a href=\"http://links.shop.com:9000/e\">e</a> <a href=\"http://www.shop.com:8443/\">f</a>\n"
            + "http://links.shop.com:8443";

    private static final String PORTS_PAGE_UPGRADED = PORTS_PAGE
            .replace("\"http://links.shop.com/ls", "\"https://links.shop.com:8443/ls")
            .replace("'http://links.shop.com:80/", "'https://links.shop.com:8443/")
            .replace("=http://email.brand.test:8080/", "=https://email.brand.test:8443/")
            .replace("http:\\/\\/links.shop.com:8443", "https:\\/\\/links.shop.com:8443")
            .replace("\nhttp://links.shop.com:8443", "\nhttps://links.shop.com:8443");
    private static final int PORTS_PAGE_LINKS = 5;
    private static final String UNTOUCHABLE = "<html><a href=\"http://www.shop.com/\">x</a>"
            + "<a href=\"http://nocert.brand.test/\">y</a><a href=\"http://xlinks.shop.com/\">z</a></html>";

    private final TrackingAllocator alloc = new TrackingAllocator();
    private final Metrics metrics = new Metrics();
    private final List<EmbeddedChannel> channels = new ArrayList<>();
    private final List<Exchange> exchanges = new ArrayList<>();
    private final List<ChannelFuture> upstreamWrites = new ArrayList<>();
    private ConfigSnapshot snapshot = snapshot(true, true);
    private LinkPorts ports = LinkPorts.STANDARD;
    private final Predicate<String> httpsReady =
            host -> snapshot.domains().serves(host) && !host.equals("nocert.brand.test");

    @BeforeAll
    static void detectLeaksEagerly() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }

    @AfterEach
    void everyBufferIsReleasedExactlyOnce() {
        for (Exchange exchange : exchanges) {
            exchange.responses.forEach(ReferenceCountUtil::release);
        }
        for (EmbeddedChannel channel : channels) {
            channel.finishAndReleaseAll();
        }
        alloc.assertAllReleased();
    }

    @Test
    void locationOfATrackedDomainWithACertificateIsUpgradedAndCounted() {
        Exchange exchange = exchange(List.of(() -> List.of(
                full(HttpResponseStatus.FOUND, new byte[0], "location", "http://links.shop.com:80/ls/click?upn=x#f"))));
        exchange.send(get("/ls/click?upn=x"));
        assertThat(exchange.response(0).headers().get(HttpHeaderNames.LOCATION))
                .isEqualTo("https://links.shop.com/ls/click?upn=x#f");
        assertThat(upgraded("location")).isEqualTo(1);
    }

    @Test
    void locationOfAnotherHostOrANameWithoutCertificateIsLeftAlone() {
        List<String> locations = List.of(
                "http://www.shop.com/sale",
                "http://nocert.brand.test/x",
                "http://links.shop.com.evil.net/",
                "http://links.shop.com@evil.net/",
                "http://links.shop.com:8080/");
        Exchange exchange = exchange(redirectsTo(locations));
        exchange.send(locations.stream().map(l -> get("/")).toArray(HttpRequest[]::new));
        for (int i = 0; i < locations.size(); i++) {
            assertThat(exchange.response(i).headers().get(HttpHeaderNames.LOCATION))
                    .isEqualTo(locations.get(i));
        }
        assertThat(upgraded("location")).isZero();
    }

    @Test
    void onNonStandardListenersALocationWithoutPortOrWithAProxyPortGetsTheHttpsPort() {
        ports = LinkPorts.of(8443, 8080);
        List<String> locations = List.of(
                "http://links.shop.com/landing",
                "http://links.shop.com:80/landing",
                "http://links.shop.com:8080/landing",
                "http://links.shop.com:8443/landing",
                "http://links.shop.com:9000/landing",
                "http://www.shop.com:8443/landing");
        Exchange exchange = exchange(redirectsTo(locations));
        exchange.send(locations.stream().map(l -> get("/back")).toArray(HttpRequest[]::new));
        for (int i = 0; i < 4; i++) {
            assertThat(exchange.response(i).headers().get(HttpHeaderNames.LOCATION))
                    .isEqualTo("https://links.shop.com:8443/landing");
        }
        assertThat(exchange.response(4).headers().get(HttpHeaderNames.LOCATION)).isEqualTo(locations.get(4));
        assertThat(exchange.response(5).headers().get(HttpHeaderNames.LOCATION)).isEqualTo(locations.get(5));
        assertThat(upgraded("location")).isEqualTo(4);
    }

    @Test
    void onNonStandardListenersHtmlSplitAtEveryBytePositionGetsTheHttpsPortInEveryLink() {
        ports = LinkPorts.of(8443, 8080);
        byte[] page = PORTS_PAGE.getBytes(UTF_8);
        int batch = 100; // requests pipelined on one connection, below the codec's pipelining limit
        for (int first = 1; first < page.length; first += batch) {
            List<Supplier<List<Object>>> script = new ArrayList<>();
            for (int split = first; split < Math.min(page.length, first + batch); split++) {
                int at = split;
                script.add(() -> chunkedInTwo(page, at, "text/html"));
            }
            Exchange exchange = exchange(script);
            exchange.send(script.stream().map(s -> get("/")).toArray(HttpRequest[]::new));
            for (int i = 0; i < script.size(); i++) {
                assertThat(exchange.body(i)).as("split at %d", first + i).isEqualTo(PORTS_PAGE_UPGRADED);
            }
        }
        assertThat(upgraded("html")).isEqualTo((double) PORTS_PAGE_LINKS * (page.length - 1));
    }

    @Test
    void onNonStandardListenersGzipAndFullHtmlGetTheHttpsPortToo() {
        ports = LinkPorts.of(8443, 8080);
        byte[] page = PORTS_PAGE.getBytes(UTF_8);
        byte[] gzipped = gzip(page);
        Exchange exchange = exchange(List.of(
                () -> streamed(gzipped, 11, "content-type", "text/html", "content-encoding", "gzip"),
                () -> List.of(full(HttpResponseStatus.OK, page, "content-type", "text/html"))));
        exchange.send(get("/"), get("/"));
        assertThat(new String(gunzip(exchange.bodyBytes(0)), UTF_8)).isEqualTo(PORTS_PAGE_UPGRADED);
        assertThat(exchange.body(1)).isEqualTo(PORTS_PAGE_UPGRADED);
        assertThat(exchange.response(1).headers().getInt(HttpHeaderNames.CONTENT_LENGTH))
                .isEqualTo(PORTS_PAGE_UPGRADED.getBytes(UTF_8).length);
    }

    @Test
    void theHttpsPortOf443IsNotWrittenIntoLinks() {
        ports = LinkPorts.of(443, 8080);
        byte[] page = "<a href=\"http://links.shop.com:8080/x\">".getBytes(UTF_8);
        Exchange exchange = exchange(List.of(
                () -> List.of(full(HttpResponseStatus.FOUND, new byte[0], "location", "http://links.shop.com:8080/y")),
                () -> List.of(full(HttpResponseStatus.OK, page, "content-type", "text/html"))));
        exchange.send(get("/"), get("/"));
        assertThat(exchange.response(0).headers().get(HttpHeaderNames.LOCATION)).isEqualTo("https://links.shop.com/y");
        assertThat(exchange.body(1)).isEqualTo("<a href=\"https://links.shop.com/x\">");
    }

    @Test
    void thePortsAreReadWhenTheResponseIsWritten() {
        Exchange exchange = exchange(List.of(
                () -> List.of(full(HttpResponseStatus.FOUND, new byte[0], "location", "http://links.shop.com/a")),
                () -> {
                    ports = LinkPorts.of(8443, 8080); // the http listener bound meanwhile, say
                    return List.of(full(HttpResponseStatus.FOUND, new byte[0], "location", "http://links.shop.com/b"));
                }));
        exchange.send(get("/"), get("/"));
        assertThat(exchange.response(0).headers().get(HttpHeaderNames.LOCATION)).isEqualTo("https://links.shop.com/a");
        assertThat(exchange.response(1).headers().get(HttpHeaderNames.LOCATION))
                .isEqualTo("https://links.shop.com:8443/b");
    }

    @Test
    void smallHtmlWithContentLengthIsHeldWholeAndSentWithItsNewExactLength() {
        byte[] page = PAGE.getBytes(UTF_8);
        Exchange exchange = exchange(List.of(() -> htmlWithLengthAndEtag(page, 50)));
        exchange.send(get("/uni/prefs"));
        assertThat(exchange.rawHeaders(0))
                .containsIgnoringCase("content-length: " + PAGE_UPGRADED.getBytes(UTF_8).length)
                .doesNotContainIgnoringCase("transfer-encoding");
        assertThat(exchange.response(0).headers().get(HttpHeaderNames.ETAG)).isEqualTo("W/\"v1\"");
        assertThat(exchange.body(0)).isEqualTo(PAGE_UPGRADED);
        assertThat(upgraded("html")).isEqualTo(PAGE_LINKS);
    }

    @Test
    void smallHtmlWithContentLengthAndNoLinkToUpgradeIsSentExactlyAsItCame() {
        byte[] page = UNTOUCHABLE.getBytes(UTF_8);
        List<Supplier<List<Object>>> script = List.of(
                () -> streamed(
                        page,
                        page.length,
                        "content-type",
                        "text/html",
                        "content-length",
                        Integer.toString(page.length),
                        "etag",
                        "\"s\""),
                () -> streamed(page, 7, "content-type", "text/html", "content-length", Integer.toString(page.length)));
        Exchange exchange = exchange(script);
        exchange.send(get("/"), get("/"));
        assertThat(exchange.raw()).isEqualTo(baseline(script, get("/"), get("/")));
        assertThat(exchange.rawHeaders(1)).containsIgnoringCase("content-length: " + page.length);
        assertThat(upgraded("html")).isZero();
    }

    @Test
    void aHeldBodyCutOffByTheConnectionClosingIsReleasedAndNothingOfItIsSent() {
        byte[] page = PAGE.getBytes(UTF_8);
        Exchange exchange = exchange(List.of(() -> {
            List<Object> messages =
                    streamed(page, 50, "content-type", "text/html", "content-length", Integer.toString(page.length));
            ReferenceCountUtil.release(messages.remove(messages.size() - 1));
            return messages;
        }));
        exchange.send(get("/"));
        assertThat(exchange.rawLength).as("the head waits for the whole body").isZero();

        exchange.server.close();
        alloc.assertAllReleased();
    }

    @Test
    void htmlLongerThanTheHoldLimitIsRewrittenAsItStreamsAndSentChunked() {
        String longPage = PAGE.repeat(LinkUpgradeHandler.HOLD_LIMIT / PAGE.length() + 1);
        byte[] page = longPage.getBytes(UTF_8);
        assertThat(page.length).isGreaterThan(LinkUpgradeHandler.HOLD_LIMIT);
        Exchange exchange = exchange(List.of(() -> htmlWithLengthAndEtag(page, 1000)));
        exchange.send(get("/uni/prefs"));
        assertThat(exchange.rawHeaders(0))
                .containsIgnoringCase("transfer-encoding: chunked")
                .doesNotContainIgnoringCase("content-length");
        assertThat(exchange.response(0).headers().get(HttpHeaderNames.ETAG)).isEqualTo("W/\"v1\"");
        assertThat(exchange.body(0)).isEqualTo(PAGE_UPGRADED.repeat(LinkUpgradeHandler.HOLD_LIMIT / PAGE.length() + 1));
    }

    @Test
    void onlyASmallBodyWithAPlainContentLengthIsHeld() {
        assertThat(LinkUpgradeHandler.heldLength(new DefaultHttpHeaders().add("content-length", "145")))
                .isEqualTo(145);
        assertThat(LinkUpgradeHandler.heldLength(new DefaultHttpHeaders().add("content-length", "0")))
                .isZero();
        assertThat(LinkUpgradeHandler.heldLength(new DefaultHttpHeaders().add("content-length", "16385")))
                .isEqualTo(-1);
        assertThat(LinkUpgradeHandler.heldLength(new DefaultHttpHeaders().add("content-length", "1e3")))
                .isEqualTo(-1);
        assertThat(LinkUpgradeHandler.heldLength(new DefaultHttpHeaders())).isEqualTo(-1);
        assertThat(LinkUpgradeHandler.heldLength(
                        new DefaultHttpHeaders().add("content-length", "10").add("transfer-encoding", "chunked")))
                .isEqualTo(-1);
    }

    @Test
    void chunkedHtmlWithLinksSplitAcrossChunksIsRewrittenAtEverySplit() {
        byte[] page = PAGE.getBytes(UTF_8);
        List<Supplier<List<Object>>> script = new ArrayList<>();
        for (int split = 1; split < page.length; split += 7) {
            int at = split;
            script.add(() -> chunkedInTwo(page, at, "TEXT/HTML"));
        }
        Exchange exchange = exchange(script);
        exchange.send(script.stream().map(s -> get("/")).toArray(HttpRequest[]::new));
        for (int i = 0; i < script.size(); i++) {
            assertThat(exchange.body(i)).as("response %d", i).isEqualTo(PAGE_UPGRADED);
        }
        assertThat(upgraded("html")).isEqualTo((double) PAGE_LINKS * script.size());
    }

    @Test
    void gzipHtmlIsRewrittenAndSentGzippedAgain() {
        byte[] gzipped = gzip(PAGE.getBytes(UTF_8));
        Exchange exchange = exchange(List.of(
                () -> streamed(gzipped, 13, "content-type", "text/html", "content-encoding", "gzip", "etag", "\"z\""),
                () -> streamed(
                        gzipped,
                        13,
                        "content-type",
                        "text/html",
                        "content-encoding",
                        "gzip",
                        "content-length",
                        Integer.toString(gzipped.length))));
        exchange.send(get("/"), get("/"));
        assertThat(exchange.rawHeaders(0))
                .containsIgnoringCase("transfer-encoding: chunked")
                .doesNotContainIgnoringCase("content-length");
        assertThat(exchange.rawHeaders(1))
                .containsIgnoringCase("content-length: " + exchange.bodyBytes(1).length)
                .doesNotContainIgnoringCase("transfer-encoding");
        assertThat(new String(gunzip(exchange.bodyBytes(1)), UTF_8)).isEqualTo(PAGE_UPGRADED);
        FullHttpResponse response = exchange.response(0);
        assertThat(response.headers().get(HttpHeaderNames.CONTENT_ENCODING)).isEqualTo("gzip");
        assertThat(response.headers().get(HttpHeaderNames.ETAG)).isEqualTo("W/\"z\"");
        assertThat(new String(gunzip(exchange.bodyBytes(0)), UTF_8)).isEqualTo(PAGE_UPGRADED);
        assertThat(upgraded("html")).isEqualTo(2.0 * PAGE_LINKS);
    }

    @Test
    void gzipWithHeaderFieldsAndTwoMembersIsReadWhole() {
        byte[] first = PAGE.substring(0, 100).getBytes(UTF_8);
        byte[] second = PAGE.substring(100).getBytes(UTF_8);
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(gzipWithNameCommentAndExtra(first));
        body.writeBytes(gzip(second));
        byte[] gzipped = body.toByteArray();
        Exchange exchange = exchange(
                List.of(() -> streamed(gzipped, 3, "content-type", "text/html", "content-encoding", "x-gzip")));
        exchange.send(get("/"));
        assertThat(new String(gunzip(exchange.bodyBytes(0)), UTF_8)).isEqualTo(PAGE_UPGRADED);
    }

    @Test
    void deflateHtmlWithAndWithoutItsZlibWrapperIsRewritten() {
        byte[] page = PAGE.getBytes(UTF_8);
        byte[] zlib = deflate(page, false);
        byte[] raw = deflate(page, true);
        Exchange exchange = exchange(List.of(
                () -> streamed(zlib, 1, "content-type", "text/html", "content-encoding", "deflate"),
                () -> streamed(raw, 64, "content-type", "text/html", "content-encoding", "Deflate")));
        exchange.send(get("/zlib"), get("/raw"));
        assertThat(new String(inflate(exchange.bodyBytes(0)), UTF_8)).isEqualTo(PAGE_UPGRADED);
        assertThat(new String(inflate(exchange.bodyBytes(1)), UTF_8)).isEqualTo(PAGE_UPGRADED);
        assertThat(upgraded("html")).isEqualTo(2.0 * PAGE_LINKS);
    }

    @Test
    void aFullHtmlResponseKeepsAnExactContentLength() {
        byte[] page = PAGE.getBytes(UTF_8);
        byte[] gzipped = gzip(page);
        Exchange exchange = exchange(List.of(
                () -> List.of(full(HttpResponseStatus.OK, page, "content-type", "text/html;charset=utf-8")),
                () -> List.of(full(
                        HttpResponseStatus.NOT_FOUND,
                        gzipped,
                        "content-type",
                        "text/html",
                        "content-encoding",
                        "gzip"))));
        exchange.send(get("/a"), get("/b"));
        assertThat(exchange.rawHeaders(0))
                .containsIgnoringCase("content-length: " + PAGE_UPGRADED.getBytes(UTF_8).length)
                .doesNotContainIgnoringCase("transfer-encoding");
        assertThat(exchange.body(0)).isEqualTo(PAGE_UPGRADED);
        assertThat(exchange.rawHeaders(1))
                .containsIgnoringCase("content-length: " + exchange.bodyBytes(1).length)
                .doesNotContainIgnoringCase("transfer-encoding");
        assertThat(new String(gunzip(exchange.bodyBytes(1)), UTF_8)).isEqualTo(PAGE_UPGRADED);
        assertThat(upgraded("html")).isEqualTo(2.0 * PAGE_LINKS);
    }

    @Test
    void htmlWithoutReadyTrackedLinksIsLeftAsItIs() {
        byte[] page = UNTOUCHABLE.getBytes(UTF_8);
        List<Supplier<List<Object>>> script = List.of(
                () -> List.of(full(HttpResponseStatus.OK, page, "content-type", "text/html", "etag", "\"s\"")),
                () -> List.of(full(
                        HttpResponseStatus.OK, gzip(page), "content-type", "text/html", "content-encoding", "gzip")));
        Exchange exchange = exchange(script);
        exchange.send(get("/"), get("/"));
        assertThat(exchange.raw()).isEqualTo(baseline(script, get("/"), get("/")));

        Exchange streamedExchange = exchange(List.of(() -> streamed(page, 9, "content-type", "text/html")));
        streamedExchange.send(get("/"));
        assertThat(streamedExchange.body(0)).isEqualTo(UNTOUCHABLE);
        assertThat(upgraded("html")).isZero();
    }

    @Test
    void nonHtmlBodiesPassByteForByte() {
        String json = "{\"u\":\"http://links.shop.com/ls/click\"}";
        List<Supplier<List<Object>>> script = List.of(
                () -> streamed(
                        json.getBytes(UTF_8),
                        5,
                        "content-type",
                        "application/json",
                        "content-length",
                        Integer.toString(json.length())),
                () -> streamed(json.getBytes(UTF_8), 5, "content-type", "text/plain", "transfer-encoding", "chunked"),
                () -> streamed(json.getBytes(UTF_8), 5, "content-type", "text/htmlx", "transfer-encoding", "chunked"),
                () -> streamed(json.getBytes(UTF_8), 5, "transfer-encoding", "chunked"),
                () -> List.of(full(
                        HttpResponseStatus.OK,
                        new byte[] {'G', 'I', 'F', '8', '9', 'a', 0, 1, 2},
                        "content-type",
                        "image/gif")));
        HttpRequest[] requests = script.stream().map(s -> get("/")).toArray(HttpRequest[]::new);
        Exchange exchange = exchange(script);
        exchange.send(requests);
        assertThat(exchange.raw()).isEqualTo(baseline(script, requests));
        assertThat(exchange.body(0)).isEqualTo(json);
    }

    @Test
    void htmlInACodingWeCannotReadIsLeftByteForByte() {
        byte[] pretendBrotli = PAGE.getBytes(UTF_8);
        List<Supplier<List<Object>>> script = List.of(
                () -> streamed(
                        pretendBrotli,
                        20,
                        "content-type",
                        "text/html",
                        "content-encoding",
                        "br",
                        "content-length",
                        Integer.toString(pretendBrotli.length)),
                () -> streamed(
                        pretendBrotli,
                        20,
                        "content-type",
                        "text/html",
                        "content-encoding",
                        "gzip, br",
                        "content-length",
                        Integer.toString(pretendBrotli.length)));
        Exchange exchange = exchange(script);
        exchange.send(get("/"), get("/"));
        assertThat(exchange.raw()).isEqualTo(baseline(script, get("/"), get("/")));
    }

    @Test
    void withBothOptionsOffEverythingPassesByteForByte() {
        snapshot = snapshot(false, false);
        byte[] page = PAGE.getBytes(UTF_8);
        List<Supplier<List<Object>>> script = List.of(
                () -> List.of(full(HttpResponseStatus.FOUND, new byte[0], "location", "http://links.shop.com/x")),
                () -> streamed(page, 10, "content-type", "text/html", "content-length", Integer.toString(page.length)),
                () -> List.of(full(
                        HttpResponseStatus.OK, gzip(page), "content-type", "text/html", "content-encoding", "gzip")));
        HttpRequest[] requests = {get("/"), get("/"), get("/")};
        Exchange exchange = exchange(script);
        exchange.send(requests);
        assertThat(exchange.raw()).isEqualTo(baseline(script, requests));
        assertThat(upgraded("location") + upgraded("html")).isZero();
    }

    @Test
    void eachOptionWorksWithoutTheOther() {
        byte[] page = PAGE.getBytes(UTF_8);
        Supplier<List<Object>> both = () -> List.of(
                full(HttpResponseStatus.OK, page, "content-type", "text/html", "location", "http://links.shop.com/x"));
        snapshot = snapshot(true, false);
        Exchange locationOnly = exchange(List.of(both));
        locationOnly.send(get("/"));
        snapshot = snapshot(false, true);
        Exchange htmlOnly = exchange(List.of(both));
        htmlOnly.send(get("/"));

        assertThat(locationOnly.response(0).headers().get("location")).isEqualTo("https://links.shop.com/x");
        assertThat(locationOnly.body(0)).isEqualTo(PAGE);
        assertThat(htmlOnly.response(0).headers().get("location")).isEqualTo("http://links.shop.com/x");
        assertThat(htmlOnly.body(0)).isEqualTo(PAGE_UPGRADED);
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrderEachWithItsOwnRules() {
        byte[] page = PAGE.getBytes(UTF_8);
        Exchange exchange = exchange(List.of(
                () -> streamed(page, 30, "content-type", "text/html", "content-length", Integer.toString(page.length)),
                () -> List.of(
                        response(
                                HttpResponseStatus.OK,
                                "content-type",
                                "text/html",
                                "content-length",
                                Integer.toString(page.length)),
                        LastHttpContent.EMPTY_LAST_CONTENT),
                () -> List.of(full(
                        HttpResponseStatus.MOVED_PERMANENTLY,
                        new byte[0],
                        "location",
                        "http://email.brand.test/wf/click")),
                () -> List.of(full(HttpResponseStatus.OK, page, "content-type", "text/html"))));
        exchange.send(get("/1"), request(HttpMethod.HEAD, "/2"), get("/3"), get("/4"));

        assertThat(exchange.maxUnanswered)
                .as("all four were read before the first answer")
                .isEqualTo(4);
        assertThat(exchange.body(0)).isEqualTo(PAGE_UPGRADED);
        assertThat(exchange.rawHeaders(1))
                .containsIgnoringCase("content-length: " + page.length)
                .doesNotContainIgnoringCase("transfer-encoding");
        assertThat(exchange.bodyBytes(1)).isEmpty();
        assertThat(exchange.response(2).headers().get("location")).isEqualTo("https://email.brand.test/wf/click");
        assertThat(exchange.body(3)).isEqualTo(PAGE_UPGRADED);
    }

    @Test
    void responsesWithoutABodyKeepTheirHeaders() {
        List<Supplier<List<Object>>> script = List.of(
                () -> List.of(full(
                        HttpResponseStatus.NOT_MODIFIED,
                        new byte[0],
                        "content-type",
                        "text/html",
                        "content-length",
                        "1234",
                        "etag",
                        "\"e\"")),
                () -> List.of(full(HttpResponseStatus.NO_CONTENT, new byte[0], "content-type", "text/html")),
                () -> List.of(
                        response(HttpResponseStatus.OK, "content-type", "text/html", "content-length", "77"),
                        LastHttpContent.EMPTY_LAST_CONTENT));
        HttpRequest[] requests = {get("/"), get("/"), request(HttpMethod.HEAD, "/")};
        Exchange exchange = exchange(script);
        exchange.send(requests);
        assertThat(exchange.raw()).isEqualTo(baseline(script, requests));
    }

    @Test
    void anInterimContinueDoesNotTakeTheRequestsPlace() {
        byte[] page = PAGE.getBytes(UTF_8);
        Exchange exchange = exchange(List.of(() -> List.of(
                new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE, alloc.buffer(0)),
                full(HttpResponseStatus.OK, page, "content-type", "text/html"))));
        exchange.send(get("/"));
        assertThat(exchange.rawText()).startsWith("HTTP/1.1 100 Continue\r\n");
        assertThat(exchange.body(0)).isEqualTo(PAGE_UPGRADED);
    }

    @Test
    void anHttp10ClientGetsStreamedHtmlUntouchedButFullHtmlUpgraded() {
        byte[] page = PAGE.getBytes(UTF_8);
        Exchange exchange = exchange(List.of(
                () -> streamed(page, 40, "content-type", "text/html", "content-length", Integer.toString(page.length)),
                () -> List.of(full(HttpResponseStatus.OK, page, "content-type", "text/html"))));
        HttpRequest first = get("/");
        first.setProtocolVersion(HttpVersion.HTTP_1_0);
        first.headers().set(HttpHeaderNames.CONNECTION, "keep-alive");
        HttpRequest second = get("/");
        second.setProtocolVersion(HttpVersion.HTTP_1_0);
        exchange.send(first, second);
        assertThat(exchange.rawHeaders(0)).containsIgnoringCase("content-length: " + page.length);
        assertThat(exchange.body(0)).isEqualTo(PAGE);
        assertThat(exchange.body(1)).isEqualTo(PAGE_UPGRADED);
    }

    @Test
    void aCorruptStreamedGzipBodyClosesTheConnection() {
        byte[] corrupt = corruptGzipPage();
        Exchange exchange =
                exchange(List.of(() -> streamed(corrupt, 16, "content-type", "text/html", "content-encoding", "gzip")));
        exchange.send(get("/"));
        assertThat(exchange.server.isOpen()).isFalse();
        assertThat(upstreamWrites).anyMatch(f -> f.cause() != null);
    }

    @Test
    void aCorruptFullGzipBodyIsSentAsItCame() {
        byte[] corrupt = corruptGzipPage();
        List<Supplier<List<Object>>> script = List.of(() ->
                List.of(full(HttpResponseStatus.OK, corrupt, "content-type", "text/html", "content-encoding", "gzip")));
        Exchange exchange = exchange(script);
        exchange.send(get("/"));
        assertThat(exchange.server.isOpen()).isTrue();
        assertThat(exchange.raw()).isEqualTo(baseline(script, get("/")));
    }

    @Test
    void aDecompressionBombIsCutOffWithoutBeingBuffered() {
        byte[] bomb = gzip(new byte[(int) ZlibBodyRewrite.MAX_INFLATED_BYTES + (1 << 20)]);
        assertThat(bomb.length).isLessThan(64 * 1024);
        Exchange exchange =
                exchange(List.of(() -> streamed(bomb, 4096, "content-type", "text/html", "content-encoding", "gzip")));
        exchange.send(get("/"));
        assertThat(exchange.server.isOpen()).isFalse();
        assertThat(exchange.rawLength).isLessThan(256 * 1024);
        assertThat(alloc.largestCapacity).as("largest buffer allocated").isLessThan(256 * 1024);
    }

    @Test
    void theConfigInForceWhenTheRequestIsReadDecides() {
        byte[] page = PAGE.getBytes(UTF_8);
        Exchange exchange = exchange(List.of(() -> {
            snapshot = snapshot(false, false); // a reload between request and response
            return List.of(full(HttpResponseStatus.OK, page, "content-type", "text/html"));
        }));
        exchange.send(get("/"));
        assertThat(exchange.body(0)).isEqualTo(PAGE_UPGRADED);
    }

    // ---- fixture ----

    private static ConfigSnapshot snapshot(boolean location, boolean html) {
        Platform platform = new Platform("stand-in", URI.create("http://127.0.0.1:8081"), Platform.HostHeader.PRESERVE);
        ClickTlsConfig config = ConfigInCode.internalIssuer(
                Path.of("data"),
                Duration.ofSeconds(10),
                Map.of("stand-in", platform),
                List.of(new Domain("links.shop.com", "stand-in"), new Domain("*.brand.test", "stand-in")),
                new Upgrade(Upgrade.HttpMode.REDIRECT, location, html));
        return ConfigSnapshot.of(config);
    }

    private double upgraded(String kind) {
        Counter counter = metrics.registry()
                .find("clicktls.links.upgraded")
                .tag("kind", kind)
                .counter();
        return counter == null ? 0 : counter.count();
    }

    private static HttpRequest get(String uri) {
        return request(HttpMethod.GET, uri);
    }

    private static HttpRequest request(HttpMethod method, String uri) {
        // an empty body that release() leaves alone: the same request is sent again for the baseline
        DefaultFullHttpRequest request =
                new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, uri, Unpooled.EMPTY_BUFFER);
        request.headers().set(HttpHeaderNames.HOST, "links.shop.com");
        return request;
    }

    private ByteBuf buf(byte[] bytes) {
        return alloc.buffer(bytes.length).writeBytes(bytes);
    }

    private static HttpResponse response(HttpResponseStatus status, String... headers) {
        HttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
        for (int i = 0; i < headers.length; i += 2) {
            response.headers().add(headers[i], headers[i + 1]);
        }
        return response;
    }

    private FullHttpResponse full(HttpResponseStatus status, byte[] body, String... headers) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, buf(body));
        for (int i = 0; i < headers.length; i += 2) {
            response.headers().add(headers[i], headers[i + 1]);
        }
        if (!response.headers().contains(HttpHeaderNames.CONTENT_LENGTH)
                && status.code() != 204
                && status.code() != 304) {
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        }
        return response;
    }

    /** A response head and its body in pieces of {@code size} bytes, as a proxy handler streams it. */
    private List<Object> streamed(byte[] body, int size, String... headers) {
        List<Object> messages = new ArrayList<>();
        messages.add(response(HttpResponseStatus.OK, headers));
        for (int from = 0; from < body.length; from += size) {
            int to = Math.min(body.length, from + size);
            ByteBuf piece = buf(Arrays.copyOfRange(body, from, to));
            messages.add(to == body.length ? new DefaultLastHttpContent(piece) : new DefaultHttpContent(piece));
        }
        if (body.length == 0) {
            messages.add(LastHttpContent.EMPTY_LAST_CONTENT);
        }
        return messages;
    }

    private Exchange exchange(List<Supplier<List<Object>>> script) {
        return new Exchange(script, true);
    }

    /** The bytes the same upstream script gives without the handler. */
    private byte[] baseline(List<Supplier<List<Object>>> script, HttpRequest... requests) {
        Exchange exchange = new Exchange(script, false);
        exchange.send(requests);
        return exchange.raw();
    }

    /** A client codec and a server pipeline joined by real HTTP/1.1 bytes. */
    private final class Exchange {
        final EmbeddedChannel server = new EmbeddedChannel();
        final EmbeddedChannel client = new EmbeddedChannel();
        final ByteArrayOutputStream raw = new ByteArrayOutputStream();
        final List<FullHttpResponse> responses = new ArrayList<>();
        int maxUnanswered;
        long rawLength;

        Exchange(List<Supplier<List<Object>>> script, boolean withHandler) {
            channels.add(server);
            channels.add(client);
            exchanges.add(this);
            server.config().setAllocator(alloc);
            client.config().setAllocator(alloc);
            server.pipeline().addLast(new HttpServerCodec());
            if (withHandler) {
                server.pipeline().addLast(new LinkUpgradeHandler(() -> snapshot, httpsReady, () -> ports, metrics));
            }
            server.pipeline().addLast(new Upstream(new ArrayDeque<>(script)));
            client.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(1 << 20));
        }

        void send(HttpRequest... requests) {
            ByteBuf pipelined = alloc.buffer();
            for (HttpRequest request : requests) {
                client.writeOutbound(request);
                for (ByteBuf bytes; (bytes = client.readOutbound()) != null; ) {
                    pipelined.writeBytes(bytes);
                    bytes.release();
                }
            }
            server.writeInbound(pipelined);
            server.runPendingTasks();
            for (Object out; (out = server.readOutbound()) != null; ) {
                ByteBuf bytes = (ByteBuf) out;
                rawLength += bytes.readableBytes();
                if (raw.size() < (1 << 20)) {
                    byte[] copy = new byte[bytes.readableBytes()];
                    bytes.getBytes(bytes.readerIndex(), copy);
                    raw.writeBytes(copy);
                }
                client.writeInbound(bytes);
            }
            for (Object in; (in = client.readInbound()) != null; ) {
                if (in instanceof FullHttpResponse response && response.status().code() != 100) {
                    responses.add(response);
                } else {
                    ReferenceCountUtil.release(in);
                }
            }
        }

        byte[] raw() {
            return raw.toByteArray();
        }

        String rawText() {
            return raw.toString(ISO_8859_1);
        }

        /** The status line and headers of the i-th final response, as they went over the wire. */
        String rawHeaders(int i) {
            String text = rawText();
            List<String> heads = new ArrayList<>();
            for (int start = text.indexOf("HTTP/1."); start >= 0; start = text.indexOf("HTTP/1.", start + 1)) {
                String head = text.substring(start, text.indexOf("\r\n\r\n", start));
                if (!head.startsWith("HTTP/1.1 100")) {
                    heads.add(head);
                }
            }
            assertThat(heads).hasSizeGreaterThan(i);
            return heads.get(i);
        }

        FullHttpResponse response(int i) {
            assertThat(responses).hasSizeGreaterThan(i);
            return responses.get(i);
        }

        byte[] bodyBytes(int i) {
            ByteBuf content = response(i).content();
            byte[] bytes = new byte[content.readableBytes()];
            content.getBytes(content.readerIndex(), bytes);
            return bytes;
        }

        String body(int i) {
            return new String(bodyBytes(i), UTF_8);
        }

        /** Answers every request read so far when the read completes, so pipelined requests queue up. */
        private final class Upstream extends ChannelInboundHandlerAdapter {
            private final Queue<Supplier<List<Object>>> script;
            private int unanswered;

            Upstream(Queue<Supplier<List<Object>>> script) {
                this.script = script;
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof HttpRequest) {
                    unanswered++;
                    maxUnanswered = Math.max(maxUnanswered, unanswered);
                }
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                for (; unanswered > 0; unanswered--) {
                    for (Object message : script.remove().get()) {
                        upstreamWrites.add(ctx.write(message));
                    }
                }
                ctx.flush();
            }
        }
    }

    /** A 302 to each of {@code locations}, one per request. */
    private List<Supplier<List<Object>>> redirectsTo(List<String> locations) {
        List<Supplier<List<Object>>> script = new ArrayList<>();
        for (String location : locations) {
            script.add(() -> List.of(full(HttpResponseStatus.FOUND, new byte[0], "location", location)));
        }
        return script;
    }

    /** {@code page} sent chunked in two chunks, split at byte {@code at}. */
    private List<Object> chunkedInTwo(byte[] page, int at, String contentType) {
        return List.of(
                response(HttpResponseStatus.OK, "content-type", contentType, "transfer-encoding", "chunked"),
                new DefaultHttpContent(buf(Arrays.copyOfRange(page, 0, at))),
                new DefaultLastHttpContent(buf(Arrays.copyOfRange(page, at, page.length))));
    }

    /** UTF-8 HTML with its content-length and a strong etag, streamed in chunks of {@code size}. */
    private List<Object> htmlWithLengthAndEtag(byte[] page, int size) {
        return streamed(
                page,
                size,
                "content-type",
                "text/html; charset=UTF-8",
                "content-length",
                Integer.toString(page.length),
                "etag",
                "\"v1\"");
    }

    // ---- compression helpers ----

    /** The gzipped page with its deflate data overwritten: the header and trailer are intact, the rest is not. */
    private static byte[] corruptGzipPage() {
        byte[] corrupt = gzip(PAGE.getBytes(UTF_8));
        for (int i = 12; i < corrupt.length - 8; i++) {
            corrupt[i] = (byte) 0xff;
        }
        return corrupt;
    }

    private static byte[] gzip(byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gzip = new GZIPOutputStream(out)) {
            gzip.write(data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static byte[] gzipWithNameCommentAndExtra(byte[] data) {
        Deflater deflater = new Deflater(6, true);
        deflater.setInput(data);
        deflater.finish();
        byte[] buffer = new byte[data.length + 1024];
        int n = deflater.deflate(buffer);
        deflater.end();
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(data);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {0x1f, (byte) 0x8b, 8, 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, 3});
        out.writeBytes(new byte[] {3, 0, 'a', 'b', 'c'}); // FEXTRA
        out.writeBytes("page.html\0".getBytes(ISO_8859_1)); // FNAME
        out.writeBytes("a comment\0".getBytes(ISO_8859_1)); // FCOMMENT
        out.writeBytes(new byte[] {0x12, 0x34}); // FHCRC, not checked by readers that skip it
        out.write(buffer, 0, n);
        int c = (int) crc.getValue();
        out.writeBytes(new byte[] {
            (byte) c,
            (byte) (c >> 8),
            (byte) (c >> 16),
            (byte) (c >> 24),
            (byte) data.length,
            (byte) (data.length >> 8),
            (byte) (data.length >> 16),
            (byte) (data.length >> 24)
        });
        return out.toByteArray();
    }

    private static byte[] deflate(byte[] data, boolean raw) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, raw);
        try (DeflaterOutputStream stream = new DeflaterOutputStream(out, deflater)) {
            stream.write(data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            deflater.end();
        }
        return out.toByteArray();
    }

    private static byte[] gunzip(byte[] data) {
        try (InputStream in = new GZIPInputStream(new java.io.ByteArrayInputStream(data))) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] inflate(byte[] data) {
        try (InputStream in = new InflaterInputStream(new java.io.ByteArrayInputStream(data))) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Unpooled buffers, each remembered, so a test can check that every one was released. */
    private static final class TrackingAllocator extends AbstractByteBufAllocator {
        private final List<ByteBuf> allocated = new ArrayList<>();
        int largestCapacity;

        TrackingAllocator() {
            super(false);
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            largestCapacity = Math.max(largestCapacity, initialCapacity);
            return track(new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity) {
                @Override
                public ByteBuf capacity(int newCapacity) {
                    largestCapacity = Math.max(largestCapacity, newCapacity);
                    return super.capacity(newCapacity);
                }
            });
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            largestCapacity = Math.max(largestCapacity, initialCapacity);
            return track(new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity) {
                @Override
                public ByteBuf capacity(int newCapacity) {
                    largestCapacity = Math.max(largestCapacity, newCapacity);
                    return super.capacity(newCapacity);
                }
            });
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }

        private ByteBuf track(ByteBuf buf) {
            allocated.add(buf);
            return buf;
        }

        void assertAllReleased() {
            assertThat(allocated).allSatisfy(buf -> assertThat(buf.refCnt()).isZero());
        }
    }
}
