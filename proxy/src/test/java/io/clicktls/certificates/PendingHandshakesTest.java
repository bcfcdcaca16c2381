package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.OnDemand;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class PendingHandshakesTest {

    private final PendingHandshakes pending = new PendingHandshakes();
    private final OnDemand.PendingHandshakes limits = new OnDemand.PendingHandshakes(2, 3);

    @Test
    void oneClientGetsNoMoreThanItsShareAndOthersStillGetTheirs() throws Exception {
        InetAddress flood = InetAddress.getByName("127.0.0.2");
        InetAddress real = InetAddress.getByName("127.0.0.3");

        assertThat(pending.tryAcquire(flood, limits)).isPresent();
        assertThat(pending.tryAcquire(flood, limits)).isPresent();
        assertThat(pending.tryAcquire(flood, limits))
                .as("third from one client")
                .isEmpty();
        assertThat(pending.tryAcquire(real, limits)).isPresent();
        assertThat(pending.total()).isEqualTo(3);
    }

    @Test
    void theTotalBoundsEveryClientTogether() throws Exception {
        List<PendingHandshakes.Permit> held = new ArrayList<>();
        for (int i = 2; i <= 4; i++) {
            held.add(pending.tryAcquire(InetAddress.getByName("127.0.0." + i), limits)
                    .orElseThrow());
        }

        assertThat(pending.tryAcquire(InetAddress.getByName("127.0.0.5"), limits))
                .isEmpty();
        held.get(0).close();
        assertThat(pending.tryAcquire(InetAddress.getByName("127.0.0.5"), limits))
                .isPresent();
    }

    @Test
    void closingAPermitTwiceFreesOneSlotAndForgetsIdleClients() throws Exception {
        InetAddress client = InetAddress.getByName("127.0.0.2");
        Optional<PendingHandshakes.Permit> permit = pending.tryAcquire(client, limits);

        permit.orElseThrow().close();
        permit.orElseThrow().close();

        assertThat(pending.total()).isZero();
        assertThat(pending.of(client)).isZero();
    }
}
