package io.clicktls.storage.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import org.junit.jupiter.api.Test;

/** How {@link PostgresStorage} sorts a failure: a busy pool is not an outage, a refused connection is. */
class PostgresFailureTest {

    @Test
    void aPoolWaitWithNoFailedConnectionIsABusyPoolNotAnOutage() {
        // HikariCP's timeout when every connection is in use: no connection attempt failed, so no cause
        SQLTransientConnectionException busy = new SQLTransientConnectionException(
                "clicktls-postgres - Connection is not available, request timed out after 2000ms (total=8, active=8)");

        assertThat(PostgresStorage.poolBusy(busy)).isTrue();
        assertThat(PostgresStorage.isUnreachable(busy)).isTrue(); // the operation still fails as unavailable
        assertThat(PostgresStorage.describe(busy)).startsWith("database busy");
    }

    @Test
    void aPoolWaitAfterARefusedConnectionIsAnOutage() {
        SQLException refused = new SQLException("Connection to 127.0.0.1:5432 refused.", "08001");
        SQLTransientConnectionException down = new SQLTransientConnectionException(
                "clicktls-postgres - Connection is not available, request timed out after 2000ms", refused);

        assertThat(PostgresStorage.poolBusy(down)).isFalse();
        assertThat(PostgresStorage.isUnreachable(down)).isTrue();
        assertThat(PostgresStorage.describe(down)).contains("unreachable").contains("refused");
    }
}
