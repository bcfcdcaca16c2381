package io.clicktls.admin;

import java.net.InetAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A name's DNS judged for clicktls: does it lead to this proxy, and do its CAA records let the CA issue? Each part
 * has a verdict, a sentence saying what was found and, when something is wrong, a sentence saying what to do.
 *
 * <p>Stand-in until {@code issuance/DnsCheck} is merged; its explanations should then replace these.
 */
public record DnsReport(
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
        /** The lookup itself failed. */
        FAILED,
        /** Answered, but there is nothing to compare it with. */
        UNKNOWN;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public DnsReport {
        cnameChain = List.copyOf(cnameChain);
        addresses = List.copyOf(addresses);
    }

    /** Whether both parts are fine (or cannot be judged for want of expectations). */
    public boolean healthy() {
        return verdict != Verdict.WRONG && verdict != Verdict.FAILED
                && caaVerdict != Verdict.WRONG && caaVerdict != Verdict.FAILED;
    }

    /**
     * @param expectedNames names the customer's CNAME should lead to (lower case)
     * @param expectedAddresses the addresses of this proxy (given, or those of {@code expectedNames})
     * @param platformHost the platform's upstream host, e.g. {@code sendgrid.net}: pointing there bypasses the proxy
     */
    public static DnsReport judge(
            DnsProbe.Resolution resolution,
            DnsProbe.CaaLookup caa,
            Collection<String> expectedNames,
            Set<InetAddress> expectedAddresses,
            String platformHost,
            DomainStatusSource.CaPolicy ca,
            Instant now) {
        String name = resolution.name();
        List<String> addresses = new ArrayList<>();
        resolution.addresses().forEach(address -> addresses.add(address.getHostAddress()));
        String target = expectedNames.isEmpty()
                ? (expectedAddresses.isEmpty() ? "this proxy's host name" : join(expectedAddresses))
                : String.join(" or ", expectedNames);
        String path = describePath(resolution, addresses);

        Verdict verdict;
        String summary;
        String fix = null;
        String viaPlatform = platformHost == null ? null : firstInChain(resolution, platformHost);
        if (viaPlatform != null) {
            verdict = Verdict.WRONG;
            summary = name + " is a CNAME to " + viaPlatform + ", the email platform itself: clicks bypass clicktls";
            fix = "point " + name + " at " + target + " (a CNAME record) instead of " + viaPlatform;
        } else if (resolution.problem() != null) {
            verdict = Verdict.FAILED;
            summary = name + " does not resolve: " + resolution.problem();
            fix = "add a CNAME record for " + name + " pointing at " + target;
        } else if (expectedNames.isEmpty() && expectedAddresses.isEmpty()) {
            verdict = Verdict.UNKNOWN;
            summary = name + " " + path;
        } else if (leadsHere(resolution, expectedNames, expectedAddresses)) {
            verdict = Verdict.OK;
            summary = name + " " + path;
        } else {
            verdict = Verdict.WRONG;
            summary = name + " " + path + ", not to " + target;
            fix = "point " + name + " at " + target + " (a CNAME record)";
        }

        Verdict caaVerdict;
        String caaSummary;
        String caaFix = null;
        if (!ca.publicCa()) {
            caaVerdict = Verdict.OK;
            caaSummary = "the internal CA issues: CAA records do not apply";
        } else if (caa.problem() != null) {
            caaVerdict = Verdict.FAILED;
            caaSummary = caa.problem() + "; a CA refuses to issue while the CAA lookup fails";
            caaFix = "make the DNS servers of " + name + " answer CAA queries (an empty answer is fine)";
        } else if (caa.records().isEmpty()) {
            caaVerdict = Verdict.OK;
            caaSummary = "no CAA records: any CA may issue";
        } else {
            CaaDecision decision = caaDecision(caa.records(), ca.identities());
            caaVerdict = decision.verdict();
            String records = caa.records().stream().map(DnsProbe.CaaRecord::toString)
                    .reduce((a, b) -> a + ", " + b).orElse("");
            caaSummary = "CAA at " + caa.foundAt() + " (" + records + ") " + decision.explanation();
            if (decision.verdict() == Verdict.WRONG) {
                String identity = ca.identities().isEmpty() ? "the CA's domain" : ca.identities().get(0);
                caaFix = "add a CAA record at " + caa.foundAt() + ": 0 issue \"" + identity + "\"";
            }
        }
        return new DnsReport(name, now, verdict, summary, fix, resolution.cnameChain(), addresses, caaVerdict,
                caaSummary, caaFix);
    }

    /** A report for a name that could not be checked at all (e.g. the lookup timed out). */
    public static DnsReport failed(String name, String problem, Instant now) {
        return new DnsReport(name, now, Verdict.FAILED, name + " could not be checked: " + problem, null, List.of(),
                List.of(), Verdict.UNKNOWN, "not checked", null);
    }

    private record CaaDecision(Verdict verdict, String explanation) {}

    /** RFC 8659 for a certificate for one exact name: {@code issue} properties decide; critical unknowns forbid. */
    private static CaaDecision caaDecision(List<DnsProbe.CaaRecord> records, List<String> identities) {
        List<String> issuers = new ArrayList<>();
        for (DnsProbe.CaaRecord record : records) {
            boolean known = record.tag().equals("issue") || record.tag().equals("issuewild")
                    || record.tag().equals("iodef");
            if (!known && (record.flags() & 128) != 0) {
                return new CaaDecision(Verdict.WRONG, "has a critical property '" + record.tag()
                        + "' that CAs do not understand, so none may issue");
            }
            if (record.tag().equals("issue")) {
                String domain = record.value().split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
                issuers.add(domain);
            }
        }
        if (issuers.isEmpty()) {
            return new CaaDecision(Verdict.OK, "has no 'issue' property: any CA may issue");
        }
        if (identities.isEmpty()) {
            return new CaaDecision(Verdict.UNKNOWN, "allows " + String.join(", ", issuers)
                    + "; the configured CA's CAA identity is not known");
        }
        for (String identity : identities) {
            if (issuers.contains(identity.toLowerCase(Locale.ROOT))) {
                return new CaaDecision(Verdict.OK, "allows " + identity);
            }
        }
        List<String> named = issuers.stream().filter(issuer -> !issuer.isEmpty()).toList();
        return new CaaDecision(Verdict.WRONG, named.isEmpty() ? "forbids every CA"
                : "allows only " + String.join(", ", named) + ", not " + String.join(" or ", identities));
    }

    private static boolean leadsHere(
            DnsProbe.Resolution resolution, Collection<String> expectedNames, Set<InetAddress> expectedAddresses) {
        for (String hop : resolution.cnameChain()) {
            if (expectedNames.contains(hop)) {
                return true;
            }
        }
        if (expectedNames.contains(resolution.name())) {
            return true;
        }
        for (InetAddress address : resolution.addresses()) {
            if (expectedAddresses.contains(address)) {
                return true;
            }
        }
        return false;
    }

    /** The first name in the chain that is {@code host} or under it. */
    private static String firstInChain(DnsProbe.Resolution resolution, String host) {
        String suffix = "." + host;
        for (String hop : resolution.cnameChain()) {
            if (hop.equals(host) || hop.endsWith(suffix)) {
                return hop;
            }
        }
        return null;
    }

    private static String describePath(DnsProbe.Resolution resolution, List<String> addresses) {
        StringBuilder text = new StringBuilder();
        if (!resolution.cnameChain().isEmpty()) {
            text.append("is a CNAME to ").append(String.join(" → ", resolution.cnameChain())).append(", which ");
        }
        text.append(addresses.isEmpty() ? "has no address" : "resolves to " + String.join(", ", addresses));
        return text.toString();
    }

    private static String join(Set<InetAddress> addresses) {
        List<String> text = new ArrayList<>();
        addresses.forEach(address -> text.add(address.getHostAddress()));
        return String.join(" or ", text);
    }
}
