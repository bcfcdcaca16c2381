package io.clicktls.storage.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PostgresSettingsTest {

    @Test
    void printedSettingsNeverShowThePasswordNorTheUrlsQuery() {
        PostgresSettings settings =
                PostgresSettings.of("jdbc:postgresql://db:5432/clicktls?password=in-url", "clicktls", "s3cret");

        assertThat(settings.toString())
                .contains("db:5432/clicktls", "user=clicktls", "password=***")
                .doesNotContain("s3cret", "in-url");
    }

    @Test
    void aSchemaNameThatIsNotAPlainIdentifierIsRefused() {
        PostgresSettings settings = PostgresSettings.of("jdbc:postgresql://db/clicktls", null, null);

        assertThat(settings.schema()).isEqualTo("clicktls");
        assertThatThrownBy(() -> settings.withSchema("x; drop table entry"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("storage.postgres.schema");
        assertThatThrownBy(() -> settings.withSchema("Upper")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aUrlThatIsNotPostgresqlAndAPoolOfNothingAreRefused() {
        assertThatThrownBy(() -> PostgresSettings.of("jdbc:mysql://db/x", null, null))
                .hasMessageContaining("jdbc:postgresql:");
        assertThatThrownBy(() -> PostgresSettings.of("jdbc:postgresql://db/x", null, null)
                        .withPoolSize(0))
                .hasMessageContaining("pool_size");
    }
}
