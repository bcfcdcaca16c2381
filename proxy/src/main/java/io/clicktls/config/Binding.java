package io.clicktls.config;

import io.clicktls.config.YamlTree.ListNode;
import io.clicktls.config.YamlTree.MapNode;
import io.clicktls.config.YamlTree.Node;
import io.clicktls.config.YamlTree.Position;
import io.clicktls.config.YamlTree.ScalarNode;
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
