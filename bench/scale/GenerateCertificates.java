import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Fills a clicktls storage folder with one ECDSA P-256 certificate per domain, in the layout of
 * {@code io.clicktls.storage.CertificateStore}: {@code certificates/<name>/chain.pem} (leaf, then CA),
 * {@code key.pem} (PKCS#8 PEM) and {@code meta.json} (written last, with the SHA-256 of the other two, and the
 * validity and serial that the store's index reads instead of parsing every chain, as the proxy's own saves write).
 * Each leaf has its own key, signed by one CA made here ({@code <storage>/../bench-ca.pem}).
 *
 * <p>Run with the JDK's single-file launcher and Bouncy Castle's jars on the class path:
 * {@code java -cp bcprov.jar:bcpkix.jar:bcutil.jar GenerateCertificates.java STORAGE NAMES_FILE}
 * where NAMES_FILE has one host name per line.
 */
public final class GenerateCertificates {

    private static final Base64.Encoder PEM_BASE64 = Base64.getMimeEncoder(64, new byte[] {'\n'});
    // Bouncy Castle's EC is about 6x faster than SunEC's on Java 17 (keygen 80 us, sign 85 us here)
    private static final Provider BC = new BouncyCastleProvider();
    private static final FileAttribute<?> FILE_MODE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
    private static final FileAttribute<?> FOLDER_MODE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));

    private GenerateCertificates() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: GenerateCertificates STORAGE_DIR NAMES_FILE");
            System.exit(64);
        }
        Path storage = Path.of(args[0]);
        String[] names = Files.readAllLines(Path.of(args[1])).stream().filter(n -> !n.isBlank()).toArray(String[]::new);
        long started = System.nanoTime();

        KeyPair caKeys = ecKeyPair();
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        X500Name caName = new X500Name("CN=clicktls bench CA");
        X509CertificateHolder ca = new JcaX509v3CertificateBuilder(caName, BigInteger.ONE,
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(365))), caName,
                caKeys.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                .build(signer(caKeys.getPrivate()));
        byte[] caPem = pem("CERTIFICATE", ca.getEncoded());
        Path certificates = storage.resolve("certificates");
        Files.createDirectories(certificates, FOLDER_MODE);
        Files.write(storage.toAbsolutePath().getParent().resolve("bench-ca.pem"), caPem);

        Date notBefore = Date.from(now.minus(Duration.ofHours(1)));
        Instant notAfter = now.plus(Duration.ofDays(90));
        String issuedAt = now.toString();
        AtomicInteger done = new AtomicInteger();
        IntStream.range(0, names.length).parallel().forEach(i -> {
            String name = names[i];
            try {
                KeyPair keys = ecKeyPair();
                X509CertificateHolder leaf = new JcaX509v3CertificateBuilder(caName, BigInteger.valueOf(i + 2L),
                        notBefore, Date.from(notAfter), new X500Name("CN=" + name), keys.getPublic())
                        .addExtension(Extension.subjectAlternativeName, false,
                                new GeneralNames(new GeneralName(GeneralName.dNSName, name)))
                        .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                        .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                        .addExtension(Extension.extendedKeyUsage, false,
                                new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                        .build(signer(caKeys.getPrivate()));
                byte[] chain = concat(pem("CERTIFICATE", leaf.getEncoded()), caPem);
                byte[] key = pem("PRIVATE KEY", keys.getPrivate().getEncoded());
                String meta = """
                        {
                          "name" : "%s",
                          "issuer" : "bench",
                          "issued_at" : "%s",
                          "not_before" : "%s",
                          "not_after" : "%s",
                          "serial" : "%s",
                          "chain_sha256" : "%s",
                          "key_sha256" : "%s"
                        }
                        """.formatted(name, issuedAt, notBefore.toInstant(), notAfter,
                        BigInteger.valueOf(i + 2L).toString(16), sha256(chain), sha256(key));
                Path entry = certificates.resolve(name);
                Files.createDirectories(entry, FOLDER_MODE);
                write(entry.resolve("key.pem"), key);
                write(entry.resolve("chain.pem"), chain);
                write(entry.resolve("meta.json"), meta.getBytes(StandardCharsets.UTF_8));
            } catch (Exception e) {
                throw new IllegalStateException("certificate for " + name, e);
            }
            int count = done.incrementAndGet();
            if (count % 10_000 == 0) {
                System.err.printf("%d certificates, %.1f s%n", count, (System.nanoTime() - started) / 1e9);
            }
        });
        System.out.printf("%d certificates in %.1f s%n", names.length, (System.nanoTime() - started) / 1e9);
    }

    private static KeyPair ecKeyPair() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC", BC);
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        return generator.generateKeyPair();
    }

    private static ContentSigner signer(PrivateKey key) throws OperatorCreationException {
        return new JcaContentSignerBuilder("SHA256withECDSA").setProvider(BC).build(key);
    }

    private static byte[] pem(String type, byte[] der) {
        String text = "-----BEGIN " + type + "-----\n" + PEM_BASE64.encodeToString(der) + "\n-----END " + type
                + "-----\n";
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] joined = new byte[a.length + b.length];
        System.arraycopy(a, 0, joined, 0, a.length);
        System.arraycopy(b, 0, joined, a.length, b.length);
        return joined;
    }

    private static String sha256(byte[] bytes) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    // 0600 like FileStorage's own files; no fsync: a generated data set can be generated again
    private static void write(Path file, byte[] bytes) {
        try (SeekableByteChannel channel = Files.newByteChannel(file, Set.of(StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE), FILE_MODE)) {
            channel.write(ByteBuffer.wrap(bytes));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
