package io.clicktls.config;

import java.nio.file.Path;
import java.util.List;

/**
 * What the config tests share: the smallest rest of a valid file, and {@code test.yml} parsed either to its config or
 * to the messages of its problems.
 */
final class TestConfigs {

    /** One platform and one domain: what a file needs besides the section a test is about. */
    static final String MINIMAL =
            """
            platforms:
              sg: { preset: sendgrid }
            domains:
              - name: links.example.com
                platform: sg
            """;

    /** One platform and no domain. */
    static final String NO_DOMAINS =
            """
            platforms:
              sg: { preset: sendgrid }
            domains: []
            """;

    /** {@link #MINIMAL} and a second platform, {@code other}, for {@code certificates.on_demand.platform}. */
    static final String WITH_ON_DEMAND_PLATFORM =
            """
            platforms:
              sg: { preset: sendgrid }
              other: { upstream: http://127.0.0.1:8081 }
            domains:
              - name: links.example.com
                platform: sg
            """;

    private TestConfigs() {}

    /** {@code yaml} as the file {@code test.yml}, relative paths in it starting at {@code base}. */
    static ClickTlsConfig parse(String yaml, Path base) throws ConfigException {
        return ConfigLoader.parse(yaml, "test.yml", base);
    }

    /** The problems found in {@code yaml}, as the messages a user reads; fails when there are none. */
    static List<String> problems(String yaml, Path base) {
        try {
            parse(yaml, base);
        } catch (ConfigException e) {
            return e.problems().stream().map(ConfigProblem::toString).toList();
        }
        throw new AssertionError("expected problems in:\n" + yaml);
    }
}
