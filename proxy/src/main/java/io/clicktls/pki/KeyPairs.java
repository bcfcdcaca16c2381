package io.clicktls.pki;

import io.clicktls.config.Certificates.KeyType;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.interfaces.ECKey;
import java.security.interfaces.RSAKey;
import java.security.spec.AlgorithmParameterSpec;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.RSAKeyGenParameterSpec;

/**
 * Fresh key pairs of the configured type, from the JDK's own providers (SunEC, SunRsaSign) so that both the JDK
 * and the BoringSSL TLS providers take them without conversion. Thread-safe; RSA 4096 takes about a second.
 */
public final class KeyPairs {

    private static final SecureRandom RANDOM = new SecureRandom();

    private KeyPairs() {}

    public static KeyPair generate(KeyType type) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm(type));
            generator.initialize(parameters(type), RANDOM);
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot generate a " + type + " key", e);
        }
    }

    /** {@code EC} or {@code RSA}. */
    public static String algorithm(KeyType type) {
        return switch (type) {
            case EC256, EC384 -> "EC";
            case RSA2048, RSA4096 -> "RSA";
        };
    }

    /** The signature algorithm a CA with this key signs with. */
    public static String signatureAlgorithm(PrivateKey key) {
        if (key instanceof ECKey ec) {
            return ec.getParams().getOrder().bitLength() > 256 ? "SHA384withECDSA" : "SHA256withECDSA";
        }
        if (key instanceof RSAKey) {
            return "SHA256withRSA";
        }
        throw new IllegalArgumentException("unsupported key algorithm " + key.getAlgorithm());
    }

    private static AlgorithmParameterSpec parameters(KeyType type) {
        return switch (type) {
            case EC256 -> new ECGenParameterSpec("secp256r1");
            case EC384 -> new ECGenParameterSpec("secp384r1");
            case RSA2048 -> new RSAKeyGenParameterSpec(2048, RSAKeyGenParameterSpec.F4);
            case RSA4096 -> new RSAKeyGenParameterSpec(4096, RSAKeyGenParameterSpec.F4);
        };
    }
}
