package io.clicktls.testing;

import io.clicktls.metrics.Metrics;
import io.clicktls.storage.MeasuredStorage;
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

    /**
     * The storage series of a node whose backend answers, at 0: {@code clicktls_storage_errors_total} by operation,
     * and {@code clicktls_storage_up} (at 1).
     *
     * @param backend {@code file} or {@code postgres}
     */
    public static List<String> storageAtZero(String backend) {
        List<String> lines = new ArrayList<>();
        add(
                lines,
                "clicktls_storage_errors_total{backend=\"" + backend + "\",",
                "operation",
                MeasuredStorage.OPERATIONS);
        lines.add("clicktls_storage_up{backend=\"" + backend + "\"} 1.0");
        return lines;
    }

    /** @param name the family, or the family with its first labels ({@code family{a="b",}}) */
    private static void add(List<String> lines, String name, String label, List<String> values) {
        for (String value : values) {
            lines.add(name + (name.endsWith(",") ? "" : "{") + label + "=\"" + value + "\"} 0.0");
        }
    }
}
