package io.clicktls.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a {@code domains_file}: one {@code name [platform]} per line, separated by spaces or tabs; {@code #} starts
 * a comment (at the start of a line or after a space); blank lines are skipped. The platform may be left out when the
 * config declares exactly one. Names are checked by the same rules as {@code domains:} entries, and every problem is
 * reported at its {@code file:line:column}. Plain text rather than YAML: a list of 100,000 names is data, and a line
 * parser reads it in one pass without building a tree.
 */
final class DomainsFile {

    private final String label;
    private final Set<String> platforms;
    private final String onlyPlatform;
    private final List<ConfigProblem> problems;
    /** Reused for every name. */
    private final StringBuilder nameProblem = new StringBuilder();

    /**
     * @param label what problems call the file
     * @param platforms the platforms declared in the config
     * @param problems where problems go
     */
    private DomainsFile(String label, Set<String> platforms, List<ConfigProblem> problems) {
        this.label = label;
        this.platforms = platforms;
        this.onlyPlatform = platforms.size() == 1 ? platforms.iterator().next() : null;
        this.problems = problems;
    }

    /**
     * The entries of {@code text}, in file order, leaving out every line with a problem.
     *
     * @param listed the names listed under {@code domains:} and the lines they are on: a name in both places is a
     *     problem, reported here
     * @param configLabel what problems call the config file
     */
    static List<Domain> read(
            String text,
            String label,
            Set<String> platforms,
            Map<String, YamlTree.Position> listed,
            String configLabel,
            List<ConfigProblem> problems) {
        return new DomainsFile(label, platforms, problems).entries(text, listed, configLabel);
    }

    private List<Domain> entries(String text, Map<String, YamlTree.Position> listed, String configLabel) {
        List<Domain> domains = new ArrayList<>();
        Map<String, Integer> lineOf = new HashMap<>();
        int length = text.length();
        int start = text.startsWith("\uFEFF") ? 1 : 0;
        int line = 1;
        while (start < length) {
            int end = text.indexOf('\n', start);
            if (end < 0) {
                end = length;
            }
            Domain domain = entry(text, start, end, line, listed, configLabel, lineOf);
            if (domain != null) {
                domains.add(domain);
            }
            start = end + 1;
            line++;
        }
        return domains;
    }

    /** The entry on one line, or {@code null} for a blank line, a comment or a line with a problem (reported). */
    private Domain entry(
            String text,
            int start,
            int end,
            int line,
            Map<String, YamlTree.Position> listed,
            String configLabel,
            Map<String, Integer> lineOf) {
        if (end > start && text.charAt(end - 1) == '\r') {
            end--;
        }
        // up to three fields: a third one is only looked for to report it
        int[] from = new int[3];
        int[] to = new int[3];
        int fields = 0;
        int i = start;
        while (i < end && fields < 3) {
            while (i < end && blank(text.charAt(i))) {
                i++;
            }
            if (i >= end || text.charAt(i) == '#') {
                break;
            }
            from[fields] = i;
            while (i < end && !blank(text.charAt(i))) {
                i++;
            }
            to[fields++] = i;
        }
        if (fields == 0) {
            return null;
        }
        if (fields == 3) {
            report(
                    line,
                    from[2] - start,
                    Binding.expecting(
                            "unexpected " + quote(text.substring(from[2], to[2])),
                            "NAME [PLATFORM] on a line, then at most a # comment"));
            return null;
        }
        String written = text.substring(from[0], to[0]);
        nameProblem.setLength(0);
        String name = HostNames.check(written, true, nameProblem);
        if (name == null) {
            report(
                    line,
                    from[0] - start,
                    Binding.expecting(quote(written) + " " + nameProblem, DomainsReader.DOMAIN_EXPECTED));
            return null;
        }
        String platform;
        if (fields == 2) {
            platform = text.substring(from[1], to[1]);
            if (!platforms.contains(platform)) {
                report(
                        line,
                        from[1] - start,
                        Binding.expecting(
                                "platform " + quote(platform) + " is not defined under 'platforms'",
                                platforms.isEmpty()
                                        ? "a platform defined there"
                                        : "one of " + Binding.listForMessage(platforms)));
                return null;
            }
        } else if (onlyPlatform != null) {
            platform = onlyPlatform;
        } else {
            report(
                    line,
                    to[0] - start,
                    Binding.expecting(
                            quote(written) + " has no platform",
                            "NAME PLATFORM, since "
                                    + (platforms.isEmpty() ? "no platform is" : "more than one platform is")
                                    + " defined under 'platforms'"));
            return null;
        }
        YamlTree.Position inConfig = listed.get(name);
        if (inConfig != null) {
            report(
                    line,
                    from[0] - start,
                    Binding.expecting(
                            quote(name) + " is also listed under 'domains' in " + configLabel + " at line "
                                    + inConfig.line(),
                            "each name in one place"));
            return null;
        }
        Integer first = lineOf.putIfAbsent(name, line);
        if (first != null) {
            report(line, from[0] - start, quote(name) + " is listed twice (first at line " + first + ")");
            return null;
        }
        return new Domain(name, platform);
    }

    private static boolean blank(char c) {
        return c == ' ' || c == '\t';
    }

    private void report(int line, int offset, String message) {
        problems.add(new ConfigProblem(label, line, offset + 1, message));
    }

    private static String quote(String text) {
        return "'" + text + "'";
    }
}
