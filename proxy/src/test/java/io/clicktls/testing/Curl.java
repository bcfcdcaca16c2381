package io.clicktls.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real curl, as a user would, and returns what it got. Names are resolved with {@code --resolve} to
 * 127.0.0.1, never through DNS; the path is sent as is ({@code --path-as-is}).
 */
public final class Curl {

    /** What curl got: the last response's status, HTTP version, headers (lower-case names) and body. */
    public record Result(
            int status,
            String httpVersion,
            Map<String, List<String>> headers,
            byte[] body,
            String stderr,
            int exitCode) {

        public String header(String name) {
            List<String> values = headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
            return values.isEmpty() ? null : values.get(0);
        }

        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    private Curl() {}

    /** {@code https://host:port target}, trusting {@code caPem}. */
    public static Result https(Path caPem, int port, String host, String target, String... options)
            throws IOException, InterruptedException {
        List<String> args =
                new ArrayList<>(List.of("--cacert", caPem.toString(), "--resolve", host + ":" + port + ":127.0.0.1"));
        args.addAll(List.of(options));
        args.add("https://" + host + ":" + port + target);
        return run(args);
    }

    /** {@code http://host:port target}. */
    public static Result http(int port, String host, String target, String... options)
            throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("--resolve", host + ":" + port + ":127.0.0.1"));
        args.addAll(List.of(options));
        args.add("http://" + host + ":" + port + target);
        return run(args);
    }

    /** curl with these options (and a 10 s limit); status 0 when no response came. */
    public static Result run(List<String> options) throws IOException, InterruptedException {
        Path headers = Files.createTempFile("curl-headers", ".txt");
        Path body = Files.createTempFile("curl-body", ".bin");
        try {
            List<String> command = new ArrayList<>(List.of(
                    "curl",
                    "-sS",
                    "--path-as-is",
                    "--max-time",
                    "10",
                    "-D",
                    headers.toString(),
                    "-o",
                    body.toString(),
                    "-w",
                    "%{http_code} %{http_version}"));
            command.addAll(options);
            Process process = new ProcessBuilder(command).start();
            byte[] out = process.getInputStream().readAllBytes();
            String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("curl did not finish: " + command);
            }
            String[] written = new String(out, StandardCharsets.US_ASCII).trim().split(" ");
            return new Result(
                    written[0].isEmpty() ? 0 : Integer.parseInt(written[0]),
                    written.length > 1 ? written[1] : "",
                    lastHeaderBlock(Files.readString(headers, StandardCharsets.ISO_8859_1)),
                    Files.readAllBytes(body),
                    err,
                    process.exitValue());
        } finally {
            Files.deleteIfExists(headers);
            Files.deleteIfExists(body);
        }
    }

    private static Map<String, List<String>> lastHeaderBlock(String dump) {
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (String line : dump.split("\r\n")) {
            if (line.startsWith("HTTP/")) {
                headers.clear();
            } else if (line.indexOf(':') > 0) {
                String name = line.substring(0, line.indexOf(':')).trim().toLowerCase(Locale.ROOT);
                headers.computeIfAbsent(name, k -> new ArrayList<>())
                        .add(line.substring(line.indexOf(':') + 1).trim());
            }
        }
        return headers;
    }
}
