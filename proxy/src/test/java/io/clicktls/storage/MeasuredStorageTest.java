package io.clicktls.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.testing.ForwardingStorage;
import io.clicktls.testing.InMemoryStorage;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class MeasuredStorageTest {

    private final List<String> recorded = new ArrayList<>();
    private final Storage failingLoads = new ForwardingStorage(new InMemoryStorage()) {
        @Override
        public Optional<byte[]> load(String key) throws IOException {
            throw new StorageUnavailableException("database unreachable", null);
        }
    };
    private final MeasuredStorage measured = new MeasuredStorage(
            failingLoads, (operation, nanos, failed) -> recorded.add(operation + (failed ? " failed" : " ok")));

    @Test
    void everyOperationIsRecordedOnceWithItsOutcome() throws Exception {
        measured.store("limits/orders", new byte[] {1});
        measured.list("limits/");
        assertThatThrownBy(() -> measured.load("limits/orders")).isInstanceOf(StorageUnavailableException.class);
        measured.delete("limits/orders");
        measured.update("limits/orders", current -> new byte[] {2});
        measured.lock("ca", Duration.ofMinutes(1)).close();

        assertThat(recorded)
                .containsExactly("store ok", "list ok", "load failed", "delete ok", "update ok", "lease ok")
                .hasSize(MeasuredStorage.OPERATIONS.size());
    }
}
