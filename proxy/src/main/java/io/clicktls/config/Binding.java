package io.clicktls.config;

import io.clicktls.config.YamlTree.ListNode;
import io.clicktls.config.YamlTree.MapNode;
import io.clicktls.config.YamlTree.Node;
import io.clicktls.config.YamlTree.Position;
import io.clicktls.config.YamlTree.ScalarNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CodingErrorAction;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * One load of a config file: where its problems go and what its relative paths resolve against. Every problem
 * message is made here, so that they all read alike: {@code path: what is wrong (expected: what would do)}. One per
 * load; not thread-safe.
 */
final class Binding {

    private final String file;
    private final Path baseDir;
    private final List<ConfigProblem> problems;

    Binding(String file, Path baseDir, List<ConfigProblem> problems) {
        this.file = file;
        this.baseDir = baseDir.toAbsolutePath().normalize();
        this.problems = problems;
    }

    /** What problems call the config file. */
    String file() {
        return file;
    }

    List<ConfigProblem> problems() {
        return problems;
    }

    /** Whether anything has been reported in this load (or before it, by the YAML reader). */
    boolean failed() {
        return !problems.isEmpty();
    }

    void report(Position at, String message) {
        problems.add(new ConfigProblem(file, at.line(), at.column(), message));
    }

    /** The one form of a problem that says what would do: {@code subject (expected: expected)}. */
    void expected(Position at, String subject, String expected) {
        report(at, expecting(subject, expected));
    }

    /** {@code subject (expected: expected)}: the text of every problem that says what would do. */
    static String expecting(String subject, String expected) {
        return subject + " (expected: " + expected + ")";
    }

    /** {@code path: 'text' (expected: expected)}: a value that is not one of the expected kind. */
    void badValue(ScalarNode node, String path, String expected) {
        expected(node.position(), path + ": " + quote(node.text()), expected);
    }

    /** A value of the wrong shape (a map where a scalar belongs, say); an alias was reported already. */
    void badShape(Node node, String path, String expected) {
        if (node instanceof ScalarNode scalar && scalar.alias()) {
            return;
        }
        expected(node.position(), path + ": " + describe(node), expected);
    }

    /** {@code text} resolved against the config's folder; an invalid path is reported and gives the folder. */
    Path path(ScalarNode node, String path) {
        try {
            return baseDir.resolve(node.text()).normalize();
        } catch (InvalidPathException e) {
            report(node.position(), path + ": " + quote(node.text()) + " is not a valid path: " + e.getReason());
            return baseDir;
        }
    }

    /**
     * The bytes of the file {@code node} names ({@code file}, from {@link #path}), or {@code null} after reporting
     * why not: it is not a readable file, it holds more than {@code limit} bytes, or reading it failed.
     *
     * @param expected what would do, said with every problem but the size
     * @param expectedSize what would do, said when the file is too large
     */
    byte[] smallFile(ScalarNode node, String path, Path file, long limit, String expected, String expectedSize) {
        try {
            if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
                expected(
                        node.position(),
                        path + ": " + quote(node.text()) + " is not a readable file at " + file,
                        expected);
                return null;
            }
            long size = Files.size(file);
            if (size > limit) {
                expected(node.position(), path + ": " + file + " holds " + size + " bytes", expectedSize);
                return null;
            }
            byte[] content = Files.readAllBytes(file);
            if (content.length > limit) { // grew since its size was read
                expected(node.position(), path + ": " + file + " holds over " + limit + " bytes", expectedSize);
                return null;
            }
            return content;
        } catch (IOException | RuntimeException e) {
            cannotRead(node, path, file, e, expected);
            return null;
        }
    }

    /** {@code bytes} as text in {@code charset}; a byte sequence that is not text in it is an error, not replaced. */
    static String strictly(Charset charset, byte[] bytes) throws CharacterCodingException {
        return charset.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(bytes))
                .toString();
    }

    /** {@code path: cannot read FILE: SomeException (expected: expected)}. */
    void cannotRead(ScalarNode node, String path, Path file, Exception e, String expected) {
        expected(
                node.position(),
                path + ": cannot read " + file + ": " + e.getClass().getSimpleName(),
                expected);
    }

    Path resolve(String relative) {
        return baseDir.resolve(relative);
    }

    static String quote(String text) {
        return "'" + text + "'";
    }

    static String describe(Node node) {
        if (node instanceof MapNode) {
            return "a map";
        }
        if (node instanceof ListNode) {
            return "a list";
        }
        ScalarNode scalar = (ScalarNode) node;
        return scalar.blank() ? "an empty value" : quote(scalar.text());
    }

    /** {@code a, b or c}. */
    static String orList(Collection<String> values) {
        List<String> list = new ArrayList<>(values);
        if (list.size() == 1) {
            return list.get(0);
        }
        return String.join(", ", list.subList(0, list.size() - 1)) + " or " + list.get(list.size() - 1);
    }

    /** Sorted, the first ten and an ellipsis: for "expected: one of ..." over user-defined names. */
    static String listForMessage(Set<String> names) {
        TreeSet<String> sorted = new TreeSet<>(names);
        List<String> shown = new ArrayList<>();
        for (String name : sorted) {
            if (shown.size() == 10) {
                shown.add("…");
                break;
            }
            shown.add(name);
        }
        return String.join(", ", shown);
    }
}
