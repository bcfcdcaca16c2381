package io.clicktls.http;

import io.clicktls.config.HostNames;
import io.netty.channel.Channel;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.Attribute;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLSession;

/**
 * Whether a request's Host belongs on the TLS connection it arrived on. A browser reuses a connection for another
 * name only when the certificate covers it; anything else is misdirected (421) so that the client retries on a
 * connection of its own and SNI and Host never disagree about which certificate was shown.
 *
 * <p>The connection's name is, in order: the {@link ProxyServer#SERVER_NAME} channel attribute (set by the TLS
 * layer or from its {@code SniCompletionEvent}), the session's requested server names, and as a last resort the
 * names of the certificate the session presented. Runs on the channel's event loop.
 */
final class ConnectionNames {

    private static final String NONE = "";

    private ConnectionNames() {}

    /** @param host a normalized host name (lower case, no port) */
    static boolean hostMatches(Channel channel, String host) {
        Channel connection = channel instanceof Http2StreamChannel ? channel.parent() : channel;
        Attribute<String> attribute = connection.attr(ProxyServer.SERVER_NAME);
        String name = attribute.get();
        SSLSession session = null;
        if (name == null) {
            SslHandler ssl = connection.pipeline().get(SslHandler.class);
            if (ssl == null) {
                return false;
            }
            session = ssl.engine().getSession();
            name = requestedName(session);
            attribute.set(name);
        }
        if (!name.isEmpty()) {
            return HostNames.normalize(name).equals(host);
        }
        if (session == null) {
            SslHandler ssl = connection.pipeline().get(SslHandler.class);
            if (ssl == null) {
                return false;
            }
            session = ssl.engine().getSession();
        }
        return certificateCovers(session, host);
    }

    private static String requestedName(SSLSession session) {
        if (session instanceof ExtendedSSLSession extended) {
            try {
                List<SNIServerName> names = extended.getRequestedServerNames();
                for (SNIServerName serverName : names) {
                    if (serverName instanceof SNIHostName hostName) {
                        return hostName.getAsciiName();
                    }
                }
            } catch (UnsupportedOperationException e) {
                return NONE;
            }
        }
        return NONE;
    }

    private static boolean certificateCovers(SSLSession session, String host) {
        Certificate[] local = session.getLocalCertificates();
        if (local == null || local.length == 0 || !(local[0] instanceof X509Certificate leaf)) {
            return false;
        }
        try {
            Collection<List<?>> alternativeNames = leaf.getSubjectAlternativeNames();
            if (alternativeNames == null) {
                return false;
            }
            for (List<?> entry : alternativeNames) {
                // 2 = dNSName (RFC 5280 GeneralName)
                if (entry.size() >= 2
                        && Integer.valueOf(2).equals(entry.get(0))
                        && nameCovers(HostNames.normalize((String) entry.get(1)), host)) {
                    return true;
                }
            }
        } catch (CertificateParsingException e) {
            return false;
        }
        return false;
    }

    /** Exact match, or a one-label wildcard as in RFC 6125. */
    static boolean nameCovers(String certificateName, String host) {
        if (certificateName.startsWith("*.")) {
            int dot = host.indexOf('.');
            return dot > 0 && host.substring(dot + 1).equals(certificateName.substring(2));
        }
        return certificateName.equals(host);
    }
}
