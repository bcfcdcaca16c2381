package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.sun.net.httpserver.HttpServer;
import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigLoader;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code docker/compose.cluster.yml} checked without a Docker engine: the compose file read as YAML, every file it
 * mounts or builds from present, the nodes' config loading as each node sees it through its mounts, the addresses
 * and ports of PostgreSQL, Pebble, HAProxy and the nodes lined up, and HAProxy accepting its config. Also
 * {@code docker/cluster-by-hand.sh}, the same without Docker, as far as it can be run here: its syntax and its usage.
 */
class ComposeClusterIT {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Pattern SERVER = Pattern.compile("server\\s+(\\S+)\\s+([\\w.-]+):(\\d+)(.*)");

    @TempDir
    Path dir;

    private Path docker;
    private JsonNode compose;
    private JsonNode services;

    @BeforeEach
    void readTheComposeFile() throws IOException {
        String root = System.getenv("CLICKTLS_REPO_ROOT");
        docker = (root != null ? Path.of(root) : Path.of(".."))
                .resolve("docker")
                .toAbsolutePath()
                .normalize();
        compose = YAML.readTree(docker.resolve("compose.cluster.yml").toFile());
        services = compose.get("services");
    }

    @Test
    void everyFileTheComposeFileMountsOrBuildsFromIsThere() {
        List<String> checked = new ArrayList<>();
        services.fields().forEachRemaining(service -> {
            JsonNode build = service.getValue().get("build");
            if (build != null) {
                Path context = docker.resolve(build.get("context").asText()).normalize();
                assertThat(context.resolve(build.get("dockerfile").asText())).isRegularFile();
            }
            mounts(service.getKey()).forEach((target, source) -> {
                assertThat(source).as("%s: %s", service.getKey(), target).exists();
                checked.add(service.getKey() + ":" + target);
            });
            for (JsonNode volume : list(service.getValue(), "volumes")) {
                String source = volume.asText().split(":")[0];
                if (!source.startsWith(".")) {
                    assertThat(compose.get("volumes").has(source))
                            .as("named volume %s", source)
                            .isTrue();
                }
            }
        });
        assertThat(checked)
                .contains(
                        "clicktls-1:/etc/clicktls/clicktls.yml",
                        "clicktls-2:/run/secrets/storage-key",
                        "haproxy:/usr/local/etc/haproxy/haproxy.cfg",
                        "postgres:/run/secrets/db-password");
    }

    @Test
    void bothNodesLoadOneConfigWithTheComposedDatabaseAndPebbleAndAStorageKeyOf32Bytes() throws Exception {
        JsonNode postgres = services.get("postgres").get("environment");
        for (String node : nodes()) {
            ClickTlsConfig config = load(node);

            URI database = URI.create(config.storage().postgres().url().substring("jdbc:".length()));
            assertThat(services.has(database.getHost())).as(database.toString()).isTrue();
            assertThat(database.getPort()).isEqualTo(5432);
            assertThat(database.getPath())
                    .isEqualTo("/" + postgres.get("POSTGRES_DB").asText());
            assertThat(config.storage().postgres().user())
                    .isEqualTo(postgres.get("POSTGRES_USER").asText());
            Path passwordFile = mounts("postgres")
                    .get(postgres.get("POSTGRES_PASSWORD_FILE").asText());
            assertThat(config.storage().postgres().password())
                    .isEqualTo(Files.readString(passwordFile).strip());
            assertThat(Base64.getDecoder()
                            .decode(Files.readString(config.storage().postgres().encryptionKeyFile())
                                    .strip()))
                    .hasSize(32);

            URI acme = config.certificates().acme().directory();
            assertThat(services.has(acme.getHost())).as(acme.toString()).isTrue();
            assertThat(acme.getPort())
                    .isEqualTo(port(pebbleConfig().get("listenAddress").asText()));
            assertThat(config.admin().token()).isNotBlank();
        }
        assertThat(mounts("clicktls-1")).isEqualTo(mounts("clicktls-2"));
    }

    @Test
    void haproxyTakesThePortsThePebbleValidatesAndHandsThemToEveryNodeWithAProxyHeaderItsConfigTrusts()
            throws Exception {
        String haproxyAddress = address("haproxy");
        Map<Integer, List<Matcher>> servedByPort = frontends();
        JsonNode pebble = pebbleConfig();
        assertThat(published("haproxy").values())
                .as("HAProxy's published ports")
                .containsExactlyInAnyOrderElementsOf(servedByPort.keySet());
        assertThat(servedByPort)
                .containsKeys(
                        pebble.get("httpPort").asInt(), pebble.get("tlsPort").asInt());
        List<String> challtestsrv = strings(services.get("challtestsrv").get("command"));
        assertThat(challtestsrv.get(challtestsrv.indexOf("-defaultIPv4") + 1))
                .as("every name resolves to HAProxy")
                .isEqualTo(haproxyAddress);

        for (String node : nodes()) {
            ClickTlsConfig config = load(node);
            Map<Integer, Integer> listens = Map.of(
                    pebble.get("tlsPort").asInt(), config.listen().https().port(),
                    pebble.get("httpPort").asInt(), config.listen().http().port());
            for (Map.Entry<Integer, Integer> port : listens.entrySet()) {
                Matcher server = servedByPort.get(port.getKey()).stream()
                        .filter(line -> line.group(2).equals(node))
                        .findFirst()
                        .orElseThrow(() -> new AssertionError(node + " is not behind HAProxy's port " + port.getKey()));
                assertThat(Integer.parseInt(server.group(3))).as(server.group()).isEqualTo(port.getValue());
                assertThat(server.group(4)).as(server.group()).contains("send-proxy-v2");
                assertThat(server.group(4))
                        .as("health check on the admin listener")
                        .contains("port " + config.listen().admin().port());
            }
            assertThat(published(node)).containsValue(config.listen().admin().port());
            List<String> trusted = strings(nodeYaml(node).at("/listen/proxy_protocol/from"));
            assertThat(trusted).as("listen.proxy_protocol.from").isNotEmpty();
            assertThat(trusted.stream().anyMatch(cidr -> contains(cidr, haproxyAddress)))
                    .as("%s trusts HAProxy at %s", trusted, haproxyAddress)
                    .isTrue();
            assertThat(trusted.stream().noneMatch(cidr -> contains(cidr, address(node))))
                    .as("%s does not trust the nodes themselves", trusted)
                    .isTrue();
        }
        String subnet = compose.at("/networks/cluster/ipam/config/0/subnet").asText();
        for (String service : List.of("haproxy", "clicktls-1", "clicktls-2")) {
            assertThat(contains(subnet, address(service))).as(service).isTrue();
        }
    }

    @Test
    void haproxyAcceptsItsConfig() throws Exception {
        ExternalTool haproxy = new ExternalTool(Path.of("/usr/sbin/haproxy"), "haproxy").require();

        ExternalTool.Run check = haproxy.run(
                null, 30, "-c", "-f", docker.resolve("haproxy-cluster.cfg").toString());

        assertThat(check.exitCode()).as(check.output()).isZero();
        assertThat(check.output()).contains("Configuration file is valid");
    }

    /**
     * Both compose files pass Compose's own check of the file format (services' keys, healthchecks, depends_on
     * conditions, volumes): {@code docker-compose config} reads them without an engine.
     */
    @Test
    void dockerComposeAcceptsBothComposeFiles() throws Exception {
        ExternalTool compose = new ExternalTool(Path.of("/usr/bin/docker-compose"), "docker-compose").require();

        for (String file : List.of("compose.yml", "compose.cluster.yml")) {
            ExternalTool.Run check = compose.run(
                    null,
                    60,
                    "--project-directory",
                    docker.toString(),
                    "-f",
                    docker.resolve(file).toString(),
                    "config",
                    "--quiet");

            assertThat(check.exitCode()).as(file + ": " + check.output()).isZero();
        }
    }

    @Test
    void eachNodeKeepsItsLocalCopyOnAVolumeOfItsOwnAndTheSecondStartsOnceTheFirstIsHealthy() throws Exception {
        List<String> volumes = new ArrayList<>();
        for (String node : nodes()) {
            Path cache = load(node).storage().postgresCache();
            String volume = list(services.get(node), "volumes").stream()
                    .map(JsonNode::asText)
                    .filter(entry -> !entry.startsWith("."))
                    .filter(entry -> cache.startsWith(entry.split(":")[1]))
                    .map(entry -> entry.split(":")[0])
                    .findFirst()
                    .orElseThrow(() -> new AssertionError(node + ": storage.postgres.cache_directory " + cache
                            + " is on no volume (the image's" + " /etc/clicktls is not writable by its user)"));
            volumes.add(volume);
        }
        assertThat(volumes).doesNotHaveDuplicates();
        assertThat(services.at("/clicktls-2/depends_on/clicktls-1/condition").asText())
                .as("the second node waits for the first, which makes the ACME account")
                .isEqualTo("service_healthy");
    }

    @Test
    void theImageHealthCheckPassesOnlyWhileHealthzAnswers200() throws Exception {
        List<String> command = healthCheck();
        assertThat(String.join(" ", command)).contains("127.0.0.1/9090");
        ExternalTool shell = new ExternalTool(Path.of("/bin/" + command.get(0)), command.get(0)).require();
        for (int status : List.of(200, 503)) {
            List<String> asked = new CopyOnWriteArrayList<>();
            HttpServer admin = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
            admin.createContext("/", exchange -> {
                asked.add(exchange.getRequestMethod() + " " + exchange.getRequestURI() + " Host: "
                        + exchange.getRequestHeaders().getFirst("Host"));
                byte[] body = (status == 200 ? "ok" : "listeners down").getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(status, body.length);
                exchange.getResponseBody().write(body);
                exchange.close();
            });
            admin.start();
            ExternalTool.Run run;
            try {
                run = shell.run(
                        null,
                        30,
                        command.subList(1, command.size()).stream()
                                .map(arg -> arg.replace(
                                        "127.0.0.1/9090",
                                        "127.0.0.1/" + admin.getAddress().getPort()))
                                .toArray(String[]::new));
            } finally {
                admin.stop(0);
            }
            assertThat(run.exitCode() == 0)
                    .as("/healthz %d: exit %d %s", status, run.exitCode(), run.output())
                    .isEqualTo(status == 200);
            assertThat(asked).containsExactly("GET /healthz Host: localhost");
        }
    }

    /** The Dockerfile's HEALTHCHECK command as Docker runs it: the exec form as is, the shell form with sh -c. */
    private List<String> healthCheck() throws IOException {
        String line = Files.readAllLines(docker.resolve("Dockerfile")).stream()
                .filter(text -> text.startsWith("HEALTHCHECK "))
                .findFirst()
                .orElseThrow();
        String command =
                line.substring(line.indexOf(" CMD ") + " CMD ".length()).strip();
        if (command.startsWith("[")) {
            return strings(new ObjectMapper().readTree(command));
        }
        return List.of("sh", "-c", command);
    }

    @Test
    void theByHandScriptParsesAndExplainsItselfWithoutStartingAnything() throws Exception {
        ExternalTool bash = new ExternalTool(Path.of("/bin/bash"), "bash").require();
        String script = docker.resolve("cluster-by-hand.sh").toString();

        ExternalTool.Run syntax = bash.run(null, 30, "-n", script);
        ExternalTool.Run help = bash.run(null, 30, script, "--help");
        ExternalTool.Run unknown = bash.run(null, 30, script, "--no-such-option");

        assertThat(syntax.exitCode()).as(syntax.output()).isZero();
        assertThat(help.exitCode()).as(help.output()).isZero();
        assertThat(help.stdout())
                .startsWith("usage: docker/cluster-by-hand.sh [start|stop|status]")
                .contains("--state", "PEBBLE_VA_SLEEPTIME");
        assertThat(unknown.exitCode()).as(unknown.output()).isEqualTo(64);
        assertThat(unknown.stderr()).contains("unknown argument: --no-such-option");
    }

    // ---- the compose file

    private List<String> nodes() {
        List<String> nodes = new ArrayList<>();
        services.fields().forEachRemaining(service -> {
            if (strings(service.getValue().get("command")).contains("--config")) {
                nodes.add(service.getKey());
            }
        });
        assertThat(nodes).containsExactly("clicktls-1", "clicktls-2");
        return nodes;
    }

    /** A service's bind mounts and secrets: the path in the container and the file or folder it shows. */
    private Map<String, Path> mounts(String service) {
        Map<String, Path> mounts = new LinkedHashMap<>();
        for (JsonNode volume : list(services.get(service), "volumes")) {
            String[] parts = volume.asText().split(":");
            if (parts[0].startsWith(".")) {
                mounts.put(parts[1], docker.resolve(parts[0]).normalize());
            }
        }
        for (JsonNode secret : list(services.get(service), "secrets")) {
            String name =
                    secret.isTextual() ? secret.asText() : secret.get("source").asText();
            String target = secret.has("target") ? secret.get("target").asText() : "/run/secrets/" + name;
            JsonNode declared = compose.at("/secrets/" + name + "/file");
            assertThat(declared.isMissingNode())
                    .as("secret %s declared with a file", name)
                    .isFalse();
            mounts.put(target, docker.resolve(declared.asText()).normalize());
        }
        return mounts;
    }

    /** Published ports: the container's port by the host's. */
    private Map<Integer, Integer> published(String service) {
        Map<Integer, Integer> ports = new LinkedHashMap<>();
        for (JsonNode port : list(services.get(service), "ports")) {
            String[] parts = port.asText().split(":");
            ports.put(Integer.parseInt(parts[parts.length - 2]), Integer.parseInt(parts[parts.length - 1]));
        }
        return ports;
    }

    private String address(String service) {
        JsonNode address = services.get(service).at("/networks/cluster/ipv4_address");
        assertThat(address.isMissingNode())
                .as("%s has a fixed address", service)
                .isFalse();
        return address.asText();
    }

    private static List<JsonNode> list(JsonNode service, String field) {
        List<JsonNode> items = new ArrayList<>();
        if (service.has(field)) {
            service.get(field).forEach(items::add);
        }
        return items;
    }

    private static List<String> strings(JsonNode array) {
        List<String> strings = new ArrayList<>();
        if (array != null) {
            array.forEach(item -> strings.add(item.asText()));
        }
        return strings;
    }

    private JsonNode pebbleConfig() throws IOException {
        Path config = mounts("pebble").get("/config").resolve("pebble-config.json");
        return new ObjectMapper().readTree(config.toFile()).get("pebble");
    }

    // ---- the nodes' config, as a node sees it

    /**
     * Loads a node's config as the node would: every path it names is replaced by where the test laid out that
     * service's mounts, so a path that nothing mounts fails to load.
     */
    private ClickTlsConfig load(String node) throws Exception {
        Path root = Files.createDirectories(dir.resolve(node));
        Map<String, Path> mounts = mounts(node);
        List<String> targets = new ArrayList<>(mounts.keySet());
        targets.sort(Comparator.comparingInt(String::length).reversed());
        for (String target : targets) {
            Path copy = root.resolve(target.substring(1));
            Files.createDirectories(copy.getParent());
            Files.copy(mounts.get(target), copy);
        }
        String text = Files.readString(configOf(node), StandardCharsets.UTF_8);
        for (String target : targets) {
            text = text.replace(target, root.resolve(target.substring(1)).toString());
        }
        Path file = root.resolve("node.yml");
        Files.writeString(file, text);
        return ConfigLoader.load(file);
    }

    private Path configOf(String node) {
        List<String> command = strings(services.get(node).get("command"));
        String config = command.get(command.indexOf("--config") + 1);
        assertThat(mounts(node)).containsKey(config);
        return mounts(node).get(config);
    }

    private JsonNode nodeYaml(String node) throws IOException {
        return YAML.readTree(configOf(node).toFile());
    }

    // ---- HAProxy

    /** The server lines of each frontend's default backend, by the port the frontend binds. */
    private Map<Integer, List<Matcher>> frontends() throws IOException {
        Map<String, List<String>> sections = new LinkedHashMap<>();
        List<String> current = null;
        try (Stream<String> lines = Files.lines(docker.resolve("haproxy-cluster.cfg"))) {
            for (String line : lines.map(String::strip).toList()) {
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                if (line.matches("(global|defaults|resolvers|frontend|backend|listen)\\b.*")) {
                    current = sections.computeIfAbsent(line, unused -> new ArrayList<>());
                } else if (current != null) {
                    current.add(line);
                }
            }
        }
        Map<Integer, List<Matcher>> servedByPort = new LinkedHashMap<>();
        sections.forEach((header, lines) -> {
            if (!header.startsWith("frontend ")) {
                return;
            }
            int port = lines.stream()
                    .filter(line -> line.startsWith("bind "))
                    .map(line -> port(line.substring("bind ".length()).strip()))
                    .findFirst()
                    .orElseThrow();
            String backend = lines.stream()
                    .filter(line -> line.startsWith("default_backend "))
                    .map(line -> line.substring("default_backend ".length()).strip())
                    .findFirst()
                    .orElseThrow();
            List<String> servers = sections.get("backend " + backend);
            assertThat(servers).as("backend %s", backend).isNotNull();
            servedByPort.put(
                    port,
                    servers.stream()
                            .map(SERVER::matcher)
                            .filter(Matcher::matches)
                            .toList());
        });
        return servedByPort;
    }

    private static int port(String address) {
        return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    }

    /** Whether an IPv4 CIDR holds an address (literals only: nothing is resolved). */
    static boolean contains(String cidr, String address) {
        String[] parts = cidr.split("/");
        int bits = parts.length == 2 ? Integer.parseInt(parts[1]) : 32;
        int mask = bits == 0 ? 0 : -1 << (32 - bits);
        return (ipv4(parts[0]) & mask) == (ipv4(address) & mask);
    }

    private static int ipv4(String literal) {
        assertThat(literal).as("an IPv4 literal").matches("\\d{1,3}(\\.\\d{1,3}){3}");
        int address = 0;
        for (String octet : literal.split("\\.")) {
            address = (address << 8) | Integer.parseInt(octet);
        }
        return address;
    }
}
