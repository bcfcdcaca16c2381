package io.clicktls.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.ClickTlsServer;
import io.clicktls.admin.ChallTestDns;
import io.clicktls.certificates.IssuanceException;
import io.clicktls.certificates.IssuanceFailures;
import io.clicktls.storage.FileStorage;
import io.clicktls.testing.AcmeStandIn;
import io.clicktls.testing.LocalServers;
import io.clicktls.testing.PostgresServer;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInPlatform;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@code doctor} against a running node (internal CA), with pebble-challtestsrv as the DNS. */
class DoctorCommandIT {

    @RegisterExtension
    static final ChallTestDns.PerClass dns = ChallTestDns.perClass();

    @TempDir
    Path dir;

    private StandInPlatform platform;
    private RunningNode.Config config;
    private RunningNode node;
    private boolean platformClosed;
    private final List<AcmeStandIn> cas = new ArrayList<>();

    /** What one doctor run printed and returned. */
    private record Run(int exitCode, String out, String err) {}

    @BeforeEach
    void start() throws Exception {
        platform = StandInPlatform.start();
        config = RunningNode.config(dir)
                .platform("stand-in", "http://stand-in.platform.test:" + platform.port())
                .domains("stand-in", "*.shop.test");
        config.write();
    }

    private void startProxy() throws Exception {
        node = RunningNode.start(config);
    }

    @AfterEach
    void stop() {
        cas.forEach(AcmeStandIn::close);
        if (node != null) {
            node.close();
        }
        if (!platformClosed) {
            platform.close();
        }
    }

    /** doctor expecting the name at 127.0.0.1 and trusting the node's internal CA. */
    private Run doctorTrustingNode(String domain) {
        return doctor(
                domain,
                "--expect",
                "127.0.0.1",
                "--trust",
                dir.resolve("data/ca/root.pem").toString());
    }

    private Run doctor(String domain, String... extra) {
        List<String> args = new ArrayList<>(List.of(
                "--config",
                config.file().toString(),
                "--dns-server",
                dns.server().hostPort()));
        if (node != null) {
            args.addAll(List.of(
                    "--https", "127.0.0.1:" + node.httpsPort(), "--admin", "http://127.0.0.1:" + node.adminPort()));
        }
        args.addAll(List.of(extra));
        if (domain != null) {
            args.add(domain);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = DoctorCommand.run(
                args,
                ClickTlsServer::existingStorage,
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void wellSetUpDomainPassesEveryCheckAndExitsZero() throws Exception {
        startProxy();

        Run run = doctorTrustingNode("good.shop.test");

        assertThat(run.out())
                .as(run.out())
                .contains("✔ config       good.shop.test routes to platform stand-in")
                .contains("✔ dns          good.shop.test resolves to 127.0.0.1")
                .contains("✔ ca ")
                .contains("✔ caa ")
                .contains("✔ certificate ")
                .contains("chain trusted")
                .contains("✔ upstream     http://stand-in.platform.test:" + platform.port() + " answered \"HTTP/1.1 ")
                .contains("✔ issuance ")
                .doesNotContain("✘")
                .contains("✔ storage ")
                .contains("All 8 checks passed for good.shop.test.");
        assertThat(run.exitCode()).isZero();
    }

    @Test
    void behindProxyProtocolTheCertificateCheckAsksForTheLoadBalancerInsteadOfBlamingIssuance() throws Exception {
        // no node runs: the check must not dial the listener, which would refuse it (the node refused and the check
        // blamed issuance: "could not get a certificate in time")
        config.listeners(8443, 8080)
                .set("listen.proxy_protocol.from", "[10.0.0.10/32]")
                .write();

        Run run = doctor("good.shop.test", "--expect", "127.0.0.1");

        assertThat(run.out())
                .as(run.out())
                .contains(
                        "✘ certificate  not checked: 127.0.0.1:8443 takes connections only from the load balancers in listen.proxy_protocol.from"
                                + " [10.0.0.10/32], each beginning with a PROXY header")
                .contains("fix: check what clients get through the load balancer: --https LOAD_BALANCER:443")
                .doesNotContain("could not get a certificate in time");
        assertThat(run.exitCode()).isEqualTo(1);
    }

    @Test
    void cnameToThePlatformItselfFailsDnsWithAConcreteFix() throws Exception {
        startProxy();
        dns.server().setCname("bypass.shop.test", "stand-in.platform.test");

        Run run = doctor("bypass.shop.test", "--expect", "proxy.example.test");

        assertThat(run.out())
                .as(run.out())
                .contains("✘ dns          bypass.shop.test is a CNAME to stand-in.platform.test, the email"
                        + " platform itself: clicks bypass clicktls")
                .contains("fix: point bypass.shop.test at proxy.example.test (a CNAME record) instead of"
                        + " stand-in.platform.test");
        assertThat(run.exitCode()).isEqualTo(1);
    }

    @Test
    void dnsPointedElsewhereSaysWhereItLeadsAndWhereItShould() throws Exception {
        startProxy();
        dns.server().addA("elsewhere.shop.test", "10.9.9.9");

        Run run = doctor("elsewhere.shop.test", "--expect", "127.0.0.1");

        assertThat(run.out())
                .as(run.out())
                .contains("✘ dns          elsewhere.shop.test resolves to 10.9.9.9, not to this proxy")
                .contains("fix: point the A/AAAA records of elsewhere.shop.test at 127.0.0.1");
        assertThat(run.exitCode()).isEqualTo(1);
    }

    @Test
    void expectedTargetsComeFromOnDemandExpectDnsAndExpectAddsToThem() throws Exception {
        config.set("certificates.on_demand.expect_dns", "[proxy.shop.test]").write();
        dns.server().setCname("cnamed.shop.test", "proxy.shop.test");
        dns.server().addA("proxy.shop.test", "10.7.7.7");
        dns.server().addA("direct.shop.test", "10.8.8.8");

        Run viaConfig = doctor("cnamed.shop.test");
        Run elsewhere = doctor("direct.shop.test");
        Run added = doctor("direct.shop.test", "--expect", "10.8.8.8");

        assertThat(viaConfig.out())
                .as(viaConfig.out())
                .contains("✔ dns          cnamed.shop.test is a CNAME to proxy.shop.test");
        assertThat(elsewhere.out())
                .as(elsewhere.out())
                .contains("✘ dns          direct.shop.test resolves to 10.8.8.8, not to this proxy")
                .contains("fix: replace its A/AAAA records by a CNAME to proxy.shop.test");
        assertThat(added.out())
                .as(added.out())
                .contains("✔ dns          direct.shop.test resolves to 10.8.8.8, an address of this proxy");
    }

    @Test
    void withoutExpectedTargetsDnsSaysWhereTheNamePointsWithoutFailing() throws Exception {
        dns.server().addA("shown.shop.test", "10.6.6.6");

        Run run = doctor("shown.shop.test");

        assertThat(run.out())
                .as(run.out())
                .contains("✔ dns          shown.shop.test resolves to 10.6.6.6")
                .contains("set on_demand.expect_dns (or pass --expect NAME_OR_IP)");
    }

    @Test
    void upstreamDownFailsOnlyTheUpstreamCheck() throws Exception {
        startProxy();
        platform.close();
        platformClosed = true;

        Run run = doctorTrustingNode("down.shop.test");

        assertThat(run.out())
                .as(run.out())
                .contains("✘ upstream     http://stand-in.platform.test:" + platform.port() + " did not answer")
                .contains("fix: check that this machine reaches stand-in.platform.test:" + platform.port())
                .contains("✔ certificate ")
                .contains("1 of 8 checks failed for down.shop.test.");
        assertThat(run.out().lines().filter(line -> line.startsWith("✘"))).hasSize(1);
        assertThat(run.exitCode()).isEqualTo(1);
    }

    @Test
    void lastIssuanceErrorComesFromTheRunningProxyOrElseFromStorage() throws Exception {
        IssuanceFailures failures = new IssuanceFailures(new FileStorage(dir.resolve("data")), Clock.systemUTC());
        for (int i = 0; i < 3; i++) {
            failures.recordFailure(
                    "failing.shop.test",
                    new IssuanceException(
                            "tls-alpn-01 validation of failing.shop.test failed: connection: 10.9.9.9: Connection refused"));
        }
        startProxy();
        String closedPort =
                "127.0.0.1:" + LocalServers.freePort(); // no handshake: it would issue and clear the failure

        Run live = doctor("failing.shop.test", "--https", closedPort);

        assertThat(live.out())
                .as(live.out())
                .containsPattern("✘ issuance     the last attempt failed \\(\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC,"
                        + " 3 failures in a row\\): tls-alpn-01 validation of failing.shop.test failed: connection:"
                        + " 10.9.9.9: Connection refused")
                .contains("from the running proxy")
                .contains("fix: the CA could not reach this proxy for failing.shop.test");
        node.close();
        node = null;

        Run stopped = doctor("failing.shop.test");

        assertThat(stopped.out())
                .as(stopped.out())
                .containsPattern("✘ issuance     the last attempt failed \\([^)]*, 3 failures in a row\\)")
                .contains("from storage (the admin API at http://127.0.0.1:0 did not answer")
                .contains("✘ certificate  nothing listens on 127.0.0.1:0");
        assertThat(stopped.exitCode()).isEqualTo(1);
    }

    @Test
    void nameOutsideTheConfigFailsWithTheEntryToAdd() throws Exception {
        startProxy();

        Run run = doctor("links.other.test", "--expect", "127.0.0.1");

        assertThat(run.out())
                .as(run.out())
                .contains("✘ config       links.other.test is not in the config's domains: the proxy refuses it")
                .contains("fix: add it under domains: - { name: links.other.test, platform: stand-in }")
                .contains("unrecognized_name");
        assertThat(run.exitCode()).isEqualTo(1);
    }

    // ---- without a DOMAIN: every issuer and the storage

    @Test
    void everyIssuerIsCheckedDirectoryAccountEabProfileAndTheCaaOfEachListedName() throws Exception {
        // a: offers profiles, is named by the CAA of listed.shop.test; b: requires EAB, which is not configured
        AcmeStandIn a =
                ca("{\"caaIdentities\": [\"ca-a.test\"], \"profiles\": {\"classic\": \"\", \"shortlived\": \"\"}}");
        AcmeStandIn b = ca("{\"caaIdentities\": [\"ca-b.test\"], \"externalAccountRequired\": true}");
        dns.server().addCaa("listed.shop.test", "issue", "ca-a.test");
        config.set(
                        "certificates.issuers",
                        "[{name: a, directory: \"" + a.directoryUrl() + "\", profile: shortlived},"
                                + " {name: b, directory: \"" + b.directoryUrl() + "\"}]")
                .domains("stand-in", "listed.shop.test", "open.shop.test")
                .write();

        Run run = doctor(null);

        assertThat(run.out())
                .as(run.out())
                .contains("clicktls doctor: the issuers and the storage")
                .contains("does not exist yet: made at the first start")
                .contains("✔ ca           a: the ACME directory " + a.directoryUrl() + " answers")
                .contains("account: none stored yet; registered with the first order")
                .contains("profile shortlived; offered: classic, shortlived")
                .contains("✘ ca           b: the CA requires external account binding for new accounts and none is"
                        + " configured")
                .contains("fix: set certificates.issuers[1].eab { kid, hmac_key_file }")
                .contains("✔ caa          a: the CAA records of all 2 listed names let ca-a.test issue")
                .contains("✘ caa          b: the CAA records of 1 of 2 listed names do not let ca-b.test issue")
                .contains("fix: add a CAA record at listed.shop.test: 0 issue \"ca-b.test\"")
                .contains("2 of 5 checks failed for the issuers and the storage.");
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(dir.resolve("data")).as("doctor leaves no trace").doesNotExist();
        assertThat(a.newOrders()).isEmpty();
    }

    @Test
    void aProfileTheCaDoesNotOfferFailsNamingTheOffered() throws Exception {
        AcmeStandIn a = ca("{\"profiles\": {\"classic\": \"90 days\", \"tlsserver\": \"\"}}");
        config.set("certificates.acme", "{directory: \"" + a.directoryUrl() + "\", profile: shortlived}")
                .set("certificates.issuer", "acme")
                .write();

        Run run = doctor(null);

        assertThat(run.out())
                .as(run.out())
                .contains("✘ ca           127.0.0.1: profile 'shortlived' is not offered by 127.0.0.1; it offers:"
                        + " classic, tlsserver")
                .contains("fix: set certificates.acme.profile to one the CA offers");
        assertThat(run.exitCode()).isEqualTo(1);
    }

    @Test
    void aStoredAccountAndConfiguredEabPassAndAnUnreachableIssuerFails() throws Exception {
        AcmeStandIn b = ca("{\"externalAccountRequired\": true}");
        String unreachable = "http://127.0.0.1:" + LocalServers.freePort() + "/directory";
        config.set(
                        "certificates.issuers",
                        "[{name: down, directory: \"" + unreachable + "\"}, {name: b, directory: \"" + b.directoryUrl()
                                + "\", eab: {kid: kid-1, hmac_key: " + "A".repeat(43) + "}}]")
                .write();
        new FileStorage(dir.resolve("data"))
                .store(
                        "acme/b/account.json",
                        ("{\"directory\": \"" + b.directoryUrl() + "\", \"location\": \"" + b.url("/acct/7") + "\"}")
                                .getBytes(StandardCharsets.UTF_8));

        Run run = doctor(null);

        assertThat(run.out())
                .as(run.out())
                .contains("✔ storage      " + dir.resolve("data") + " is writable, ")
                .contains("✘ ca           down: the ACME CA is unreachable: cannot reach " + unreachable)
                .contains("✔ ca           b: the ACME directory")
                .contains("account: " + b.url("/acct/7"))
                .contains("the CA requires external account binding: external account binding, kid kid-1");
        assertThat(run.exitCode()).isEqualTo(1);
    }

    @Test
    void postgresStorageIsReachableMigratedAndTimed() throws Exception {
        try (PostgresServer postgres = PostgresServer.start(dir.resolve("pg"))) {
            config.set("storage", "{postgres: {url: \"" + postgres.url() + "\", user: postgres, schema: doctor_check}}")
                    .write();

            Run run = doctor(null);

            assertThat(run.out())
                    .as(run.out())
                    .containsPattern("✔ storage      PostgreSQL at " + postgres.url()
                            + ", schema doctor_check answers; its schema is migrated; a read takes [0-9.]+ ms");
            postgres.stop();

            Run down = doctor(null);

            assertThat(down.out())
                    .as(down.out())
                    .contains("✘ storage      PostgreSQL at " + postgres.url() + ", schema doctor_check cannot be used")
                    .contains("fix: check storage.postgres");
            assertThat(down.exitCode()).isEqualTo(1);
        }
    }

    /** A stand-in ACME CA serving a directory with this {@code meta}, closed after the test. */
    private AcmeStandIn ca(String meta) throws Exception {
        AcmeStandIn ca = AcmeStandIn.start(meta);
        cas.add(ca);
        return ca;
    }

    @Test
    void anOptionWithoutItsValueIsAUsageError() {
        Run run = doctor(null, "--expect");

        assertThat(run.exitCode()).isEqualTo(64);
        assertThat(run.err()).contains("usage: clicktls doctor");
    }
}
