package io.clicktls.config;

import static io.clicktls.config.Binding.quote;

import io.clicktls.config.YamlTree.Entry;
import io.clicktls.config.YamlTree.MapNode;
import io.clicktls.config.YamlTree.Position;
import io.clicktls.config.YamlTree.ScalarNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code admin:} the admin listener's token. The token is a secret: no message quotes it. */
final class AdminReader {

    private static final List<String> KEYS = List.of("token", "token_file");
    private static final String TOKEN_EXPECTED = "at least " + Admin.MIN_TOKEN_LENGTH
            + " visible ASCII characters without spaces, such as the output of `openssl rand -hex 32`";

    private AdminReader() {}

    static Admin read(Section admin) {
        admin.allowOnly(KEYS);
        Binding binding = admin.binding();
        ScalarNode token = admin.scalar("token", TOKEN_EXPECTED);
        ScalarNode tokenFile = admin.scalar("token_file", "a file holding the token");
        if (token != null && tokenFile != null) {
            binding.expected(tokenFile.position(), "admin: both 'token' and 'token_file' given", "one of them");
            return Admin.NONE;
        }
        if (token != null) {
            String problem = tokenProblem(token.text());
            if (problem != null) {
                binding.expected(token.position(), "admin.token: " + problem, TOKEN_EXPECTED);
                return Admin.NONE;
            }
            return new Admin(token.text());
        }
        if (tokenFile != null) {
            Path file = binding.path(tokenFile, "admin.token_file");
            String text;
            try {
                text = Files.readString(file).strip();
            } catch (IOException | RuntimeException e) {
                binding.expected(
                        tokenFile.position(),
                        "admin.token_file: " + quote(tokenFile.text()) + " is not a readable file at " + file,
                        "a file holding the token");
                return Admin.NONE;
            }
            String problem = tokenProblem(text);
            if (problem != null) {
                binding.expected(
                        tokenFile.position(), "admin.token_file: the token in " + file + " " + problem, TOKEN_EXPECTED);
                return Admin.NONE;
            }
            return new Admin(text);
        }
        return Admin.NONE;
    }

    private static String tokenProblem(String token) {
        if (token.length() < Admin.MIN_TOKEN_LENGTH) {
            return "is too short (" + token.length() + " characters)";
        }
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c <= ' ' || c >= 0x7f) {
                return "has a space, a control or a non-ASCII character at position " + (i + 1);
            }
        }
        return null;
    }

    /** An admin listener reachable from other machines must have a token: it can renew and forget certificates. */
    static void checkExposure(Section root, Listen listen, Admin admin) {
        if (admin.protectedByToken()
                || ValueSyntax.loopbackAddress(listen.admin().host())) {
            return;
        }
        Position at = root.map().position();
        Entry listenEntry = root.entry("listen");
        if (listenEntry != null && listenEntry.value() instanceof MapNode listenMap) {
            Entry adminEntry = listenMap.get("admin");
            at = adminEntry != null ? adminEntry.value().position() : listenEntry.keyPosition();
        }
        root.binding()
                .expected(
                        at,
                        "listen.admin: " + listen.admin() + " is reachable beyond this machine without a token",
                        "a loopback address such as 127.0.0.1:9090, or admin.token set");
    }
}
