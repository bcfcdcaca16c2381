package io.clicktls.http;

/**
 * The ports that make an {@code http://} link one of the proxy's own, and the https port it is upgraded to. This is
 * the one place the rule lives; {@link LocationRewriter} and {@link HtmlLinkRewriter} both apply it.
 *
 * <p>A link {@code http://HOST[:PORT]...} whose host is ready for https is upgraded when {@code PORT} is absent,
 * {@code 80}, the http listener's port, the bound https port or the public https port. It becomes
 * {@code https://HOST}, then {@code :<public https port>} unless that port is 443, then the rest of the link byte
 * for byte. Any other port is left alone: it is some other service on the same host. The port must be written as
 * 1 to 5 digits without a leading zero and in range ({@link LinkSyntax}); {@code :}, {@code :080} or
 * {@code :65536} leave the link alone. Platforms build links from the {@code Host} header they receive, so behind
 * listeners on 8080/8443 a click answers {@code http://HOST:8443/...}. With the production ports 80/443 this is
 * {@code http://HOST} and {@code http://HOST:80} becoming {@code https://HOST} as before, plus
 * {@code http://HOST:443}, which never worked over http (that port speaks TLS).
 *
 * @param https the https port clients reach the proxy on: written into every upgraded link (none when 443)
 * @param http the http listener's bound port, or -1 while it is not bound
 * @param boundHttps the https listener's bound port; the same as {@code https} unless a port mapping in front of the
 *     proxy makes the public one differ
 */
public record LinkPorts(int https, int http, int boundHttps) {

    /** The production listeners, 443 and 80: upgraded links carry no port. */
    public static final LinkPorts STANDARD = new LinkPorts(443, 80, 443);

    private static final int DEFAULT_HTTPS = 443;
    private static final int DEFAULT_HTTP = 80;

    public LinkPorts {
        if (!LinkSyntax.isPort(https) || !LinkSyntax.isPort(boundHttps) || (http != -1 && !LinkSyntax.isPort(http))) {
            throw new IllegalArgumentException("ports " + https + ", " + http + ", " + boundHttps);
        }
    }

    /** Listeners without a port mapping in front of them. */
    public static LinkPorts of(int https, int http) {
        return new LinkPorts(https, http, https);
    }

    /** Whether a link written with this explicit port is one of the proxy's own. */
    boolean upgrades(int port) {
        return LinkSyntax.isPort(port) && (port == DEFAULT_HTTP || port == http || port == https || port == boundHttps);
    }

    /** What follows the host in an upgraded link: nothing, or {@code :} and the https port. */
    String httpsSuffix() {
        return https == DEFAULT_HTTPS ? "" : ":" + https;
    }
}
