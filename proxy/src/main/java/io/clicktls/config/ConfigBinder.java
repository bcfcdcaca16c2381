package io.clicktls.config;

import io.clicktls.config.YamlTree.MapNode;
import io.clicktls.config.YamlTree.Node;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Turns a {@link YamlTree} into a {@link ClickTlsConfig}, checking every key and value and collecting every problem
 * rather than stopping at the first. Each top-level section has its reader ({@link ListenReader},
 * {@link StorageReader}, {@link CertificatesReader}, {@link PlatformsReader}, {@link DomainsReader},
 * {@link UpgradeReader}, {@link AdminReader}, {@link ConnectionLimitsReader}, {@link TuningReader}, {@link NodeReader}); the defaults for whatever is left out are in
 * the config records. One instance per load; not thread-safe.
 */
final class ConfigBinder {

    private static final List<String> TOP_KEYS = List.of(
            "listen",
            "storage",
            "certificates",
            "platforms",
            "domains",
            "domains_file",
            "upgrade",
            "admin",
            "limits",
            "tuning",
            "node");

    private final Binding binding;
    /** Told the path of the {@code domains_file} the config names, even when the config is then rejected. */
    private final Consumer<Path> domainsFileNamed;

    ConfigBinder(String file, Path baseDir, List<ConfigProblem> problems, Consumer<Path> domainsFileNamed) {
        this.binding = new Binding(file, baseDir, problems);
        this.domainsFileNamed = domainsFileNamed;
    }

    /** Returns the config, or {@code null} when anything was reported (here or before). */
    ClickTlsConfig bind(Node rootNode, Path source) {
        if (!(rootNode instanceof MapNode rootMap)) {
            binding.expected(
                    rootNode.position(),
                    "the file holds " + Binding.describe(rootNode),
                    "a map with the keys " + String.join(", ", TOP_KEYS));
            return null;
        }
        Section root = Section.root(binding, rootMap);
        root.allowOnly(TOP_KEYS);
        Listen listen = ListenReader.read(root.section("listen"));
        StorageSettings storage = StorageReader.read(root.section("storage"));
        CertificatesReader certificatesReader = new CertificatesReader(root.section("certificates"));
        Certificates certs = certificatesReader.read();
        Map<String, Platform> platforms = new HashMap<>();
        List<String> declaredPlatforms = new ArrayList<>();
        // before platforms and domains: their own upgrade keys are laid over it
        Upgrade upgrade = UpgradeReader.read(root.section("upgrade"), Upgrade.DEFAULTS);
        PlatformsReader.read(root, upgrade, platforms, declaredPlatforms);
        DomainsReader domainsReader = new DomainsReader(root, declaredPlatforms, platforms, upgrade);
        List<Domain> domains = new ArrayList<>(domainsReader.domains());
        Path domainsFile = domainsReader.domainsFile(domains, domainsFileNamed);
        certificatesReader.checkPlatforms(declaredPlatforms);
        Admin admin = AdminReader.read(root.section("admin"));
        AdminReader.checkExposure(root, listen, admin);
        ConnectionLimits limits = ConnectionLimitsReader.read(root.section("limits"));
        Tuning tuning = TuningReader.read(root.section("tuning"));
        NodeIdentity node = NodeReader.read(root.section("node"));
        if (binding.failed()) {
            return null;
        }
        return new ClickTlsConfig(
                listen, storage, certs, platforms, domains, upgrade, admin, limits, tuning, domainsFile, source, node);
    }
}
