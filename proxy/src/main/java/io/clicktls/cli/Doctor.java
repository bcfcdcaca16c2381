package io.clicktls.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.admin.DnsStatus;
import io.clicktls.admin.DomainStatusSource.CaPolicy;
import io.clicktls.certificates.DnsCheck;
import io.clicktls.certificates.IssuanceFailure;
import io.clicktls.certificates.IssuanceFailures;
import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.DomainTable;
import io.clicktls.config.Endpoint;
import io.clicktls.config.HostNames;
import io.clicktls.config.Platform;
import io.clicktls.config.ProxyProtocol;
import io.clicktls.config.StorageSettings;
import io.clicktls.pki.ClientTrust;
import io.clicktls.pki.Pem;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * The checks of {@code doctor}. For a domain, in the order a click meets them: the config serves the name; its DNS
 * leads to this proxy; each issuer's CA answers (directory, account, external account binding, profile) and CAA lets it
 * issue; the proxy serves a valid certificate for it; the platform answers for it; no issuance attempt failed; the
 * storage takes writes. Without a domain, the node's own: the storage, each issuer, and each issuer against the CAA
 * records of the listed exact names. Each check prints as soon as it is done.
 *
 * <p>DNS verdicts come from {@link DnsCheck} (as the issuance policy judges them), shown as {@link DnsStatus}: the
 * expected targets are {@code on_demand.expect_dns} plus any {@code --expect}; with neither, the DNS check says where
 * the name points without judging it. Blocking: a command-line tool, one thread.
 */
final class Doctor {

    /** One check's outcome: a ✘ always carries a fix. */
    record Check(String name, boolean ok, String summary, String fix, List<String> notes) {
        static Check pass(String name, String summary, String... notes) {
            return new Check(name, true, summary, null, List.of(notes));
        }

        static Check fail(String name, String summary, String fix, String... notes) {
            return new Check(name, false, summary, fix, List.of(notes));
        }
    }

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    /** How many listed names the node's CAA check looks up; a larger list is checked one domain at a time. */
    static final int CAA_NAMES = 200;
    /** Less free space than this fails the storage check: certificates, keys and state take a few KB per name. */
    static final long LOW_SPACE_BYTES = 100L << 20;

    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ClickTlsConfig config;
    private final DoctorCommand.Options options;
    private final DoctorCommand.StoredState stored;
    /** {@link #storage()}'s answer once asked: empty when nothing is stored yet. */
    private Optional<Storage> storage;

    private final String name;
    private final Clock clock = Clock.systemUTC();
    private final ConfigSnapshot snapshot;
    private DnsCheck dnsCheck;
    private String dnsServerLabel;

    Doctor(ClickTlsConfig config, DoctorCommand.Options options, DoctorCommand.StoredState stored) {
        this.config = config;
        this.options = options;
        this.stored = stored;
        this.name = options.domain();
        this.snapshot = ConfigSnapshot.of(config);
    }

    List<Check> run(PrintStream out) {
        out.println("clicktls doctor: " + (name == null ? "the issuers and the storage" : name) + " (config "
                + options.config() + ")");
        out.println();
        List<Check> checks = new ArrayList<>();
        InetSocketAddress server = dnsServer();
        dnsServerLabel = server == null ? "the system's DNS servers" : server.getHostString() + ":" + server.getPort();
        dnsCheck = DnsCheck.create(server, Duration.ofSeconds(3));
        try {
            List<IssuerProbe> issuers = IssuerProbe.all(config.certificates(), storage(), TIMEOUT);
            if (name == null) {
                runForNode(out, checks, issuers);
            } else {
                runForDomain(out, checks, issuers);
            }
        } finally {
            dnsCheck.close();
            if (storage != null && storage.isPresent() && storage.get() instanceof AutoCloseable closeable) {
                try {
                    closeable.close(); // a database pool
                } catch (Exception e) {
                    // the command ends anyway
                }
            }
        }
        return checks;
    }

    /** One domain, in the order a click meets the checks; every issuer's CA and CAA checks. */
    private void runForDomain(PrintStream out, List<Check> checks, List<IssuerProbe> issuers) {
        Optional<DomainTable.Route> route = snapshot.domains().find(name);
        report(out, checks, config(route));
        boolean publicCa = issuers.stream().anyMatch(IssuerProbe::publicCa);
        DnsCheck.CaaReport caa = publicCa ? join(dnsCheck.caa(name)) : null;
        DnsStatus dns = dns(route, issuers.get(0).caPolicy(), caa);
        report(out, checks, addressCheck(dns));
        for (IssuerProbe issuer : issuers) {
            report(out, checks, issuer.check(internalRoot()));
            report(out, checks, issuer.caaCheck(name, issuer.publicCa() ? caa : null));
        }
        report(out, checks, servedCertificate());
        report(out, checks, upstream(route));
        report(out, checks, issuance());
        report(out, checks, storageCheck());
    }

    /**
     * The node's own checks, without a domain: the storage, then each issuer and the CAA records of the listed exact
     * names (at most {@link #CAA_NAMES}, each looked up once).
     */
    private void runForNode(PrintStream out, List<Check> checks, List<IssuerProbe> issuers) {
        report(out, checks, storageCheck());
        for (IssuerProbe issuer : issuers) {
            report(out, checks, issuer.check(internalRoot()));
        }
        if (issuers.stream().noneMatch(IssuerProbe::publicCa)) {
            return;
        }
        List<String> names = new ArrayList<>();
        snapshot.config().domains().forEach(domain -> {
            if (!domain.wildcard()) {
                names.add(domain.name());
            }
        });
        List<DnsCheck.CaaReport> reports = new ArrayList<>();
        for (String listed : names.subList(0, Math.min(names.size(), CAA_NAMES))) {
            reports.add(join(dnsCheck.caa(listed)));
        }
        int unchecked = Math.max(0, names.size() - CAA_NAMES);
        for (IssuerProbe issuer : issuers) {
            if (issuer.publicCa()) {
                report(out, checks, issuer.caaCheck(reports, unchecked));
            }
        }
    }

    private Optional<String> internalRoot() {
        return storage().map(s -> s.where(StorageKeys.CA_ROOT));
    }

    private static void report(PrintStream out, List<Check> checks, Check check) {
        checks.add(check);
        out.printf("%s %-12s %s%n", check.ok() ? "✔" : "✘", check.name(), check.summary());
        for (String note : check.notes()) {
            out.printf("  %-12s %s%n", "", note);
        }
        if (check.fix() != null) {
            out.printf("  %-12s fix: %s%n", "", check.fix());
        }
    }

    // ---- config

    private Check config(Optional<DomainTable.Route> route) {
        if (!HostNames.isValid(name)) {
            return Check.fail(
                    "config",
                    name + " is not a host name a CA could issue for",
                    "use the tracked domain's host name, such as links.shop.com");
        }
        if (route.isEmpty()) {
            String example = config.platforms().isEmpty()
                    ? "PLATFORM"
                    : config.platforms().keySet().iterator().next();
            return Check.fail(
                    "config",
                    name + " is not in the config's domains: the proxy refuses it",
                    "add it under domains: - { name: " + name + ", platform: " + example + " }");
        }
        String entry = route.get().domain().name();
        return Check.pass(
                "config",
                name + " routes to platform " + route.get().platform().name() + " ("
                        + route.get().platform().upstream() + ")"
                        + (entry.equals(name) ? "" : ", by the entry " + entry));
    }

    // ---- DNS and CAA

    /** {@code --dns-server}, else {@code on_demand.dns_server} (the DNS the policy asks), else the system's. */
    private InetSocketAddress dnsServer() {
        if (options.dnsServer() != null) {
            return new InetSocketAddress(
                    options.dnsServer().getHostString(), options.dnsServer().getPort());
        }
        Endpoint configured = config.certificates().onDemand().dnsServer();
        return configured == null ? null : configured.toSocketAddress();
    }

    /** {@code on_demand.expect_dns}, then {@code --expect}: lower-case names and bare IP literals, as DnsCheck reads them. */
    List<String> expectedTargets() {
        Set<String> targets =
                new LinkedHashSet<>(config.certificates().onDemand().expectDns());
        for (String target : options.expect()) {
            InetAddress literal = HostNames.ipLiteral(target);
            targets.add(
                    literal == null
                            ? HostNames.normalize(target)
                            : target.startsWith("[") && target.endsWith("]")
                                    ? target.substring(1, target.length() - 1)
                                    : target);
        }
        return List.copyOf(targets);
    }

    private DnsStatus dns(Optional<DomainTable.Route> route, CaPolicy ca, DnsCheck.CaaReport caa) {
        String platformHost = route.map(r -> r.platform().upstreamHost()).orElse(null);
        DnsCheck.Report report = join(dnsCheck.check(name, expectedTargets()));
        return DnsStatus.of(report, ca.publicCa() ? caa : null, platformHost, ca, clock.instant());
    }

    private Check addressCheck(DnsStatus dns) {
        String via = "asked " + dnsServerLabel;
        switch (dns.verdict()) {
            case OK:
                return Check.pass("dns", dns.summary(), via);
            case UNKNOWN: {
                List<String> notes = new ArrayList<>();
                notes.add(
                        via + "; set on_demand.expect_dns (or pass --expect NAME_OR_IP) to check that it leads to this"
                                + " proxy");
                if (!anyLocal(dns.addresses())) {
                    notes.add("none of " + String.join(", ", dns.addresses()) + " is an address of this machine:"
                            + " right behind a load balancer or NAT, wrong otherwise");
                }
                return Check.pass("dns", dns.summary(), notes.toArray(String[]::new));
            }
            default:
                return Check.fail("dns", dns.summary(), dns.fix(), via);
        }
    }

    // ---- the certificate served

    private Check servedCertificate() {
        ProxyProtocol proxyProtocol = config.listen().proxyProtocol();
        if (options.https() == null && proxyProtocol.enabled()) {
            // the node refuses a connection that is not from a listed load balancer with a PROXY header, so a
            // handshake with its own listener would only report that refusal as a missing certificate
            String https = config.listen().https().host() + ":"
                    + config.listen().https().port();
            return Check.fail(
                    "certificate",
                    "not checked: " + https + " takes connections only from the load balancers in"
                            + " listen.proxy_protocol.from " + proxyProtocol.from()
                            + ", each beginning with a PROXY header",
                    "check what clients get through the load balancer: --https LOAD_BALANCER:443");
        }
        InetSocketAddress address = options.https() != null
                ? options.https()
                : reachable(config.listen().https());
        String where = address.getHostString() + ":" + address.getPort();
        X509Certificate[] chain;
        try {
            chain = handshake(address);
        } catch (ConnectException e) {
            return Check.fail(
                    "certificate",
                    "nothing listens on " + where + ": " + describe(e),
                    "start clicktls (clicktls run --config " + options.config() + "), or pass --https HOST:PORT");
        } catch (SocketTimeoutException e) {
            return Check.fail(
                    "certificate",
                    "no TLS handshake with " + where + " within "
                            + handshakeTimeout().toSeconds() + " s",
                    "see the issuance check: the proxy waits on_demand.handshake_wait for a new certificate");
        } catch (IOException e) {
            String message = describe(e);
            if (message.contains("unrecognized_name")) {
                return Check.fail(
                        "certificate",
                        where + " refused a TLS handshake for " + name
                                + " (unrecognized_name): it has no certificate for it and may not issue one",
                        "make sure the config serves it (see config) and see the issuance check below");
            }
            return Check.fail(
                    "certificate",
                    "the TLS handshake with " + where + " for " + name + " failed: " + message,
                    "see the issuance check below: the proxy could not get a certificate in time");
        }
        X509Certificate leaf = chain[0];
        List<String> problems = new ArrayList<>();
        if (!namesHost(leaf, name)) {
            problems.add("it does not name " + name);
        }
        Instant now = clock.instant();
        Instant notAfter = leaf.getNotAfter().toInstant();
        Instant notBefore = leaf.getNotBefore().toInstant();
        if (!now.isBefore(notAfter)) {
            problems.add("it expired at " + TIME.format(notAfter));
        } else if (now.isBefore(notBefore)) {
            problems.add("it is not valid before " + TIME.format(notBefore));
        }
        String trustProblem = untrusted(chain);
        if (trustProblem != null) {
            problems.add("its chain is not trusted: " + trustProblem);
        }
        String issuer = leaf.getIssuerX500Principal().getName();
        String summary = where + " serves a certificate for " + name + " from " + issuer + ", valid until "
                + TIME.format(notAfter);
        Duration left = Duration.between(now, notAfter);
        Duration third = Duration.between(notBefore, notAfter).dividedBy(3);
        Duration due = third.compareTo(Duration.ofDays(14)) < 0 ? third : Duration.ofDays(14);
        if (problems.isEmpty() && left.compareTo(due) < 0) {
            return Check.fail(
                    "certificate",
                    summary + " (" + left.toDays() + " days left)",
                    "renewal should have happened by now: see the issuance check, then renew on the status page");
        }
        if (!problems.isEmpty()) {
            return Check.fail(
                    "certificate",
                    summary + ", but " + String.join("; ", problems),
                    trustProblem != null && problems.size() == 1
                            ? "if this is a test CA, pass --trust ROOT.pem; otherwise renew it (status page)"
                            : "renew it: the status page's Renew button, or POST /api/domains/" + name
                                    + "/certificate");
        }
        return Check.pass("certificate", summary + " (" + left.toDays() + " days left); chain trusted");
    }

    private X509Certificate[] handshake(InetSocketAddress address) throws IOException {
        SSLContext context;
        try {
            context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {new CapturingTrustManager()}, null);
        } catch (GeneralSecurityException e) {
            throw new IOException(e);
        }
        try (Socket plain = new Socket()) {
            plain.connect(resolved(address), (int) TIMEOUT.toMillis());
            plain.setSoTimeout((int) handshakeTimeout().toMillis());
            try (SSLSocket socket =
                    (SSLSocket) context.getSocketFactory().createSocket(plain, name, address.getPort(), false)) {
                SSLParameters parameters = socket.getSSLParameters();
                parameters.setServerNames(List.of(new SNIHostName(name)));
                parameters.setApplicationProtocols(new String[] {"http/1.1"});
                socket.setSSLParameters(parameters);
                socket.startHandshake();
                return (X509Certificate[]) socket.getSession().getPeerCertificates();
            }
        }
    }

    private Duration handshakeTimeout() {
        return config.certificates().onDemand().handshakeWait().plus(TIMEOUT);
    }

    /** PKIX against the JDK's roots, the internal CA's root, {@code trusted_ca} and {@code --trust}. */
    private String untrusted(X509Certificate[] chain) {
        try {
            Set<TrustAnchor> anchors = new HashSet<>();
            for (X509Certificate root : roots()) {
                anchors.add(new TrustAnchor(root, null));
            }
            List<X509Certificate> path = new ArrayList<>(List.of(chain));
            while (path.size() > 1 && isAnchor(path.get(path.size() - 1), anchors)) {
                path.remove(path.size() - 1);
            }
            PKIXParameters parameters = new PKIXParameters(anchors);
            parameters.setRevocationEnabled(false);
            CertPathValidator.getInstance("PKIX")
                    .validate(CertificateFactory.getInstance("X.509").generateCertPath(path), parameters);
            return null;
        } catch (CertPathValidatorException e) {
            return e.getMessage();
        } catch (GeneralSecurityException | IOException e) {
            return describe(e);
        }
    }

    private static boolean isAnchor(X509Certificate certificate, Set<TrustAnchor> anchors) {
        return anchors.stream().anyMatch(anchor -> certificate.equals(anchor.getTrustedCert()));
    }

    private List<X509Certificate> roots() throws GeneralSecurityException, IOException {
        List<X509Certificate> roots = new ArrayList<>();
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init((KeyStore) null);
        for (TrustManager manager : factory.getTrustManagers()) {
            if (manager instanceof X509TrustManager x509) {
                Collections.addAll(roots, x509.getAcceptedIssuers());
            }
        }
        Optional<byte[]> internalRoot =
                storage().isEmpty() ? Optional.empty() : storage().get().load(StorageKeys.CA_ROOT);
        if (internalRoot.isPresent()) {
            roots.addAll(Pem.decodeChain(internalRoot.get()));
        }
        List<Path> files = new ArrayList<>(options.trust());
        if (config.certificates().acme().trustedCa() != null) {
            files.add(config.certificates().acme().trustedCa());
        }
        for (Path file : files) {
            if (Files.isReadable(file)) {
                roots.addAll(Pem.decodeChain(Files.readAllBytes(file)));
            }
        }
        return roots;
    }

    static boolean namesHost(X509Certificate leaf, String host) {
        try {
            if (leaf.getSubjectAlternativeNames() == null) {
                return false;
            }
            for (List<?> entry : leaf.getSubjectAlternativeNames()) {
                if (entry.size() >= 2 && Integer.valueOf(2).equals(entry.get(0))) {
                    String dns = String.valueOf(entry.get(1)).toLowerCase(Locale.ROOT);
                    if (dns.equals(host)
                            || (dns.startsWith("*.")
                                    && host.indexOf('.') > 0
                                    && host.substring(host.indexOf('.') + 1).equals(dns.substring(2)))) {
                        return true;
                    }
                }
            }
        } catch (CertificateParsingException e) {
            return false;
        }
        return false;
    }

    // ---- the platform

    private Check upstream(Optional<DomainTable.Route> route) {
        if (route.isEmpty()) {
            return Check.fail(
                    "upstream",
                    "no platform: " + name + " is not in the config's domains",
                    "add it under domains (see config)");
        }
        Platform platform = route.get().platform();
        String host = platform.hostHeader() == Platform.HostHeader.UPSTREAM ? platform.upstreamHost() : name;
        String where = platform.upstream().toString();
        try {
            String status = headRequest(platform, host);
            return Check.pass("upstream", where + " answered \"" + status + "\" for Host " + host);
        } catch (IOException e) {
            return Check.fail(
                    "upstream",
                    where + " did not answer for Host " + host + ": " + describe(e),
                    "check that this machine reaches " + platform.upstreamHost() + ":" + platform.upstreamPort()
                            + " (firewall, DNS), and the platform's upstream under platforms." + platform.name());
        }
    }

    /** {@code HEAD /} with the Host header the proxy would send; returns the status line. */
    private String headRequest(Platform platform, String host) throws IOException {
        InetSocketAddress address =
                resolved(InetSocketAddress.createUnresolved(platform.upstreamHost(), platform.upstreamPort()));
        try (Socket plain = new Socket()) {
            plain.connect(address, (int) TIMEOUT.toMillis());
            plain.setSoTimeout((int) TIMEOUT.multipliedBy(2).toMillis());
            Socket socket = plain;
            if (platform.tls()) {
                SSLContext context = SSLContext.getDefault();
                SSLSocket tls = (SSLSocket) context.getSocketFactory()
                        .createSocket(plain, platform.upstreamHost(), platform.upstreamPort(), false);
                SSLParameters parameters = tls.getSSLParameters();
                parameters.setServerNames(List.of(new SNIHostName(platform.upstreamHost())));
                parameters.setEndpointIdentificationAlgorithm("HTTPS");
                parameters.setApplicationProtocols(new String[] {"http/1.1"});
                tls.setSSLParameters(parameters);
                tls.startHandshake();
                socket = tls;
            }
            OutputStream output = socket.getOutputStream();
            output.write(("HEAD / HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: clicktls-doctor\r\n"
                            + "Connection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            output.flush();
            String line = readLine(socket.getInputStream());
            if (!line.startsWith("HTTP/1.")) {
                throw new IOException("not an HTTP answer: " + (line.length() > 60 ? line.substring(0, 60) : line));
            }
            return line;
        } catch (GeneralSecurityException e) {
            throw new IOException(e);
        }
    }

    private static String readLine(InputStream input) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int c = input.read(); c >= 0 && c != '\n' && line.length() < 1024; c = input.read()) {
            if (c != '\r') {
                line.append((char) c);
            }
        }
        if (line.length() == 0) {
            throw new IOException("the connection closed without an answer");
        }
        return line.toString();
    }

    // ---- issuance history

    private Check issuance() {
        String adminUrl = options.admin() != null
                ? options.admin()
                : "http://" + hostForUrl(reachable(config.listen().admin())) + ":"
                        + config.listen().admin().port();
        try {
            HttpClient client = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(adminUrl + "/api/domains/" + name))
                    .timeout(TIMEOUT.multipliedBy(2));
            if (config.admin().token() != null) {
                request.header("Authorization", "Bearer " + config.admin().token());
            }
            HttpResponse<String> response = client.send(request.build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 404) {
                return Check.pass(
                        "issuance",
                        "the running proxy has no certificate or attempt for " + name + " yet",
                        "asked " + adminUrl);
            }
            if (response.statusCode() != 200) {
                return fromStorage("the admin API at " + adminUrl + " answered " + response.statusCode());
            }
            JsonNode status = JSON.readTree(response.body());
            JsonNode error = status.path("last_error");
            String state = status.path("state").asText("unknown");
            if (error.isObject()) {
                IssuanceFailure failure = new IssuanceFailure(
                        error.path("message").asText(),
                        Instant.parse(error.path("at").asText()),
                        error.path("failures").asInt(1),
                        error.hasNonNull("retry_at")
                                ? Instant.parse(error.path("retry_at").asText())
                                : null);
                return failed(failure, "from the running proxy (" + adminUrl + "), state " + state);
            }
            return Check.pass("issuance", "no failed attempt; state " + state, "asked " + adminUrl);
        } catch (IOException e) {
            return fromStorage("the admin API at " + adminUrl + " did not answer (" + describe(e) + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fromStorage("interrupted");
        }
    }

    private Check fromStorage(String why) {
        String where = config.storage().directory().toString();
        try {
            Optional<Storage> opened = stored.open(config);
            if (opened.isEmpty()) {
                return Check.pass("issuance", "no attempt recorded: nothing is stored in " + where + " yet", why);
            }
            where = opened.get().where(StorageKeys.issuanceState(name));
            Optional<IssuanceFailure> failure = new IssuanceFailures(opened.get(), clock).lastFailure(name);
            if (failure.isPresent()) {
                return failed(failure.get(), "from storage (" + why + ")");
            }
            return Check.pass("issuance", "no failed attempt recorded in " + where, why);
        } catch (IOException e) {
            return Check.fail(
                    "issuance", "cannot read " + where + ": " + describe(e), "run doctor as the user clicktls runs as");
        }
    }

    /** The node's storage, opened once, without creating it; empty when nothing is stored or it cannot be opened. */
    private Optional<Storage> storage() {
        if (storage == null) {
            try {
                storage = stored.open(config);
            } catch (IOException e) {
                storage = Optional.empty();
            }
        }
        return storage;
    }

    private Check failed(IssuanceFailure failure, String source) {
        String when = TIME.format(failure.at())
                + (failure.failures() > 1 ? ", " + failure.failures() + " failures in a row" : "");
        return Check.fail(
                "issuance", "the last attempt failed (" + when + "): " + failure.message(), fixFor(failure), source);
    }

    /** A concrete next step for the usual ways issuance fails, read from the CA's words. */
    private String fixFor(IssuanceFailure failure) {
        String message = failure.message().toLowerCase(Locale.ROOT);
        String retry = failure.retryAt() == null
                ? ""
                : "; the CA accepts a new attempt after " + TIME.format(failure.retryAt());
        if (message.contains("ratelimited") || message.contains("rate limited")) {
            return "wait for the CA's rate limit to pass" + retry + " (renewals of existing names are exempt)";
        }
        if (message.contains("caa")) {
            return "let the CA issue in the CAA records (see caa)";
        }
        if (message.contains("unreachable") && message.contains("ca")) {
            return "check that this machine reaches the CA (see ca)" + retry;
        }
        if (message.contains("nxdomain") || message.contains("dns") || message.contains("no valid ip")) {
            return "fix the DNS of " + name + " (see dns), then renew on the status page";
        }
        if (message.contains("connect") || message.contains("timeout") || message.contains("refused")) {
            return "the CA could not reach this proxy for " + name + ": point the DNS here (see dns) and open ports"
                    + " 443 and 80 to the internet, then renew on the status page";
        }
        return "fix the cause above, then renew: the status page's button, or POST /api/domains/" + name
                + "/certificate";
    }

    // ---- the storage

    /**
     * The storage backend's health: a folder that exists (or can be made at the first start), is writable and has
     * room; or PostgreSQL reachable, its schema migrated, and the time a read takes. Opened as the node opens it
     * ({@code ClickTlsServer.existingStorage}), which for a folder creates nothing.
     */
    private Check storageCheck() {
        StorageSettings.Postgres postgres = config.storage().postgres();
        return postgres == null ? folderCheck(config.storage().directory()) : postgresCheck(postgres);
    }

    private Check folderCheck(Path folder) {
        if (!Files.isDirectory(folder)) {
            Path parent = folder.toAbsolutePath().getParent();
            while (parent != null && !Files.isDirectory(parent)) {
                parent = parent.getParent();
            }
            if (parent == null || !Files.isWritable(parent)) {
                return Check.fail(
                        "storage",
                        folder + " does not exist and cannot be made by this user",
                        "create it for the user clicktls runs as (mkdir, chown), or set storage.directory");
            }
            return Check.pass("storage", folder + " does not exist yet: made at the first start");
        }
        Optional<String> unwritable = storage().flatMap(Storage::unwritable);
        if (unwritable.isPresent() || !Files.isWritable(folder)) {
            return Check.fail(
                    "storage",
                    folder + ": " + unwritable.orElse("not writable for this user"),
                    "run doctor as the user clicktls runs as; give that user the folder (chown) and free space on"
                            + " its disk. The node still serves what is stored, but keeps new certificates in memory");
        }
        try {
            long free = Files.getFileStore(folder).getUsableSpace();
            String room = free >= 1L << 30
                    ? String.format(Locale.ROOT, "%.1f GiB free", free / (double) (1L << 30))
                    : (free >> 20) + " MiB free";
            if (free < LOW_SPACE_BYTES) {
                return Check.fail(
                        "storage", folder + " is writable, but only " + room, "free space on the disk of " + folder);
            }
            return Check.pass("storage", folder + " is writable, " + room);
        } catch (IOException e) {
            return Check.fail("storage", "cannot ask the disk of " + folder + ": " + describe(e), "check the mount");
        }
    }

    private Check postgresCheck(StorageSettings.Postgres postgres) {
        int query = postgres.url().indexOf('?');
        String where =
                (query < 0 ? postgres.url() : postgres.url().substring(0, query)) + ", schema " + postgres.schema();
        long start = System.nanoTime();
        Optional<Storage> opened;
        try {
            opened = stored.open(config);
        } catch (IOException | RuntimeException e) {
            return Check.fail(
                    "storage",
                    "PostgreSQL at " + where + " cannot be used: " + describe(e),
                    "check storage.postgres (url, user, password) and that the database accepts connections from"
                            + " this machine");
        }
        if (opened.isEmpty()) {
            return Check.fail("storage", "PostgreSQL at " + where + " was not opened", "check storage.postgres");
        }
        storage = opened;
        long openMillis = (System.nanoTime() - start) / 1_000_000;
        long best = Long.MAX_VALUE;
        try {
            for (int i = 0; i < 3; i++) {
                long read = System.nanoTime();
                opened.get().load(StorageKeys.ACCOUNT);
                best = Math.min(best, System.nanoTime() - read);
            }
        } catch (IOException e) {
            return Check.fail(
                    "storage", "PostgreSQL at " + where + " fails reads: " + describe(e), "check the database's log");
        }
        String roundTrip = String.format(Locale.ROOT, "a read takes %.1f ms", best / 1e6);
        Optional<String> unwritable = opened.get().unwritable();
        if (unwritable.isPresent()) {
            return Check.fail(
                    "storage",
                    "PostgreSQL at " + where + " takes no writes: " + unwritable.get(),
                    "check the database (a standby, a full disk, a read-only user)",
                    roundTrip);
        }
        return Check.pass(
                "storage",
                "PostgreSQL at " + where + " answers; its schema is migrated; " + roundTrip,
                "connected and migrated in " + openMillis + " ms");
    }

    // ---- helpers

    /** A listen address as a client reaches it: a wildcard address means this machine's loopback. */
    private static InetSocketAddress reachable(Endpoint endpoint) {
        String host = endpoint.host();
        if (host.equals("0.0.0.0")) {
            host = "127.0.0.1";
        } else if (host.equals("::") || host.equals("0:0:0:0:0:0:0:0")) {
            host = "::1";
        }
        return InetSocketAddress.createUnresolved(host, endpoint.port());
    }

    private static String hostForUrl(InetSocketAddress address) {
        String host = address.getHostString();
        return host.indexOf(':') >= 0 ? "[" + host + "]" : host;
    }

    /** Resolves through {@code --dns-server} when given, so that a test's names resolve as its DNS says. */
    private InetSocketAddress resolved(InetSocketAddress address) throws IOException {
        String host = address.getHostString();
        InetAddress literal = HostNames.ipLiteral(host);
        if (literal != null) {
            return new InetSocketAddress(literal, address.getPort());
        }
        if (options.dnsServer() == null) {
            return new InetSocketAddress(InetAddress.getByName(host), address.getPort());
        }
        DnsCheck.Report report = join(dnsCheck.check(HostNames.normalize(host), List.of()));
        if (report.addresses().isEmpty()) {
            throw new IOException(
                    report.verdict() == DnsCheck.Verdict.UNAVAILABLE
                            ? report.explanation()
                            : host + " has no A or AAAA record");
        }
        return new InetSocketAddress(report.addresses().get(0), address.getPort());
    }

    private static boolean anyLocal(List<String> addresses) {
        for (String text : addresses) {
            try {
                InetAddress address = InetAddress.getByName(text); // literals only: parsed, not looked up
                if (address.isLoopbackAddress() || NetworkInterface.getByInetAddress(address) != null) {
                    return true;
                }
            } catch (IOException e) {
                // not one of ours
            }
        }
        return false;
    }

    static SSLContext clientContext(Path trustedCa) throws GeneralSecurityException, IOException {
        if (trustedCa == null) {
            return SSLContext.getDefault();
        }
        return ClientTrust.jdkCasAnd(Pem.decodeChain(Files.readAllBytes(trustedCa)));
    }

    private static <T> T join(CompletableFuture<T> future) {
        try {
            return future.get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("DNS lookup did not finish", e);
        }
    }

    static String describe(Throwable e) {
        Throwable cause = e;
        while (cause.getCause() != null
                && cause.getCause() != cause
                && (cause.getMessage() == null || cause instanceof ExecutionException)) {
            cause = cause.getCause();
        }
        return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    }

    /** Accepts any chain so that the served one can be examined; it is validated afterwards. */
    private static final class CapturingTrustManager extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
