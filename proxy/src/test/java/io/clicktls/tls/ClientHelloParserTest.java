package io.clicktls.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import org.junit.jupiter.api.Test;

class ClientHelloParserTest {

    /** The first flight of a JDK client: one TLS record holding its ClientHello. */
    static byte[] jdkClientHello(String serverName, String[] alpn, String... protocols) throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, null, null);
        SSLEngine engine = context.createSSLEngine();
        engine.setUseClientMode(true);
        SSLParameters parameters = engine.getSSLParameters();
        if (serverName != null) {
            parameters.setServerNames(List.of(new SNIHostName(serverName)));
        }
        if (alpn != null) {
            parameters.setApplicationProtocols(alpn);
        }
        if (protocols.length > 0) {
            parameters.setProtocols(protocols);
        }
        engine.setSSLParameters(parameters);
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] bytes = new byte[out.remaining()];
        out.get(bytes);
        return bytes;
    }

    private static Optional<ClientHello> parse(byte[] records) {
        return ClientHelloParser.parseRecords(Unpooled.wrappedBuffer(records));
    }

    @Test
    void aRealTls13ClientHelloYieldsItsServerNameAndAlpnInOrder() throws Exception {
        byte[] hello = jdkClientHello("links.shop.test", new String[] {"h2", "http/1.1"});

        assertThat(parse(hello)).contains(new ClientHello("links.shop.test", List.of("h2", "http/1.1")));
    }

    @Test
    void aRealTls12OnlyClientHelloParsesToo() throws Exception {
        byte[] hello = jdkClientHello("a.test", new String[] {"acme-tls/1"}, "TLSv1.2");

        ClientHello parsed = parse(hello).orElseThrow();
        assertThat(parsed.serverName()).isEqualTo("a.test");
        assertThat(parsed.offersOnly("acme-tls/1")).isTrue();
    }

    @Test
    void aHelloWithoutSniOrAlpnHasNeither() throws Exception {
        ClientHello parsed = parse(jdkClientHello(null, null)).orElseThrow();

        assertThat(parsed.serverName()).isNull();
        assertThat(parsed.alpnProtocols()).isEmpty();
        assertThat(parsed.offersOnly("acme-tls/1")).isFalse();
    }

    @Test
    void theBodyAloneParsesAsSslClientHelloHandlerPassesIt() throws Exception {
        byte[] hello = jdkClientHello("links.shop.test", new String[] {"http/1.1"});
        ByteBuf body = Unpooled.wrappedBuffer(hello, 9, hello.length - 9);

        assertThat(ClientHelloParser.parseBody(body)).contains(new ClientHello("links.shop.test", List.of("http/1.1")));
        assertThat(body.readerIndex()).isZero();
        assertThat(ClientHelloParser.parseBody(null)).isEmpty();
    }

    @Test
    void aHelloSplitOverManySmallRecordsIsJoined() throws Exception {
        byte[] hello = jdkClientHello("links.shop.test", new String[] {"h2"});
        byte[] message = Arrays.copyOfRange(hello, 5, hello.length);
        ByteArrayOutputStream records = new ByteArrayOutputStream();
        for (int offset = 0; offset < message.length; offset += 37) {
            int length = Math.min(37, message.length - offset);
            records.write(new byte[] {22, 3, 3, (byte) (length >> 8), (byte) length});
            records.write(message, offset, length);
        }

        assertThat(parse(records.toByteArray())).contains(new ClientHello("links.shop.test", List.of("h2")));
    }

    @Test
    void everyTruncationOfARealHelloIsMalformedAndNothingThrows() throws Exception {
        byte[] hello = jdkClientHello("links.shop.test", new String[] {"h2", "http/1.1"});

        for (int length = 0; length < hello.length; length++) {
            byte[] truncated = Arrays.copyOf(hello, length);
            assertThat(parse(truncated)).as("truncated to %d bytes", length).isEmpty();
        }
        assertThat(parse(hello)).isPresent();
    }

    @Test
    void aHandBuiltHelloParses() {
        assertThat(parseBody(body(sni("a.test"), alpn("h2")))).contains(new ClientHello("a.test", List.of("h2")));
        assertThat(parseBody(bodyWithoutExtensions())).contains(new ClientHello(null, List.of()));
        assertThat(parseBody(body(sni("x".repeat(255))))).isPresent();
    }

    @Test
    void duplicateExtensionsAreMalformed() {
        assertThat(parseBody(body(sni("a.test"), sni("b.test")))).isEmpty();
        assertThat(parseBody(body(extension(0x1234, new byte[0]), extension(0x1234, new byte[0]))))
                .isEmpty();
        assertThat(parseBody(body(alpn("h2"), alpn("h2")))).isEmpty();
    }

    @Test
    void aDuplicateFarApartAmongManyExtensionsIsMalformedAndManyDistinctOnesParse() {
        byte[][] distinct = new byte[3000][];
        for (int i = 0; i < distinct.length; i++) {
            distinct[i] = extension(0x4000 + i, new byte[0]);
        }
        assertThat(parseBody(body(distinct))).contains(new ClientHello(null, List.of()));
        byte[][] repeated = distinct.clone();
        repeated[2999] = extension(0x4000 + 7, new byte[0]);
        assertThat(parseBody(body(repeated))).isEmpty();
    }

    @Test
    void badServerNamesAreMalformed() {
        assertThat(parseBody(body(sni("x".repeat(256))))).as("over 255").isEmpty();
        assertThat(parseBody(body(sni("caf\u00e9.test")))).as("non-ASCII").isEmpty();
        assertThat(parseBody(body(sni("a test")))).as("space").isEmpty();
        assertThat(parseBody(body(sni("")))).as("empty").isEmpty();
        assertThat(parseBody(body(extension(0, new byte[0]))))
                .as("empty extension")
                .isEmpty();
        byte[] twoNames = concat(
                u16(2 * (3 + 6)), new byte[] {0}, u16(6), ascii("a.test"), new byte[] {0}, u16(6), ascii("b.test"));
        assertThat(parseBody(body(extension(0, twoNames)))).as("two host names").isEmpty();
        byte[] otherType = concat(u16(3 + 6), new byte[] {1}, u16(6), ascii("a.test"));
        assertThat(parseBody(body(extension(0, otherType))))
                .as("unknown name type")
                .isEmpty();
        byte[] wrongListLength = concat(u16(100), new byte[] {0}, u16(6), ascii("a.test"));
        assertThat(parseBody(body(extension(0, wrongListLength))))
                .as("list length")
                .isEmpty();
    }

    @Test
    void badAlpnListsAreMalformed() {
        assertThat(parseBody(body(extension(16, concat(u16(1), new byte[] {0})))))
                .as("empty protocol")
                .isEmpty();
        assertThat(parseBody(body(extension(16, u16(0))))).as("empty list").isEmpty();
        assertThat(parseBody(body(extension(16, concat(u16(3), new byte[] {5}, ascii("h2"))))))
                .as("protocol longer than list")
                .isEmpty();
    }

    @Test
    void badFixedFieldsAreMalformed() {
        byte[] good = body(sni("a.test"));
        assertThat(parseBody(withByte(good, 34, 33))).as("session id too long").isEmpty();
        assertThat(parseBody(withByte(good, 36, 3)))
                .as("odd cipher suites length")
                .isEmpty();
        assertThat(parseBody(withByte(good, 39, 0))).as("no compression method").isEmpty();
        assertThat(parseBody(withByte(good, 42, good[42] + 1)))
                .as("extensions too long")
                .isEmpty();
        byte[] trailingByte = Arrays.copyOf(good, good.length + 1);
        assertThat(parseBody(trailingByte)).isEmpty();
    }

    @Test
    void recordsThatAreNotAClientHelloAreMalformed() throws Exception {
        byte[] hello = jdkClientHello("a.test", null);
        assertThat(parse(withByte(hello, 0, 21))).as("alert record").isEmpty();
        assertThat(parse(withByte(hello, 5, 2))).as("server hello").isEmpty();
        assertThat(parse(withByte(hello, 6, 0xFF)))
                .as("handshake length beyond any limit")
                .isEmpty();
        assertThat(parse("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII)))
                .isEmpty();
        assertThat(parse(new byte[] {22, 3, 1, 0, 0})).as("empty record").isEmpty();
    }

    @Test
    void thousandsOfRandomMutationsNeverThrow() throws Exception {
        byte[] original = jdkClientHello("links.shop.test", new String[] {"h2", "http/1.1"});
        Random random = new Random(20261125);
        int parsed = 0;
        for (int round = 0; round < 5000; round++) {
            byte[] mutated = mutate(original, random);
            List<Optional<ClientHello>> results = new java.util.ArrayList<>();
            assertThatCode(() -> {
                        results.add(parse(mutated));
                        results.add(
                                mutated.length > 9
                                        ? ClientHelloParser.parseBody(
                                                Unpooled.wrappedBuffer(mutated, 9, mutated.length - 9))
                                        : Optional.empty());
                    })
                    .as("round %d", round)
                    .doesNotThrowAnyException();
            for (Optional<ClientHello> result : results) {
                if (result.isPresent()) {
                    parsed++;
                    String name = result.get().serverName();
                    assertThat(name == null
                                    || (name.length() <= 255 && name.chars().allMatch(c -> c > 32 && c < 127)))
                            .isTrue();
                }
            }
        }
        // Some mutations only touch the random or cipher suites and still parse: the loop reaches deep paths.
        assertThat(parsed).isPositive();
    }

    private static byte[] mutate(byte[] original, Random random) {
        byte[] bytes = original.clone();
        int mutations = 1 + random.nextInt(4);
        for (int i = 0; i < mutations; i++) {
            int at = random.nextInt(bytes.length);
            switch (random.nextInt(6)) {
                case 0 -> bytes[at] = (byte) random.nextInt(256);
                case 1 -> bytes[at] ^= (byte) (1 << random.nextInt(8));
                case 2 -> bytes[at] = (byte) (random.nextBoolean() ? 0xFF : 0x00);
                case 3 -> bytes = Arrays.copyOf(bytes, at); // truncate
                case 4 -> { // duplicate a slice in place, as a repeated extension would be
                    int length = Math.min(1 + random.nextInt(40), bytes.length - at);
                    byte[] longer = Arrays.copyOf(bytes, bytes.length + length);
                    System.arraycopy(bytes, at, longer, at + length, bytes.length - at);
                    bytes = longer;
                }
                default -> { // delete a slice
                    int length = Math.min(1 + random.nextInt(40), bytes.length - at);
                    byte[] shorter = new byte[bytes.length - length];
                    System.arraycopy(bytes, 0, shorter, 0, at);
                    System.arraycopy(bytes, at + length, shorter, at, bytes.length - at - length);
                    bytes = shorter;
                }
            }
            if (bytes.length == 0) {
                break;
            }
        }
        return bytes;
    }

    // A minimal ClientHello body: version 3.3, zero random, no session id, one suite, null compression.
    private static byte[] bodyWithoutExtensions() {
        return concat(
                new byte[] {3, 3}, new byte[32], new byte[] {0}, u16(2), new byte[] {0x13, 0x01}, new byte[] {1, 0});
    }

    private static byte[] body(byte[]... extensions) {
        byte[] all = concat(extensions);
        return concat(bodyWithoutExtensions(), u16(all.length), all);
    }

    private static Optional<ClientHello> parseBody(byte[] body) {
        return ClientHelloParser.parseBody(Unpooled.wrappedBuffer(body));
    }

    private static byte[] extension(int type, byte[] data) {
        return concat(u16(type), u16(data.length), data);
    }

    private static byte[] sni(String name) {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        return extension(0, concat(u16(3 + bytes.length), new byte[] {0}, u16(bytes.length), bytes));
    }

    private static byte[] alpn(String... protocols) {
        ByteArrayOutputStream list = new ByteArrayOutputStream();
        for (String protocol : protocols) {
            list.write(protocol.length());
            list.writeBytes(ascii(protocol));
        }
        return extension(16, concat(u16(list.size()), list.toByteArray()));
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] u16(int value) {
        return new byte[] {(byte) (value >> 8), (byte) value};
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    /** A copy of {@code bytes} with the byte at {@code index} set to {@code value}. */
    private static byte[] withByte(byte[] bytes, int index, int value) {
        byte[] copy = bytes.clone();
        copy[index] = (byte) value;
        return copy;
    }
}
