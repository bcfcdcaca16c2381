package io.clicktls.http;

import io.clicktls.config.DomainTable;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpRequest;
import java.net.InetAddress;
import java.util.concurrent.CompletionStage;

/**
 * Requests the proxy answers itself instead of forwarding them, asked by {@link ProxyHandler} for each request
 * before its Host is checked. Kept inside the proxy handler's sequence (rather than as a handler in front of it) so
 * that answers to pipelined requests leave in request order and one handler alone decides when to read.
 */
interface LocalAnswers {

    /**
     * Called on the event loop; must not block.
     *
     * @param target the request target in origin form (path and query as received)
     * @param host the request's normalized host name, or {@code null} when it has none
     * @param route the host's route, or {@code null} when the host is not served
     * @param client the client's address, or {@code null} when unknown, for answers whose work is budgeted per client
     * @return {@code null} to forward the request; else the answer, which may complete on any thread, with
     *     {@code null} meaning "forward it after all"
     */
    CompletionStage<FullHttpResponse> answer(
            HttpRequest request, String target, String host, DomainTable.Route route, InetAddress client);

    /** {@link #answer(HttpRequest, String, String, DomainTable.Route, InetAddress)} from a client not known. */
    default CompletionStage<FullHttpResponse> answer(
            HttpRequest request, String target, String host, DomainTable.Route route) {
        return answer(request, target, host, route, null);
    }

    LocalAnswers NONE = (request, target, host, route, client) -> null;
}
