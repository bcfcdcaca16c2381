package io.clicktls.admin;

import io.clicktls.certificates.DnsCheck;
import io.netty.util.NetUtil;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A name's DNS as the status page and {@code doctor} show it: {@link DnsCheck}'s verdict and explanation of where
 * the name leads, plus two things only they need: a CNAME to the email platform itself (clicks bypass the proxy)
 * and the CAA records judged against the configured CA. Each part has a verdict, a sentence saying what was found
 * and, when something is wrong, a sentence saying what to do.
 *
 * @param cnameChain the CNAME targets in order, from the name's first target to the last
 * @param addresses the A and AAAA addresses at the chain's end, as text
 */
public record DnsStatus(
        String name,
        Instant checkedAt,
        Verdict verdict,
        String summary,
        String fix,
        List<String> cnameChain,
        List<String> addresses,
        Verdict caaVerdict,
        String caaSummary,
        String caaFix) {

    /** How a check came out. */
    public enum Verdict {
        /** As expected. */
        OK,
        /** Answered, but wrong for clicktls. */
        WRONG,
        /** The name does not resolve, or the lookup itself failed. */
        FAILED,
        /** Answered, but there is nothing to compare it with. */
        UNKNOWN;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public DnsStatus {
        cnameChain = List.copyOf(cnameChain);
        addresses = List.copyOf(addresses);
    }

    /** Whether both parts are fine (or cannot be judged for want of expectations). */
    public boolean healthy() {
        return verdict != Verdict.WRONG
                && verdict != Verdict.FAILED
                && caaVerdict != Verdict.WRONG
                && caaVerdict != Verdict.FAILED;
    }

    /**
     * @param report where the name leads, checked against the expected targets ({@code on_demand.expect_dns});
     *     with none, a name that resolves is {@link Verdict#UNKNOWN}: shown, not judged
     * @param caa the CAA records, or {@code null} when not looked up (the internal CA)
     * @param platformHost the platform's upstream host, e.g. {@code sendgrid.net}: pointing there bypasses the proxy
     */
    public static DnsStatus of(
            DnsCheck.Report report,
            DnsCheck.CaaReport caa,
            String platformHost,
            DomainStatusSource.CaPolicy ca,
            Instant now) {
        String name = report.name();
        List<String> chain = new ArrayList<>();
        report.chain().forEach(hop -> chain.add(hop.target()));
        List<String> addresses = new ArrayList<>();
        report.addresses().forEach(address -> addresses.add(address.getHostAddress()));

        Verdict verdict;
        String summary;
        String fix = null;
        String viaPlatform = platformHost == null ? null : firstInChain(chain, platformHost);
        String target = target(report.expected());
        if (viaPlatform != null) {
            verdict = Verdict.WRONG;
            summary = name + " is a CNAME to " + viaPlatform + ", the email platform itself: clicks bypass clicktls";
            fix = "point " + name + " at " + target + " (a CNAME record) instead of " + viaPlatform;
        } else if (report.verdict() == DnsCheck.Verdict.UNAVAILABLE) {
            verdict = Verdict.FAILED;
            summary = report.explanation();
            fix = "check that the DNS servers of " + name + " answer, then run the check again";
        } else if (report.verdict() == DnsCheck.Verdict.NOT_FOUND) {
            verdict = Verdict.FAILED;
            summary = summaryOf(report.explanation());
            fix = onlyAddresses(report.expected())
                    ? "add A/AAAA records for " + name + ": " + target
                    : fixOf(report.explanation(), "add a CNAME record for " + name + " pointing at " + target);
        } else if (report.expected().isEmpty()) {
            verdict = Verdict.UNKNOWN;
            summary = name + " " + describePath(chain, addresses);
        } else if (report.verdict() == DnsCheck.Verdict.POINTS_HERE) {
            verdict = Verdict.OK;
            summary = report.explanation();
        } else {
            verdict = Verdict.WRONG;
            summary = summaryOf(report.explanation());
            // a CNAME cannot lead to an address: with only addresses expected, the A/AAAA records are the fix
            fix = onlyAddresses(report.expected())
                    ? "point the A/AAAA records of " + name + " at " + target
                    : fixOf(report.explanation(), "point " + name + " at " + target + " (a CNAME record)");
        }

        CaaStatus caaStatus = caaStatus(name, caa, ca);
        return new DnsStatus(
                name,
                now,
                verdict,
                summary,
                fix,
                chain,
                addresses,
                caaStatus.verdict(),
                caaStatus.summary(),
                caaStatus.fix());
    }

    /**
     * What the CAA records of one name say about one CA.
     *
     * @param fix what to change, or {@code null} when nothing must
     */
    public record CaaStatus(Verdict verdict, String summary, String fix) {}

    /**
     * The CAA verdict for {@code name} and the CA {@code ca} (for {@code doctor}, once per configured issuer).
     *
     * @param caa the records found, or {@code null} when none were looked up (the internal CA)
     */
    public static CaaStatus caaStatus(String name, DnsCheck.CaaReport caa, DomainStatusSource.CaPolicy ca) {
        Verdict caaVerdict;
        String caaSummary;
        String caaFix = null;
        if (!ca.publicCa() || caa == null) {
            caaVerdict = Verdict.OK;
            caaSummary = "the internal CA issues: CAA records do not apply";
        } else if (!caa.complete()) {
            caaVerdict = Verdict.FAILED;
            caaSummary = "the CAA lookup for " + name + " failed; a CA refuses to issue while the CAA lookup fails";
            caaFix = "make the DNS servers of " + name + " answer CAA queries (an empty answer is fine)";
        } else if (caa.records().isEmpty()) {
            caaVerdict = Verdict.OK;
            caaSummary = "no CAA records: any CA may issue";
        } else {
            CaaDecision decision = caaDecision(caa, ca.identities());
            caaVerdict = decision.verdict();
            List<String> records = new ArrayList<>();
            caa.records()
                    .forEach(
                            record -> records.add(record.flags() + " " + record.tag() + " \"" + record.value() + "\""));
            caaSummary = "CAA at " + caa.foundAt() + " (" + String.join(", ", records) + ") " + decision.explanation();
            if (decision.verdict() == Verdict.WRONG) {
                String identity = ca.identities().isEmpty()
                        ? "the CA's domain"
                        : ca.identities().get(0);
                caaFix = "add a CAA record at " + caa.foundAt() + ": 0 issue \"" + identity + "\"";
            }
        }
        return new CaaStatus(caaVerdict, caaSummary, caaFix);
    }

    /** A status for a name that could not be checked at all. */
    public static DnsStatus failed(String name, String problem, Instant now) {
        return new DnsStatus(
                name,
                now,
                Verdict.FAILED,
                name + " could not be checked: " + problem,
                null,
                List.of(),
                List.of(),
                Verdict.UNKNOWN,
                "not checked",
                null);
    }

    private record CaaDecision(Verdict verdict, String explanation) {}

    /** RFC 8659 for one exact name, as {@link DnsCheck.CaaReport#permits} decides, said in words. */
    private static CaaDecision caaDecision(DnsCheck.CaaReport caa, List<String> identities) {
        List<String> issuers = new ArrayList<>();
        for (DnsCheck.CaaRecord record : caa.records()) {
            String tag = record.tag().toLowerCase(Locale.ROOT);
            boolean known = tag.equals("issue") || tag.equals("issuewild") || tag.equals("iodef");
            if (!known && (record.flags() & 0x80) != 0) {
                return new CaaDecision(
                        Verdict.WRONG,
                        "has a critical property '" + record.tag() + "' that CAs do not understand, so none may issue");
            }
            if (tag.equals("issue")) {
                issuers.add(record.issuerDomain());
            }
        }
        if (issuers.isEmpty()) {
            return new CaaDecision(Verdict.OK, "has no 'issue' property: any CA may issue");
        }
        if (identities.isEmpty()) {
            return new CaaDecision(
                    Verdict.UNKNOWN,
                    "allows " + String.join(", ", issuers) + "; the configured CA's CAA identity is not known");
        }
        for (String identity : identities) {
            if (caa.permits(identity)) {
                return new CaaDecision(Verdict.OK, "allows " + identity);
            }
        }
        List<String> named =
                issuers.stream().filter(issuer -> !issuer.isEmpty()).toList();
        return new CaaDecision(
                Verdict.WRONG,
                named.isEmpty()
                        ? "forbids every CA"
                        : "allows only " + String.join(", ", named) + ", not " + String.join(" or ", identities));
    }

    /**
     * DnsCheck's explanations read "what was found: what to change"; the page and doctor show the two apart. The
     * instruction starts with a verb DnsCheck uses for one.
     */
    private static int fixStart(String explanation) {
        for (String verb : List.of(": point ", ": add ", ": replace ")) {
            int at = explanation.lastIndexOf(verb);
            if (at >= 0) {
                return at;
            }
        }
        return -1;
    }

    private static String summaryOf(String explanation) {
        int at = fixStart(explanation);
        return at < 0 ? explanation : explanation.substring(0, at);
    }

    private static String fixOf(String explanation, String otherwise) {
        int at = fixStart(explanation);
        return at < 0 ? otherwise : explanation.substring(at + 2);
    }

    private static boolean onlyAddresses(List<String> expected) {
        return !expected.isEmpty()
                && expected.stream().allMatch(target -> NetUtil.createByteArrayFromIpAddressString(target) != null);
    }

    private static String target(List<String> expected) {
        return expected.isEmpty() ? "this proxy's host name" : String.join(" or ", expected);
    }

    /** The first name in the chain that is {@code host} or under it. */
    private static String firstInChain(List<String> chain, String host) {
        String suffix = "." + host;
        for (String hop : chain) {
            if (hop.equals(host) || hop.endsWith(suffix)) {
                return hop;
            }
        }
        return null;
    }

    private static String describePath(List<String> chain, List<String> addresses) {
        StringBuilder text = new StringBuilder();
        if (!chain.isEmpty()) {
            text.append("is a CNAME to ").append(String.join(" → ", chain)).append(", which ");
        }
        text.append(addresses.isEmpty() ? "has no address" : "resolves to " + String.join(", ", addresses));
        return text.toString();
    }
}
