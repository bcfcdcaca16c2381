package io.clicktls.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;

/**
 * Reads and validates the YAML config file; {@code config/clicktls.yml} lists every key with its default, and
 * {@code docs/architecture.md} ("Config") states the contract. Strict: unknown keys, wrong values and YAML errors are
 * all problems, reported together with their {@code file:line:column}; a config with any problem is not returned.
 * Everything except {@code platforms} and {@code domains} (or {@code domains_file}) has a default, kept in the
 * config records ({@link Listen#DEFAULTS}, {@link Tuning#DEFAULTS}, ...). Domain names come back lower-cased,
 * without a trailing dot, in punycode; relative paths come back absolute, resolved against the file's folder;
 * platform presets come back resolved to upstreams. Stateless and thread-safe.
 */
public final class ConfigLoader {

    /** Where the default config (the repository's {@code config/clicktls.yml}) sits in the jar. */
    public static final String DEFAULT_RESOURCE = "/io/clicktls/config/clicktls.yml";

    private ConfigLoader() {}

    /**
     * Reads {@code file}; problems name it as given (so {@code config/clicktls.yml:3:10: ...} for a relative path).
     *
     * @throws ConfigException with every problem found, including a missing or unreadable file
     */
    public static ClickTlsConfig load(Path file) throws ConfigException {
        byte[] bytes;
        try {
            if (Files.size(file) > YamlTree.MAX_CODE_POINTS) {
                throw tooLarge(file.toString(), Files.size(file));
            }
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw single(file.toString(), "cannot read the file: it does not exist");
        } catch (AccessDeniedException e) {
            throw single(file.toString(), "cannot read the file: permission denied");
        } catch (IOException e) {
            throw single(file.toString(), "cannot read the file: " + (e.getMessage() != null ? e.getMessage() : e));
        }
        return load(file, bytes);
    }

    /** Validates {@code bytes} as if read from {@code file} (the watcher reads them itself to compare them). */
    static ClickTlsConfig load(Path file, byte[] bytes) throws ConfigException {
        return load(file, bytes, named -> {});
    }

    /**
     * Like {@link #load(Path, byte[])}; {@code domainsFileNamed} is told the absolute path of the {@code domains_file}
     * the text names, even if the config is then rejected, so that the watcher can watch it.
     */
    static ClickTlsConfig load(Path file, byte[] bytes, Consumer<Path> domainsFileNamed) throws ConfigException {
        String label = file.toString();
        if (bytes.length > YamlTree.MAX_CODE_POINTS) {
            throw tooLarge(label, bytes.length);
        }
        Path absolute = file.toAbsolutePath().normalize();
        Path folder = absolute.getParent() != null ? absolute.getParent() : absolute;
        return parse(decode(bytes, label), label, folder, absolute, domainsFileNamed);
    }

    /**
     * Validates YAML text that did not come from a file of its own, e.g. in tests.
     *
     * @param fileLabel what problems call the file
     * @param baseDir what relative paths are resolved against
     * @return a config whose {@link ClickTlsConfig#source()} is {@code null}
     */
    public static ClickTlsConfig parse(String yamlText, String fileLabel, Path baseDir) throws ConfigException {
        return parse(yamlText, fileLabel, baseDir, null, named -> {});
    }

    /**
     * The config embedded in the jar ({@link #DEFAULT_RESOURCE}), a copy of the source tree's
     * {@code config/clicktls.yml}; its relative paths resolve as if it stood at {@code ./config/clicktls.yml}, so
     * its {@code ../data} is {@code ./data} as it is for the file. It is checked by the build, so a problem here is a
     * bug.
     *
     * @throws IllegalStateException if the resource is missing or invalid
     */
    public static ClickTlsConfig loadDefault() {
        try (InputStream in = ConfigLoader.class.getResourceAsStream(DEFAULT_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the default config " + DEFAULT_RESOURCE + " is not on the classpath");
            }
            String label = "classpath:" + DEFAULT_RESOURCE;
            return parse(
                    decode(in.readAllBytes(), label), label, Path.of("config").toAbsolutePath(), null, named -> {});
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the default config " + DEFAULT_RESOURCE, e);
        } catch (ConfigException e) {
            throw new IllegalStateException("the default config is invalid: " + e.getMessage(), e);
        }
    }

    private static ClickTlsConfig parse(
            String yamlText, String fileLabel, Path baseDir, Path source, Consumer<Path> domainsFileNamed)
            throws ConfigException {
        List<ConfigProblem> problems = new ArrayList<>();
        String text = yamlText.startsWith("\uFEFF") ? yamlText.substring(1) : yamlText;
        YamlTree.Node root = YamlTree.read(text, fileLabel, problems);
        ClickTlsConfig config = root == null
                ? null
                : new ConfigBinder(fileLabel, baseDir, problems, domainsFileNamed).bind(root, source);
        if (!problems.isEmpty() || config == null) {
            if (problems.isEmpty()) {
                throw new IllegalStateException("config rejected without a problem: " + fileLabel);
            }
            // the config file's problems first, then the domains file's, each in file order
            problems.sort(Comparator.comparing(
                            (ConfigProblem problem) -> !problem.file().equals(fileLabel))
                    .thenComparingInt(ConfigProblem::line)
                    .thenComparingInt(ConfigProblem::column));
            throw new ConfigException(problems);
        }
        return config;
    }

    private static String decode(byte[] bytes, String label) throws ConfigException {
        // the lenient constructor is the fast one; a replacement character means the strict decoder must decide
        String text = new String(bytes, StandardCharsets.UTF_8);
        if (text.indexOf('\uFFFD') < 0) {
            return text;
        }
        try {
            return Binding.strictly(StandardCharsets.UTF_8, bytes);
        } catch (CharacterCodingException e) {
            throw single(label, "the file is not UTF-8 text");
        }
    }

    private static ConfigException tooLarge(String label, long bytes) {
        return single(
                label,
                Binding.expecting("the file is " + bytes + " bytes", "at most " + YamlTree.MAX_CODE_POINTS + " bytes"));
    }

    private static ConfigException single(String label, String message) {
        return new ConfigException(List.of(new ConfigProblem(label, 1, 1, message)));
    }
}
