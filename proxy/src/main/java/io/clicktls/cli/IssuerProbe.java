package io.clicktls.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.admin.DnsStatus;
import io.clicktls.admin.DomainStatusSource.CaPolicy;
import io.clicktls.certificates.DnsCheck;
import io.clicktls.config.Acme;
import io.clicktls.config.Certificates;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import javax.net.ssl.SSLContext;

/**
 * What {@code doctor} finds out about one issuer of {@code certificates.issuers}, changing nothing: its ACME directory
 * (reachable, an ACME directory, and its {@code meta}: {@code caaIdentities}, {@code externalAccountRequired},
 * {@code profiles}) and the account stored for it. No account is registered and nothing is written. Blocking: a
 * command-line tool, one thread.
 */
final class IssuerProbe {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Certificates.Issuer settings;
    private final String label;
    /** Where the issuer's settings are in the config, for fixes: {@code certificates.acme} or {@code issuers[i]}. */
    private final String keyPath;

    private final JsonNode directory;
    /** Why the directory could not be read, or {@code null}. */
    private final String problem;

    private final Optional<String> storedAccount;

    private IssuerProbe(
            Certificates.Issuer settings,
            String label,
            String keyPath,
            JsonNode directory,
            String problem,
            Optional<String> storedAccount) {
        this.settings = settings;
        this.label = label;
        this.keyPath = keyPath;
        this.directory = directory;
        this.problem = problem;
        this.storedAccount = storedAccount;
    }

    /** Reads every configured issuer's directory once, in order. */
    static List<IssuerProbe> all(Certificates certificates, Optional<Storage> storage, Duration timeout) {
        List<Certificates.Issuer> configured = certificates.issuers();
        List<IssuerProbe> probes = new ArrayList<>();
        for (int i = 0; i < configured.size(); i++) {
            String keyPath = configured.size() > 1 ? "certificates.issuers[" + i + "]" : "certificates.acme";
            probes.add(of(configured.get(i), keyPath, storage, timeout));
        }
        return probes;
    }

    private static IssuerProbe of(
            Certificates.Issuer settings, String keyPath, Optional<Storage> storage, Duration timeout) {
        Acme acme = settings.acme();
        if (acme == null) {
            return new IssuerProbe(settings, "internal", keyPath, null, null, Optional.empty());
        }
        URI url = acme.directory();
        // the label AcmeIssuer records: the entry's name, else the directory's host
        String label =
                settings.name() != null ? settings.name() : url.getHost() == null ? url.toString() : url.getHost();
        Optional<String> account = storedAccount(settings, storage);
        try {
            HttpClient client = HttpClient.newBuilder()
                    .connectTimeout(timeout)
                    .sslContext(clientContext(acme))
                    .build();
            HttpResponse<String> response = client.send(
                    HttpRequest.newBuilder(url)
                            .timeout(timeout.multipliedBy(2))
                            .header("User-Agent", "clicktls-doctor")
                            .build(),
                    HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            if (response.statusCode() != 200) {
                return new IssuerProbe(
                        settings, label, keyPath, null, url + " answered " + response.statusCode(), account);
            }
            return new IssuerProbe(settings, label, keyPath, JSON.readTree(response.body()), null, account);
        } catch (IOException | GeneralSecurityException e) {
            return new IssuerProbe(
                    settings, label, keyPath, null, "cannot reach " + url + ": " + Doctor.describe(e), account);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new IssuerProbe(settings, label, keyPath, null, "interrupted", account);
        }
    }

    private static SSLContext clientContext(Acme acme) throws GeneralSecurityException, IOException {
        return Doctor.clientContext(acme.trustedCa());
    }

    /** The account URL stored for this issuer and its directory (an account of another CA is no use), if any. */
    private static Optional<String> storedAccount(Certificates.Issuer settings, Optional<Storage> storage) {
        if (storage.isEmpty()) {
            return Optional.empty();
        }
        String key = settings.name() != null ? StorageKeys.account(settings.name()) : StorageKeys.ACCOUNT;
        try {
            Optional<byte[]> stored = storage.get().load(key);
            if (stored.isEmpty()) {
                return Optional.empty();
            }
            JsonNode json = JSON.readTree(stored.get());
            if (!settings.acme()
                    .directory()
                    .toString()
                    .equals(json.path("directory").asText())) {
                return Optional.empty();
            }
            return Optional.ofNullable(json.path("location").asText(null));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    String label() {
        return label;
    }

    boolean publicCa() {
        return settings.acme() != null;
    }

    /** The CA whose issuance CAA must allow: the directory's {@code meta.caaIdentities}, else the known ones. */
    CaPolicy caPolicy() {
        if (settings.acme() == null) {
            return CaPolicy.INTERNAL;
        }
        CaPolicy known = CaPolicy.forAcme(settings.acme().directory(), label);
        if (directory == null) {
            return known;
        }
        List<String> identities = new ArrayList<>();
        directory.path("meta").path("caaIdentities").forEach(node -> identities.add(node.asText()));
        return identities.isEmpty() ? known : new CaPolicy(label, true, identities);
    }

    /**
     * The directory answers as an ACME directory; an account is stored, or can be registered (external account
     * binding configured when the CA's meta requires it); the configured profile is one the CA offers.
     */
    Doctor.Check check(Optional<String> internalRoot) {
        if (settings.acme() == null) {
            return Doctor.Check.pass(
                    "ca",
                    "internal: the internal CA issues (trials only: browsers do not trust it)",
                    internalRoot.map(root -> "its root is " + root).orElse("its root is made on the first start"));
        }
        Acme acme = settings.acme();
        URI url = acme.directory();
        if (problem != null) {
            return Doctor.Check.fail(
                    "ca",
                    label + ": the ACME CA is unreachable: " + problem,
                    "check that this machine reaches " + url.getHost() + " (firewall, outbound proxy, DNS) and that "
                            + keyPath + ".directory is right");
        }
        if (!directory.has("newOrder")) {
            return Doctor.Check.fail(
                    "ca",
                    label + ": " + url + " answered, but not with an ACME directory",
                    "set " + keyPath + ".directory to the CA's ACME directory URL");
        }
        JsonNode meta = directory.path("meta");
        boolean eabRequired = meta.path("externalAccountRequired").asBoolean(false);
        List<String> notes = new ArrayList<>();
        String eab = acme.eab() == null
                ? null
                : "external account binding, kid " + acme.eab().keyId();
        if (storedAccount.isPresent()) {
            notes.add("account: " + storedAccount.get());
        } else {
            notes.add("account: none stored yet; registered with the first order"
                    + (eab == null ? "" : " (" + eab + ")"));
        }
        if (eabRequired) {
            notes.add("the CA requires external account binding: " + (eab == null ? "not configured" : eab));
        }
        TreeSet<String> offered = new TreeSet<>();
        meta.path("profiles").fieldNames().forEachRemaining(offered::add);
        if (acme.profile() != null) {
            notes.add("profile " + acme.profile()
                    + (offered.isEmpty() ? "" : "; offered: " + String.join(", ", offered)));
        }
        String[] noteArray = notes.toArray(String[]::new);
        if (eabRequired && acme.eab() == null && storedAccount.isEmpty()) {
            return Doctor.Check.fail(
                    "ca",
                    label + ": the CA requires external account binding for new accounts and none is configured",
                    "set " + keyPath + ".eab { kid, hmac_key_file } to the values the CA gives you",
                    noteArray);
        }
        if (acme.profile() != null && !offered.contains(acme.profile())) {
            return Doctor.Check.fail(
                    "ca",
                    label + ": profile '" + acme.profile() + "' is not offered by " + url.getHost()
                            + (offered.isEmpty()
                                    ? ": its directory lists no profiles"
                                    : "; it offers: " + String.join(", ", offered)),
                    offered.isEmpty()
                            ? "remove " + keyPath + ".profile to take the CA's default"
                            : "set " + keyPath + ".profile to one the CA offers, or remove it for the CA's default",
                    noteArray);
        }
        return Doctor.Check.pass("ca", label + ": the ACME directory " + url + " answers", noteArray);
    }

    /** Whether the CAA records of {@code name} let this issuer issue; {@code caa} is {@code null} for no lookup. */
    Doctor.Check caaCheck(String name, DnsCheck.CaaReport caa) {
        CaPolicy ca = caPolicy();
        DnsStatus.CaaStatus status = DnsStatus.caaStatus(name, caa, ca);
        return switch (status.verdict()) {
            case OK -> Doctor.Check.pass("caa", label + ": " + status.summary());
            case UNKNOWN -> Doctor.Check.pass(
                    "caa",
                    label + ": " + status.summary(),
                    "check that the CAA records name the CA of "
                            + settings.acme().directory());
            default -> Doctor.Check.fail("caa", label + ": " + status.summary(), status.fix());
        };
    }

    /**
     * The CAA check over many listed names at once: passes when every name's records let this issuer issue, else names
     * those whose records do not.
     */
    Doctor.Check caaCheck(List<DnsCheck.CaaReport> reports, int unchecked) {
        CaPolicy ca = caPolicy();
        String more = unchecked == 0 ? "" : " (" + unchecked + " more not checked: run doctor DOMAIN for one)";
        if (!ca.publicCa()) {
            return Doctor.Check.pass("caa", label + ": the internal CA issues: CAA records do not apply");
        }
        List<String> refused = new ArrayList<>();
        String fix = null;
        boolean unknown = false;
        for (DnsCheck.CaaReport report : reports) {
            DnsStatus.CaaStatus status = DnsStatus.caaStatus(report.name(), report, ca);
            switch (status.verdict()) {
                case OK -> {}
                case UNKNOWN -> unknown = true;
                default -> {
                    refused.add(status.summary());
                    if (fix == null) {
                        fix = status.fix();
                    }
                }
            }
        }
        String identities = ca.identities().isEmpty() ? "its CA" : String.join(", ", ca.identities());
        if (!refused.isEmpty()) {
            return Doctor.Check.fail(
                    "caa",
                    label + ": the CAA records of " + refused.size() + " of " + reports.size() + " listed names do"
                            + " not let " + identities + " issue" + more,
                    fix,
                    refused.toArray(String[]::new));
        }
        if (unknown) {
            return Doctor.Check.pass(
                    "caa",
                    label + ": " + reports.size() + " listed names checked" + more,
                    "the directory names no caaIdentities: check that CAA records, where there are any, name the CA"
                            + " of " + settings.acme().directory());
        }
        return Doctor.Check.pass(
                "caa",
                label + ": the CAA records of all " + reports.size() + " listed names let " + identities + " issue"
                        + more);
    }
}
