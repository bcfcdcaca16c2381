package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AdminConfigTest {

    private static final String TOKEN = "0123456789abcdef0123";
    private static final String REST = TestConfigs.MINIMAL;

    @TempDir
    Path dir;

    @Test
    void noAdminSectionMeansNoToken() throws Exception {
        assertThat(parse(REST).admin()).isEqualTo(Admin.NONE);
        assertThat(parse(REST).admin().protectedByToken()).isFalse();
    }

    @Test
    void tokenIsReadAndNeverShownByToString() throws Exception {
        ClickTlsConfig config = parse("admin:\n  token: " + TOKEN + "\n" + REST);

        assertThat(config.admin().token()).isEqualTo(TOKEN);
        assertThat(config.admin()).hasToString("Admin[token=(set)]");
        assertThat(config.toString()).doesNotContain(TOKEN);
    }

    @Test
    void tokenFileIsReadRelativeToTheConfigWithoutItsTrailingNewline() throws Exception {
        Files.writeString(dir.resolve("admin-token"), TOKEN + "\n");

        ClickTlsConfig config = parse("admin:\n  token_file: admin-token\n" + REST);

        assertThat(config.admin().token()).isEqualTo(TOKEN);
    }

    @Test
    void shortTokenIsRejectedWithoutQuotingIt() {
        List<String> problems = problems("admin:\n  token: short-secret\n" + REST);

        assertThat(problems).hasSize(1);
        assertThat(problems.get(0))
                .startsWith("test.yml:2:10: admin.token: is too short (12 characters)")
                .doesNotContain("short-secret");
    }

    @Test
    void tokenAndTokenFileTogetherAreRejected() {
        assertThat(problems("admin:\n  token: " + TOKEN + "\n  token_file: x\n" + REST))
                .containsExactly("test.yml:3:15: admin: both 'token' and 'token_file' given (expected: one of them)");
    }

    @Test
    void unreadableTokenFileIsReportedAtItsValue() {
        assertThat(problems("admin:\n  token_file: missing\n" + REST))
                .singleElement()
                .asString()
                .startsWith("test.yml:2:15: admin.token_file: 'missing' is not a readable file");
    }

    @Test
    void adminBeyondLoopbackWithoutATokenIsAConfigErrorAtTheAddress() {
        assertThat(problems("listen:\n  admin: 0.0.0.0:9090\n" + REST))
                .containsExactly(
                        "test.yml:2:10: listen.admin: 0.0.0.0:9090 is reachable beyond this machine without a token"
                                + " (expected: a loopback address such as 127.0.0.1:9090, or admin.token set)");
    }

    @Test
    void adminBeyondLoopbackWithATokenIsAccepted() throws Exception {
        ClickTlsConfig config = parse("listen:\n  admin: \"[::]:9090\"\nadmin:\n  token: " + TOKEN + "\n" + REST);

        assertThat(config.listen().admin()).isEqualTo(new Endpoint("::", 9090));
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1:9090", "127.0.0.53:9090", "localhost:9090", "\"[::1]:9090\""})
    void loopbackAdminNeedsNoToken(String address) throws Exception {
        assertThat(parse("listen:\n  admin: " + address + "\n" + REST).admin().protectedByToken())
                .isFalse();
    }

    @Test
    void unknownAdminKeyIsRejected() {
        assertThat(problems("admin:\n  password: x\n" + REST))
                .containsExactly("test.yml:2:3: unknown key 'password' under 'admin' (expected: token, token_file)");
    }

    private ClickTlsConfig parse(String yaml) throws ConfigException {
        return TestConfigs.parse(yaml, dir);
    }

    private List<String> problems(String yaml) {
        return TestConfigs.problems(yaml, dir);
    }
}
