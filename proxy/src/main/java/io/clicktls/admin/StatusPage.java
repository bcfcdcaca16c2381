package io.clicktls.admin;

import io.clicktls.certificates.IssuanceFailure;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * The HTML of {@code /status}: one server-rendered page, no script. Everything that comes from outside (names,
 * the CA's messages, DNS answers, the query) is escaped. The renew and forget buttons are forms posting to the API
 * with the per-process form token (see {@link AdminAccess}). Stateless and thread-safe.
 */
final class StatusPage {

    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC);
    private static final DateTimeFormatter DAY =
            DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);
    private static final DateTimeFormatter HOUR =
            DateTimeFormatter.ofPattern("HH:mm 'UTC'").withZone(ZoneOffset.UTC);

    private static final String STYLE =
            """
            :root { color-scheme: light; --line: #e3e6ea; --muted: #5f6b7a; }
            * { box-sizing: border-box; }
            body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
                   color: #1d2733; background: #f6f7f9; }
            header { display: flex; align-items: center; gap: 24px; padding: 14px 28px; background: #1d2733;
                     color: #fff; }
            header h1 { margin: 0; font-size: 18px; font-weight: 600; }
            header .counts { color: #c5ccd6; }
            header .counts b { color: #fff; }
            main { padding: 20px 28px 40px; }
            form.search { display: flex; gap: 8px; margin-bottom: 14px; }
            form.search input[type=search] { width: 340px; padding: 7px 10px; border: 1px solid #c9ced6;
                     border-radius: 6px; font: inherit; }
            button { font: inherit; padding: 6px 12px; border-radius: 6px; border: 1px solid #b9c0ca;
                     background: #fff; color: #1d2733; cursor: pointer; }
            button:hover { background: #eef1f5; }
            button.danger { color: #a4262c; border-color: #e2b4b6; }
            .notice { margin: 0 0 14px; padding: 9px 12px; border-radius: 6px; background: #e8f3ff;
                      border: 1px solid #b7d6f5; }
            table { width: 100%; border-collapse: collapse; }
            th, td { padding: 9px 10px; text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); }
            th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
                 background: #fafbfc; font-weight: 600; }
            tr:last-child td { border-bottom: 0; }
            .table { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; background: #fff; }
            td.name { font-weight: 600; min-width: 170px; overflow-wrap: anywhere; }
            td.when { white-space: nowrap; }
            td.name .sub, .sub { display: block; font-weight: 400; color: var(--muted); font-size: 12px; }
            td.error { min-width: 220px; max-width: 360px; overflow-wrap: anywhere; }
            td.dns { min-width: 200px; max-width: 300px; overflow-wrap: anywhere; }
            .error .message { color: #a4262c; }
            .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
                     font-weight: 600; white-space: nowrap; }
            .s-valid, .v-ok { background: #e3f5e8; color: #1e6b34; }
            .s-expiring { background: #fff4d6; color: #7a5700; }
            .s-expired, .s-failed, .v-wrong, .v-failed { background: #fde7e9; color: #a4262c; }
            .s-issuing { background: #e3efff; color: #1d4f91; }
            .s-held, .s-waiting_for_dns { background: #f0e7fb; color: #5b2c91; }
            .s-none, .s-pattern, .v-unknown { background: #eceff3; color: #4a5563; }
            .degraded { background: #fde7e9; border-color: #e2b4b6; color: #7d1c21; }
            .not-persisted { color: #a4262c; font-weight: 600; }
            .fix { display: block; margin-top: 3px; font-size: 12px; }
            .fix::before { content: "Fix: "; font-weight: 600; }
            td.actions { white-space: nowrap; width: 1%; }
            td.actions form { display: block; margin: 0 0 6px; }
            td.actions button { width: 100%; }
            .muted { color: var(--muted); }
            nav.pages { display: flex; gap: 12px; align-items: center; margin-top: 14px; color: var(--muted); }
            nav.pages a { color: #1d4f91; text-decoration: none; }
            """;

    private StatusPage() {}

    /**
     * @param notice a line to show above the table (after an action), or {@code null}
     */
    static String render(DomainDirectory.Page page, String formToken, String notice, Instant now) {
        return render(page, formToken, notice, null, now);
    }

    /** @param degraded why the node is degraded (e.g. its storage takes no writes), or {@code null} */
    static String render(DomainDirectory.Page page, String formToken, String notice, String degraded, Instant now) {
        StringBuilder html = new StringBuilder(16_384);
        html.append("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .append("<title>clicktls status</title><style>")
                .append(STYLE)
                .append("</style></head><body>\n");
        html.append("<header><h1>clicktls status</h1><span class=\"counts\"><b>")
                .append(page.total())
                .append("</b> ")
                .append(page.query().isEmpty() ? "domains" : "matching")
                .append(" · <b>")
                .append(page.failing())
                .append("</b> failing");
        if (page.inFlight().count() > 0) {
            html.append(" · <b>")
                    .append(page.inFlight().count())
                    .append(page.inFlight().complete() ? "" : "+")
                    .append("</b> ordering now");
        }
        html.append("</span></header>\n<main>\n");
        html.append("<form class=\"search\" method=\"get\" action=\"/status\">")
                .append("<input type=\"search\" name=\"q\" placeholder=\"Search names, platforms or nodes\" value=\"")
                .append(escape(page.query()))
                .append("\">")
                .append("<input type=\"hidden\" name=\"size\" value=\"")
                .append(page.size())
                .append("\">")
                .append("<button type=\"submit\">Search</button></form>\n");
        if (degraded != null) {
            html.append("<p class=\"notice degraded\" role=\"alert\"><b>Degraded:</b> ")
                    .append(escape(degraded))
                    .append("</p>\n");
        }
        if (page.inFlight().unavailable() != null) {
            html.append("<p class=\"notice degraded\" role=\"status\">Orders in flight on other nodes are not shown: ")
                    .append(escape(page.inFlight().unavailable()))
                    .append("</p>\n");
        }
        if (notice != null && !notice.isBlank()) {
            html.append("<p class=\"notice\" role=\"status\">")
                    .append(escape(notice))
                    .append("</p>\n");
        }
        html.append("<div class=\"table\"><table><thead><tr><th>Domain</th><th>Certificate</th><th>Expires</th>")
                .append("<th>Issuer</th>")
                .append("<th>Next renewal</th><th>Last error</th><th>DNS</th><th></th></tr></thead><tbody>\n");
        if (page.domains().isEmpty()) {
            html.append("<tr><td colspan=\"8\" class=\"muted\">")
                    .append(page.query().isEmpty() ? "No domains configured yet." : "Nothing matches.")
                    .append("</td></tr>\n");
        }
        String back = "/status?" + query(page.query(), page.page(), page.size());
        for (DomainStatus domain : page.domains()) {
            row(html, domain, formToken, back, now);
        }
        html.append("</tbody></table></div>\n");
        pages(html, page);
        html.append("<p class=\"muted\">Rendered ")
                .append(escape(TIME.format(now)))
                .append(" · JSON: <a href=\"/api/domains?")
                .append(escape(query(page.query(), page.page(), page.size())))
                .append("\">/api/domains</a></p>\n");
        html.append("</main></body></html>\n");
        return html.toString();
    }

    private static void row(StringBuilder html, DomainStatus domain, String formToken, String back, Instant now) {
        html.append("<tr data-name=\"")
                .append(escape(domain.name()))
                .append("\" data-state=\"")
                .append(domain.pattern() ? "pattern" : domain.state().wireName())
                .append("\">");
        html.append("<td class=\"name\">").append(escape(domain.name()).replace(".", ".<wbr>"));
        String platform = domain.platform() == null ? "not in the config" : domain.platform();
        AllowedBy allowedBy = domain.allowedBy();
        html.append("<span class=\"sub\">").append(escape(platform));
        if (allowedBy != null
                && !domain.pattern()
                && allowedBy.kind() != AllowedBy.Kind.EXACT
                && domain.marked() == null) {
            html.append(" · ").append(escape(allowedBy.describe()));
        } else if (!domain.configured() && !domain.pattern()) {
            html.append(" · not served");
        }
        html.append("</span></td>");

        if (domain.pattern()) {
            html.append("<td><span class=\"badge s-pattern\">pattern</span></td>")
                    .append("<td colspan=\"6\" class=\"muted\">One certificate per name under it, issued on the ")
                    .append("first handshake; the names appear here while one is ordered (on any node) and once ")
                    .append("they have one.</td></tr>\n");
            return;
        }
        String state = domain.state().wireName();
        html.append("<td><span class=\"badge s-")
                .append(state)
                .append("\">")
                .append(state)
                .append("</span>");
        if (domain.certificate() != null && !domain.certificate().inMemory()) {
            html.append("<span class=\"sub\">in storage, not loaded</span>");
        }
        if (domain.lease() != null) {
            html.append("<span class=\"sub\">ordering on ")
                    .append(escape(domain.lease().holder()));
            if (domain.lease().since() != null) {
                html.append(" since ").append(escape(TIME.format(domain.lease().since())));
            }
            html.append(" · lease until ")
                    .append(escape(TIME.format(domain.lease().until())))
                    .append("</span>");
        }
        if (domain.certificate() != null && domain.certificate().notPersisted() != null) {
            html.append("<span class=\"sub not-persisted\">not persisted: ")
                    .append(escape(domain.certificate().notPersisted()))
                    .append("</span>");
        }
        html.append("</td>");

        CertificateFacts certificate = domain.certificate();
        if (certificate == null) {
            html.append("<td class=\"muted\">—</td><td class=\"muted\">—</td>");
        } else {
            when(html, certificate.notAfter(), relative(certificate.notAfter(), now));
            html.append("<td>")
                    .append(escape(certificate.issuer()))
                    .append("<span class=\"sub\">via ")
                    .append(escape(certificate.issuedBy()))
                    .append(certificate.issuedByNode() == null ? "" : " on " + escape(certificate.issuedByNode()))
                    .append("</span></td>");
        }
        if (domain.nextRenewal() == null) {
            html.append("<td class=\"muted\">—</td>");
        } else {
            when(
                    html,
                    domain.nextRenewal(),
                    relative(domain.nextRenewal(), now) + (domain.renewalPlanned() ? "" : " · estimated"));
        }

        html.append("<td class=\"error\">");
        IssuanceFailure error = domain.lastError();
        Hold hold = domain.hold();
        if (hold != null && hold.kind() == Hold.Kind.DNS) {
            // the reason already says what the name resolves to; add where it should lead and the next try
            html.append("<span class=\"message\">")
                    .append(escape(hold.reason()))
                    .append("</span>");
            if (!hold.expected().isEmpty()) {
                html.append("<span class=\"sub\">should lead to ")
                        .append(escape(String.join(", ", hold.expected())))
                        .append("</span>");
            }
            if (hold.until() != null) {
                html.append("<span class=\"sub\">tried again ")
                        .append(escape(TIME.format(hold.until())))
                        .append("</span>");
            }
        } else if (hold != null) {
            html.append("<span class=\"message\">Held back: ")
                    .append(escape(hold.reason()))
                    .append("</span>");
            if (hold.until() != null) {
                html.append("<span class=\"sub\">until ")
                        .append(escape(TIME.format(hold.until())))
                        .append("</span>");
            }
        }
        if (domain.marked() != null) {
            html.append("<span class=\"message\">No longer allowed (")
                    .append(escape(domain.marked().reason()))
                    .append("): deleted after ")
                    .append(escape(TIME.format(domain.marked().deleteAfter())))
                    .append(" unless allowed again</span>");
        }
        if (error != null) {
            html.append("<span class=\"message\">")
                    .append(escape(error.message()))
                    .append("</span>")
                    .append("<span class=\"sub\">")
                    .append(escape(TIME.format(error.at())))
                    .append(" · ")
                    .append(error.failures())
                    .append(error.failures() == 1 ? " failure" : " failures in a row");
            if (error.retryAt() != null) {
                html.append(" · retry after ").append(escape(TIME.format(error.retryAt())));
            }
            html.append("</span>");
        } else if (domain.hold() == null && domain.marked() == null) {
            html.append("<span class=\"muted\">—</span>");
        }
        html.append("</td>");

        html.append("<td class=\"dns\">");
        DnsStatus dns = domain.dns();
        if (dns == null) {
            html.append("<span class=\"muted\">not checked yet</span>");
        } else {
            boolean unknown = dns.verdict() == DnsStatus.Verdict.UNKNOWN;
            html.append("<span class=\"badge v-")
                    .append(dns.verdict().wireName())
                    .append("\">")
                    .append(unknown ? "info" : dns.verdict().wireName())
                    .append("</span> ")
                    .append(escape(withoutName(dns.summary(), domain.name())));
            if (unknown) {
                html.append("<span class=\"sub\">no expected targets configured to compare with</span>");
            }
            if (dns.fix() != null) {
                html.append("<span class=\"fix\">").append(escape(dns.fix())).append("</span>");
            }
            if (dns.caaVerdict() == DnsStatus.Verdict.WRONG || dns.caaVerdict() == DnsStatus.Verdict.FAILED) {
                html.append("<span class=\"sub\"><span class=\"badge v-wrong\">CAA</span> ")
                        .append(escape(dns.caaSummary()))
                        .append("</span>");
                if (dns.caaFix() != null) {
                    html.append("<span class=\"fix\">")
                            .append(escape(dns.caaFix()))
                            .append("</span>");
                }
            }
        }
        html.append("</td>");

        html.append("<td class=\"actions\">");
        if (domain.configured()) {
            action(
                    html,
                    domain.name(),
                    "renew",
                    domain.certificate() == null ? "Issue now" : "Renew now",
                    "",
                    formToken,
                    back);
        }
        if (domain.certificate() != null || error != null) {
            action(html, domain.name(), "forget", "Forget", " class=\"danger\"", formToken, back);
        }
        html.append("</td></tr>\n");
    }

    private static void when(StringBuilder html, Instant when, String relative) {
        html.append("<td class=\"when\">")
                .append(escape(DAY.format(when)))
                .append("<span class=\"sub\">")
                .append(escape(HOUR.format(when)))
                .append("<br>")
                .append(escape(relative))
                .append("</span></td>");
    }

    /** "links.shop.com resolves to …" reads as "Resolves to …" in the row of links.shop.com. */
    static String withoutName(String sentence, String name) {
        if (sentence.startsWith(name + " ") && sentence.length() > name.length() + 1) {
            String rest = sentence.substring(name.length() + 1);
            return Character.toUpperCase(rest.charAt(0)) + rest.substring(1);
        }
        return sentence;
    }

    private static void action(
            StringBuilder html,
            String name,
            String action,
            String label,
            String buttonClass,
            String formToken,
            String back) {
        html.append("<form method=\"post\" action=\"/api/domains/")
                .append(escape(encode(name)))
                .append("/certificate\">")
                .append("<input type=\"hidden\" name=\"action\" value=\"")
                .append(action)
                .append("\">")
                .append("<input type=\"hidden\" name=\"form_token\" value=\"")
                .append(escape(formToken))
                .append("\">")
                .append("<input type=\"hidden\" name=\"return\" value=\"")
                .append(escape(back))
                .append("\">")
                .append("<button type=\"submit\"")
                .append(buttonClass)
                .append(">")
                .append(label)
                .append("</button></form> ");
    }

    private static void pages(StringBuilder html, DomainDirectory.Page page) {
        if (page.pages() <= 1) {
            return;
        }
        html.append("<nav class=\"pages\">");
        if (page.page() > 1) {
            html.append("<a href=\"/status?")
                    .append(escape(query(page.query(), page.page() - 1, page.size())))
                    .append("\">← Previous</a>");
        }
        html.append("<span>Page ")
                .append(page.page())
                .append(" of ")
                .append(page.pages())
                .append("</span>");
        if (page.page() < page.pages()) {
            html.append("<a href=\"/status?")
                    .append(escape(query(page.query(), page.page() + 1, page.size())))
                    .append("\">Next →</a>");
        }
        html.append("</nav>\n");
    }

    static String query(String q, int page, int size) {
        return "q=" + encode(q) + "&page=" + page + "&size=" + size;
    }

    /** "in 89 days", "3 hours ago": the scale an operator reads at a glance. */
    static String relative(Instant when, Instant now) {
        Duration between = Duration.between(now, when);
        boolean past = between.isNegative();
        Duration span = between.abs();
        String amount;
        if (span.toDays() >= 2) {
            amount = span.toDays() + " days";
        } else if (span.toHours() >= 2) {
            amount = span.toHours() + " hours";
        } else if (span.toMinutes() >= 2) {
            amount = span.toMinutes() + " minutes";
        } else {
            return past ? "just now" : "now";
        }
        return past ? amount + " ago" : "in " + amount;
    }

    static String escape(String text) {
        if (text == null) {
            return "";
        }
        StringBuilder out = new StringBuilder(text.length() + 16);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '&' -> out.append("&amp;");
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    private static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8);
    }
}
