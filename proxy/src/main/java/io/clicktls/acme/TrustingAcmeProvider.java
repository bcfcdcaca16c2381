package io.clicktls.acme;

import io.clicktls.pki.ClientTrust;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLContext;
import org.shredzone.acme4j.connector.NetworkSettings;
import org.shredzone.acme4j.provider.GenericAcmeProvider;

/**
 * An acme4j provider for any {@code https} directory whose HTTP client trusts the JDK's CAs plus, optionally, an
 * extra CA from a PEM file ({@code trusted_ca}: Pebble, a private CA). acme4j 4 builds one {@link HttpClient} per
 * session through {@link #createHttpClient}, so the TLS connection to the CA is kept and reused.
 */
final class TrustingAcmeProvider extends GenericAcmeProvider {

    private final SSLContext sslContext;

    TrustingAcmeProvider(Path trustedCa) throws IOException, GeneralSecurityException {
        this.sslContext = sslContext(trustedCa);
    }

    @Override
    public boolean accepts(URI serverUri) {
        return "https".equals(serverUri.getScheme());
    }

    @Override
    public HttpClient createHttpClient(NetworkSettings settings) {
        var builder = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(settings.getTimeout())
                .proxy(settings.getProxySelector())
                .sslContext(sslContext);
        if (settings.getAuthenticator() != null) {
            builder.authenticator(settings.getAuthenticator());
        }
        return builder.build();
    }

    private static SSLContext sslContext(Path trustedCa) throws IOException, GeneralSecurityException {
        if (trustedCa == null) {
            return SSLContext.getDefault();
        }
        var extra = readCertificates(trustedCa);
        if (extra.isEmpty()) {
            throw new IOException(trustedCa + ": no certificate in PEM file (expected: the CA of the ACME server)");
        }
        return ClientTrust.jdkCasAnd(extra);
    }

    private static List<X509Certificate> readCertificates(Path pemFile) throws IOException {
        try (InputStream in = Files.newInputStream(pemFile)) {
            return PemCodec.decode(in.readAllBytes()).certificates();
        }
    }
}
