package io.clicktls;

import io.clicktls.cli.CheckCommand;
import io.clicktls.cli.DoctorCommand;
import io.clicktls.cli.StorageCopyCommand;
import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigException;
import io.clicktls.config.ConfigLoader;
import io.clicktls.config.Endpoint;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;

/**
 * The command line: {@code run} (the default), {@code check}, {@code doctor} and {@code storage copy}.
 */
public final class Main {

    static final String USAGE =
            """
            usage: clicktls [run] [--config FILE] [--demo-platform HOST:PORT]
                   clicktls check --config FILE
                   clicktls doctor --config FILE [--expect NAME_OR_IP]... [--dns-server HOST:PORT]
                                   [--trust PEM]... [--https HOST:PORT] [--admin URL] [DOMAIN]
                   clicktls storage copy --from FILE --to FILE

              run      serve: the https, http and admin listeners of the config (without --config: the
                       embedded default, the same as config/clicktls.yml in the source tree)
                       --demo-platform starts a built-in stand-in email platform on HOST:PORT, to try the
                       whole path offline (the default config forwards to 127.0.0.1:8081)
              check    validate a config file: exit 0, or exit 2 with one file:line:column: message per problem
              doctor   explain what works and what does not for one domain: config, DNS (CNAME chain, addresses;
                       --expect says where it should lead), each CA and CAA, the certificate served, the platform's
                       answer, the last issuance error, the storage; without DOMAIN: the storage and every CA
                       (directory, account, EAB, profile, CAA of the listed names); ✔ or ✘ with a fix per check;
                       exit 0 when all pass. --trust adds a root (a test CA's), --https and --admin say where the
                       node is reached (behind a load balancer with PROXY protocol: --https at the balancer)
              storage  copy: copy everything stored (certificates, keys, ACME accounts, the internal CA, state;
                       not challenges in flight) from the storage --from's config names to the one --to's names
                       (a folder or PostgreSQL, either way); values already equal are skipped; exit 0, 1 when a
                       key failed, 2 for bad usage or config (clicktls storage copy --help for more)
            """;

    private Main() {}

    public static void main(String[] args) {
        int code = run(args, System.out, System.err);
        if (code != 0) {
            System.exit(code);
        }
    }

    /** Runs a command; for {@code run} it returns only when the proxy stops. */
    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length > 0 && args[0].equals("doctor")) {
            // doctor has options of its own; its output has ✔ and ✘, whatever the platform's default charset
            PrintStream utf8 = out == System.out
                    ? new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8)
                    : out;
            return DoctorCommand.run(List.of(args).subList(1, args.length), ClickTlsServer::existingStorage, utf8, err);
        }
        if (args.length > 0 && args[0].equals("storage")) {
            return StorageCopyCommand.run(
                    List.of(args).subList(1, args.length),
                    ClickTlsServer::existingStorage,
                    config -> Optional.of(ClickTlsServer.openStorage(config)),
                    out,
                    err);
        }
        Arguments parsed;
        try {
            parsed = Arguments.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("clicktls: " + e.getMessage());
            err.print(USAGE);
            return 64;
        }
        switch (parsed.command()) {
            case "help":
                out.print(USAGE);
                return 0;
            case "check":
                if (parsed.config() == null) {
                    err.println("clicktls check: --config FILE is required");
                    return 64;
                }
                return CheckCommand.run(parsed.config(), out, err);
            default:
                return serve(parsed, err);
        }
    }

    private static int serve(Arguments args, PrintStream err) {
        WarmUp.startInBackground();
        ClickTlsConfig config;
        try {
            config = args.config() == null ? ConfigLoader.loadDefault() : ConfigLoader.load(args.config());
        } catch (ConfigException e) {
            e.reportLines().forEach(err::println);
            return 2;
        }
        ClickTlsServer server;
        try {
            server = ClickTlsServer.start(config, args.demoPlatform());
        } catch (Exception e) {
            err.println("clicktls: cannot start: " + e.getMessage());
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            server.close();
                            stopped.countDown();
                        },
                        "clicktls-shutdown"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    record Arguments(String command, Path config, Endpoint demoPlatform, List<String> positional) {
        static Arguments parse(String[] args) {
            String command = "run";
            Path config = null;
            Endpoint demo = null;
            List<String> positional = new ArrayList<>();
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                switch (arg) {
                    case "-h", "--help", "help" -> command = "help";
                    case "--config", "-c" -> config = Path.of(value(args, ++i, arg));
                    case "--demo-platform" -> demo = endpoint(value(args, ++i, arg));
                    default -> {
                        if (arg.startsWith("--config=")) {
                            config = Path.of(arg.substring("--config=".length()));
                        } else if (arg.startsWith("-")) {
                            throw new IllegalArgumentException("unknown option " + arg);
                        } else if (i == 0 && List.of("run", "check", "doctor").contains(arg)) {
                            command = arg;
                        } else {
                            positional.add(arg);
                        }
                    }
                }
            }
            if (command.equals("run") && !positional.isEmpty()) {
                throw new IllegalArgumentException("unexpected argument " + positional.get(0));
            }
            return new Arguments(command, config, demo, List.copyOf(positional));
        }

        private static String value(String[] args, int i, String option) {
            if (i >= args.length) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return args[i];
        }

        private static Endpoint endpoint(String text) {
            int colon = text.lastIndexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException("--demo-platform: " + text + " (expected: HOST:PORT)");
            }
            String host = text.substring(0, colon).replace("[", "").replace("]", "");
            try {
                int port = Integer.parseInt(text.substring(colon + 1));
                if (port < 0 || port > 65535) {
                    throw new NumberFormatException();
                }
                return new Endpoint(host, port);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "--demo-platform: port " + text.substring(colon + 1) + " (expected: 0-65535)");
            }
        }
    }
}
