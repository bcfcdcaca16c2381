package io.clicktls.config;

import io.clicktls.config.YamlTree.ScalarNode;
import java.util.List;

/** {@code node:} the node's name among the nodes that share a storage. */
final class NodeReader {

    private static final List<String> KEYS = List.of("name");
    private static final String NAME_EXPECTED =
            "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit, such as the host name";

    private NodeReader() {}

    static NodeIdentity read(Section node) {
        node.allowOnly(KEYS);
        ScalarNode name = node.scalar("name", NAME_EXPECTED);
        if (name == null) {
            return NodeIdentity.DEFAULTS;
        }
        if (!NodeIdentity.NAME.matcher(name.text()).matches()) {
            node.binding().expected(name.position(), "node.name: " + name.text(), NAME_EXPECTED);
            return NodeIdentity.DEFAULTS;
        }
        return new NodeIdentity(name.text());
    }
}
