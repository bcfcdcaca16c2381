package io.clicktls.config;

import java.net.InetSocketAddress;

/** A listen address as written in the file: {@code 0.0.0.0:8443}, {@code [::]:443}, {@code 127.0.0.1:0}. */
public record Endpoint(String host, int port) {

    public InetSocketAddress toSocketAddress() {
        return new InetSocketAddress(host, port);
    }

    @Override
    public String toString() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
