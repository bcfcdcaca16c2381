package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.http.RequestParsingIT.Listener;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Random request targets and header values, sent over raw sockets to each listener: every request is either refused
 * with 400 and nothing reaches the platform, or reaches it with the target and the header byte for byte (on the
 * plain-http listener in redirect mode: answered with a Location carrying the exact target). Which of the two is
 * decided by the grammar alone: a control byte, space or DEL in the target, or a control byte other than HTAB in a
 * field value, must be refused; anything else must go through.
 *
 * <p>Seeded and bounded: {@code -Dfuzz.seed=N} replays a run, {@code -Dfuzz.cases=N} sets its length. Header values
 * hold no CR or LF: those end the field, which the framing tests cover.
 */
class RequestParserFuzzIT extends ProxyFixture {

    private static final long SEED = Long.getLong("fuzz.seed", 20261207L);
    private static final int CASES = Integer.getInteger("fuzz.cases", 120);

    @ParameterizedTest
    @EnumSource(Listener.class)
    void everyRequestIsRefusedWith400OrForwardedByteForByte(Listener listener) throws Exception {
        Random random = new Random(SEED + listener.ordinal());
        for (int i = 0; i < CASES; i++) {
            resetState();
            listener.prepare();
            String target = "/ls/click?" + randomBytes(random, 1 + random.nextInt(40), true);
            String value = random.nextBoolean() ? "v" + randomBytes(random, random.nextInt(30), false) + "v" : null;
            String request = "GET " + target + " HTTP/1.1\r\nHost: links.shop.test\r\n"
                    + (value == null ? "" : "X-Fuzz: " + value + "\r\n")
                    + "Connection: close\r\n\r\n";
            String what = String.format(
                    "seed %d, %s case %d: %s", SEED, listener, i, HexFormat.of().formatHex(latin1(request)));

            String response = listener.send(request);
            String upstream = new String(standIn.receivedBytes(), StandardCharsets.ISO_8859_1);

            boolean malformed = !targetAllowed(target) || value != null && !valueAllowed(value);
            if (malformed) {
                assertThat(response).as(what).startsWith("HTTP/1.1 400 ");
                assertThat(upstream).as(what).isEmpty();
            } else if (listener == Listener.HTTP_REDIRECT) {
                assertThat(response).as(what).startsWith("HTTP/1.1 308 ");
                assertThat(response)
                        .as(what)
                        .contains("\r\nlocation: https://links.shop.test:" + proxy.httpsPort() + target + "\r\n");
                assertThat(upstream).as(what).isEmpty();
            } else {
                assertThat(response).as(what).startsWith("HTTP/1.1 302 ");
                assertThat(hex(upstream)).as(what).contains(hex("GET " + target + " HTTP/1.1\r\n"));
                if (value != null) {
                    assertThat(hex(upstream)).as(what).contains(hex("\r\nX-Fuzz: " + value + "\r\n"));
                }
            }
        }
    }

    /**
     * Mostly visible ASCII, then bytes from 0x80 up, then control bytes, space and DEL (CR and LF only in a target,
     * where they end the request line early).
     */
    private static String randomBytes(Random random, int length, boolean target) {
        StringBuilder bytes = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            int kind = random.nextInt(20);
            char c;
            if (kind < 15) {
                c = (char) (0x21 + random.nextInt(0x7E - 0x21 + 1));
            } else if (kind < 18) {
                c = (char) (0x80 + random.nextInt(0x80));
            } else {
                int control = random.nextInt(0x22);
                c = control == 0x20 ? ' ' : control == 0x21 ? (char) 0x7F : (char) control;
                if (!target && (c == '\r' || c == '\n')) {
                    c = '\t';
                }
            }
            bytes.append(c);
        }
        return bytes.toString();
    }

    private static boolean targetAllowed(String target) {
        return target.chars().allMatch(c -> c > 0x20 && c != 0x7F);
    }

    private static boolean valueAllowed(String value) {
        return value.chars().allMatch(c -> (c >= 0x20 || c == '\t') && c != 0x7F);
    }

    private static byte[] latin1(String text) {
        return text.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static String hex(String latin1) {
        return HexFormat.of().formatHex(latin1(latin1));
    }
}
