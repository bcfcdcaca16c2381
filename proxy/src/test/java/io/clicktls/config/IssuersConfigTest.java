package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code certificates.acme.profile} and {@code certificates.issuers}: which CAs, in which order. */
class IssuersConfigTest {

    private static final String TAIL =
            """
            platforms:
              sg: { preset: sendgrid }
            domains: []
            """;

    @TempDir
    Path tempDir;

    @Test
    void noProfileByDefault() throws Exception {
        assertThat(parse("certificates:\n  issuer: acme\n" + TAIL)
                        .certificates()
                        .acme()
                        .profile())
                .isNull();
    }

    @Test
    void aProfileIsReadAsWritten() throws Exception {
        var config = parse("certificates:\n  issuer: acme\n  acme:\n    profile: shortlived\n" + TAIL);

        assertThat(config.certificates().acme().profile()).isEqualTo("shortlived");
    }

    @Test
    void aProfileWithSpacesIsRejected() {
        assertThat(problems("certificates:\n  issuer: acme\n  acme:\n    profile: short lived\n" + TAIL))
                .containsExactly("test.yml:4:14: certificates.acme.profile: 'short lived' (expected: a profile the CA "
                        + "offers, such as classic or shortlived)");
    }

    private ClickTlsConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, "test.yml", tempDir);
    }

    private List<String> problems(String yaml) {
        try {
            ConfigLoader.parse(yaml, "test.yml", tempDir);
        } catch (ConfigException e) {
            return e.problems().stream().map(ConfigProblem::toString).toList();
        }
        throw new AssertionError("expected problems in:\n" + yaml);
    }
}
