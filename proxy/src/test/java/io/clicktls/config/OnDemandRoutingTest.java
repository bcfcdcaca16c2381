package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

/** Names outside {@code domains} reach {@code on_demand.platform} once, and only once, they were allowed. */
class OnDemandRoutingTest {

    private static final String CONFIG =
            """
            certificates:
              on_demand:
                ask: http://127.0.0.1:3000/allow
                platform: other
            """
                    + TestConfigs.WITH_ON_DEMAND_PLATFORM;

    private final Set<String> allowed = ConcurrentHashMap.newKeySet();

    @Test
    void anAllowedNameGoesToTheOnDemandPlatformAndOthersGoNowhere() throws Exception {
        LiveConfig live = new LiveConfig(ConfigLoader.parse(CONFIG, "test.yml", Path.of("/tmp")));
        live.routeOnDemand(allowed::contains);
        allowed.add("links.allowed.test");

        DomainTable table = live.get().domains();

        assertThat(table.find("Links.Allowed.Test.")).get().satisfies(route -> {
            assertThat(route.platform().name()).isEqualTo("other");
            assertThat(route.domain()).isEqualTo(new Domain("links.allowed.test", "other"));
        });
        assertThat(table.find("links.stranger.test")).isEmpty();
        assertThat(table.find("links.example.com"))
                .get()
                .extracting(route -> route.platform().name())
                .isEqualTo("sg");
        assertThat(table.configured("links.allowed.test")).isFalse();
        assertThat(table.configured("links.example.com")).isTrue();
    }

    @Test
    void theRoutingSurvivesAReload() throws Exception {
        LiveConfig live = new LiveConfig(ConfigLoader.parse(CONFIG, "test.yml", Path.of("/tmp")));
        live.routeOnDemand(allowed::contains);
        allowed.add("links.allowed.test");

        live.replace(ConfigLoader.parse(
                CONFIG.replace("links.example.com", "links2.example.com"), "test.yml", Path.of("/tmp")));

        assertThat(live.get().domains().find("links.allowed.test")).isPresent();
        assertThat(live.get().domains().find("links.example.com")).isEmpty();
    }

    @Test
    void withoutAnOnDemandPlatformNothingOutsideDomainsIsRouted() throws Exception {
        LiveConfig live = new LiveConfig(
                ConfigLoader.parse(CONFIG.replace("    platform: other\n", ""), "test.yml", Path.of("/tmp")));
        live.routeOnDemand(allowed::contains);
        allowed.add("links.allowed.test");

        assertThat(live.get().domains().find("links.allowed.test")).isEmpty();
        assertThat(live.get().domains().onDemandPlatform()).isEmpty();
    }
}
