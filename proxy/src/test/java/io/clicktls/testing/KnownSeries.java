package io.clicktls.testing;

import io.clicktls.metrics.Metrics;
import java.util.ArrayList;
import java.util.List;

/**
 * The exposition lines of every labelled counter whose label values {@link Metrics} knows in advance, each at 0: what
 * a scrape of a node that has served nothing yet must already hold (Prometheus' "avoid missing metrics").
 */
public final class KnownSeries {

    private KnownSeries() {}

    /** {@code name{label="value"} 0.0} for each value of each known label. */
    public static List<String> atZero() {
        List<String> lines = new ArrayList<>();
        add(lines, "clicktls_links_upgraded_total", "kind", Metrics.UPGRADE_KINDS);
        add(lines, "clicktls_on_demand_denied_total", "reason", Metrics.DENIAL_REASONS);
        add(lines, "clicktls_tls_handshakes_total", "result", Metrics.HANDSHAKE_RESULTS);
        add(lines, "clicktls_config_reloads_total", "result", Metrics.RELOAD_RESULTS);
        add(lines, "clicktls_certificates_issued_total", "result", Metrics.ISSUANCE_RESULTS);
        add(lines, "clicktls_admin_actions_total", "action", Metrics.ADMIN_ACTIONS);
        add(lines, "clicktls_client_errors_total", "kind", Metrics.CLIENT_ERROR_KINDS);
        add(lines, "clicktls_connections_refused_total", "reason", Metrics.REFUSAL_REASONS);
        add(lines, "clicktls_accept_errors_total", "reason", Metrics.ACCEPT_ERROR_REASONS);
        add(lines, "clicktls_lease_waits_total", "outcome", Metrics.LEASE_WAIT_OUTCOMES);
        lines.add("clicktls_leases_held 0.0");
        lines.add("clicktls_lease_lost_total 0.0");
        return lines;
    }

    private static void add(List<String> lines, String name, String label, List<String> values) {
        for (String value : values) {
            lines.add(name + "{" + label + "=\"" + value + "\"} 0.0");
        }
    }
}
