package io.clicktls.storage.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class SchemaHistoryTest {

    /** A migration missing from the list would be skipped on every database the history calls up to date. */
    @Test
    void theListNamesEveryMigrationFileInTheOrderFlywayAppliesThem() throws Exception {
        Path folder = Path.of(
                SchemaHistory.class.getClassLoader().getResource("db/migration").toURI());
        List<String> files;
        try (Stream<Path> listed = Files.list(folder)) {
            files = listed.map(file -> file.getFileName().toString())
                    .sorted((a, b) -> Integer.compare(version(a), version(b)))
                    .toList();
        }

        assertThat(SchemaHistory.MIGRATIONS).isEqualTo(files);
    }

    @Test
    void eachMigrationIsExpectedWithTheVersionFromItsName() {
        assertThat(SchemaHistory.expected())
                .extracting(SchemaHistory.Applied::version)
                .containsExactly("1", "2");
    }

    private static int version(String file) {
        return Integer.parseInt(file.substring(1, file.indexOf("__")));
    }
}
