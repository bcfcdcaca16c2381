package io.clicktls.config;

import static io.clicktls.config.Binding.quote;

import io.clicktls.config.YamlTree.Entry;
import io.clicktls.config.YamlTree.ListNode;
import io.clicktls.config.YamlTree.MapNode;
import io.clicktls.config.YamlTree.Node;
import io.clicktls.config.YamlTree.Position;
import io.clicktls.config.YamlTree.ScalarNode;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * {@code domains:} and {@code domains_file:}, the tracked names. A config may list 100,000 of them, so the path
 * strings of messages are only built for an entry with a problem.
 */
final class DomainsReader {

    static final String DOMAIN_EXPECTED = "a DNS name such as links.example.com, or *.example.com";
    private static final List<String> ENTRY_KEYS = List.of("name", "platform", "upgrade", "well_known");
    private static final String DOMAINS_EXPECTED = "a list of { name: HOST, platform: PLATFORM }";
    private static final String FILE_EXPECTED = "a file of NAME [PLATFORM] lines";
    /** 100,000 names are about 2.5 MB; a file this large is the wrong file. */
    private static final long MAX_FILE_BYTES = 256L * 1024 * 1024;

    private final Section root;
    private final Binding binding;
    private final Set<String> declared;
    /** The valid platforms, whose options an entry's own are laid over. */
    private final Map<String, Platform> platforms;
    /** The top-level {@code upgrade:} settings. */
    private final Upgrade upgrade;
    /** Reused for every domain name. */
    private final StringBuilder nameProblem = new StringBuilder();
    /** Every name under {@code domains:} and where: a name also in the domains file is a problem. */
    private final Map<String, Position> listed = new HashMap<>();

    DomainsReader(Section root, List<String> declaredPlatforms, Map<String, Platform> platforms, Upgrade upgrade) {
        this.root = root;
        this.binding = root.binding();
        this.declared = new HashSet<>(declaredPlatforms);
        this.platforms = platforms;
        this.upgrade = upgrade;
    }

    /** The entries of {@code domains:}, in file order, leaving out every entry with a problem. */
    List<Domain> domains() {
        Entry entry = root.entry("domains");
        if (entry == null) {
            if (!root.given("domains_file")) {
                binding.expected(root.map().position(), "missing key 'domains'", DOMAINS_EXPECTED);
            }
            return List.of();
        }
        Node node = entry.value();
        if (Section.isBlank(node)) {
            return List.of();
        }
        if (!(node instanceof ListNode list)) {
            binding.badShape(node, "domains", DOMAINS_EXPECTED);
            return List.of();
        }
        List<Node> items = list.items();
        List<Domain> domains = new ArrayList<>(items.size());
        for (int i = 0; i < items.size(); i++) {
            Node item = items.get(i);
            if (!(item instanceof MapNode map)) {
                binding.badShape(item, domainPath(i), "{ name: HOST, platform: PLATFORM }");
                continue;
            }
            boolean optionsGiven = false;
            for (Entry key : map.entries()) {
                if (!key.key().equals("name") && !key.key().equals("platform")) {
                    optionsGiven = true;
                }
            }
            String name = name(map, i);
            String platform = platform(map, i);
            DomainOptions options = DomainOptions.NONE;
            if (optionsGiven) {
                Section section = root.at(map, domainPath(i));
                section.allowOnly(ENTRY_KEYS);
                Platform known = platform == null ? null : platforms.get(platform);
                options = DomainOptionsReader.read(
                        section, upgrade, known == null ? DomainOptions.NONE : known.options(), true);
            }
            if (name != null && platform != null) {
                domains.add(new Domain(name, platform, options));
            }
        }
        return domains;
    }

    private String name(MapNode map, int index) {
        ScalarNode node = plainScalar(map.get("name"));
        if (node == null) {
            root.at(map, domainPath(index)).required("name", DOMAIN_EXPECTED);
            return null;
        }
        nameProblem.setLength(0);
        String name = HostNames.check(node.text(), true, nameProblem);
        if (name == null) {
            binding.expected(
                    node.position(),
                    domainPath(index) + ".name: " + quote(node.text()) + " " + nameProblem,
                    DOMAIN_EXPECTED);
            return null;
        }
        Position first = listed.putIfAbsent(name, node.position());
        if (first != null) {
            binding.report(
                    node.position(),
                    domainPath(index) + ".name: " + quote(name) + " is listed twice (first at line " + first.line()
                            + ")");
            return null;
        }
        return name;
    }

    private String platform(MapNode map, int index) {
        ScalarNode node = plainScalar(map.get("platform"));
        if (node == null) {
            root.at(map, domainPath(index)).required("platform", "a platform defined under 'platforms'");
            return null;
        }
        String platform = node.text();
        if (!declared.contains(platform)) {
            binding.expected(
                    node.position(),
                    domainPath(index) + ".platform: " + quote(platform) + " is not defined under 'platforms'",
                    declared.isEmpty() ? "a platform defined there" : "one of " + Binding.listForMessage(declared));
            return null;
        }
        return platform;
    }

    /**
     * {@code domains_file}: adds its entries to {@code domains} and returns its absolute path, or {@code null} when
     * there is none. Call after {@link #domains()}. A name both there and under {@code domains} is a problem
     * (reported in the file), not an override: two places disagreeing on a name's platform is a mistake to fix, not
     * to guess at.
     *
     * @param named told the file's path as soon as it is known, even if the config is then rejected
     */
    Path domainsFile(List<Domain> domains, Consumer<Path> named) {
        String path = "domains_file";
        ScalarNode node = root.scalar(path, FILE_EXPECTED);
        if (node == null) {
            return null;
        }
        Path file = binding.path(node, path);
        named.accept(file);
        byte[] content =
                binding.smallFile(node, path, file, MAX_FILE_BYTES, FILE_EXPECTED, "at most " + MAX_FILE_BYTES);
        if (content == null) {
            return null;
        }
        String text;
        try {
            text = Binding.strictly(StandardCharsets.UTF_8, content);
        } catch (CharacterCodingException e) {
            binding.expected(node.position(), path + ": " + file + " is not UTF-8 text", FILE_EXPECTED);
            return null;
        }
        Path written = Path.of(node.text());
        Path configLabel = Path.of(binding.file());
        String label = written.isAbsolute() || configLabel.getParent() == null
                ? written.toString()
                : configLabel.resolveSibling(written).toString();
        domains.addAll(DomainsFile.read(text, label, declared, listed, binding.file(), binding.problems()));
        return file;
    }

    private static String domainPath(int index) {
        return "domains[" + index + "]";
    }

    /** The value of {@code entry} if it is a non-empty scalar that is not an alias, else {@code null}. */
    private static ScalarNode plainScalar(Entry entry) {
        if (entry != null && entry.value() instanceof ScalarNode scalar && !scalar.blank() && !scalar.alias()) {
            return scalar;
        }
        return null;
    }
}
