package io.clicktls.acme;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.util.io.pem.PemObject;

/** PEM text for keys and certificate chains, as the ACME side stores them. Stateless and thread-safe. */
final class PemCodec {

    private PemCodec() {}

    /** A private key (PKCS#8) followed by the chain, leaf first. */
    static byte[] encode(PrivateKey key, List<X509Certificate> chain) {
        var text = new StringWriter();
        try (var pem = new JcaPEMWriter(text)) {
            if (key != null) {
                // PKCS#8 ("PRIVATE KEY"): a JDK EC key would otherwise be written as SEC1 without its public half
                pem.writeObject(new PemObject("PRIVATE KEY", key.getEncoded()));
            }
            for (X509Certificate certificate : chain) {
                pem.writeObject(certificate);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return text.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** What a PEM text holds: at most one private key, and certificates in file order. */
    record Contents(PrivateKey key, List<X509Certificate> certificates) {}

    static Contents decode(byte[] pemText) throws IOException {
        PrivateKey key = null;
        var certificates = new ArrayList<X509Certificate>();
        var keys = new JcaPEMKeyConverter();
        var certs = new JcaX509CertificateConverter();
        try (var parser = new PEMParser(new StringReader(new String(pemText, StandardCharsets.US_ASCII)))) {
            for (Object item = parser.readObject(); item != null; item = parser.readObject()) {
                if (item instanceof PrivateKeyInfo info) {
                    key = keys.getPrivateKey(info);
                } else if (item instanceof PEMKeyPair pair) {
                    key = keys.getPrivateKey(pair.getPrivateKeyInfo());
                } else if (item instanceof X509CertificateHolder holder) {
                    certificates.add(certs.getCertificate(holder));
                }
            }
        } catch (CertificateException e) {
            throw new IOException("unreadable certificate in PEM text", e);
        }
        return new Contents(key, List.copyOf(certificates));
    }
}
