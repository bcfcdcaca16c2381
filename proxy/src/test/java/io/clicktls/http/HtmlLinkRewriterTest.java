package io.clicktls.http;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class HtmlLinkRewriterTest {

    private static final Predicate<String> READY = Set.of("links.shop.com", "email.brand.test")::contains;
    private static final ByteBufAllocator ALLOC = PooledByteBufAllocator.DEFAULT;
    private static final LinkPorts STANDARD = LinkPorts.STANDARD;
    /** The quickstart's listeners: https on 8443, http on 8080. */
    private static final LinkPorts QUICKSTART = LinkPorts.of(8443, 8080);

    private static final String PAGE =
            """
            <!doctype html>
            <html lang="fr"><head><meta charset="utf-8"><title>Désabonnement — ünïcödé 日本語 🎉</title>
            <link rel="stylesheet" href="http://links.shop.com/static/s.css">
            <script>var u = "http:\\/\\/links.shop.com\\/ls\\/click?upn=x"; var v = 'http://links.shop.com';</script>
            </head><body>
            <a href="http://links.shop.com/ls/click?upn=abc&amp;x=1">Ça marche</a>
            <a href='HTTP://LINKS.SHOP.COM:80/wf/open'>ouvrir</a>
            <a href=http://email.brand.test/uni?x>unquoted</a>
            <a href="http://links.shop.com.evil.net/">look-alike suffix</a>
            <a href="http://xlinks.shop.com/">look-alike prefix</a>
            <a href="http://links.shop.com@evil.net/">userinfo</a>
            <a href="http://links.shop.com:8080/">other port</a>
            <a href="https://links.shop.com/">already</a>
            <a href="http://destination.example/?r=http://links.shop.com/x">dest</a>
            <p>Texte: (http://links.shop.com) et http://links.shop.com\tfin. ☃ http://links.shop.com</p>
            <form action="http://links.shop.com/ls/unsub" method="post"></form>
            </body></html>
            http://links.shop.com""";

    private static final String PAGE_UPGRADED = PAGE.replace("\"http://links.shop.com/", "\"https://links.shop.com/")
            .replace("http:\\/\\/links.shop.com", "https:\\/\\/links.shop.com")
            .replace("'http://links.shop.com'", "'https://links.shop.com'")
            .replace("HTTP://LINKS.SHOP.COM:80/", "HTTPS://LINKS.SHOP.COM/")
            .replace("=http://email.brand.test/", "=https://email.brand.test/")
            .replace("(http://links.shop.com)", "(https://links.shop.com)")
            .replace(" http://links.shop.com\t", " https://links.shop.com\t")
            .replace("☃ http://links.shop.com<", "☃ https://links.shop.com<")
            .replace("\nhttp://links.shop.com", "\nhttps://links.shop.com");

    private static final int PAGE_LINKS = 11;

    /** Links as a platform writes them behind the quickstart's listeners, with the upgrade each should get. */
    private static final String[][] QUICKSTART_LINKS = {
        {"<a href=\"http://links.shop.com/ls/click?upn=1\">", "<a href=\"https://links.shop.com:8443/ls/click?upn=1\">"
        },
        {"<a href=\"http://links.shop.com:80/a\">", "<a href=\"https://links.shop.com:8443/a\">"},
        {"<a href='HTTP://LINKS.SHOP.COM:8080/b'>", "<a href='HTTPS://LINKS.SHOP.COM:8443/b'>"},
        {"<a href=http://links.shop.com:8443/c>", "<a href=https://links.shop.com:8443/c>"},
        {"(http://email.brand.test:8443)", "(https://email.brand.test:8443)"},
        {"\"http:\\/\\/links.shop.com:8443\\/d\"", "\"https:\\/\\/links.shop.com:8443\\/d\""},
        {"<a href=\"http://links.shop.com:9000/\">", null},
        {"<a href=\"http://links.shop.com:443/\">", null},
        {"<a href=\"http://links.shop.com:08443/\">", null},
        {"<a href=\"http://links.shop.com:84430/\">", null},
        {"<a href=\"http://links.shop.com:65536/\">", null},
        {"<a href=\"http://links.shop.com:8443@evil.net/\">", null},
        {"<a href=\"http://links.shop.com:8443:8443/\">", null},
        {"<a href=\"http://links.shop.com.evil.net:8443/\">", null},
        {"<a href=\"http://other.example:8443/\">", null},
        {"<a href=\"https://www.shop.com/?r=http://links.shop.com:8443/\">", null},
        {"http://links.shop.com:8443", "https://links.shop.com:8443"},
    };

    private static final String QUICKSTART_PAGE = quickstartPage(0);
    private static final String QUICKSTART_UPGRADED = quickstartPage(1);
    private static final int QUICKSTART_PAGE_LINKS = 7;

    @Test
    void theSamplePageHasItsTrackedLinksUpgradedAndNothingElse() {
        HtmlLinkRewriter rewriter = new HtmlLinkRewriter(READY, STANDARD);
        assertThat(rewrite(rewriter, PAGE.getBytes(UTF_8))).isEqualTo(PAGE_UPGRADED);
        assertThat(rewriter.replacements()).isEqualTo(PAGE_LINKS);
        assertThat(PAGE_UPGRADED)
                .contains(
                        "http://links.shop.com.evil.net/",
                        "http://xlinks.shop.com/",
                        "http://links.shop.com@evil.net/",
                        "http://links.shop.com:8080/",
                        "https://links.shop.com/\">already",
                        "http://destination.example/?r=http://links.shop.com/x");
    }

    @Test
    void aResetRewriterWorksAsANewOneAndAsksForHostsAfresh() {
        java.util.Set<String> ready = new java.util.HashSet<>(Set.of("links.shop.com"));
        java.util.List<String> asked = new java.util.ArrayList<>();
        HtmlLinkRewriter rewriter = new HtmlLinkRewriter(host -> asked.add(host) && ready.contains(host), STANDARD);
        // a body cut off inside a URL, with a link held back at its end
        ByteBuf cut = ALLOC.heapBuffer().writeBytes("<a href=\"http://x.test/?r=http://links.shop.com".getBytes(UTF_8));
        rewriter.rewrite(cut, ALLOC).release();
        cut.release();
        assertThat(rewriter.replacements()).isZero();

        rewriter.reset();
        String page = "<a href=\"http://links.shop.com/a\">a</a>";
        assertThat(rewrite(rewriter, page.getBytes(UTF_8))).isEqualTo(page.replace("http:", "https:"));
        assertThat(rewriter.replacements()).isEqualTo(1);

        ready.clear();
        rewriter.reset();
        assertThat(rewrite(rewriter, page.getBytes(UTF_8))).isEqualTo(page);
        assertThat(rewriter.replacements()).isZero();
        assertThat(asked).endsWith("links.shop.com", "links.shop.com");
    }

    @Test
    void splittingThePageAtEveryBytePositionGivesTheSameOutput() {
        List<HtmlLinkRewriter> rewriters = assertEverySplitGives(READY, STANDARD, PAGE, PAGE_UPGRADED);

        assertThat(rewriters)
                .allSatisfy(rewriter -> assertThat(rewriter.replacements()).isEqualTo(PAGE_LINKS));
    }

    @Test
    void randomChunkingsGiveTheSameOutput() {
        byte[] page = PAGE.getBytes(UTF_8);
        Random random = new Random(20261125);
        for (int round = 0; round < 300; round++) {
            int[] splits = random.ints(1 + random.nextInt(40), 0, page.length + 1)
                    .sorted()
                    .toArray();
            HtmlLinkRewriter rewriter = new HtmlLinkRewriter(READY, STANDARD);
            assertThat(rewrite(rewriter, page, splits))
                    .as("splits %s", java.util.Arrays.toString(splits))
                    .isEqualTo(PAGE_UPGRADED);
        }
    }

    @Test
    void oneByteChunksGiveTheSameOutput() {
        byte[] page = PAGE.getBytes(UTF_8);
        int[] splits = new int[page.length];
        for (int i = 0; i < splits.length; i++) {
            splits[i] = i;
        }
        assertThat(rewrite(new HtmlLinkRewriter(READY, STANDARD), page, splits)).isEqualTo(PAGE_UPGRADED);
    }

    @ParameterizedTest
    @ValueSource(strings = {"/", "?", "#", "\"", "'", "<", ">", " ", "\t", "\r", "\n", ")", "\\"})
    void aHostEndingAtAnyDelimiterIsUpgraded(String delimiter) {
        assertThat(rewrite("x http://links.shop.com" + delimiter + "y"))
                .isEqualTo("x https://links.shop.com" + delimiter + "y");
        assertThat(rewrite("x http://links.shop.com:80" + delimiter + "y"))
                .isEqualTo("x https://links.shop.com" + delimiter + "y");
    }

    @ParameterizedTest
    @ValueSource(strings = {"@", "_", ",", ";", "&", "%", "!", "*", "=", "~", "é", "]", "|", "^", "{"})
    void aHostFollowedByAnyOtherByteIsLeftAlone(String follower) {
        String body = "x http://links.shop.com" + follower + "y";
        assertThat(rewrite(body)).isEqualTo(body);
    }

    /** The look-alikes both rewriters leave alone, and those particular to this one. */
    static Stream<String> lookAlikes() {
        return LookalikeLinks.commonAnd(
                "http://user:pw@links.shop.com/",
                "http://links.shop.com:8080/",
                "http://links.shop.com:8/",
                "http://links.shop.com:80:80/",
                "http://links.shop.com../",
                "http://.links.shop.com/",
                "http://links-.shop.com/",
                "http:\\links.shop.com/",
                "http:\\/links.shop.com/",
                "http:\\/\\links.shop.com/",
                "Xhttp://links.shop.com/",
                "9http://links.shop.com/",
                "svn+http://links.shop.com/",
                "-http://links.shop.com/",
                ".http://links.shop.com/",
                "http//links.shop.com/",
                "htp://links.shop.com/",
                "http://other.example/",
                "http://nocert.brand.test/");
    }

    @ParameterizedTest
    @MethodSource("lookAlikes")
    void lookAlikesAndOtherHostsAreLeftByteForByte(String link) {
        String body = "<a href=\"" + link + "\">x</a> " + link;
        HtmlLinkRewriter rewriter = new HtmlLinkRewriter(READY, STANDARD);
        assertThat(rewrite(rewriter, body.getBytes(UTF_8))).isEqualTo(body);
        assertThat(rewriter.replacements()).isZero();
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "http://links.shop.com/ | https://links.shop.com/",
                "HTTP://LINKS.SHOP.COM/ | HTTPS://LINKS.SHOP.COM/",
                "Http://Links.Shop.Com/ | Https://Links.Shop.Com/",
                "hTtP://links.SHOP.com/ | hTtPS://links.SHOP.com/",
                "httP://links.shop.com/ | httPS://links.shop.com/",
                "htTp://links.shop.com:80/ | htTps://links.shop.com/",
            })
    void schemeAndHostCaseDoNotMatterAndTheHostKeepsItsCase(String link, String expected) {
        assertThat(rewrite("<a href=\"" + link + "\">")).isEqualTo("<a href=\"" + expected + "\">");
    }

    @Test
    void jsonEscapedLinksInScriptsAreUpgraded() {
        assertThat(rewrite("{\"u\":\"http:\\/\\/links.shop.com\\/ls\\/click?upn=1\"}"))
                .isEqualTo("{\"u\":\"https:\\/\\/links.shop.com\\/ls\\/click?upn=1\"}");
        assertThat(rewrite("\"http:\\/\\/links.shop.com:80\\/x\"")).isEqualTo("\"https:\\/\\/links.shop.com\\/x\"");
        assertThat(rewrite("\"http:\\/\\/links.shop.com\"")).isEqualTo("\"https:\\/\\/links.shop.com\"");
    }

    @Test
    void aLinkAtTheVeryEndOfTheBodyIsUpgraded() {
        assertThat(rewrite("see http://links.shop.com")).isEqualTo("see https://links.shop.com");
        assertThat(rewrite("http://links.shop.com:80")).isEqualTo("https://links.shop.com");
        assertThat(rewrite("http://links.shop.com:8")).isEqualTo("http://links.shop.com:8");
        assertThat(rewrite("http://")).isEqualTo("http://");
        assertThat(rewrite("http:\\/\\/")).isEqualTo("http:\\/\\/");
        assertThat(rewrite("h")).isEqualTo("h");
    }

    @Test
    void aBrokenCandidateDoesNotHideALinkRightAfterIt() {
        assertThat(rewrite("http:/http://links.shop.com/")).isEqualTo("http:/https://links.shop.com/");
        assertThat(rewrite("http://links.shop.com:8http://links.shop.com/"))
                .isEqualTo("http://links.shop.com:8http://links.shop.com/");
        assertThat(rewrite("http://x.com\"http://links.shop.com/\""))
                .isEqualTo("http://x.com\"https://links.shop.com/\"");
        assertThat(rewrite("hhttp://links.shop.com/ h http://links.shop.com/"))
                .isEqualTo("hhttp://links.shop.com/ h https://links.shop.com/");
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "<a href=\"https://www.shop.com/prefs?return=http://links.shop.com/ls/click\">",
                "<a href=\"http://www.shop.com/prefs?return=http://links.shop.com/ls/click\">",
                "<a href=\"http://links.shop.com.evil.net/?r=http://links.shop.com/\">",
                "<a href='ftp://files.example/http://links.shop.com/'>",
                "{\"u\":\"https:\\/\\/www.shop.com\\/?r=http:\\/\\/links.shop.com\\/x\"}",
                "see https://www.shop.com/?r=http://links.shop.com/x",
            })
    void aTrackedLinkInsideAnotherUrlBelongsToThatUrlAndIsLeftAlone(String body) {
        assertThat(rewrite(body)).isEqualTo(body);
    }

    @Test
    void theUrlBeforeEndsAtAQuoteBracketParenthesisOrWhiteSpace() {
        assertThat(rewrite("<a href=\"https://x.example/\">http://links.shop.com/</a>"))
                .isEqualTo("<a href=\"https://x.example/\">https://links.shop.com/</a>");
        assertThat(rewrite("url(https://x.example/a.png),url(http://links.shop.com/b.png)"))
                .isEqualTo("url(https://x.example/a.png),url(https://links.shop.com/b.png)");
        assertThat(rewrite("https://x.example/\nhttp://links.shop.com/ https://y/\thttp://links.shop.com/"))
                .isEqualTo("https://x.example/\nhttps://links.shop.com/ https://y/\thttps://links.shop.com/");
        assertThat(rewrite("http://links.shop.com/ls/click?u=http://links.shop.com/x 'http://links.shop.com/'"))
                .isEqualTo("https://links.shop.com/ls/click?u=http://links.shop.com/x 'https://links.shop.com/'");
    }

    @Test
    void multibyteTextAroundLinksIsIntact() {
        String text = "Привет «http://links.shop.com/ü?q=日本» 🎉http://links.shop.com/😀 ü";
        assertThat(rewrite(text)).isEqualTo("Привет «https://links.shop.com/ü?q=日本» 🎉https://links.shop.com/😀 ü");
    }

    @Test
    void anEmptyBodyStaysEmpty() {
        HtmlLinkRewriter rewriter = new HtmlLinkRewriter(READY, STANDARD);
        ByteBuf empty = Unpooled.EMPTY_BUFFER;
        ByteBuf out = rewriter.rewrite(empty, ALLOC);
        ByteBuf tail = rewriter.finish(ALLOC);
        assertThat(out.readableBytes() + tail.readableBytes()).isZero();
        out.release();
        tail.release();
        assertThat(rewriter.replacements()).isZero();
    }

    @Test
    void hostsUpToDnsLengthAreHeldAcrossChunksAndLongerOnesAreLeftAlone() {
        String label = "a".repeat(63);
        String host253 = String.join(".", label, label, label, "a".repeat(61));
        Predicate<String> any = host -> true;
        String body = "<a href=\"http://" + host253 + ":80/x\">";
        assertEverySplitGives(any, STANDARD, body, "<a href=\"https://" + host253 + "/x\">");
        String tooLong = "<a href=\"http://b" + host253 + "/x\">";
        assertThat(rewrite(new HtmlLinkRewriter(any, STANDARD), tooLong.getBytes(UTF_8)))
                .isEqualTo(tooLong);
        assertThat(HtmlLinkRewriter.MAX_HELD_BYTES).isEqualTo("http:\\/\\/".length() + 253 + ":65535".length());
    }

    @Test
    void aChunkWithoutChangesIsPassedOnWithoutACopy() {
        HtmlLinkRewriter rewriter = new HtmlLinkRewriter(READY, STANDARD);
        ByteBuf chunk = ALLOC.buffer().writeBytes("<p>nothing to see https://links.shop.com/ here</p>".getBytes(UTF_8));
        ByteBuf out = rewriter.rewrite(chunk, ALLOC);
        assertThat(out.toString(UTF_8)).isEqualTo(chunk.toString(UTF_8));
        assertThat(chunk.refCnt()).as("output is a retained slice of the input").isEqualTo(2);
        assertThat(chunk.readerIndex()).isZero();
        out.release();
        chunk.release();
        assertThat(chunk.refCnt()).isZero();
    }

    @Test
    void theReadinessOfARepeatedHostIsAskedOnceAndInLowerCase() {
        List<String> asked = new ArrayList<>();
        HtmlLinkRewriter rewriter = new HtmlLinkRewriter(host -> asked.add(host) && READY.test(host), STANDARD);
        String body = "http://links.shop.com/1 http://LINKS.shop.com/2 http://links.shop.com/3 "
                + "http://other.example/ http://links.shop.com/4";
        assertThat(rewrite(rewriter, body.getBytes(UTF_8)))
                .isEqualTo("https://links.shop.com/1 https://LINKS.shop.com/2 https://links.shop.com/3 "
                        + "http://other.example/ https://links.shop.com/4");
        assertThat(asked).containsExactly("links.shop.com", "other.example", "links.shop.com");
        assertThat(rewriter.replacements()).isEqualTo(4);
    }

    @Test
    void aBodyWithoutAnyHIsPassedThrough() {
        String body = "x".repeat(10_000);
        assertThat(rewrite(body)).isEqualTo(body);
    }

    @Test
    void onNonStandardListenersLinksWithoutPortOrWithAProxyPortGetTheHttpsPortAndOthersStay() {
        HtmlLinkRewriter rewriter = new HtmlLinkRewriter(READY, QUICKSTART);
        assertThat(rewrite(rewriter, QUICKSTART_PAGE.getBytes(UTF_8))).isEqualTo(QUICKSTART_UPGRADED);
        assertThat(rewriter.replacements()).isEqualTo(QUICKSTART_PAGE_LINKS);
    }

    @Test
    void linksWithPortsSplitAtEveryBytePositionGiveTheOneChunkOutput() {
        List<HtmlLinkRewriter> rewriters =
                assertEverySplitGives(READY, QUICKSTART, QUICKSTART_PAGE, QUICKSTART_UPGRADED);
        assertThat(rewriters)
                .allSatisfy(rewriter -> assertThat(rewriter.replacements()).isEqualTo(QUICKSTART_PAGE_LINKS));
        byte[] page = QUICKSTART_PAGE.getBytes(UTF_8);
        int[] everyByte = new int[page.length];
        for (int i = 0; i < everyByte.length; i++) {
            everyByte[i] = i;
        }
        assertThat(rewrite(new HtmlLinkRewriter(READY, QUICKSTART), page, everyByte))
                .isEqualTo(QUICKSTART_UPGRADED);
    }

    @ParameterizedTest
    @ValueSource(strings = {"/", "?", "#", "\"", "'", "<", ">", " ", "\t", "\r", "\n", ")", "\\"})
    void aProxyPortEndingAtAnyDelimiterIsUpgraded(String delimiter) {
        for (String port : List.of("", ":80", ":8080", ":8443")) {
            assertThat(rewrite("x http://links.shop.com" + port + delimiter + "y", QUICKSTART))
                    .as("port %s", port)
                    .isEqualTo("x https://links.shop.com:8443" + delimiter + "y");
        }
        String other = "x http://links.shop.com:8081" + delimiter + "y";
        assertThat(rewrite(other, QUICKSTART)).isEqualTo(other);
    }

    @Test
    void anHttpsPortOf443IsNotWritten() {
        LinkPorts ports = LinkPorts.of(443, 8080);
        String body = "<a href=\"http://links.shop.com:8080/x\"> http://links.shop.com:443 http://links.shop.com/y";
        assertThat(rewrite(body, ports))
                .isEqualTo("<a href=\"https://links.shop.com/x\"> https://links.shop.com https://links.shop.com/y");
    }

    @Test
    void withTheStandardListenersAnotherPortIsLeftAndNothingIsWrittenAfterTheHost() {
        assertThat(rewrite("http://links.shop.com:8443/x http://links.shop.com:80/y http://links.shop.com/z"))
                .isEqualTo("http://links.shop.com:8443/x https://links.shop.com/y https://links.shop.com/z");
    }

    @Test
    void behindAPortMappingThePublicHttpsPortIsWritten() {
        LinkPorts mapped = new LinkPorts(443, 8080, 8443);
        assertThat(rewrite("'http://links.shop.com:8443/x' 'http://links.shop.com/y'", mapped))
                .isEqualTo("'https://links.shop.com/x' 'https://links.shop.com/y'");
    }

    @Test
    void aPortAtTheVeryEndOfTheBodyIsJudgedThere() {
        assertThat(rewrite("see http://links.shop.com:8443", QUICKSTART)).isEqualTo("see https://links.shop.com:8443");
        assertThat(rewrite("see http://links.shop.com:8080", QUICKSTART)).isEqualTo("see https://links.shop.com:8443");
        assertThat(rewrite("see http://links.shop.com:808", QUICKSTART)).isEqualTo("see http://links.shop.com:808");
        assertThat(rewrite("see http://links.shop.com:", QUICKSTART)).isEqualTo("see http://links.shop.com:");
        assertThat(rewrite("see http://links.shop.com:9000", QUICKSTART)).isEqualTo("see http://links.shop.com:9000");
    }

    @Test
    void theLongestCandidateWithAFiveDigitPortIsHeldAcrossChunksAtEverySplit() {
        String label = "a".repeat(63);
        String host253 = String.join(".", label, label, label, "a".repeat(61));
        LinkPorts ports = LinkPorts.of(65535, 65534);
        String body = "\"http:\\/\\/" + host253 + ":65534\\/x\"";
        String expected = "\"https:\\/\\/" + host253 + ":65535\\/x\"";
        assertEverySplitGives(host -> true, ports, body, expected);
        String sixDigits = "\"http://" + host253 + ":655340/x\"";
        assertThat(rewrite(new HtmlLinkRewriter(host -> true, ports), sixDigits.getBytes(UTF_8)))
                .isEqualTo(sixDigits);
    }

    private static String quickstartPage(int column) {
        StringBuilder page = new StringBuilder("<html><body>\n");
        for (String[] link : QUICKSTART_LINKS) {
            page.append(link[column] != null ? link[column] : link[0]).append("\n");
        }
        // the last link ends the body, so that finish() judges it
        return page.substring(0, page.length() - 1);
    }

    /**
     * Rewrites {@code body} in two chunks split at every byte position, each time with a new rewriter, checks that
     * each gives {@code expected} and returns the rewriters, in split order.
     */
    private static List<HtmlLinkRewriter> assertEverySplitGives(
            Predicate<String> ready, LinkPorts ports, String body, String expected) {
        byte[] bytes = body.getBytes(UTF_8);
        List<HtmlLinkRewriter> rewriters = new ArrayList<>();
        for (int split = 0; split <= bytes.length; split++) {
            HtmlLinkRewriter rewriter = new HtmlLinkRewriter(ready, ports);
            assertThat(rewrite(rewriter, bytes, split)).as("split at %d", split).isEqualTo(expected);
            rewriters.add(rewriter);
        }
        return rewriters;
    }

    private static String rewrite(String body, LinkPorts ports) {
        return rewrite(new HtmlLinkRewriter(READY, ports), body.getBytes(UTF_8));
    }

    private static String rewrite(String body) {
        return rewrite(new HtmlLinkRewriter(READY, STANDARD), body.getBytes(UTF_8));
    }

    /** Feeds {@code body} split at the given offsets, then finishes; checks every buffer is released. */
    static String rewrite(HtmlLinkRewriter rewriter, byte[] body, int... splits) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int from = 0;
        int[] ends = java.util.Arrays.copyOf(splits, splits.length + 1);
        ends[splits.length] = body.length;
        for (int end : ends) {
            // direct, pooled and offset into a larger buffer, as chunks from the network are
            ByteBuf chunk = ALLOC.directBuffer(end - from + 8).writeZero(3);
            chunk.writeBytes(body, from, end - from).readerIndex(3);
            ByteBuf rewritten = rewriter.rewrite(chunk, ALLOC);
            drain(rewritten, out);
            chunk.release();
            assertThat(chunk.refCnt()).isZero();
            from = end;
        }
        drain(rewriter.finish(ALLOC), out);
        return out.toString(UTF_8);
    }

    private static void drain(ByteBuf buf, ByteArrayOutputStream out) {
        byte[] bytes = new byte[buf.readableBytes()];
        buf.readBytes(bytes);
        out.writeBytes(bytes);
        buf.release();
    }
}
