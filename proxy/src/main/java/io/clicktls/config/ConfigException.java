package io.clicktls.config;

import java.util.List;

/** A config file that cannot be used, with every problem found in it (never just the first). */
public final class ConfigException extends Exception {

    private static final long serialVersionUID = 1L;

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

    private static String describe(List<ConfigProblem> problems) {
        StringBuilder message = new StringBuilder();
        message.append(problems.size())
                .append(problems.size() == 1 ? " problem" : " problems")
                .append(" in config:");
        for (ConfigProblem problem : problems) {
            message.append('\n').append(problem);
        }
        return message.toString();
    }
}
