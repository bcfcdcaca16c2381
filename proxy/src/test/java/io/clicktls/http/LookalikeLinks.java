package io.clicktls.http;

import java.util.stream.Stream;

/**
 * Links that only look like links to the ready host {@code links.shop.com} on the standard ports (another host, user
 * info, a port that is not the listener's, a broken scheme), or are https already: neither the {@code Location}
 * rewriter nor the HTML rewriter may touch them. Each rewriter's test adds the look-alikes particular to it.
 */
final class LookalikeLinks {

    private static final String[] BOTH_LEAVE_ALONE = {
        "http://links.shop.com.evil.net/",
        "http://xlinks.shop.com/",
        "http://links.shop.com@evil.net/",
        "http://links.shop.com:80@evil.net/",
        "http://user@links.shop.com/",
        "http://links.shop.com:800/",
        "http://links.shop.com:080/",
        "http://links.shop.com:/",
        "http://links.shop.com./",
        "http:///links.shop.com/",
        "http:/links.shop.com/",
        "https://links.shop.com/",
        "xhttp://links.shop.com/"
    };

    private LookalikeLinks() {}

    /** The look-alikes both rewriters leave alone, then {@code more}. */
    static Stream<String> commonAnd(String... more) {
        return Stream.concat(Stream.of(BOTH_LEAVE_ALONE), Stream.of(more));
    }
}
