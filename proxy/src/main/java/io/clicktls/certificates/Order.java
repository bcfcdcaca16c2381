package io.clicktls.certificates;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One certificate order for one name, as the issuance policy let it start: counted against the rate limits from the
 * moment it exists until its owner closes it, exactly once, with how it ended: {@link #issued}, {@link #failed} (a
 * failed validation counts for the name) or {@link #cancelled} (never sent to the CA: it is taken back). A second
 * close is a bug; it is ignored (and trips an assertion under {@code -ea}).
 *
 * <p>Two kinds: a planned order, which the policy admitted against the limits ({@link IssuancePolicy#decideOrder}),
 * and an unplanned one (a renewal or an operator's "issue now", {@link IssuancePolicy#unplannedOrder}), which no
 * limit refuses but which still counts once it ends, as the CA counts it.
 *
 * <p>Thread-safe: may be closed from any thread.
 */
public final class Order {

    private final String name;
    private final IssuanceLimits limits;
    private final IssuanceLimits.Requester requester;
    private final boolean planned;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** @param limits the limits the order counts against, or {@code null} when none are kept */
    Order(String name, IssuanceLimits limits, IssuanceLimits.Requester requester, boolean planned) {
        this.name = name;
        this.limits = limits;
        this.requester = requester;
        this.planned = planned;
    }

    public String name() {
        return name;
    }

    /** The order produced a certificate: it counts for the name's registered domain. */
    public void issued() {
        if (close() && limits != null) {
            if (planned) {
                limits.issued(name);
            } else {
                limits.recordUnplanned(name, true);
            }
        }
    }

    /** The order failed: a failed validation counts for the name. */
    public void failed() {
        if (close() && limits != null) {
            if (planned) {
                limits.failed(name);
            } else {
                limits.recordUnplanned(name, false);
            }
        }
    }

    /** The order was never sent to the CA (e.g. no thread to run it): it does not count. */
    public void cancelled() {
        if (close() && limits != null && planned) {
            limits.cancelled(name, requester);
        }
    }

    private boolean close() {
        boolean first = closed.compareAndSet(false, true);
        assert first : "the order for " + name + " was closed twice";
        return first;
    }
}
