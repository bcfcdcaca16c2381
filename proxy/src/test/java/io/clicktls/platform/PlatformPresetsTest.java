package io.clicktls.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.config.Platform;
import java.net.URI;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PlatformPresetsTest {

    @Test
    void everyPlatformFromTheFactsTableHasAPresetThatPreservesHost() {
        assertThat(PlatformPresets.names())
                .containsExactly(
                        "sendgrid",
                        "sendgrid-eu",
                        "mailgun",
                        "mailgun-eu",
                        "sparkpost",
                        "sparkpost-eu",
                        "amazon-ses",
                        "customerio",
                        "customerio-eu",
                        "iterable",
                        "iterable-eu");
        for (String name : PlatformPresets.names()) {
            assertThat(PlatformPresets.find(name))
                    .get()
                    .extracting(PlatformPresets.Preset::hostHeader)
                    .isEqualTo(Platform.HostHeader.PRESERVE);
        }
    }

    @Test
    void mailgunIsReachedOverPlainHttpOnly() {
        assertThat(PlatformPresets.find("mailgun").orElseThrow().upstreamFor(null))
                .isEqualTo(URI.create("http://mailgun.org"));
        assertThat(PlatformPresets.find("mailgun-eu").orElseThrow().upstreamFor(null))
                .isEqualTo(URI.create("http://eu.mailgun.org"));
    }

    @Test
    void amazonSesNeedsAValidRegion() {
        PlatformPresets.Preset ses = PlatformPresets.find("amazon-ses").orElseThrow();

        assertThat(ses.regional()).isTrue();
        assertThat(ses.upstreamFor("ap-southeast-2")).isEqualTo(URI.create("https://r.ap-southeast-2.awstrack.me"));
        assertThatThrownBy(() -> ses.upstreamFor(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ses.upstreamFor("evil.example.com/")).isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"us-east-1", "eu-central-1", "us-gov-west-1", "ap-southeast-4", "il-central-1"})
    void awsRegionNamesAreAccepted(String region) {
        assertThat(PlatformPresets.validRegion(region)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "us_east_1", "US-EAST-1", "useast1", "us-east", "us-east-1.evil", "a-b-1"})
    void thingsThatAreNotRegionsAreRefused(String region) {
        assertThat(PlatformPresets.validRegion(region)).isFalse();
    }

    @Test
    void unknownPresetIsNotFound() {
        assertThat(PlatformPresets.find("sendgird")).isEmpty();
    }
}
