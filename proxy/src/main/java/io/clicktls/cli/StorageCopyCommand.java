package io.clicktls.cli;

import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigException;
import io.clicktls.config.ConfigLoader;
import io.clicktls.config.StorageSettings;
import io.clicktls.storage.Storage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * {@code clicktls storage copy --from FILE --to FILE}: copies what one node stored into the storage another config
 * names, to move from a folder to PostgreSQL (a cluster) or back (see {@link StorageCopy} for what is copied and in
 * which order). Both files are ordinary clicktls config files; only their {@code storage:} sections matter, but each
 * must load as a whole, as the node that will use it would load it.
 *
 * <p>Exit 0 when every key was copied or already equal, 1 when a key failed or a storage could not be opened, 2 for
 * bad usage, a config that does not load (one {@code file:line:column: message} line per problem), two configs
 * that name the same storage, or a source where nothing was ever stored. Progress on {@code err} at most once a
 * second, the summary on {@code out}. Blocking.
 */
public final class StorageCopyCommand {

    static final String USAGE =
            """
            usage: clicktls storage copy --from FILE --to FILE

              Copies every certificate, private key, ACME account, the internal CA, issuance state and rate-limit
              counters (not challenges in flight) from the storage --from's config names to the storage --to's
              config names: storage.directory or storage.postgres, in either direction. Private keys are read
              with the source's storage.postgres.encryption_key_file and written with the target's. Values already
              equal in the target are skipped, so running it again copies only what changed; a value that
              differs is replaced, and nothing in the target is deleted. Stop the node that writes to --from
              first, or run it again afterwards. Progress on stderr at most once a second, a summary on stdout.
              Exit 0 when all is copied, 1 when a key or a storage failed, 2 for bad usage or config.
            """;

    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int INVALID = 2;

    /** How many keys are copied at once between two folders. */
    static final int FOLDER_WORKERS = 4;

    /** At most this many failed keys are listed, then how many more. */
    static final int LISTED_FAILURES = 100;

    private static final String NAME = "clicktls storage copy";

    /** The parsed command line. */
    record Options(Path from, Path to) {}

    /** Opens a config's storage as the node does; empty when there is nothing stored to open. Blocking. */
    @FunctionalInterface
    public interface Opener {
        Optional<Storage> open(ClickTlsConfig config) throws IOException;
    }

    private StorageCopyCommand() {}

    /**
     * @param args the arguments after {@code storage}
     * @param existing opens the source without creating anything ({@code ClickTlsServer::existingStorage})
     * @param create opens the target, creating what it needs ({@code ClickTlsServer.openStorage})
     */
    public static int run(List<String> args, Opener existing, Opener create, PrintStream out, PrintStream err) {
        return run(args, existing, create, out, err, Clock.systemUTC());
    }

    static int run(List<String> args, Opener existing, Opener create, PrintStream out, PrintStream err, Clock clock) {
        Options options;
        try {
            options = parse(args);
        } catch (IllegalArgumentException e) {
            err.println(NAME + ": " + e.getMessage());
            err.print(USAGE);
            return INVALID;
        }
        if (options == null) {
            out.print(USAGE);
            return OK;
        }
        ClickTlsConfig from = load(options.from(), err);
        ClickTlsConfig to = load(options.to(), err);
        if (from == null || to == null) {
            return INVALID;
        }
        Optional<String> same = sameStorage(from.storage(), to.storage());
        if (same.isPresent()) {
            err.println(NAME + ": --from " + options.from() + " and --to " + options.to() + " " + same.get()
                    + ": nothing to copy");
            return INVALID;
        }
        Storage source = null;
        Storage target = null;
        try {
            try {
                source = existing.open(from).orElse(null);
            } catch (IOException | RuntimeException e) {
                err.println(
                        NAME + ": cannot open --from storage (" + describe(from.storage()) + "): " + e.getMessage());
                return FAILED;
            }
            if (source == null) {
                err.println(NAME + ": --from " + options.from() + ": nothing is stored in " + describe(from.storage())
                        + " (no such folder)");
                return INVALID;
            }
            try {
                target = create.open(to).orElseThrow();
            } catch (IOException | RuntimeException e) {
                err.println(NAME + ": cannot open --to storage (" + describe(to.storage()) + "): " + e.getMessage());
                return FAILED;
            }
            err.println(NAME + ": from " + describe(from.storage()) + " to " + describe(to.storage()));
            err.flush();
            StorageCopy.Summary summary;
            try {
                summary = new StorageCopy(source, target, workers(from.storage(), to.storage()), clock, line -> {
                            err.println(line);
                            err.flush();
                        })
                        .run();
            } catch (IOException e) {
                err.println(NAME + ": cannot list " + describe(from.storage()) + ": " + e.getMessage());
                return FAILED;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                err.println(NAME + ": interrupted; run it again to copy the rest");
                return FAILED;
            }
            report(summary, out, err);
            return summary.failed() == 0 ? OK : FAILED;
        } finally {
            close(source, err);
            close(target, err);
        }
    }

    /**
     * How many keys are copied at once: as many as the database's {@code pool_size} gives connections (each write
     * is a commit, which waits for PostgreSQL's disk, so several at once go faster), else {@link #FOLDER_WORKERS}.
     */
    static int workers(StorageSettings from, StorageSettings to) {
        int workers = Integer.MAX_VALUE;
        for (StorageSettings side : List.of(from, to)) {
            if (side.postgres() != null) {
                workers = Math.min(workers, side.postgres().poolSize());
            }
        }
        return workers == Integer.MAX_VALUE ? FOLDER_WORKERS : workers;
    }

    /** The options, or {@code null} when help was asked for. */
    static Options parse(List<String> args) {
        if (args.contains("--help") || args.contains("-h")) {
            return null;
        }
        if (args.isEmpty() || !args.get(0).equals("copy")) {
            throw new IllegalArgumentException(
                    args.isEmpty() ? "which storage command? (copy)" : "unknown storage command " + args.get(0));
        }
        Map<String, Path> files = new HashMap<>();
        for (Iterator<String> tokens = tokens(args.subList(1, args.size())).iterator(); tokens.hasNext(); ) {
            String option = tokens.next();
            if (!option.equals("--from") && !option.equals("--to")) {
                throw new IllegalArgumentException(
                        option.startsWith("-") ? "unknown option " + option : "unexpected argument " + option);
            }
            if (!tokens.hasNext()) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            files.put(option, Path.of(tokens.next()));
        }
        Path from = files.get("--from");
        Path to = files.get("--to");
        if (from == null || to == null) {
            throw new IllegalArgumentException("--from FILE and --to FILE are both required");
        }
        return new Options(from, to);
    }

    /** The arguments with each {@code --option=value} split in two, so that both spellings read alike. */
    private static List<String> tokens(List<String> args) {
        List<String> tokens = new ArrayList<>();
        for (String arg : args) {
            int equals = arg.indexOf('=');
            if (arg.startsWith("--") && equals > 0) {
                tokens.add(arg.substring(0, equals));
                tokens.add(arg.substring(equals + 1));
            } else {
                tokens.add(arg);
            }
        }
        return tokens;
    }

    private static ClickTlsConfig load(Path file, PrintStream err) {
        try {
            return ConfigLoader.load(file);
        } catch (ConfigException e) {
            e.reportLines().forEach(err::println);
            return null;
        }
    }

    /**
     * Why two storage sections name the same storage (or one folder inside the other, whose keys the copy would
     * then list as its own), or empty when they are apart. PostgreSQL URLs are compared by host, port and database;
     * a host reached under two names is not recognised.
     */
    static Optional<String> sameStorage(StorageSettings from, StorageSettings to) {
        if (from.postgres() != null && to.postgres() != null) {
            String database = database(from.postgres().url());
            boolean same = database.equals(database(to.postgres().url()))
                    && from.postgres().schema().equals(to.postgres().schema());
            return same
                    ? Optional.of("both name schema " + from.postgres().schema() + " of " + database)
                    : Optional.empty();
        }
        if (from.postgres() != null || to.postgres() != null) {
            return Optional.empty();
        }
        Path a = real(from.directory());
        Path b = real(to.directory());
        if (a.equals(b)) {
            return Optional.of("both name the folder " + a);
        }
        if (a.startsWith(b) || b.startsWith(a)) {
            return Optional.of("name folders inside one another (" + a + ", " + b + ")");
        }
        return Optional.empty();
    }

    /** {@code host:port/database} of a {@code jdbc:postgresql:} URL, lower-cased, with the default port. */
    static String database(String url) {
        String rest = url.substring("jdbc:postgresql:".length());
        int query = rest.indexOf('?');
        rest = query < 0 ? rest : rest.substring(0, query);
        if (!rest.startsWith("//")) {
            return "localhost:5432/" + rest; // jdbc:postgresql:database
        }
        rest = rest.substring(2);
        int slash = rest.indexOf('/');
        String authority = slash < 0 ? rest : rest.substring(0, slash);
        String database = slash < 0 ? "" : rest.substring(slash + 1);
        boolean hasPort = authority.lastIndexOf(':') > authority.lastIndexOf(']');
        return authority.toLowerCase(Locale.ROOT) + (hasPort ? "" : ":5432") + "/" + database;
    }

    private static Path real(Path folder) {
        Path absolute = folder.toAbsolutePath().normalize();
        try {
            return Files.exists(absolute) ? absolute.toRealPath() : absolute;
        } catch (IOException e) {
            return absolute;
        }
    }

    /** A storage as a person recognises it; never a password (the URL's query is left out). */
    static String describe(StorageSettings storage) {
        if (storage.postgres() == null) {
            return "the folder " + storage.directory();
        }
        String url = storage.postgres().url();
        int query = url.indexOf('?');
        return "PostgreSQL " + (query < 0 ? url : url.substring(0, query)) + " (schema "
                + storage.postgres().schema() + ")";
    }

    private static void report(StorageCopy.Summary summary, PrintStream out, PrintStream err) {
        List<StorageCopy.Failure> failures = summary.failures();
        for (StorageCopy.Failure failure : failures.subList(0, Math.min(LISTED_FAILURES, failures.size()))) {
            err.println(NAME + ": " + failure.key() + ": " + failure.reason());
        }
        if (failures.size() > LISTED_FAILURES) {
            err.println(NAME + ": and " + (failures.size() - LISTED_FAILURES) + " more failed keys");
        }
        err.flush();
        List<String> notes = new ArrayList<>();
        if (summary.skipped() > 0) {
            notes.add(summary.skipped() + " challenges in flight not copied");
        }
        if (summary.vanished() > 0) {
            notes.add(summary.vanished() + " deleted in the source meanwhile");
        }
        out.printf(
                Locale.ROOT,
                "copied %d, unchanged %d, failed %d; %d bytes in %.1f s%s%n",
                summary.copied(),
                summary.unchanged(),
                summary.failed(),
                summary.bytes(),
                summary.took().toMillis() / 1000.0,
                notes.isEmpty() ? "" : " (" + String.join(", ", notes) + ")");
        out.flush();
    }

    private static void close(Storage storage, PrintStream err) {
        if (storage instanceof AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception e) {
                err.println(NAME + ": closing " + storage.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }
    }
}
