package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.config.YamlTree.Node;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class BlockYamlReaderTest {

    /**
     * The result of a reader as text: the tree with every position and flag, then the problems in the order the
     * loader reports them (by position: Jackson finds a repeated key only once its value is read).
     */
    private static String viaBlockReader(String yaml) {
        List<ConfigProblem> problems = new ArrayList<>();
        Node root = BlockYamlReader.read(yaml, "test.yml", problems);
        return YamlTree.render(root) + sorted(problems);
    }

    private static String viaJackson(String yaml) {
        List<ConfigProblem> problems = new ArrayList<>();
        Node root = YamlTree.readWithJackson(yaml, "test.yml", problems);
        return (root == null ? "null" : YamlTree.render(root)) + sorted(problems);
    }

    private static List<ConfigProblem> sorted(List<ConfigProblem> problems) {
        return problems.stream()
                .sorted(Comparator.comparingInt(ConfigProblem::line).thenComparingInt(ConfigProblem::column))
                .toList();
    }

    private static boolean blockReaderGivesUp(String yaml) {
        try {
            BlockYamlReader.read(yaml, "test.yml", new ArrayList<>());
            return false;
        } catch (BlockYamlReader.Unsure e) {
            return true;
        }
    }

    static Stream<Path> shippedConfigs() throws IOException {
        Path config = Path.of("..", "config");
        try (Stream<Path> files = Files.walk(config)) {
            List<Path> yaml = files.filter(file -> file.toString().endsWith(".yml"))
                    .sorted()
                    .toList();
            assertThat(yaml).hasSizeGreaterThan(5);
            return yaml.stream();
        }
    }

    @Test
    void everyTestThatLoadsAConfigAlsoChecksThatBothReadersAgree() {
        // YamlTree asserts the agreement; surefire runs with assertions on
        assertThat(YamlTree.class.desiredAssertionStatus()).isTrue();
    }

    @ParameterizedTest
    @MethodSource("shippedConfigs")
    void everyShippedConfigIsReadByTheBlockReaderExactlyAsJacksonReadsIt(Path file) throws IOException {
        String yaml = Files.readString(file);

        assertThat(viaBlockReader(yaml)).isEqualTo(viaJackson(yaml));
    }

    @Test
    void aHundredThousandStyleDomainListIsReadWithoutJackson() {
        StringBuilder yaml = new StringBuilder(
                """
                listen:
                  https: 127.0.0.1:8443
                platforms:
                  bench:
                    upstream: http://127.0.0.1:8081
                  ses: { preset: amazon-ses, region: us-east-1 }
                domains:
                """);
        for (int i = 0; i < 2_000; i++) {
            yaml.append("  - name: links.shop").append(i).append(".test\n    platform: bench\n");
        }

        assertThat(viaBlockReader(yaml.toString())).isEqualTo(viaJackson(yaml.toString()));
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "",
                "# only a comment\n\n   # and another\n",
                "a: 1\n",
                "a: 1",
                "a:\n",
                "a:",
                "a:   \nb: 2\n",
                "a: # comment\nb: x # comment\n",
                "a: ~\nb: null\nc: Null\nd: NULL\ne: nulls\nf: '~'\ng: \"null\"\n",
                "a: ''\nb: \"\"\nc: 'it''s'\nd: \"x y\"   # c\ne: 'a # b'\n",
                "a: http://x.example:80/path?q=1#frag\nb: a#b\nc: 127.0.0.1:9090\n",
                "a: true\nb: yes\nc: 10\nd: 0\ne: 1.5\nf: 10s\ng: .inf\nh: 2001-12-14\n",
                "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n",
                "a:\n- x\n- y\nb: 1\n",
                "a:\n  - x\n  -\n  - y\nb:\n",
                "a:\n-\n  b: 1\n- c: 2\n  d: 3\n-   e: 4\n    f: 5\n",
                "a:\n  - name: x\n    platform: y\n  - name: 'z'\n    platform: y\n",
                "a: 1\na: 2\nb:\n  c: 1\n  c:\n    d: 1\n",
                "domains:\n  - name: a\n    name: b\n",
                "a: [x, y]\nb: []\nc: { p: q, r: s }\nd: {}\ne: [ 'q', \"r\" ]   # c\nf: {p: q}\n",
                "a: {p: q, p: r}\n",
                "a:\n  - [x, y]\n  - {p: q}\n",
                "a: [~, null, x.y/z@w]\n",
                "key-with.dots/and_under: value\n1: one\ntrue: yes\n",
                "a:\n  b: 1\n\n\n  c: 2\n   # odd comment\n d_: 3\n",
                "a: 'multi\n  line'\n",
                "a: plain\n  continued\n",
                "a:\n  value on the next line\n",
                "a: b: c\n",
                "a: b:\n",
                "a:\n  - x\n  b: 1\n",
                "a: 1\n- x\n",
                "- x\n- y\n",
                "  a: 1\n  b: 2\n",
                "a: 1\n  b: 2\n",
                "a:\n    b: 1\n  c: 2\n",
                "a: \"esc\\\"aped\"\n",
                "a: [x, y\n",
                "a: [x, [y]]\n",
                "a: [x,]\n",
                "a: {p}\n",
                "a: &anchor 1\nb: *anchor\n",
                "a: !!str 1\n",
                "a: |\n  text\n",
                "a: >\n  text\n",
                "--- \na: 1\n",
                "a: 1\n---\nb: 2\n",
                "a: 1\n...\n",
                "%YAML 1.1\n---\na: 1\n",
                "a:\tb\n",
                "a: b\r\nc: d\r\n",
                "a: 0x1F\nb: 017\nc: +1\nd: 1_000\n",
                "a: -1\nb: - x\n",
                "a: ? x\n",
                "? a\n: b\n",
                "\"quoted key\": 1\n",
                "a : 1\n",
                "a: 'x'y\n",
                "a: \"x\"#c\n",
                "a: [x]#c\n",
                "a: links.\u00e9xample.com\nb: \u65e5\u672c\n",
                "a: \u0085\n",
                "a: \ud83d\ude00\n",
            })
    void theBlockReaderEitherGivesUpOrAgreesWithJackson(String yaml) {
        if (!blockReaderGivesUp(yaml)) {
            assertThat(viaBlockReader(yaml)).isEqualTo(viaJackson(yaml));
        }
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "a: [x, y\n",
                "a: b: c\n",
                "a: plain\n  continued\n",
                "a: &anchor 1\nb: *anchor\n",
                "a: |\n  text\n",
                "--- \na: 1\n",
                "a:\tb\n",
                "a: b\r\nc: d\r\n",
                "a: \"esc\\\"aped\"\n",
                "a: 0x1F\n",
                "- x\n",
                "a:\n  - x\n  b: 1\n",
            })
    void whatItDoesNotReadExactlyIsLeftToJackson(String yaml) {
        assertThat(blockReaderGivesUp(yaml)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "",
                "a: 1\n",
                "a:\n- x\n",
                "a:\n  - name: x\n    platform: y\n",
                "a: 'it''s'\nb: \"x\"\n",
                "a: [x, y]\nb: { p: q }\n",
                "a: 1\na: 2\n",
            })
    void theFormsConfigsAreWrittenInAreReadWithoutJackson(String yaml) {
        assertThat(blockReaderGivesUp(yaml)).isFalse();
    }

    @Test
    void aRepeatedKeyIsReportedAsJacksonsReaderReportsIt() {
        List<ConfigProblem> problems = new ArrayList<>();
        BlockYamlReader.read("a: 1\nb: 2\na: 3\n", "f.yml", problems);

        assertThat(problems).containsExactly(new ConfigProblem("f.yml", 3, 1, "duplicate key 'a' (first at line 1)"));
    }

    @Test
    void yamlErrorsStillComeFromSnakeYamlWithTheirPosition() {
        assertThatThrownBy(() -> ConfigLoader.parse("platforms:\n  a: [x, y\ndomains:\n", "f.yml", Path.of("/x")))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems())
                        .singleElement()
                        .hasToString("f.yml:3:8: YAML syntax: expected ',' or ']', but got : (while parsing a flow"
                                + " sequence at line 2)"));
    }

    /** Random documents from the pieces configs are made of, some of them broken: the readers never disagree. */
    @Test
    void onRandomDocumentsTheBlockReaderNeverDisagreesWithJackson() {
        String[] keys = {"a", "b", "name", "platform", "x-y", "a.b", "1"};
        String[] values = {
            "",
            " v",
            " 1",
            " ~",
            " null",
            " 'q'",
            " \"d\"",
            " 'it''s'",
            " [p, q]",
            " {k: v}",
            " v # c",
            " http://h:1/p",
            " a#b",
            " []",
            " {}",
            " v:",
            " [p,",
            " 'open",
            " &x v",
            " *x",
            " 0x1",
            " -1",
            " yes",
            " \"\"",
            " ''"
        };
        String[] indents = {"", "", "  ", "  ", "    ", " ", "      "};
        Random random = new Random(20261125);
        int agreed = 0;
        for (int doc = 0; doc < 3_000; doc++) {
            StringBuilder yaml = new StringBuilder();
            int lines = 1 + random.nextInt(8);
            for (int i = 0; i < lines; i++) {
                yaml.append(indents[random.nextInt(indents.length)]);
                switch (random.nextInt(6)) {
                    case 0 -> yaml.append("-");
                    case 1 -> yaml.append("- ");
                    case 2 -> yaml.append("# comment");
                    default -> {}
                }
                if (random.nextInt(5) > 0) {
                    yaml.append(keys[random.nextInt(keys.length)]).append(':');
                }
                yaml.append(values[random.nextInt(values.length)]).append('\n');
            }
            String text = yaml.toString();
            if (!blockReaderGivesUp(text)) {
                assertThat(viaBlockReader(text)).as(text).isEqualTo(viaJackson(text));
                agreed++;
            }
        }
        assertThat(agreed).as("documents the block reader read").isGreaterThan(100);
    }

    /** Random well-formed trees written in the styles configs use: the block reader reads them all, as Jackson. */
    @Test
    void randomWellFormedDocumentsAreReadWithoutJacksonAndAsJacksonReadsThem() {
        Random random = new Random(6);
        for (int doc = 0; doc < 1_000; doc++) {
            StringBuilder yaml = new StringBuilder();
            writeMap(yaml, 0, random, 0);
            String text = yaml.toString();
            assertThat(blockReaderGivesUp(text)).as(text).isFalse();
            assertThat(viaBlockReader(text)).as(text).isEqualTo(viaJackson(text));
        }
    }

    private static final String[] SCALARS = {
        "v",
        "10",
        "0",
        "true",
        "~",
        "null",
        "'q''s'",
        "\"d q\"",
        "''",
        "http://h.example:8/p",
        "a#b",
        "10s",
        "[x, y]",
        "{ k: v, k2: w }",
        "[]",
        "{}",
        "'*.shop.test'",
        "'~'",
        "1.5",
        "links.shop1.test",
        "[tls-alpn-01, http-01]"
    };

    private static void writeMap(StringBuilder out, int indent, Random random, int depth) {
        int entries = 1 + random.nextInt(4);
        for (int i = 0; i < entries; i++) {
            if (i > 0) {
                if (random.nextInt(6) == 0) {
                    out.append(" ".repeat(random.nextInt(6))).append("# a comment\n");
                }
                out.append(" ".repeat(indent));
            }
            // repeated keys now and then, to check the duplicate reports
            out.append("k").append(random.nextInt(entries + 1)).append(':');
            writeValue(out, indent, random, depth, true);
        }
    }

    private static void writeValue(StringBuilder out, int indent, Random random, int depth, boolean inMap) {
        int kind = depth > 3 ? 0 : random.nextInt(5);
        switch (kind) {
            case 1 -> {
                out.append(random.nextBoolean() ? "" : "   # c").append('\n');
                int inner = indent + 1 + random.nextInt(3);
                out.append(" ".repeat(inner));
                writeMap(out, inner, random, depth + 1);
            }
            case 2 -> {
                out.append('\n');
                // an indentless list under a key, or an indented one
                int inner = inMap && random.nextBoolean() ? indent : indent + 1 + random.nextInt(3);
                int items = 1 + random.nextInt(3);
                for (int i = 0; i < items; i++) {
                    out.append(" ".repeat(inner)).append('-');
                    if (random.nextBoolean()) {
                        int spaces = 1 + random.nextInt(2);
                        out.append(" ".repeat(spaces));
                        writeMap(out, inner + 1 + spaces, random, depth + 1);
                    } else {
                        writeValue(out, inner, random, depth + 1, false);
                    }
                }
            }
            case 3 -> out.append(random.nextBoolean() ? "" : "  ").append('\n');
            default -> out.append(' ')
                    .append(SCALARS[random.nextInt(SCALARS.length)])
                    .append(random.nextInt(4) == 0 ? "   # c" : "")
                    .append('\n');
        }
    }
}
