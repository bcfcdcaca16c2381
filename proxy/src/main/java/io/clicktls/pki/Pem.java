package io.clicktls.pki;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
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

    private static final String BEGIN = "-----BEGIN ";
    private static final String END = "-----END ";
    private static final String DASHES = "-----";

    private Pem() {}

    public static byte[] encodeChain(List<X509Certificate> chain) {
        return encode(chain.toArray());
    }

    public static byte[] encodeKey(PrivateKey key) {
        // A PemObject, not the key itself: JcaPEMWriter would write the traditional OpenSSL form, not PKCS#8.
        return encode(new Object[] {new PemObject("PRIVATE KEY", key.getEncoded())});
    }

    /**
     * All certificates in order; fails when there is none or when anything but certificates is in the text (text
     * outside the PEM blocks is ignored). Decoded by the JDK's certificate factory straight from the base64: no Bouncy
     * Castle on this path, which a handshake for a name not in memory waits for.
     */
    public static List<X509Certificate> decodeChain(byte[] pem) throws IOException {
        List<Block> blocks = blocks(pem);
        if (blocks.isEmpty()) {
            throw new IOException("no certificate in PEM");
        }
        List<X509Certificate> chain = new ArrayList<>(blocks.size());
        try {
            CertificateFactory factory = CertificateFactory.getInstance("X.509");
            for (Block block : blocks) {
                if (!block.label().equals("CERTIFICATE")) {
                    throw new IOException("expected only certificates, found " + block.label());
                }
                chain.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(block.der())));
            }
        } catch (CertificateException | RuntimeException e) {
            throw new IOException("malformed certificate PEM: " + e.getMessage(), e);
        }
        return chain;
    }

    /**
     * Exactly one private key. PKCS#8 ({@code PRIVATE KEY}, as {@link #encodeKey} writes) with an EC or RSA key goes
     * straight to the JDK's key factory; the traditional OpenSSL forms and other algorithms through Bouncy Castle.
     */
    public static PrivateKey decodeKey(byte[] pem) throws IOException {
        List<Block> blocks;
        try {
            blocks = blocks(pem);
        } catch (IOException e) {
            return decodeKeyWithBouncyCastle(pem); // e.g. an encrypted key, which says what it is more precisely
        }
        if (blocks.size() > 1) {
            throw new IOException("more than one object in private key PEM");
        }
        if (blocks.size() == 1 && blocks.get(0).label().equals("PRIVATE KEY")) {
            try {
                return toJdkKey(PrivateKeyInfo.getInstance(blocks.get(0).der()));
            } catch (GeneralSecurityException | RuntimeException e) {
                throw new IOException("malformed private key PEM: " + e.getMessage(), e);
            }
        }
        return decodeKeyWithBouncyCastle(pem);
    }

    private static PrivateKey decodeKeyWithBouncyCastle(byte[] pem) throws IOException {
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
            throw new IOException(
                    "expected a private key, found " + object.getClass().getSimpleName());
        } catch (GeneralSecurityException | RuntimeException e) {
            throw new IOException("malformed private key PEM: " + e.getMessage(), e);
        }
    }

    /** One {@code -----BEGIN label-----} ... {@code -----END label-----} block, its base64 decoded. */
    private record Block(String label, byte[] der) {}

    /** The PEM blocks in order; text between them is skipped, as PEM allows (RFC 7468, explanatory text). */
    private static List<Block> blocks(byte[] pem) throws IOException {
        String text = new String(pem, StandardCharsets.US_ASCII);
        List<Block> blocks = new ArrayList<>(2);
        int from = 0;
        while (true) {
            int begin = text.indexOf(BEGIN, from);
            if (begin < 0) {
                return blocks;
            }
            int labelEnd = text.indexOf(DASHES, begin + BEGIN.length());
            int lineEnd = text.indexOf('\n', begin);
            if (labelEnd < 0 || (lineEnd >= 0 && lineEnd < labelEnd)) {
                throw new IOException("malformed PEM header");
            }
            String label = text.substring(begin + BEGIN.length(), labelEnd);
            String footer = END + label + DASHES;
            int end = text.indexOf(footer, labelEnd);
            if (end < 0) {
                throw new IOException("PEM block " + label + " has no end line");
            }
            String body = text.substring(labelEnd + DASHES.length(), end);
            if (body.indexOf(':') >= 0) {
                throw new IOException("encrypted or annotated PEM block " + label + " is not supported");
            }
            try {
                blocks.add(new Block(label, Base64.getDecoder().decode(withoutWhitespace(body))));
            } catch (IllegalArgumentException e) {
                throw new IOException("malformed base64 in PEM block " + label, e);
            }
            from = end + footer.length();
        }
    }

    /** The base64 of a PEM body in one piece; the strict decoder then rejects anything that is not base64. */
    private static String withoutWhitespace(String body) {
        StringBuilder base64 = new StringBuilder(body.length());
        for (int i = 0; i < body.length(); i++) {
            char c = body.charAt(i);
            if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
                base64.append(c);
            }
        }
        return base64.toString();
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
