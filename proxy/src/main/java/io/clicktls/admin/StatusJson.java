package io.clicktls.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.clicktls.certificates.CertificateCleanup;
import io.clicktls.certificates.IssuanceFailure;
import io.clicktls.storage.Storage;
import java.time.Instant;

/**
 * The JSON of {@code /api/domains} and {@code /api/domains/{name}}: snake_case keys, times as ISO-8601 instants,
 * absent facts as {@code null}. {@code doctor} reads the same shape back. Stateless and thread-safe.
 */
final class StatusJson {

    static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private StatusJson() {}

    static String page(DomainDirectory.Page page, Instant now) {
        return page(page, null, now);
    }

    /** @param degraded why the node is degraded (e.g. its storage takes no writes), or {@code null} */
    static String page(DomainDirectory.Page page, String degraded, Instant now) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("generated_at", now.toString());
        root.put("health", degraded == null ? "ok" : "degraded");
        root.put("degraded", degraded);
        root.put("query", page.query());
        root.put("page", page.page());
        root.put("size", page.size());
        root.put("pages", page.pages());
        root.put("total", page.total());
        root.put("failing", page.failing());
        ObjectNode inFlight = root.putObject("orders_in_flight");
        inFlight.put("count", page.inFlight().count());
        inFlight.put("complete", page.inFlight().complete());
        inFlight.put("unavailable", page.inFlight().unavailable());
        ArrayNode domains = root.putArray("domains");
        page.domains().forEach(domain -> domains.add(domain(domain)));
        return write(root);
    }

    static String one(DomainStatus status) {
        return write(domain(status));
    }

    /** A small object such as {@code {"name": ..., "action": "renew", "status": "started"}}. */
    static String message(String... keysAndValues) {
        ObjectNode root = MAPPER.createObjectNode();
        for (int i = 0; i + 1 < keysAndValues.length; i += 2) {
            root.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return write(root);
    }

    static ObjectNode domain(DomainStatus status) {
        ObjectNode node = MAPPER.createObjectNode();
        node.put("name", status.name());
        node.put("kind", status.pattern() ? "pattern" : "name");
        node.put("configured", status.configured());
        node.put("platform", status.platform());
        node.put("state", status.state().wireName());
        AllowedBy allowedBy = status.allowedBy();
        if (allowedBy == null) {
            node.putNull("allowed_by");
        } else {
            ObjectNode a = node.putObject("allowed_by");
            a.put("kind", allowedBy.kind().wireName());
            a.put("entry", allowedBy.entry());
        }
        CertificateFacts certificate = status.certificate();
        if (certificate == null) {
            node.putNull("certificate");
        } else {
            ObjectNode c = node.putObject("certificate");
            c.put("not_before", time(certificate.notBefore()));
            c.put("not_after", time(certificate.notAfter()));
            c.put("issuer", certificate.issuer());
            c.put("issued_by", certificate.issuedBy());
            c.put("issued_by_node", certificate.issuedByNode());
            c.put("serial", certificate.serial());
            c.put("in_memory", certificate.inMemory());
            c.put("persisted", certificate.notPersisted() == null);
            c.put("not_persisted", certificate.notPersisted());
        }
        node.put("next_renewal", time(status.nextRenewal()));
        node.put("next_renewal_planned", status.renewalPlanned());
        IssuanceFailure error = status.lastError();
        if (error == null) {
            node.putNull("last_error");
        } else {
            ObjectNode e = node.putObject("last_error");
            e.put("message", error.message());
            e.put("at", time(error.at()));
            e.put("failures", error.failures());
            e.put("retry_at", time(error.retryAt()));
        }
        Hold hold = status.hold();
        if (hold == null) {
            node.putNull("hold");
        } else {
            ObjectNode h = node.putObject("hold");
            h.put("reason", hold.reason());
            h.put("until", time(hold.until()));
            h.put("kind", hold.kind() == Hold.Kind.DNS ? "dns" : "rate_limit");
            ArrayNode expected = h.putArray("expected");
            hold.expected().forEach(expected::add);
        }
        Storage.LeaseHolder lease = status.lease();
        if (lease == null) {
            node.putNull("lease");
        } else {
            ObjectNode l = node.putObject("lease");
            l.put("node", lease.holder());
            l.put("since", time(lease.since()));
            l.put("until", time(lease.until()));
        }
        CertificateCleanup.Mark marked = status.marked();
        if (marked == null) {
            node.putNull("marked");
        } else {
            ObjectNode m = node.putObject("marked");
            m.put("reason", marked.reason());
            m.put("since", time(marked.since()));
            m.put("delete_after", time(marked.deleteAfter()));
        }
        DnsStatus dns = status.dns();
        if (dns == null) {
            node.putNull("dns");
        } else {
            ObjectNode d = node.putObject("dns");
            d.put("checked_at", time(dns.checkedAt()));
            d.put("verdict", dns.verdict().wireName());
            d.put("summary", dns.summary());
            d.put("fix", dns.fix());
            ArrayNode chain = d.putArray("cname_chain");
            dns.cnameChain().forEach(chain::add);
            ArrayNode addresses = d.putArray("addresses");
            dns.addresses().forEach(addresses::add);
            d.put("caa_verdict", dns.caaVerdict().wireName());
            d.put("caa_summary", dns.caaSummary());
            d.put("caa_fix", dns.caaFix());
        }
        return node;
    }

    private static String time(Instant instant) {
        return instant == null ? null : instant.toString();
    }

    private static String write(Object node) {
        try {
            return MAPPER.writeValueAsString(node) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a tree of plain values always serializes", e);
        }
    }
}
