package io.clicktls.config;

import java.util.ArrayList;
import java.util.List;

/** A config file that cannot be used, with every problem found in it (never just the first). */
public final class ConfigException extends Exception {

    private static final long serialVersionUID = 1L;

    /**
     * How many problems are printed or logged, one line each; the rest are counted in one more line. A file of
     * 100,000 bad entries would otherwise write 100,000 log lines per rejected edit.
     */
    public static final int REPORTED_PROBLEMS = 100;

    private final transient List<ConfigProblem> problems;

    public ConfigException(List<ConfigProblem> problems) {
        super(describe(problems));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("a ConfigException needs at least one problem");
        }
        this.problems = List.copyOf(problems);
    }

    /** In file order. */
    public List<ConfigProblem> problems() {
        return problems;
    }

    /** {@link #reportLines(List)} of this exception's problems. */
    public List<String> reportLines() {
        return reportLines(problems);
    }

    /**
     * What to print or log: the first {@link #REPORTED_PROBLEMS} problems as {@code file:line:column: message}, then
     * {@code and M more problems} if there are more.
     */
    public static List<String> reportLines(List<ConfigProblem> problems) {
        int shown = Math.min(problems.size(), REPORTED_PROBLEMS);
        List<String> lines = new ArrayList<>(shown + 1);
        for (int i = 0; i < shown; i++) {
            lines.add(problems.get(i).toString());
        }
        int more = problems.size() - shown;
        if (more > 0) {
            lines.add("and " + more + (more == 1 ? " more problem" : " more problems"));
        }
        return lines;
    }

    private static String describe(List<ConfigProblem> problems) {
        StringBuilder message = new StringBuilder();
        message.append(problems.size())
                .append(problems.size() == 1 ? " problem" : " problems")
                .append(" in config:");
        for (String line : reportLines(problems)) {
            message.append('\n').append(line);
        }
        return message.toString();
    }
}
