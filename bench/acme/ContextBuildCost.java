import io.clicktls.pki.CertifiedKey;
import io.clicktls.tls.TlsContexts;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * What one BoringSSL context costs the proxy: a cold first handshake builds four (one per tls-alpn-01 validation
 * connection, Pebble makes three, and one for the new certificate). Times the proxy's own
 * {@code TlsContexts.challengeContext} and, beside it, the same builder with a trust manager that lists no CAs:
 * without one, Netty loads the JDK's CA list and hands all of it to BoringSSL for every server context, although no
 * client certificate is ever asked for.
 *
 * <pre>
 * java -cp proxy/target/clicktls.jar bench/acme/ContextBuildCost.java
 * java -Dkeystore.pkcs12.keyPbeIterationCount=1 -cp proxy/target/clicktls.jar bench/acme/ContextBuildCost.java
 * </pre>
 * The second line shows the share of PBKDF2: Netty passes the key through an in-memory PKCS#12 key store, whose key
 * encryption the JDK does with 10,000 PBKDF2 iterations by default.
 */
public class ContextBuildCost {

    public static void main(String[] args) throws Exception {
        TlsContexts contexts = new TlsContexts();
        int rounds = 200;
        int warmup = 50;
        double[] proxy = new double[rounds];
        double[] noCaList = new double[rounds];
        for (int i = -warmup; i < rounds; i++) {
            CertifiedKey certified = selfSigned("n" + i + ".cold.test");
            long t0 = System.nanoTime();
            ReferenceCountUtil.release(contexts.challengeContext(certified));
            long t1 = System.nanoTime();
            ReferenceCountUtil.release(withoutCaList(certified));
            long t2 = System.nanoTime();
            if (i >= 0) {
                proxy[i] = (t1 - t0) / 1e6;
                noCaList[i] = (t2 - t1) / 1e6;
            }
        }
        print("TlsContexts.challengeContext (the proxy today)", proxy);
        print("same, with a trust manager listing no CAs", noCaList);
    }

    private static SslContext withoutCaList(CertifiedKey certified) throws Exception {
        return SslContextBuilder.forServer(certified.key(), certified.chain().toArray(new X509Certificate[0]))
                .sslProvider(SslProvider.OPENSSL_REFCNT)
                .protocols("TLSv1.3", "TLSv1.2")
                // never consulted (no client authentication); only its empty list of accepted issuers matters
                .trustManager(InsecureTrustManagerFactory.INSTANCE)
                .applicationProtocolConfig(new ApplicationProtocolConfig(
                        ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        TlsContexts.ACME_TLS_1))
                .build();
    }

    private static CertifiedKey selfSigned(String name) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair key = generator.generateKeyPair();
        X500Name subject = new X500Name("CN=" + name);
        Instant now = Instant.now();
        var builder = new JcaX509v3CertificateBuilder(subject, BigInteger.valueOf(now.toEpochMilli()),
                Date.from(now.minusSeconds(60)), Date.from(now.plusSeconds(3600)), subject, key.getPublic());
        X509Certificate certificate = new JcaX509CertificateConverter()
                .getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate())));
        return new CertifiedKey(name, key.getPrivate(), List.of(certificate), "bench");
    }

    private static void print(String what, double[] millis) {
        double[] sorted = millis.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        System.out.printf("%-48s median %5.1f ms  (p10 %5.1f  p90 %5.1f, %d builds)%n", what, sorted[n / 2],
                sorted[n / 10], sorted[n * 9 / 10], n);
    }
}
