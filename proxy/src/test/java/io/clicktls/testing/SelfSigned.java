package io.clicktls.testing;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * P-256 keys and bare self-signed certificates for unit tests that need a certificate to hold, store or hand out but
 * never verify a chain (a subject name and a validity window, no extensions).
 */
public final class SelfSigned {

    private SelfSigned() {}

    /** A new EC key pair on secp256r1. */
    public static KeyPair ecKey() {
        try {
            var generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A certificate for {@code CN=name}, issued by itself with {@code key}, valid from {@code notBefore} to {@code notAfter}. */
    public static X509Certificate certificate(
            KeyPair key, String name, BigInteger serial, Instant notBefore, Instant notAfter) {
        try {
            var subject = new X500Name("CN=" + name);
            var builder = new JcaX509v3CertificateBuilder(
                    subject, serial, Date.from(notBefore), Date.from(notAfter), subject, key.getPublic());
            var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate());
            return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException(e);
        }
    }
}
