package io.clicktls.config;

import io.clicktls.config.YamlTree.Entry;
import io.clicktls.config.YamlTree.ListNode;
import io.clicktls.config.YamlTree.MapNode;
import io.clicktls.config.YamlTree.Node;
import io.clicktls.config.YamlTree.Position;
import io.clicktls.config.YamlTree.ScalarNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the YAML that config files are written in (block mappings and sequences, one {@code key: value} per line,
 * plain or single-line quoted scalars, comments) in one pass over the text, about ten times faster than SnakeYAML
 * on a 100,000-entry {@code domains} list. It builds the same tree, with the same positions, as {@link YamlTree}'s
 * Jackson reader; whatever it is not certain to read exactly as that reader does (flow collections, anchors,
 * tags, block scalars, escapes, multi-line scalars, tabs, CR line ends, any syntax error...) makes it give up, and
 * the caller reads the text with Jackson instead. It never reports a syntax error itself, so every message about
 * bad YAML still comes from SnakeYAML. Not thread-safe: one instance per read.
 */
final class BlockYamlReader {

    /** Thrown to give up; no stack trace, it is a verdict rather than a failure. */
    static final class Unsure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Unsure() {
            super(null, null, false, false);
        }
    }

    private static final Unsure UNSURE = new Unsure();
    /** SnakeYAML wants a simple key within 1024 characters. */
    private static final int MAX_KEY = 1000;

    private static final int MAX_DEPTH = 40;
    private static final int MAX_LENGTH = 64 * 1024 * 1024;
    /** How a {@code key:} without a value reads in Jackson: an empty string, not a null token. */
    static final boolean EMPTY_IS_NULL_TOKEN = false;

    private final String text;
    private final String file;
    private final List<ConfigProblem> problems;
    /** Repeated keys and values ({@code name}, {@code platform}, a platform's name) share one String. */
    private final String[] recent = new String[512];

    // the open blocks, innermost last
    private final int[] indents = new int[MAX_DEPTH + 2];
    private final Node[] blocks = new Node[MAX_DEPTH + 2];
    private final boolean[] indentless = new boolean[MAX_DEPTH + 2];
    private int depth;

    // an entry whose value is not known yet: a `key:` or a `-` at the end of its line
    private boolean pending;
    private String pendingKey;
    private Position pendingKeyAt;
    /** The 0-based line and column where an empty value would be, as SnakeYAML puts it: just after ':' or '-'. */
    private int pendingLine;

    private int pendingColumn;

    private BlockYamlReader(String text, String file, List<ConfigProblem> problems) {
        this.text = text;
        this.file = file;
        this.problems = problems;
    }

    /**
     * The document's tree, with problems (duplicate keys) added to {@code problems}; or throws {@link Unsure},
     * leaving {@code problems} as it was, when the text must be read by Jackson.
     */
    static Node read(String text, String file, List<ConfigProblem> problems) {
        List<ConfigProblem> found = new ArrayList<>();
        Node root = new BlockYamlReader(text, file, found).document();
        problems.addAll(found);
        return root;
    }

    private Node document() {
        if (text.length() > MAX_LENGTH) {
            throw UNSURE;
        }
        checkCharacters();
        MapNode root = null;
        int length = text.length();
        int start = 0;
        int line = 0;
        while (start <= length) {
            int end = text.indexOf('\n', start);
            if (end < 0) {
                end = length;
            }
            int column = 0;
            while (start + column < end && text.charAt(start + column) == ' ') {
                column++;
            }
            int at = start + column;
            if (at < end && text.charAt(at) != '#') {
                if (root == null) {
                    if (column != 0 || dashAt(at, end)) {
                        throw UNSURE;
                    }
                    root = new MapNode(new Position(line + 1, 1));
                    push(0, root, false);
                } else {
                    place(line, column, at, end);
                }
                content(line, start, at, end);
            }
            start = end + 1;
            line++;
        }
        if (root == null) {
            return new MapNode(new Position(1, 1));
        }
        if (pending) {
            completePendingAsEmpty();
        }
        return root;
    }

    /** Decides which block a line at {@code column} belongs to, opening or closing blocks. */
    private void place(int line, int column, int at, int end) {
        boolean dash = dashAt(at, end);
        if (pending) {
            int ownerIndent = indents[depth - 1];
            Node owner = blocks[depth - 1];
            boolean nested = column > ownerIndent;
            boolean indentlessList = owner instanceof MapNode && column == ownerIndent && dash;
            if (nested || indentlessList) {
                Node block = dash
                        ? new ListNode(new Position(line + 1, column + 1), new ArrayList<>())
                        : new MapNode(new Position(line + 1, column + 1));
                completePending(block);
                push(column, block, indentlessList);
                return;
            }
            completePendingAsEmpty();
        }
        while (depth > 0
                && (indents[depth - 1] > column || (indentless[depth - 1] && indents[depth - 1] == column && !dash))) {
            depth--;
        }
        if (depth == 0 || indents[depth - 1] != column) {
            throw UNSURE;
        }
        if ((blocks[depth - 1] instanceof ListNode) != dash) {
            throw UNSURE;
        }
    }

    /** Reads what a line holds from {@code at}, in the block now on top. */
    private void content(int line, int lineStart, int at, int end) {
        Node block = blocks[depth - 1];
        if (block instanceof MapNode map) {
            keyEntry(map, line, lineStart, at, end);
            return;
        }
        ListNode list = (ListNode) block;
        int after = skipSpaces(at + 1, end);
        if (atLineEnd(after, end)) {
            startPending(null, null, line, at - lineStart + 1);
            return;
        }
        if (keyLength(after, end) > 0) {
            // `- key: value`: a mapping that starts on the item's line
            MapNode map = new MapNode(new Position(line + 1, after - lineStart + 1));
            list.items().add(map);
            push(after - lineStart, map, false);
            keyEntry(map, line, lineStart, after, end);
            return;
        }
        list.items().add(value(line, lineStart, after, end));
    }

    private void keyEntry(MapNode map, int line, int lineStart, int at, int end) {
        int keyLength = keyLength(at, end);
        if (keyLength <= 0) {
            throw UNSURE;
        }
        String key = shared(at, at + keyLength);
        Position keyAt = new Position(line + 1, at - lineStart + 1);
        int colon = at + keyLength;
        int value = skipSpaces(colon + 1, end);
        if (atLineEnd(value, end)) {
            startPending(key, keyAt, line, colon - lineStart + 1);
            return;
        }
        add(map, key, keyAt, value(line, lineStart, value, end));
    }

    /**
     * The length of a plain key at {@code at} followed by {@code ':'} and a space or the line's end, or 0 if there
     * is none; only keys of letters, digits and {@code _ - . /} count, as every key of the format is.
     */
    private int keyLength(int at, int end) {
        if (at >= end || !keyStart(text.charAt(at))) {
            return 0;
        }
        int i = at + 1;
        while (i < end && keyPart(text.charAt(i))) {
            i++;
        }
        if (i >= end || text.charAt(i) != ':' || (i + 1 < end && text.charAt(i + 1) != ' ')) {
            return 0;
        }
        if (i - at > MAX_KEY) {
            throw UNSURE;
        }
        return i - at;
    }

    /** A value that fits on its line: a scalar, or a flow collection such as {@code [a, b]} or {@code { k: v }}. */
    private Node value(int line, int lineStart, int at, int end) {
        Position position = new Position(line + 1, at - lineStart + 1);
        char first = text.charAt(at);
        if (first == '\'' || first == '"') {
            return quoted(position, first, at, end);
        }
        if (first == '[' || first == '{') {
            return flow(line, lineStart, at, end);
        }
        if ("-?:,[]{}#&*!|>%@`".indexOf(first) >= 0) {
            throw UNSURE;
        }
        int stop = end;
        for (int i = at + 1; i < end; i++) {
            char c = text.charAt(i);
            if (c == '#' && text.charAt(i - 1) == ' ') {
                stop = i;
                break;
            }
            if (c == ':' && (i + 1 == end || text.charAt(i + 1) == ' ')) {
                throw UNSURE; // a second mapping on the line: an error SnakeYAML should word
            }
        }
        while (text.charAt(stop - 1) == ' ') {
            stop--;
        }
        if (text.charAt(stop - 1) == ':') {
            throw UNSURE;
        }
        String value = stop - at <= 24 ? shared(at, stop) : text.substring(at, stop);
        if (riskyNumber(value)) {
            throw UNSURE;
        }
        return plain(position, value);
    }

    /**
     * A one-line flow collection of plain words or quoted scalars, such as {@code [tls-alpn-01, http-01]} or
     * {@code { preset: amazon-ses, region: us-east-1 }}; nothing nested, no empty values.
     */
    private Node flow(int line, int lineStart, int at, int end) {
        boolean map = text.charAt(at) == '{';
        char close = map ? '}' : ']';
        Position position = new Position(line + 1, at - lineStart + 1);
        MapNode mapNode = map ? new MapNode(position) : null;
        ListNode listNode = map ? null : new ListNode(position, new ArrayList<>());
        int i = skipSpaces(at + 1, end);
        if (i < end && text.charAt(i) == close) {
            i++;
        } else {
            while (true) {
                String key = null;
                Position keyAt = null;
                if (map) {
                    int keyEnd = flowWordEnd(i, end);
                    if (keyEnd == i
                            || keyEnd >= end
                            || text.charAt(keyEnd) != ':'
                            || keyEnd + 1 >= end
                            || text.charAt(keyEnd + 1) != ' ') {
                        throw UNSURE;
                    }
                    key = shared(i, keyEnd);
                    keyAt = new Position(line + 1, i - lineStart + 1);
                    i = skipSpaces(keyEnd + 1, end);
                }
                Node item;
                if (i < end && (text.charAt(i) == '\'' || text.charAt(i) == '"')) {
                    int closing = text.indexOf(text.charAt(i), i + 1);
                    if (closing < 0
                            || closing >= end
                            || (text.charAt(i) == '\'' && closing + 1 < end && text.charAt(closing + 1) == '\'')) {
                        throw UNSURE;
                    }
                    item = quotedBetween(new Position(line + 1, i - lineStart + 1), i, closing);
                    i = closing + 1;
                } else {
                    int wordEnd = flowWordEnd(i, end);
                    if (wordEnd == i) {
                        throw UNSURE;
                    }
                    String word = shared(i, wordEnd);
                    if (riskyNumber(word)) {
                        throw UNSURE;
                    }
                    Position wordAt = new Position(line + 1, i - lineStart + 1);
                    item = plain(wordAt, word);
                    i = wordEnd;
                }
                if (map) {
                    add(mapNode, key, keyAt, item);
                } else {
                    listNode.items().add(item);
                }
                i = skipSpaces(i, end);
                if (i >= end) {
                    throw UNSURE;
                }
                char c = text.charAt(i);
                if (c == close) {
                    i++;
                    break;
                }
                if (c != ',') {
                    throw UNSURE;
                }
                i = skipSpaces(i + 1, end);
                if (i < end && text.charAt(i) == close) {
                    throw UNSURE; // a trailing comma
                }
            }
        }
        if (i < end && text.charAt(i) != ' ') {
            throw UNSURE;
        }
        if (!atLineEnd(skipSpaces(i, end), end)) {
            throw UNSURE;
        }
        return map ? mapNode : listNode;
    }

    /** Where a plain word in a flow collection ends: letters, digits and {@code _ - . / @}, not starting with -. */
    private int flowWordEnd(int at, int end) {
        if (at >= end || text.charAt(at) == '-') {
            return at;
        }
        int i = at;
        while (i < end) {
            char c = text.charAt(i);
            if (!keyPart(c) && c != '@') {
                break;
            }
            i++;
        }
        return i;
    }

    private ScalarNode quotedBetween(Position position, int open, int close) {
        if (text.charAt(open) == '"' && text.indexOf('\\', open) >= 0 && text.indexOf('\\', open) < close) {
            throw UNSURE;
        }
        return new ScalarNode(position, text.substring(open + 1, close), false, false);
    }

    private ScalarNode quoted(Position position, char quote, int at, int end) {
        StringBuilder unescaped = null;
        int i = at + 1;
        int close = -1;
        while (i < end) {
            char c = text.charAt(i);
            if (quote == '"' && c == '\\') {
                throw UNSURE;
            }
            if (c == quote) {
                if (quote == '\'' && i + 1 < end && text.charAt(i + 1) == '\'') {
                    if (unescaped == null) {
                        unescaped = new StringBuilder().append(text, at + 1, i);
                    }
                    unescaped.append('\'');
                    i += 2;
                    continue;
                }
                close = i;
                break;
            }
            if (unescaped != null) {
                unescaped.append(c);
            }
            i++;
        }
        if (close < 0) {
            throw UNSURE; // continues on the next line, or is not closed
        }
        int after = close + 1;
        if (after < end && text.charAt(after) != ' ') {
            throw UNSURE;
        }
        if (!atLineEnd(skipSpaces(after, end), end)) {
            throw UNSURE;
        }
        String value = unescaped != null ? unescaped.toString() : text.substring(at + 1, close);
        return new ScalarNode(position, value, false, false);
    }

    /**
     * Whether Jackson could take the value for a number it then fails to decode (hex, octal or binary, a sign,
     * underscores): such values are left to it, so that it reports them as it does.
     */
    private static boolean riskyNumber(String value) {
        char first = value.charAt(0);
        boolean prefixed = first == '+' || (first == '0' && value.length() > 1) || value.indexOf('_') >= 0;
        if (!prefixed) {
            return false;
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            boolean numeric = (c >= '0' && c <= '9')
                    || (c >= 'a' && c <= 'f')
                    || (c >= 'A' && c <= 'F')
                    || c == 'x'
                    || c == 'X'
                    || c == '_'
                    || c == '+'
                    || c == '-'
                    || c == '.';
            if (!numeric) {
                return false;
            }
        }
        return true;
    }

    /** A plain scalar as Jackson hands it over: {@code ~} and the null words are a null token without text. */
    private static ScalarNode plain(Position position, String value) {
        return nullWord(value)
                ? new ScalarNode(position, "", true, false)
                : new ScalarNode(position, value, false, false);
    }

    private static boolean nullWord(String value) {
        return value.equals("~") || value.equals("null") || value.equals("Null") || value.equals("NULL");
    }

    private void startPending(String key, Position keyAt, int line, int column) {
        pending = true;
        pendingKey = key;
        pendingKeyAt = keyAt;
        pendingLine = line;
        pendingColumn = column;
    }

    private void completePendingAsEmpty() {
        completePending(
                new ScalarNode(new Position(pendingLine + 1, pendingColumn + 1), "", EMPTY_IS_NULL_TOKEN, false));
    }

    private void completePending(Node value) {
        pending = false;
        Node owner = blocks[depth - 1];
        if (owner instanceof MapNode map) {
            add(map, pendingKey, pendingKeyAt, value);
        } else {
            ((ListNode) owner).items().add(value);
        }
    }

    private void add(MapNode map, String key, Position keyAt, Node value) {
        map.addOrReportDuplicate(new Entry(key, keyAt, value), file, problems);
    }

    private void push(int indent, Node block, boolean isIndentless) {
        if (depth == MAX_DEPTH) {
            throw UNSURE;
        }
        indents[depth] = indent;
        blocks[depth] = block;
        indentless[depth] = isIndentless;
        depth++;
    }

    private boolean dashAt(int at, int end) {
        return text.charAt(at) == '-' && (at + 1 == end || text.charAt(at + 1) == ' ');
    }

    private int skipSpaces(int at, int end) {
        while (at < end && text.charAt(at) == ' ') {
            at++;
        }
        return at;
    }

    /** Whether nothing but a comment is left; {@code at} is after at least one space or at the end. */
    private boolean atLineEnd(int at, int end) {
        return at >= end || text.charAt(at) == '#';
    }

    /** Only what SnakeYAML reads as printable, with {@code \n} the only line break, and no tab. */
    private void checkCharacters() {
        String s = text;
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c < 0x7f) {
                continue;
            }
            if (c == '\n') {
                continue;
            }
            if (c < 0xa0 || (c >= 0xd800 && c <= 0xdfff) || c == 0x2028 || c == 0x2029 || c >= 0xfeff) {
                throw UNSURE;
            }
        }
    }

    private static boolean keyStart(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }

    private static boolean keyPart(char c) {
        return keyStart(c) || c == '-' || c == '.' || c == '/';
    }

    /** {@code text[from, to)}, the same String as the last time these characters were asked for if it is cached. */
    private String shared(int from, int to) {
        int hash = 0;
        for (int i = from; i < to; i++) {
            hash = 31 * hash + text.charAt(i);
        }
        int slot = (hash ^ (hash >>> 16)) & (recent.length - 1);
        String cached = recent[slot];
        if (cached != null && cached.length() == to - from && text.regionMatches(from, cached, 0, to - from)) {
            return cached;
        }
        String value = text.substring(from, to);
        recent[slot] = value;
        return value;
    }
}
