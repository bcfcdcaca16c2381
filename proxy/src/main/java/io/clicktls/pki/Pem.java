package io.clicktls.pki;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.List;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.util.io.pem.PemObject;

/**
 * PEM text for certificate chains and private keys. Keys are written as unencrypted PKCS#8 and read in PKCS#8 or
 * the traditional OpenSSL forms; decoded keys and certificates come from the JDK's providers. Stateless and
 * thread-safe; every malformed input is an {@link IOException}, never a runtime exception.
 */
public final class Pem {

    private Pem() {}

    public static byte[] encodeChain(List<X509Certificate> chain) {
        return encode(chain.toArray());
    }

    public static byte[] encodeKey(PrivateKey key) {
        // A PemObject, not the key itself: JcaPEMWriter would write the traditional OpenSSL form, not PKCS#8.
        return encode(new Object[] {new PemObject("PRIVATE KEY", key.getEncoded())});
    }

    /** All certificates in order; fails when there is none or when anything else is in the text. */
    public static List<X509Certificate> decodeChain(byte[] pem) throws IOException {
        List<X509Certificate> chain = new ArrayList<>();
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        try (PEMParser parser = parser(pem)) {
            for (Object object = parser.readObject(); object != null; object = parser.readObject()) {
                if (!(object instanceof X509CertificateHolder holder)) {
                    throw new IOException("expected only certificates, found " + object.getClass().getSimpleName());
                }
                chain.add(converter.getCertificate(holder));
            }
        } catch (CertificateException | RuntimeException e) {
            throw new IOException("malformed certificate PEM: " + e.getMessage(), e);
        }
        if (chain.isEmpty()) {
            throw new IOException("no certificate in PEM");
        }
        return chain;
    }

    /** Exactly one private key. */
    public static PrivateKey decodeKey(byte[] pem) throws IOException {
        try (PEMParser parser = parser(pem)) {
            Object object = parser.readObject();
            if (object == null) {
                throw new IOException("no private key in PEM");
            }
            if (parser.readObject() != null) {
                throw new IOException("more than one object in private key PEM");
            }
            if (object instanceof PrivateKeyInfo info) {
                return toJdkKey(info);
            }
            if (object instanceof PEMKeyPair pair) {
                return toJdkKey(pair.getPrivateKeyInfo());
            }
            throw new IOException("expected a private key, found " + object.getClass().getSimpleName());
        } catch (GeneralSecurityException | RuntimeException e) {
            throw new IOException("malformed private key PEM: " + e.getMessage(), e);
        }
    }

    /**
     * A key object of the JDK's own providers even when Bouncy Castle is registered: Bouncy Castle's converter would
     * ask for an "ECDSA" key factory, which only Bouncy Castle has, and its keys encode differently.
     */
    private static PrivateKey toJdkKey(PrivateKeyInfo info) throws GeneralSecurityException, IOException {
        ASN1ObjectIdentifier algorithm = info.getPrivateKeyAlgorithm().getAlgorithm();
        String name;
        if (X9ObjectIdentifiers.id_ecPublicKey.equals(algorithm)) {
            name = "EC";
        } else if (PKCSObjectIdentifiers.rsaEncryption.equals(algorithm)) {
            name = "RSA";
        } else {
            return new JcaPEMKeyConverter().getPrivateKey(info);
        }
        return KeyFactory.getInstance(name).generatePrivate(new PKCS8EncodedKeySpec(info.getEncoded()));
    }

    private static PEMParser parser(byte[] pem) {
        return new PEMParser(new StringReader(new String(pem, StandardCharsets.US_ASCII)));
    }

    private static byte[] encode(Object[] objects) {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
            for (Object object : objects) {
                writer.writeObject(object);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode PEM", e); // a StringWriter does not fail
        }
        return text.toString().getBytes(StandardCharsets.US_ASCII);
    }
}
