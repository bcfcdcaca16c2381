package io.clicktls.certificates;

import io.clicktls.config.Certificates.KeyType;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.pki.KeyPairs;
import io.clicktls.pki.Pem;
import io.clicktls.storage.Storage;
import java.io.IOException;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A local certificate authority for trials without a public CA. Its root (EC P-256, ten years) is made on first
 * start and kept in {@link Storage} at {@code ca/root.pem} and {@code ca/root-key.pem}, so it survives restarts and
 * can be trusted once: with file storage it is {@code <storage>/ca/root.pem}. Leaf certificates name exactly one host
 * (subjectAltName dNSName), are for serverAuth, last 90 days and carry a fresh key of the configured type. The chain
 * handed out is the leaf alone: clients trust the root directly.
 *
 * <p>Blocking: {@link #open} does storage I/O and {@link #issue} generates keys; call both from the blocking
 * executor. Thread-safe.
 */
public final class InternalIssuer implements CertificateIssuer {

    private static final Logger log = LoggerFactory.getLogger(InternalIssuer.class);
    static final String ROOT_KEY = "ca/root.pem";
    static final String ROOT_PRIVATE_KEY = "ca/root-key.pem";
    private static final Duration ROOT_LIFETIME = Duration.ofDays(3650);
    private static final Duration LEAF_LIFETIME = Duration.ofDays(90);
    // Back-dated so that clients whose clocks run a little behind accept a certificate issued just now.
    private static final Duration BACKDATE = Duration.ofHours(1);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final X509Certificate root;
    private final PrivateKey rootKey;
    private final Supplier<ConfigSnapshot> config;
    private final Clock clock;

    private InternalIssuer(X509Certificate root, PrivateKey rootKey, Supplier<ConfigSnapshot> config, Clock clock) {
        this.root = root;
        this.rootKey = rootKey;
        this.config = config;
        this.clock = clock;
    }

    /** Loads the root from storage, or makes and stores one on first start. */
    public static InternalIssuer open(Storage storage, Supplier<ConfigSnapshot> config)
            throws IOException, InterruptedException {
        return open(storage, config, Clock.systemUTC());
    }

    @SuppressWarnings("try") // the lock is held for the block, not used in it
    public static InternalIssuer open(Storage storage, Supplier<ConfigSnapshot> config, Clock clock)
            throws IOException, InterruptedException {
        // The lock keeps two processes sharing the storage from each making a root.
        try (Storage.Lock lock = storage.lock("ca", Duration.ofMinutes(1))) {
            Optional<byte[]> certificate = storage.load(ROOT_KEY);
            Optional<byte[]> key = storage.load(ROOT_PRIVATE_KEY);
            if (certificate.isPresent() && key.isPresent()) {
                return new InternalIssuer(
                        Pem.decodeChain(certificate.get()).get(0), Pem.decodeKey(key.get()), config, clock);
            }
            if (certificate.isPresent() || key.isPresent()) {
                throw new IOException("local CA is half there: " + ROOT_KEY + " and " + ROOT_PRIVATE_KEY
                        + " must both exist or both be absent");
            }
            KeyPair pair = KeyPairs.generate(KeyType.EC256);
            X509Certificate root = selfSignedRoot(pair, clock.instant());
            // The key first: a root certificate without its key would be useless after a crash.
            storage.store(ROOT_PRIVATE_KEY, Pem.encodeKey(pair.getPrivate()));
            storage.store(ROOT_KEY, Pem.encodeChain(List.of(root)));
            log.info(
                    "made a local CA \"{}\"; trust {} to accept its certificates",
                    root.getSubjectX500Principal().getName(),
                    ROOT_KEY);
            return new InternalIssuer(root, pair.getPrivate(), config, clock);
        }
    }

    /** The root certificate clients must trust. */
    public X509Certificate root() {
        return root;
    }

    @Override
    public CertifiedKey issue(String name) throws IssuanceException {
        if (!IssuancePolicy.validHostName(name)) {
            throw new IssuanceException("not a host name: " + name);
        }
        KeyType keyType = config.get().config().certificates().keyType();
        KeyPair pair = KeyPairs.generate(keyType);
        Instant now = clock.instant();
        Instant notAfter = now.plus(LEAF_LIFETIME);
        if (notAfter.isAfter(root.getNotAfter().toInstant())) {
            notAfter = root.getNotAfter().toInstant();
        }
        try {
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                    root,
                    serial(),
                    Date.from(now.minus(BACKDATE)),
                    Date.from(notAfter),
                    new X500NameBuilder(BCStyle.INSTANCE)
                            .addRDN(BCStyle.CN, name)
                            .build(),
                    pair.getPublic());
            JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
            int usage = KeyUsage.digitalSignature | (pair.getPublic() instanceof RSAKey ? KeyUsage.keyEncipherment : 0);
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(usage))
                    .addExtension(
                            Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                    .addExtension(
                            Extension.subjectAlternativeName,
                            false,
                            new GeneralNames(new GeneralName(GeneralName.dNSName, name)))
                    .addExtension(
                            Extension.subjectKeyIdentifier,
                            false,
                            extensions.createSubjectKeyIdentifier(pair.getPublic()))
                    .addExtension(
                            Extension.authorityKeyIdentifier, false, extensions.createAuthorityKeyIdentifier(root));
            X509Certificate leaf = sign(builder, rootKey);
            return new CertifiedKey(name, pair.getPrivate(), List.of(leaf), label());
        } catch (GeneralSecurityException | CertIOException | OperatorCreationException e) {
            throw new IssuanceException("local CA could not sign a certificate for " + name + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String label() {
        return "internal";
    }

    private static X509Certificate selfSignedRoot(KeyPair pair, Instant now) throws IOException {
        byte[] suffix = new byte[4];
        RANDOM.nextBytes(suffix);
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.O, "clicktls")
                .addRDN(BCStyle.CN, "clicktls local CA " + HexFormat.of().formatHex(suffix))
                .build();
        PublicKey publicKey = pair.getPublic();
        try {
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                    subject,
                    serial(),
                    Date.from(now.minus(BACKDATE)),
                    Date.from(now.plus(ROOT_LIFETIME)),
                    subject,
                    publicKey);
            JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(
                            Extension.subjectKeyIdentifier, false, extensions.createSubjectKeyIdentifier(publicKey));
            return sign(builder, pair.getPrivate());
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IOException("cannot make the local CA: " + e.getMessage(), e);
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
            throws GeneralSecurityException, OperatorCreationException {
        JcaContentSignerBuilder signer = new JcaContentSignerBuilder(KeyPairs.signatureAlgorithm(key));
        return new JcaX509CertificateConverter().getCertificate(builder.build(signer.build(key)));
    }

    /** 128 random bits, positive and non-zero as RFC 5280 requires (17 bytes in DER at most, under its 20). */
    private static BigInteger serial() {
        byte[] bits = new byte[16];
        BigInteger serial;
        do {
            RANDOM.nextBytes(bits);
            serial = new BigInteger(1, bits);
        } while (serial.signum() == 0);
        return serial;
    }
}
