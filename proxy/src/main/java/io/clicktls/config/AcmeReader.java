package io.clicktls.config;

import static io.clicktls.config.Binding.quote;

import io.clicktls.config.YamlTree.Entry;
import io.clicktls.config.YamlTree.ListNode;
import io.clicktls.config.YamlTree.Node;
import io.clicktls.config.YamlTree.ScalarNode;
import java.net.URI;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * {@code certificates.acme:} the ACME CA. Files it names ({@code trusted_ca}, {@code eab.hmac_key_file}) are only
 * checked with {@code issuer: acme}, so that a config can keep the lines while trying the internal issuer.
 */
final class AcmeReader {

    private static final List<String> KEYS =
            List.of("directory", "email", "trusted_ca", "challenges", "eab", "profile");
    private static final List<String> EAB_KEYS = List.of("kid", "hmac_key", "hmac_key_file");
    private static final String EAB_EXPECTED =
            "{ kid: KEY_ID, hmac_key: BASE64URL } or { kid: KEY_ID, hmac_key_file: FILE }, as the CA gives them";
    private static final String HMAC_KEY_EXPECTED = "the HMAC key as the CA gives it: base64url, at least 256 bits";
    /** A key file is a few dozen characters; anything this long is the wrong file. */
    private static final long HMAC_KEY_FILE_LIMIT = 4096;

    private AcmeReader() {}

    static Acme read(Section acme, Certificates.IssuerKind issuer) {
        return read(acme, issuer, List.of());
    }

    /** With {@code extraKeys} (read by the caller) allowed beside the ACME keys. */
    static Acme read(Section acme, Certificates.IssuerKind issuer, List<String> extraKeys) {
        List<String> allowed = new ArrayList<>(extraKeys);
        allowed.addAll(KEYS);
        acme.allowOnly(allowed);
        Binding binding = acme.binding();
        URI directory = Acme.DEFAULT_DIRECTORY;
        ScalarNode directoryNode = acme.scalar("directory", "an https:// URL");
        if (directoryNode != null) {
            directory = directory(acme, directoryNode);
        }
        String email = null;
        ScalarNode emailNode = acme.scalar("email", "an e-mail address");
        if (emailNode != null) {
            email = email(binding, emailNode, acme.pathOf("email"));
        }
        Path trustedCa = null;
        ScalarNode trustedCaNode = acme.scalar("trusted_ca", "a PEM file");
        if (trustedCaNode != null) {
            trustedCa = binding.path(trustedCaNode, acme.pathOf("trusted_ca"));
            if (trustedCa != null && issuer == Certificates.IssuerKind.ACME && !Files.isReadable(trustedCa)) {
                binding.expected(
                        trustedCaNode.position(),
                        acme.pathOf("trusted_ca") + ": " + quote(trustedCaNode.text()) + " is not a readable file at "
                                + trustedCa,
                        "a PEM file");
            }
        }
        List<Acme.ChallengeType> challenges = challenges(acme);
        Acme.ExternalAccountBinding eab = eab(acme, issuer);
        String profile = profile(acme);
        return new Acme(directory, email, trustedCa, challenges, eab, profile);
    }

    private static URI directory(Section acme, ScalarNode node) {
        String path = acme.pathOf("directory");
        String expected = "an https:// URL, or http:// to 127.0.0.1 or localhost";
        URI uri = acme.httpUrl(node, path, expected);
        if (uri == null) {
            return Acme.DEFAULT_DIRECTORY;
        }
        if (uri.getScheme().equals("http") && !ValueSyntax.loopbackUrlHost(uri.getHost())) {
            acme.binding().badValue(node, path, expected);
            return Acme.DEFAULT_DIRECTORY;
        }
        return uri;
    }

    /**
     * {@code profile}: a name as the CA's directory lists it in {@code meta.profiles} ({@code classic},
     * {@code tlsserver}, {@code shortlived} at Let's Encrypt). Whether the CA offers it is checked at start, against
     * the directory itself.
     */
    private static String profile(Section acme) {
        String expected = "a profile the CA offers, such as classic or shortlived";
        ScalarNode node = acme.scalar("profile", expected);
        if (node == null) {
            return null;
        }
        String text = node.text();
        boolean ok = !text.isEmpty() && text.length() <= 64;
        for (int i = 0; ok && i < text.length(); i++) {
            char c = text.charAt(i);
            ok = c > ' ' && c < 0x7f;
        }
        if (!ok) {
            acme.binding().badValue(node, acme.pathOf("profile"), expected);
            return null;
        }
        return text;
    }

    private static String email(Binding binding, ScalarNode node, String path) {
        String text = node.text();
        int at = text.indexOf('@');
        boolean ok = at > 0 && at == text.lastIndexOf('@') && at < text.length() - 1;
        for (int i = 0; ok && i < text.length(); i++) {
            char c = text.charAt(i);
            ok = c > ' ' && c != ',' && c != '<' && c != '>' && c < 0x7f;
        }
        if (ok) {
            ok = HostNames.check(text.substring(at + 1), false, new StringBuilder()) != null;
        }
        if (!ok) {
            binding.badValue(node, path, "an e-mail address such as ops@example.com");
            return null;
        }
        return text;
    }

    private static List<Acme.ChallengeType> challenges(Section acme) {
        Binding binding = acme.binding();
        String path = acme.pathOf("challenges");
        String expected = "a list such as [tls-alpn-01, http-01]";
        Entry entry = acme.entry("challenges");
        if (entry == null || Section.isBlank(entry.value())) {
            return Acme.DEFAULT_CHALLENGES;
        }
        if (!(entry.value() instanceof ListNode list)) {
            binding.badShape(entry.value(), path, expected);
            return Acme.DEFAULT_CHALLENGES;
        }
        if (list.items().isEmpty()) {
            binding.expected(list.position(), path + ": empty", expected);
            return Acme.DEFAULT_CHALLENGES;
        }
        List<Acme.ChallengeType> challenges = new ArrayList<>();
        for (int i = 0; i < list.items().size(); i++) {
            Node item = list.items().get(i);
            String itemPath = path + "[" + i + "]";
            if (!(item instanceof ScalarNode scalar) || scalar.blank()) {
                binding.badShape(item, itemPath, "tls-alpn-01 or http-01");
                continue;
            }
            if (scalar.alias()) {
                continue;
            }
            Acme.ChallengeType type = null;
            for (Acme.ChallengeType candidate : Acme.ChallengeType.values()) {
                if (candidate.wireName().equals(scalar.text())) {
                    type = candidate;
                }
            }
            if (type == null) {
                binding.badValue(scalar, itemPath, "tls-alpn-01 or http-01");
            } else if (challenges.contains(type)) {
                binding.report(scalar.position(), itemPath + ": " + quote(scalar.text()) + " is listed twice");
            } else {
                challenges.add(type);
            }
        }
        return challenges.isEmpty() ? Acme.DEFAULT_CHALLENGES : challenges;
    }

    /**
     * {@code certificates.acme.eab}, or {@code null}. The HMAC key is a secret: no message quotes it, nor the content
     * of its file. The file is only read with {@code issuer: acme}, like {@code trusted_ca}.
     */
    private static Acme.ExternalAccountBinding eab(Section acme, Certificates.IssuerKind issuer) {
        Binding binding = acme.binding();
        String path = acme.pathOf("eab");
        Entry entry = acme.entry("eab");
        if (entry == null || Section.isBlank(entry.value())) {
            return null;
        }
        if (!(entry.value() instanceof YamlTree.MapNode)) {
            binding.badShape(entry.value(), path, EAB_EXPECTED);
            return null;
        }
        Section eab = acme.section("eab");
        eab.allowOnly(EAB_KEYS);
        ScalarNode kid = eab.required("kid", "the key identifier the CA gave you");
        boolean inlineGiven = eab.given("hmac_key");
        boolean fileGiven = eab.given("hmac_key_file");
        if (inlineGiven && fileGiven) {
            binding.expected(
                    eab.entry("hmac_key_file").keyPosition(),
                    path + ": both 'hmac_key' and 'hmac_key_file' given",
                    "one of them");
            return null;
        }
        if (!inlineGiven && !fileGiven) {
            binding.expected(
                    eab.map().position(), path + ": neither 'hmac_key' nor 'hmac_key_file' given", EAB_EXPECTED);
            return null;
        }
        String hmacKey = null;
        if (inlineGiven) {
            ScalarNode inline = eab.scalar("hmac_key", HMAC_KEY_EXPECTED);
            if (inline != null) {
                String problem = hmacKeyProblem(inline.text().strip());
                if (problem == null) {
                    hmacKey = inline.text().strip();
                } else {
                    binding.expected(inline.position(), path + ".hmac_key: " + problem, HMAC_KEY_EXPECTED);
                }
            }
        } else {
            ScalarNode file = eab.scalar("hmac_key_file", "a file holding the HMAC key");
            if (file != null && issuer == Certificates.IssuerKind.ACME) {
                hmacKey = hmacKeyFromFile(binding, file, path + ".hmac_key_file");
            }
        }
        if (kid == null || hmacKey == null) {
            return null;
        }
        return new Acme.ExternalAccountBinding(kid.text(), hmacKey);
    }

    private static String hmacKeyFromFile(Binding binding, ScalarNode node, String path) {
        Path file = binding.path(node, path);
        String expected = "a file holding " + HMAC_KEY_EXPECTED;
        byte[] content = binding.smallFile(node, path, file, HMAC_KEY_FILE_LIMIT, expected, expected);
        if (content == null) {
            return null;
        }
        String text;
        try {
            // as Files.readString read it before: a byte that is not ASCII is reported, not replaced
            text = Binding.strictly(StandardCharsets.US_ASCII, content).strip();
        } catch (CharacterCodingException e) {
            binding.cannotRead(node, path, file, e, expected);
            return null;
        }
        String problem = hmacKeyProblem(text);
        if (problem != null) {
            binding.expected(node.position(), path + ": the key in " + file + " " + problem, expected);
            return null;
        }
        return text;
    }

    /** What is wrong with an HMAC key as written, without quoting it, or {@code null}. */
    private static String hmacKeyProblem(String key) {
        if (key.isEmpty()) {
            return "is empty";
        }
        byte[] decoded;
        try {
            // the decoder acme4j uses: base64url, padding optional
            decoded = Base64.getUrlDecoder().decode(key);
        } catch (IllegalArgumentException e) {
            return key.indexOf('+') >= 0 || key.indexOf('/') >= 0
                    ? "is base64, not base64url (which writes '-' and '_' for '+' and '/')"
                    : "is not base64url";
        }
        if (decoded.length < 32) {
            // acme4j refuses shorter keys: RFC 7518 wants an HMAC key at least as long as the hash
            return "is " + decoded.length * 8 + " bits long";
        }
        return null;
    }
}
