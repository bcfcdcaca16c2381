package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class RefusalTest {

    @Test
    void metricLabelsAreTheOnesDashboardsKnow() {
        assertThat(Arrays.stream(Refusal.values()).map(Refusal::label))
                .containsExactly(
                        "invalid_name",
                        "not_configured",
                        "no_platform",
                        "ask_denied",
                        "ask_unavailable",
                        "ask_busy",
                        "dns_elsewhere",
                        "dns_not_found",
                        "dns_unavailable",
                        "caa_forbids",
                        "rate_limited",
                        "client_budget",
                        "too_many_pending",
                        "backoff",
                        "storage_unavailable");
    }

    @Test
    void aNameNotServedIsUnrecognizedWhileANameThatMayBeServedLaterIsAnInternalError() {
        assertThat(Refusal.NOT_CONFIGURED.alert().code()).isEqualTo((byte) 112);
        assertThat(Refusal.RATE_LIMITED.alert().code()).isEqualTo((byte) 112);
        assertThat(Refusal.TOO_MANY_PENDING.alert().code()).isEqualTo((byte) 80);
        assertThat(Refusal.BACKOFF.alert().code()).isEqualTo((byte) 80);
        assertThat(Refusal.STORAGE_UNAVAILABLE.alert().code()).isEqualTo((byte) 80);
    }

    @Test
    void onlyLastingAnswersAboutTheNameAreFinal() {
        assertThat(Arrays.stream(Refusal.values()).filter(Refusal::isFinal))
                .containsExactly(
                        Refusal.INVALID_NAME,
                        Refusal.NOT_CONFIGURED,
                        Refusal.NO_PLATFORM,
                        Refusal.ASK_DENIED,
                        Refusal.DNS_ELSEWHERE,
                        Refusal.DNS_NOT_FOUND,
                        Refusal.CAA_FORBIDS);
    }
}
