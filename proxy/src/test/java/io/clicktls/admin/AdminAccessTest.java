package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class AdminAccessTest {

    private static final String TOKEN = "the-admin-token-0123456789";
    private static final String FORM_TOKEN = "f0f0f0";

    private final AdminAccess withToken = new AdminAccess(() -> TOKEN, FORM_TOKEN);
    private final AdminAccess withoutToken = new AdminAccess(() -> null, FORM_TOKEN);

    private static HttpHeaders headers(String... namesAndValues) {
        HttpHeaders headers = new DefaultHttpHeaders();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            headers.add(namesAndValues[i], namesAndValues[i + 1]);
        }
        return headers;
    }

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void bearerOrBasicPasswordWithTheTokenIsLetIn() {
        assertThat(withToken.check(headers("Host", "proxy:9090", "Authorization", "Bearer " + TOKEN)))
                .isNull();
        assertThat(withToken.check(headers("Host", "proxy:9090", "Authorization", "bearer " + TOKEN)))
                .isNull();
        assertThat(withToken.check(headers("Host", "proxy:9090", "Authorization", basic("ops", TOKEN))))
                .isNull();
    }

    @Test
    void missingOrWrongTokenIsUnauthenticated() {
        assertThat(withToken.check(headers("Host", "proxy:9090"))).isEqualTo(AdminAccess.Denial.UNAUTHENTICATED);
        assertThat(withToken.check(headers("Authorization", "Bearer " + TOKEN + "x")))
                .isEqualTo(AdminAccess.Denial.UNAUTHENTICATED);
        assertThat(withToken.check(headers("Authorization", basic(TOKEN, "nope"))))
                .isEqualTo(AdminAccess.Denial.UNAUTHENTICATED);
        assertThat(withToken.check(headers("Authorization", "Basic !!!not-base64")))
                .isEqualTo(AdminAccess.Denial.UNAUTHENTICATED);
    }

    @Test
    void withoutATokenOnlyLocalHostHeadersAreServed() {
        assertThat(withoutToken.check(headers("Host", "127.0.0.1:9090"))).isNull();
        assertThat(withoutToken.check(headers("Host", "localhost:9090"))).isNull();
        assertThat(withoutToken.check(headers("Host", "[::1]:9090"))).isNull();
        assertThat(withoutToken.check(headers("Host", "attacker.example:9090")))
                .isEqualTo(AdminAccess.Denial.FOREIGN_HOST);
        assertThat(withoutToken.check(headers())).isEqualTo(AdminAccess.Denial.FOREIGN_HOST);
    }

    @Test
    void bearerChangeNeedsNoFormToken() {
        assertThat(withToken.checkChange(
                        headers("Authorization", "Bearer " + TOKEN, "Origin", "http://evil.example"), false, null))
                .isNull();
    }

    @Test
    void browserChangeNeedsSameOriginAndTheFormToken() {
        HttpHeaders sameOrigin = headers(
                "Host", "127.0.0.1:9090", "Origin", "http://127.0.0.1:9090", "Authorization", basic("ops", TOKEN));

        assertThat(withToken.checkChange(sameOrigin, true, FORM_TOKEN)).isNull();
        assertThat(withToken.checkChange(sameOrigin, true, "wrong")).isEqualTo(AdminAccess.Denial.CROSS_SITE);
        assertThat(withToken.checkChange(sameOrigin, true, null)).isEqualTo(AdminAccess.Denial.CROSS_SITE);
        assertThat(withoutToken.checkChange(
                        headers("Host", "127.0.0.1:9090", "Origin", "http://evil.example"), true, FORM_TOKEN))
                .isEqualTo(AdminAccess.Denial.CROSS_SITE);
        assertThat(withoutToken.checkChange(
                        headers("Host", "127.0.0.1:9090", "Referer", "http://127.0.0.1:9090/status?q=a"),
                        true,
                        FORM_TOKEN))
                .isNull();
        assertThat(withoutToken.checkChange(
                        headers(
                                "Host",
                                "127.0.0.1:9090",
                                "Origin",
                                "http://127.0.0.1:9090",
                                "Sec-Fetch-Site",
                                "cross-site"),
                        true,
                        FORM_TOKEN))
                .isEqualTo(AdminAccess.Denial.CROSS_SITE);
        assertThat(withoutToken.checkChange(headers("Host", "127.0.0.1:9090", "Origin", "null"), true, FORM_TOKEN))
                .isEqualTo(AdminAccess.Denial.CROSS_SITE);
    }

    @Test
    void formBodyWithoutOriginOrRefererIsRefused() {
        assertThat(withoutToken.checkChange(headers("Host", "127.0.0.1:9090"), true, FORM_TOKEN))
                .isEqualTo(AdminAccess.Denial.CROSS_SITE);
    }

    @Test
    void nonBrowserChangeOnTheTokenlessLoopbackListenerIsAllowed() {
        assertThat(withoutToken.checkChange(headers("Host", "127.0.0.1:9090", "User-Agent", "curl/8"), false, null))
                .isNull();
    }

    @Test
    void tokenComparisonMatchesOnlyTheExactToken() {
        assertThat(AdminAccess.constantTimeEquals(TOKEN, TOKEN)).isTrue();
        assertThat(AdminAccess.constantTimeEquals(TOKEN + " ", TOKEN)).isFalse();
        assertThat(AdminAccess.constantTimeEquals("", TOKEN)).isFalse();
    }
}
