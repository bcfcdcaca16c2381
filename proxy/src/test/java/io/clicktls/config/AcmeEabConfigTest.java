package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code certificates.acme.eab}: external account binding, with the HMAC key inline or in a file of its own. */
class AcmeEabConfigTest {

    private static final String KEY = Base64.getUrlEncoder().withoutPadding().encodeToString(new byte[48]);
    private static final String TAIL = TestConfigs.NO_DOMAINS;

    @TempDir
    Path tempDir;

    @Test
    void noBindingByDefault() throws Exception {
        assertThat(parse(TAIL).certificates().acme().eab()).isNull();
    }

    @Test
    void inlineKeyIsReadAsGiven() throws Exception {
        var config = parse(acme("    eab: { kid: kid-1, hmac_key: " + KEY + " }\n"));

        assertThat(config.certificates().acme().eab()).isEqualTo(new Acme.ExternalAccountBinding("kid-1", KEY));
    }

    @Test
    void keyFileIsReadRelativeToTheConfigAndTrimmed() throws Exception {
        Files.writeString(tempDir.resolve("eab.key"), KEY + "\n");

        var config = parse(acme("    eab:\n      kid: kid-1\n      hmac_key_file: eab.key\n"));

        assertThat(config.certificates().acme().eab()).isEqualTo(new Acme.ExternalAccountBinding("kid-1", KEY));
    }

    @Test
    void theKeyNeverAppearsInTheConfigsText() throws Exception {
        var config = parse(acme("    eab: { kid: kid-1, hmac_key: " + KEY + " }\n"));

        assertThat(config.certificates().acme().eab().toString())
                .contains("kid-1")
                .doesNotContain(KEY);
        assertThat(config.certificates().toString()).doesNotContain(KEY);
    }

    @Test
    void kidAndExactlyOneKeyAreRequired() {
        assertThat(problems(acme("    eab: { hmac_key: " + KEY + " }\n")))
                .containsExactly(
                        "test.yml:5:10: certificates.acme.eab: missing key 'kid' (expected: the key identifier the CA gave "
                                + "you)");
        assertThat(problems(acme("    eab: { kid: k }\n")))
                .containsExactly(
                        "test.yml:5:10: certificates.acme.eab: neither 'hmac_key' nor 'hmac_key_file' given (expected: "
                                + "{ kid: KEY_ID, hmac_key: BASE64URL } or { kid: KEY_ID, hmac_key_file: FILE }, as the CA "
                                + "gives them)");
        assertThat(problems(acme("    eab: { kid: k, hmac_key: " + KEY + ", hmac_key_file: eab.key }\n")))
                .containsExactly("test.yml:5:" + (32 + KEY.length()) + ": certificates.acme.eab: both 'hmac_key' and "
                        + "'hmac_key_file' given (expected: one of them)");
    }

    @Test
    void unknownKeysAndAScalarAreRejected() {
        assertThat(problems(acme("    eab: { kid: k, hmac: x }\n")))
                .contains("test.yml:5:20: unknown key 'hmac' under 'certificates.acme.eab' (expected: kid, hmac_key, "
                        + "hmac_key_file)");
        assertThat(problems(acme("    eab: kid-1\n")))
                .containsExactly(
                        "test.yml:5:10: certificates.acme.eab: 'kid-1' (expected: { kid: KEY_ID, hmac_key: BASE64URL } or "
                                + "{ kid: KEY_ID, hmac_key_file: FILE }, as the CA gives them)");
    }

    @Test
    void aBadKeyIsReportedWithoutQuotingIt() {
        String base64 = "ab+/" + KEY.substring(4);
        String shortKey = Base64.getUrlEncoder().encodeToString(new byte[16]);

        List<String> found = List.of(
                problems(acme("    eab: { kid: k, hmac_key: \"" + base64 + "\" }\n"))
                        .get(0),
                problems(acme("    eab: { kid: k, hmac_key: " + shortKey + " }\n"))
                        .get(0),
                problems(acme("    eab: { kid: k, hmac_key: not*base64 }\n")).get(0));

        assertThat(found)
                .containsExactly(
                        "test.yml:5:30: certificates.acme.eab.hmac_key: is base64, not base64url (which writes '-' and '_' "
                                + "for '+' and '/') (expected: the HMAC key as the CA gives it: base64url, at least 256 bits)",
                        "test.yml:5:30: certificates.acme.eab.hmac_key: is 128 bits long (expected: the HMAC key as the CA "
                                + "gives it: base64url, at least 256 bits)",
                        "test.yml:5:30: certificates.acme.eab.hmac_key: is not base64url (expected: the HMAC key as the CA "
                                + "gives it: base64url, at least 256 bits)");
        assertThat(String.join("\n", found)).doesNotContain(base64).doesNotContain(shortKey);
    }

    @Test
    void keyFileMustBeReadableAndHoldAKeyWhenTheAcmeIssuerIsUsed() throws Exception {
        String yaml = "certificates:\n  issuer: ISSUER\n  acme:\n    eab: { kid: k, hmac_key_file: eab.key }\n" + TAIL;

        assertThat(ConfigLoader.parse(yaml.replace("ISSUER", "internal"), "test.yml", tempDir)
                        .certificates()
                        .acme()
                        .eab())
                .as("not read for the internal issuer")
                .isNull();
        assertThat(problems(yaml.replace("ISSUER", "acme")))
                .containsExactly(
                        "test.yml:4:35: certificates.acme.eab.hmac_key_file: 'eab.key' is not a readable file at "
                                + tempDir.resolve("eab.key")
                                + " (expected: a file holding the HMAC key as the CA gives it: "
                                + "base64url, at least 256 bits)");

        Files.writeString(tempDir.resolve("eab.key"), "secret!\n");
        assertThat(problems(yaml.replace("ISSUER", "acme")))
                .containsExactly(
                        "test.yml:4:35: certificates.acme.eab.hmac_key_file: the key in " + tempDir.resolve("eab.key")
                                + " is not base64url (expected: a file holding the HMAC key as the CA gives it: base64url, "
                                + "at least 256 bits)");
    }

    private static String acme(String eabLines) {
        return "certificates:\n  issuer: acme\n  acme:\n    email: ops@example.com\n" + eabLines + TAIL;
    }

    private ClickTlsConfig parse(String yaml) throws ConfigException {
        return TestConfigs.parse(yaml, tempDir);
    }

    private List<String> problems(String yaml) {
        return TestConfigs.problems(yaml, tempDir);
    }
}
