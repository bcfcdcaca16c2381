package io.clicktls.tls;

import io.netty.channel.Channel;
import io.netty.channel.ServerChannel;
import io.netty.util.AttributeKey;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * Who a client connection serves: the client named by a load balancer's PROXY protocol header when one was read
 * ({@link #PROXIED}, set once on the connection channel before any byte behind the header is read), else the peer
 * of the TCP connection. Everything that limits, budgets or logs per client asks here, never
 * {@link Channel#remoteAddress()}: behind an L4 load balancer that is the balancer's address for every client.
 *
 * <p>Stateless; safe on any thread (a channel's attributes are).
 */
public final class ClientAddress {

    /** The source address of the connection's PROXY protocol header; absent for direct connections. */
    public static final AttributeKey<InetSocketAddress> PROXIED = AttributeKey.valueOf(ClientAddress.class, "proxied");

    private ClientAddress() {}

    /**
     * The client's address and port for {@code channel}, or for its connection when it is an HTTP/2 stream; the
     * peer's address when it is not an IP socket.
     */
    public static SocketAddress of(Channel channel) {
        Channel connection = connection(channel);
        InetSocketAddress proxied = connection.attr(PROXIED).get();
        return proxied != null ? proxied : connection.remoteAddress();
    }

    /** The client's IP address, or {@code null} when the connection is not over IP. */
    public static InetAddress ip(Channel channel) {
        return of(channel) instanceof InetSocketAddress inet ? inet.getAddress() : null;
    }

    /** For log lines: the client, and the load balancer it came through when there is one. */
    public static String forLog(Channel channel) {
        Channel connection = connection(channel);
        InetSocketAddress proxied = connection.attr(PROXIED).get();
        return proxied == null
                ? String.valueOf(connection.remoteAddress())
                : proxied + " via " + connection.remoteAddress();
    }

    /** The connection a stream channel (HTTP/2) belongs to; an accepted channel's parent is its listening socket. */
    private static Channel connection(Channel channel) {
        Channel parent = channel.parent();
        return parent != null && !(parent instanceof ServerChannel) ? parent : channel;
    }
}
