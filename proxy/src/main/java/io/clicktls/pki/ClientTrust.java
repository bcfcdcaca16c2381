package io.clicktls.pki;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * What a TLS client of ours trusts when it is given extra CAs (an ACME server's {@code trusted_ca}: Pebble, a private
 * CA; the internal CA's root): the JDK's CAs plus those. Stateless.
 */
public final class ClientTrust {

    private ClientTrust() {}

    /** A client {@link SSLContext} trusting the JDK's CAs and {@code extra}. */
    public static SSLContext jdkCasAnd(List<X509Certificate> extra) throws IOException, GeneralSecurityException {
        KeyStore anchors = KeyStore.getInstance(KeyStore.getDefaultType());
        anchors.load(null, null);
        int i = 0;
        TrustManagerFactory defaults = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        defaults.init((KeyStore) null);
        for (TrustManager manager : defaults.getTrustManagers()) {
            if (manager instanceof X509TrustManager x509) {
                for (X509Certificate root : x509.getAcceptedIssuers()) {
                    anchors.setCertificateEntry("jdk-" + i++, root);
                }
            }
        }
        for (X509Certificate certificate : extra) {
            anchors.setCertificateEntry("trusted-ca-" + i++, certificate);
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(anchors);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, factory.getTrustManagers(), null);
        return context;
    }
}
