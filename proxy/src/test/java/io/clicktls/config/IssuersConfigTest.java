package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code certificates.acme.profile} and {@code certificates.issuers}: which CAs, in which order. */
class IssuersConfigTest {

    private static final String TAIL = TestConfigs.NO_DOMAINS;

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

    @Test
    void theSingleAcmeBlockIsAOneItemList() throws Exception {
        var certificates = parse("certificates:\n  issuer: acme\n  acme:\n    email: ops@example.com\n" + TAIL)
                .certificates();

        assertThat(certificates.issuers()).containsExactly(new Certificates.Issuer(null, certificates.acme()));
        assertThat(parse(TAIL).certificates().issuers()).containsExactly(Certificates.Issuer.INTERNAL);
    }

    @Test
    void issuersAreReadInOrderWithTheirOwnSettings() throws Exception {
        var certificates = parse(
                        """
                        certificates:
                          issuers:
                            - directory: https://acme-v02.api.letsencrypt.org/directory
                              email: ops@example.com
                              profile: shortlived
                            - name: zerossl
                              directory: https://acme.zerossl.com/v2/DV90
                              eab: { kid: kid-1, hmac_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA }
                              challenges: [http-01]
                            - internal
                        """
                                + TAIL)
                .certificates();

        assertThat(certificates.issuers()).hasSize(3);
        Certificates.Issuer letsEncrypt = certificates.issuers().get(0);
        assertThat(letsEncrypt.name()).isNull();
        assertThat(letsEncrypt.acme().profile()).isEqualTo("shortlived");
        Certificates.Issuer zeroSsl = certificates.issuers().get(1);
        assertThat(zeroSsl.name()).isEqualTo("zerossl");
        assertThat(zeroSsl.acme().eab().keyId()).isEqualTo("kid-1");
        assertThat(zeroSsl.acme().challenges()).containsExactly(Acme.ChallengeType.HTTP_01);
        assertThat(zeroSsl.acme().profile()).isNull();
        assertThat(certificates.issuers().get(2)).isEqualTo(Certificates.Issuer.INTERNAL);
        // the first issuer is what `issuer` and `acme` stand for
        assertThat(certificates.issuer()).isEqualTo(Certificates.IssuerKind.ACME);
        assertThat(certificates.acme()).isEqualTo(letsEncrypt.acme());
    }

    @Test
    void twoIssuersWithTheSameLabelNeedNames() {
        assertThat(problems(
                        """
                        certificates:
                          issuers:
                            - directory: http://127.0.0.1:14000/dir
                            - directory: http://127.0.0.1:15000/dir
                        """
                                + TAIL))
                .containsExactly("test.yml:4:7: certificates.issuers[1]: a second issuer labelled '127.0.0.1' "
                        + "(expected: a 'name' of its own for each issuer, recorded with the certificates it signs)");
    }

    @Test
    void issuersBesideTheSingleIssuerKeysAndUnknownEntriesAreRejected() {
        assertThat(problems(
                        """
                        certificates:
                          issuer: acme
                          issuers:
                            - internal
                            - zerossl
                            - { name: ../x, directory: https://ca.test/dir }
                        """
                                + TAIL))
                .containsExactly(
                        "test.yml:3:3: certificates.issuers: given with 'issuer' or 'acme' (expected: either 'issuers'"
                                + " (a list) or 'issuer' with 'acme', not both)",
                        "test.yml:5:7: certificates.issuers[1]: 'zerossl' (expected: internal, or a map of ACME "
                                + "settings (directory, email, eab, ...))",
                        "test.yml:6:15: certificates.issuers[2].name: '../x' (expected: a label such as zerossl: "
                                + "letters, digits, '.', '-' (it names a folder))");
    }

    private ClickTlsConfig parse(String yaml) throws ConfigException {
        return TestConfigs.parse(yaml, tempDir);
    }

    private List<String> problems(String yaml) {
        return TestConfigs.problems(yaml, tempDir);
    }
}
