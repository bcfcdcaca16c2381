package io.clicktls.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * A YAML document as a small tree whose every key and value knows its line and column, read with Jackson's
 * streaming {@link YAMLParser}. Data binding would lose the positions that make a problem report useful.
 */
final class YamlTree {

    /**
     * SnakeYAML refuses documents over 3 MB by default; 100,000 {@code domains:} entries are about 6 MB (such a list
     * belongs in a {@code domains_file}, but still loads).
     */
    static final int MAX_CODE_POINTS = 32 * 1024 * 1024;

    /**
     * Aliases are refused anyway; after this many, reading stops. A file of a million aliases (a "billion laughs")
     * would otherwise cost a problem, and a log line, per alias.
     */
    static final int MAX_ALIASES = 10;

    /** A config is four levels deep; reading stops below this many levels, before the recursion costs stack. */
    static final int MAX_DEPTH = 32;

    private static final YAMLFactory FACTORY =
            YAMLFactory.builder().loaderOptions(loaderOptions()).build();

    private YamlTree() {}

    /** A position in the file, 1-based. */
    record Position(int line, int column) {}

    sealed interface Node permits MapNode, ListNode, ScalarNode {
        Position position();
    }

    /** A key with its own position (for "unknown key") and its value. */
    record Entry(String key, Position keyPosition, Node value) {}

    /**
     * Keys in file order. Most maps in a config have one to four keys (100,000 of them in a big {@code domains}
     * list), so lookups scan a list; an index is built only for larger maps.
     */
    static final class MapNode implements Node {

        private static final int SCAN_LIMIT = 8;

        private final Position position;
        private final List<Entry> entries;
        private Map<String, Entry> index;

        MapNode(Position position) {
            this.position = position;
            this.entries = new ArrayList<>(2);
        }

        @Override
        public Position position() {
            return position;
        }

        /** In file order. */
        List<Entry> entries() {
            return entries;
        }

        /**
         * Adds an entry, or reports a repeated key (at the repeat, naming the first line) and drops its value.
         */
        void addOrReportDuplicate(Entry entry, String file, List<ConfigProblem> problems) {
            Entry earlier = get(entry.key());
            if (earlier != null) {
                problems.add(new ConfigProblem(
                        file,
                        entry.keyPosition().line(),
                        entry.keyPosition().column(),
                        "duplicate key '" + entry.key() + "' (first at line "
                                + earlier.keyPosition().line() + ")"));
                return;
            }
            add(entry);
        }

        /** The entry for {@code key}, or {@code null}. */
        Entry get(String key) {
            if (index != null) {
                return index.get(key);
            }
            for (int i = 0; i < entries.size(); i++) {
                Entry entry = entries.get(i);
                if (entry.key().equals(key)) {
                    return entry;
                }
            }
            return null;
        }

        /** Adds an entry whose key is not there yet. */
        void add(Entry entry) {
            entries.add(entry);
            if (index != null) {
                index.put(entry.key(), entry);
            } else if (entries.size() > SCAN_LIMIT) {
                index = new HashMap<>();
                for (Entry each : entries) {
                    index.put(each.key(), each);
                }
            }
        }
    }

    record ListNode(Position position, List<Node> items) implements Node {}

    /**
     * A scalar as written. {@code text} is empty for an empty value ({@code key:}); {@code nullToken} is set for
     * {@code null} and {@code ~}; {@code alias} marks an alias, already reported as a problem.
     */
    record ScalarNode(Position position, String text, boolean nullToken, boolean alias) implements Node {

        /** An empty value, {@code null} or {@code ~}: the key is there but says nothing. */
        boolean blank() {
            return nullToken || text.isEmpty();
        }
    }

    /**
     * Reads one YAML document. A syntax error goes to {@code problems} with the parser's own position and the
     * result is then {@code null}. Duplicate keys and aliases are reported too, but the tree is still returned so
     * that the rest of the file is checked as well. An empty document (or one with only comments) is an empty
     * map.
     */
    static Node read(String text, String file, List<ConfigProblem> problems) {
        return readWithJackson(text, file, problems);
    }

    private static Node readWithJackson(String text, String file, List<ConfigProblem> problems) {
        try (JsonParser parser = FACTORY.createParser(text)) {
            JsonToken first = parser.nextToken();
            if (first == null) {
                return new MapNode(new Position(1, 1));
            }
            Node root = new JacksonReading((YAMLParser) parser, file, problems).value(0);
            if (parser.nextToken() != null) {
                Position at = position(parser.currentTokenLocation());
                problems.add(new ConfigProblem(
                        file,
                        at.line(),
                        at.column(),
                        Binding.expecting("a second YAML document starts here", "one document")));
                return null;
            }
            return root;
        } catch (ReadingStopped e) {
            problems.add(e.problem);
            return null;
        } catch (JsonProcessingException e) {
            if (e.getCause() instanceof MarkedYAMLException marked) {
                problems.add(syntaxProblem(file, marked));
                return null;
            }
            Position at = e.getLocation() == null ? new Position(1, 1) : position(e.getLocation());
            problems.add(new ConfigProblem(file, at.line(), at.column(), firstLine(e.getOriginalMessage())));
            return null;
        } catch (IOException e) {
            // a String source cannot fail to read; kept for the checked signature
            problems.add(new ConfigProblem(file, 1, 1, "cannot read: " + e.getMessage()));
            return null;
        }
    }

    /** Ends a read that would cost more than any config needs; the tree is then of no use. */
    private static final class ReadingStopped extends RuntimeException {

        private static final long serialVersionUID = 1L;

        private final transient ConfigProblem problem;

        ReadingStopped(ConfigProblem problem) {
            super(problem.message(), null, false, false);
            this.problem = problem;
        }
    }

    /**
     * One read of a document from Jackson's token stream, counting what a hostile file would make expensive. The
     * stream never expands an alias (Jackson hands it over as its anchor's name), so SnakeYAML's own
     * {@code maxAliasesForCollections} and nesting limit, which its composer checks, never apply here; this class
     * counts both itself and stops reading at the first token past a limit.
     */
    private static final class JacksonReading {

        private final YAMLParser parser;
        private final String file;
        private final List<ConfigProblem> problems;
        private int aliases;

        JacksonReading(YAMLParser parser, String file, List<ConfigProblem> problems) {
            this.parser = parser;
            this.file = file;
            this.problems = problems;
        }

        /** Reads the value whose first token is the current one; the root is at {@code depth} 0. */
        Node value(int depth) throws IOException {
            JsonToken token = parser.currentToken();
            Position at = position(parser.currentTokenLocation());
            if (parser.isCurrentAlias()) {
                if (++aliases > MAX_ALIASES) {
                    throw stop(
                            at,
                            Binding.expecting(
                                    "more than " + MAX_ALIASES + " aliases; the rest of the file was not read",
                                    "plain values; aliases are not supported"));
                }
                // Jackson hands an alias over as its anchor's name, which would silently be taken as the value
                problems.add(new ConfigProblem(
                        file,
                        at.line(),
                        at.column(),
                        Binding.expecting("alias *" + parser.getText(), "a plain value; aliases are not supported")));
                return new ScalarNode(at, parser.getText(), false, true);
            }
            if ((token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) && depth > MAX_DEPTH) {
                throw stop(
                        at,
                        Binding.expecting(
                                "nested more than " + MAX_DEPTH + " levels deep; the rest of the file was not read",
                                "a config a few levels deep"));
            }
            switch (token) {
                case START_OBJECT:
                    return map(at, depth);
                case START_ARRAY:
                    return list(at, depth);
                case VALUE_NULL:
                    return new ScalarNode(at, "", true, false);
                default:
                    return new ScalarNode(at, parser.getText(), false, false);
            }
        }

        private Node map(Position at, int depth) throws IOException {
            MapNode map = new MapNode(at);
            JsonToken token;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                String key = parser.currentName();
                Position keyAt = position(parser.currentTokenLocation());
                parser.nextToken();
                Node value = value(depth + 1);
                map.addOrReportDuplicate(new Entry(key, keyAt, value), file, problems);
            }
            if (token != JsonToken.END_OBJECT) {
                throw new IllegalStateException("unexpected " + token + " in a YAML mapping");
            }
            return map;
        }

        private Node list(Position at, int depth) throws IOException {
            List<Node> items = new ArrayList<>();
            while (parser.nextToken() != JsonToken.END_ARRAY) {
                items.add(value(depth + 1));
            }
            return new ListNode(at, items);
        }

        private ReadingStopped stop(Position at, String message) {
            return new ReadingStopped(new ConfigProblem(file, at.line(), at.column(), message));
        }
    }

    private static ConfigProblem syntaxProblem(String file, MarkedYAMLException e) {
        Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
        String problem = e.getProblem() != null ? e.getProblem() : firstLine(e.getMessage());
        StringBuilder message = new StringBuilder("YAML syntax: ").append(oneLine(problem));
        if (e.getContext() != null && e.getContextMark() != null) {
            message.append(" (")
                    .append(oneLine(e.getContext()))
                    .append(" at line ")
                    .append(e.getContextMark().getLine() + 1)
                    .append(')');
        }
        int line = mark == null ? 1 : mark.getLine() + 1;
        int column = mark == null ? 1 : mark.getColumn() + 1;
        return new ConfigProblem(file, line, column, message.toString());
    }

    private static Position position(JsonLocation location) {
        return new Position(Math.max(1, location.getLineNr()), Math.max(1, location.getColumnNr()));
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "YAML syntax error";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }

    private static String oneLine(String text) {
        return text.replace('\n', ' ').strip();
    }

    private static LoaderOptions loaderOptions() {
        LoaderOptions options = new LoaderOptions();
        options.setCodePointLimit(MAX_CODE_POINTS);
        return options;
    }
}
