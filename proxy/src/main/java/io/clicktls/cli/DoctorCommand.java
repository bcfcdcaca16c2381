package io.clicktls.cli;

import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigException;
import io.clicktls.config.ConfigLoader;
import io.clicktls.config.HostNames;
import io.clicktls.storage.Storage;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code clicktls doctor --config FILE [DOMAIN]}: explains what works and what does not, one line per check with ✔ or
 * ✘ and, for a ✘, what to do. With a DOMAIN: that domain, from its config entry and DNS through every issuer (CA, CAA)
 * to the served certificate, the platform and the last issuance error, and the storage. Without: the node itself —
 * the storage, every issuer of {@code certificates.issuers} (directory, account, external account binding, profile)
 * and, for each, the CAA records of the listed exact names. Exit 0 only when every check passes, 1 when one fails, 2
 * for a config that does not load, 64 for bad usage.
 *
 * <p>Options (for unusual setups and tests): {@code --expect NAME_OR_IP} (repeatable) adds to
 * {@code on_demand.expect_dns} where the domain's DNS should lead (with neither, the DNS check only says where it
 * points); {@code --dns-server HOST:PORT} asks that DNS server instead of {@code on_demand.dns_server} or the
 * system's; {@code --trust PEM}
 * (repeatable) adds a root for the served chain; {@code --https HOST:PORT} and {@code --admin URL} override where
 * the proxy's listeners are reached.
 */
public final class DoctorCommand {

    static final String USAGE =
            """
            usage: clicktls doctor --config FILE [--expect NAME_OR_IP]... [--dns-server HOST:PORT]
                                   [--trust PEM]... [--https HOST:PORT] [--admin URL] [DOMAIN]
            """;

    /** The parsed command line; {@code domain} is {@code null} for the node's own checks. */
    record Options(
            Path config,
            String domain,
            List<String> expect,
            InetSocketAddress dnsServer,
            List<Path> trust,
            InetSocketAddress https,
            String admin) {}

    private DoctorCommand() {}

    /**
     * Opens the node's storage for reading, without creating it: empty when nothing was ever stored. The server
     * wiring picks the implementation ({@code ClickTlsServer::existingStorage}); blocking.
     */
    @FunctionalInterface
    public interface StoredState {
        Optional<Storage> open(ClickTlsConfig config) throws IOException;
    }

    /**
     * @param args the arguments after {@code doctor}
     * @param stored the node's storage, as the server opens it
     */
    public static int run(List<String> args, StoredState stored, PrintStream out, PrintStream err) {
        Options options;
        try {
            options = parse(args);
        } catch (IllegalArgumentException e) {
            err.println("clicktls doctor: " + e.getMessage());
            err.print(USAGE);
            return 64;
        }
        ClickTlsConfig config;
        try {
            config = ConfigLoader.load(options.config());
        } catch (ConfigException e) {
            out.println("✘ config: " + options.config() + " does not load:");
            e.reportLines().forEach(line -> out.println("    " + line));
            out.println("  fix: correct the lines above (clicktls check --config " + options.config() + ")");
            return 2;
        }
        List<Doctor.Check> checks = new Doctor(config, options, stored).run(out);
        long failed = checks.stream().filter(check -> !check.ok()).count();
        String subject = options.domain() == null ? "the issuers and the storage" : options.domain();
        out.println();
        if (failed == 0) {
            out.println("All " + checks.size() + " checks passed for " + subject + ".");
            return 0;
        }
        out.println(failed + " of " + checks.size() + " checks failed for " + subject + ".");
        return 1;
    }

    static Options parse(List<String> args) {
        Path config = null;
        String domain = null;
        List<String> expect = new ArrayList<>();
        InetSocketAddress dns = null;
        List<Path> trust = new ArrayList<>();
        InetSocketAddress https = null;
        String admin = null;
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            String value = null;
            int equals = arg.indexOf('=');
            if (arg.startsWith("--") && equals > 0) {
                value = arg.substring(equals + 1);
                arg = arg.substring(0, equals);
            }
            switch (arg) {
                case "--config", "-c" -> config = Path.of(value != null ? value : value(args, ++i, arg));
                case "--expect" -> expect.add(value != null ? value : value(args, ++i, arg));
                case "--dns-server" -> dns = hostPort(value != null ? value : value(args, ++i, arg), arg);
                case "--trust" -> trust.add(Path.of(value != null ? value : value(args, ++i, arg)));
                case "--https" -> https = hostPort(value != null ? value : value(args, ++i, arg), arg);
                case "--admin" -> admin = value != null ? value : value(args, ++i, arg);
                default -> {
                    if (arg.startsWith("-")) {
                        throw new IllegalArgumentException("unknown option " + arg);
                    }
                    if (domain != null) {
                        throw new IllegalArgumentException("one DOMAIN only (got " + domain + " and " + arg + ")");
                    }
                    domain = arg;
                }
            }
        }
        if (config == null) {
            throw new IllegalArgumentException("--config FILE is required");
        }
        return new Options(
                config,
                domain == null ? null : HostNames.normalize(domain),
                List.copyOf(expect),
                dns,
                List.copyOf(trust),
                https,
                admin);
    }

    private static String value(List<String> args, int i, String option) {
        if (i >= args.size()) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args.get(i);
    }

    static InetSocketAddress hostPort(String text, String option) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException(option + ": " + text + " (expected: HOST:PORT)");
        }
        String host = text.substring(0, colon).replace("[", "").replace("]", "");
        try {
            int port = Integer.parseInt(text.substring(colon + 1));
            if (port < 1 || port > 65535) {
                throw new NumberFormatException();
            }
            return InetSocketAddress.createUnresolved(host, port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + ": port " + text.substring(colon + 1) + " (expected: 1-65535)");
        }
    }
}
