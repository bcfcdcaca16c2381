package io.clicktls.http;

import io.clicktls.config.Platform;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * The header work of one proxied click, in both directions, on messages shaped like the ones the HTTP decoder makes
 * (AsciiString names, String values, validating header maps). {@code ...Decoded} builds the message alone: subtract it
 * from the matching benchmark to get the cost of {@link ForwardingHeaders}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ForwardingHeadersBenchmark {

    private static final String[][] BROWSER_REQUEST = {
        {"host", "links.shop.com"},
        {"user-agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"},
        {"accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"},
        {"accept-language", "en-US,en;q=0.9"},
        {"accept-encoding", "gzip, deflate, br, zstd"},
        {"connection", "keep-alive"},
        {"upgrade-insecure-requests", "1"},
        {"sec-fetch-dest", "document"},
        {"sec-fetch-mode", "navigate"},
        {"sec-fetch-site", "cross-site"},
        {"cookie", "_ga=GA1.2.1234567890.1700000000; session=abc123"},
    };
    private static final String[][] PLATFORM_REDIRECT = {
        {"server", "nginx"},
        {"date", "Wed, 25 Nov 2026 18:00:00 GMT"},
        {"content-type", "text/html"},
        {"content-length", "145"},
        {"connection", "keep-alive"},
        {"location", "https://www.shop.com/collections/new?utm_source=newsletter&utm_medium=email"},
        {"strict-transport-security", "max-age=31536000"},
    };

    private final Platform platform =
            new Platform("sendgrid", URI.create("https://sendgrid.net"), Platform.HostHeader.PRESERVE);
    private final AsciiString[] requestNames = names(BROWSER_REQUEST);
    private final AsciiString[] responseNames = names(PLATFORM_REDIRECT);
    private final HttpResponseStatus found = HttpResponseStatus.valueOf(302, "Moved Temporarily");

    @Benchmark
    public HttpRequest browserRequestDecoded() {
        return request();
    }

    @Benchmark
    public HttpRequest browserRequestUpstream() {
        return ForwardingHeaders.upstreamRequest(request(), "/ls/click?upn=u001.abc", "links.shop.com", platform,
                "203.0.113.7", "https");
    }

    @Benchmark
    public HttpResponse platformRedirectDecoded() {
        return response();
    }

    @Benchmark
    public HttpResponse platformRedirectToClient() {
        return ForwardingHeaders.clientResponse(response(), false, true, HttpMethod.GET);
    }

    private HttpRequest request() {
        HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/ls/click?upn=u001.abc");
        fill(request.headers(), requestNames, BROWSER_REQUEST);
        return request;
    }

    private HttpResponse response() {
        HttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, found);
        fill(response.headers(), responseNames, PLATFORM_REDIRECT);
        return response;
    }

    private static void fill(HttpHeaders headers, AsciiString[] names, String[][] pairs) {
        for (int i = 0; i < names.length; i++) {
            headers.add(names[i], pairs[i][1]);
        }
    }

    private static AsciiString[] names(String[][] pairs) {
        AsciiString[] names = new AsciiString[pairs.length];
        for (int i = 0; i < pairs.length; i++) {
            names[i] = new AsciiString(pairs[i][0]);
        }
        return names;
    }
}
