package io.clicktls.acme;

import io.clicktls.pki.CertifiedKey;
import java.io.IOException;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The RFC 8737 certificate that answers a tls-alpn-01 challenge: self-signed, one SAN (the name), and the critical
 * {@code id-pe-acmeIdentifier} extension holding the SHA-256 digest of the key authorization. Made here rather than
 * with acme4j's {@code CertificateUtils.createTlsAlpn01Certificate}, which signs with SHA256withRSA only and so
 * needs an RSA key (tens of milliseconds to generate) where a P-256 key takes well under one. Thread-safe.
 */
final class AlpnChallengeCertificate {

    /** The {@link CertifiedKey#issuer()} of every challenge certificate. */
    static final String ISSUER_LABEL = "tls-alpn-01";

    /** {@code id-pe-acmeIdentifier} (RFC 8737, section 6.1). */
    static final ASN1ObjectIdentifier ACME_IDENTIFIER = new ASN1ObjectIdentifier("1.3.6.1.5.5.7.1.31");

    private static final SecureRandom RANDOM = new SecureRandom();

    private AlpnChallengeCertificate() {}

    /**
     * @param acmeValidation SHA-256 of the key authorization, as {@code TlsAlpn01Challenge.getAcmeValidation()}
     *     gives it
     */
    static CertifiedKey create(String name, byte[] acmeValidation, Clock clock) throws IOException {
        if (acmeValidation.length != 32) {
            throw new IllegalArgumentException("acmeValidation: " + acmeValidation.length + " bytes (expected: 32)");
        }
        Instant now = clock.instant();
        var subject = new X500Name("CN=acme.invalid");
        try {
            // a throwaway key: the certificate only proves control of the name for this one validation
            var generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair keyPair = generator.generateKeyPair();
            var builder = new JcaX509v3CertificateBuilder(
                            subject,
                            new BigInteger(64, RANDOM),
                            Date.from(now.minus(Duration.ofHours(1))),
                            Date.from(now.plus(Duration.ofDays(7))),
                            subject,
                            keyPair.getPublic())
                    .addExtension(
                            Extension.subjectAlternativeName,
                            false,
                            new GeneralNames(new GeneralName(GeneralName.dNSName, name)))
                    .addExtension(ACME_IDENTIFIER, true, new DEROctetString(acmeValidation));
            var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(keyPair.getPrivate());
            X509Certificate certificate = new JcaX509CertificateConverter().getCertificate(builder.build(signer));
            return new CertifiedKey(name, keyPair.getPrivate(), List.of(certificate), ISSUER_LABEL);
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IOException("cannot make the tls-alpn-01 certificate for " + name, e);
        }
    }
}
