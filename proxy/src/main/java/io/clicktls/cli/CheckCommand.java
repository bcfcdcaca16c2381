package io.clicktls.cli;

import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigException;
import io.clicktls.config.ConfigLoader;
import java.io.PrintStream;
import java.nio.file.Path;

/** {@code clicktls check --config FILE}: validates a config file without starting anything. */
public final class CheckCommand {

    /** The file is valid. */
    public static final int OK = 0;
    /**
     * The file has problems, one {@code file:line:column: message} line each on {@code err} (the first
     * {@value ConfigException#REPORTED_PROBLEMS}, then how many more).
     */
    public static final int INVALID = 2;

    private CheckCommand() {}

    /** Prints {@code FILE: ok (N domains, M platforms)} and returns 0, or prints every problem and returns 2. */
    public static int run(Path file, PrintStream out, PrintStream err) {
        ClickTlsConfig config;
        try {
            config = ConfigLoader.load(file);
        } catch (ConfigException e) {
            e.reportLines().forEach(err::println);
            err.flush();
            return INVALID;
        }
        out.println(file + ": ok (" + count(config.domains().size(), "domain") + ", "
                + count(config.platforms().size(), "platform") + ")");
        out.flush();
        return OK;
    }

    private static String count(int n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }
}
