package io.clicktls.acme;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.pki.CertifiedKey;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.Signature;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import org.bouncycastle.asn1.ASN1OctetString;
import org.junit.jupiter.api.Test;

class AlpnChallengeCertificateTest {

    @Test
    void certificateCarriesTheNameAndTheCriticalDigestOfTheKeyAuthorization() throws Exception {
        byte[] digest =
                MessageDigest.getInstance("SHA-256").digest("token.thumbprint".getBytes(StandardCharsets.US_ASCII));

        CertifiedKey certificate = AlpnChallengeCertificate.create("links.shop.test", digest, Clock.systemUTC());

        var leaf = certificate.leaf();
        assertThat(certificate.chain()).hasSize(1);
        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(2, "links.shop.test"));
        assertThat(leaf.getCriticalExtensionOIDs()).contains("1.3.6.1.5.5.7.1.31");
        byte[] extension = ASN1OctetString.getInstance(leaf.getExtensionValue("1.3.6.1.5.5.7.1.31"))
                .getOctets();
        assertThat(ASN1OctetString.getInstance(extension).getOctets()).isEqualTo(digest);
        assertThat(certificate.validAt(Instant.now())).isTrue();
        leaf.verify(leaf.getPublicKey()); // self-signed
    }

    @Test
    void privateKeyBelongsToTheCertificate() throws Exception {
        CertifiedKey certificate = AlpnChallengeCertificate.create("links.shop.test", new byte[32], Clock.systemUTC());

        var signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(certificate.key());
        signer.update(new byte[] {1, 2, 3});
        byte[] signature = signer.sign();
        var verifier = Signature.getInstance("SHA256withECDSA");
        verifier.initVerify(certificate.leaf().getPublicKey());
        verifier.update(new byte[] {1, 2, 3});

        assertThat(verifier.verify(signature)).isTrue();
    }
}
