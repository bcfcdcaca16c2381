package io.clicktls.storage;

import java.util.List;
import java.util.regex.Pattern;

/**
 * Every key clicktls keeps in {@link Storage}, written here only: the layout of {@code storage.directory} (and of any
 * other backend), its metric kinds, and which values are private keys. Keys are slash-separated relative paths; names
 * starting with a dot are never keys. Stateless; any thread.
 *
 * <pre>
 * certificates/&lt;name&gt;/chain.pem, key.pem, meta.json   one certificate per exact name
 * ca/root.pem, ca/root-key.pem                         the internal CA
 * acme/account-key.pem, acme/account.json              the ACME account
 * challenges/http-01/&lt;token&gt;                         http-01 answers being validated
 * challenges/tls-alpn-01/&lt;name&gt;                      tls-alpn-01 certificates being validated
 * state/issuance/&lt;name&gt;.json                         per-name failure and backoff state
 * limits/orders, limits/certificates/&lt;registered domain&gt;, limits/failures/&lt;name&gt;   rate-limit windows
 * cleanup/&lt;name&gt;                                      when a name stopped being allowed
 * tls/session-ticket-key.pem                           the secret the TLS session ticket keys derive from
 * </pre>
 */
public final class StorageKeys {

    public static final String CERTIFICATES = "certificates/";
    public static final String CHAIN_FILE = "chain.pem";
    public static final String KEY_FILE = "key.pem";
    /** Written last: an entry without it reads as absent. */
    public static final String META_FILE = "meta.json";

    public static final String CA_ROOT = "ca/root.pem";
    public static final String CA_ROOT_KEY = "ca/root-key.pem";
    /** The lock (not a key) held while the internal CA is read or made, so that two nodes never make two roots. */
    public static final String CA_LOCK = "ca";
    /** What every {@link #orderLease} starts with: the prefix that lists the orders in flight. */
    public static final String ORDER_LEASES = "orders/";

    public static final String ACCOUNT_KEY = "acme/account-key.pem";
    public static final String ACCOUNT = "acme/account.json";

    /** The account key of the ACME issuer named {@code issuer} in {@code certificates.issuers}. */
    public static String accountKey(String issuer) {
        return "acme/" + issuer + "/account-key.pem";
    }

    /** The account of the ACME issuer named {@code issuer} in {@code certificates.issuers}. */
    public static String account(String issuer) {
        return "acme/" + issuer + "/account.json";
    }

    public static final String HTTP_01_CHALLENGES = "challenges/http-01/";
    public static final String TLS_ALPN_01_CHALLENGES = "challenges/tls-alpn-01/";

    public static final String ISSUANCE_STATE = "state/issuance/";
    private static final String ISSUANCE_STATE_SUFFIX = ".json";

    public static final String LIMITS = "limits/";
    public static final String LIMITS_ORDERS = LIMITS + "orders";
    public static final String LIMITS_CERTIFICATES = LIMITS + "certificates/";
    public static final String LIMITS_FAILURES = LIMITS + "failures/";

    public static final String CLEANUP = "cleanup/";

    /**
     * The secret every node derives its TLS session ticket keys from, so that a ticket from one node resumes on
     * another; ends in {@code key.pem}, so a backend that encrypts private keys at rest encrypts it too.
     */
    public static final String SESSION_TICKET_SECRET = "tls/session-ticket-key.pem";

    /** The {@code kind} of a key, by its first segment: the label values of the storage metrics, all known ahead. */
    public static final List<String> KINDS = List.of(
            "certificate", "rate_limit", "issuance_state", "cleanup", "challenge", "acme_account", "ca", "other");

    /**
     * What may stand for {@code <name>} in a key: a host name, or anything else that cannot leave its folder (no
     * {@code /}, no {@code ..}, no leading dot). Wider than a host name on purpose: entries written under older rules
     * stay readable and deletable.
     */
    private static final Pattern NAME = Pattern.compile("[a-z0-9_-][a-z0-9._-]{0,252}");

    private StorageKeys() {}

    /** Whether {@code name} may stand in a key: see {@link #NAME}. */
    public static boolean isSafeName(String name) {
        return name != null && NAME.matcher(name).matches() && !name.contains("..");
    }

    /** {@code certificates/<name>/<file>}, file one of {@link #CHAIN_FILE}, {@link #KEY_FILE}, {@link #META_FILE}. */
    public static String certificate(String name, String file) {
        return CERTIFICATES + name + "/" + file;
    }

    /** The name of a {@code certificates/<name>/meta.json} key, or {@code null} for any other key. */
    public static String certificateMetaName(String key) {
        String suffix = "/" + META_FILE;
        if (!key.startsWith(CERTIFICATES) || !key.endsWith(suffix)) {
            return null;
        }
        String name = key.substring(CERTIFICATES.length(), key.length() - suffix.length());
        return name.indexOf('/') < 0 && isSafeName(name) ? name : null;
    }

    /**
     * {@code orders/<name>}: the lease (not a key) a node holds while it orders or renews the certificate of
     * {@code name}, so that the cluster places one order per name.
     */
    public static String orderLease(String name) {
        return ORDER_LEASES + name;
    }

    /** The name an {@link #orderLease} is for, or {@code null} for another lease. */
    public static String orderLeaseName(String lease) {
        return lease.startsWith(ORDER_LEASES) ? lease.substring(ORDER_LEASES.length()) : null;
    }

    /** {@code challenges/http-01/<token>} */
    public static String http01Challenge(String token) {
        return HTTP_01_CHALLENGES + token;
    }

    /** {@code challenges/tls-alpn-01/<name>} */
    public static String tlsAlpn01Challenge(String name) {
        return TLS_ALPN_01_CHALLENGES + name;
    }

    /** {@code state/issuance/<name>.json} */
    public static String issuanceState(String name) {
        return ISSUANCE_STATE + name + ISSUANCE_STATE_SUFFIX;
    }

    /** The name of an {@link #issuanceState} key, or {@code null} for any other key. */
    public static String issuanceStateName(String key) {
        if (!key.startsWith(ISSUANCE_STATE)
                || !key.endsWith(ISSUANCE_STATE_SUFFIX)
                || key.indexOf('/', ISSUANCE_STATE.length()) >= 0) {
            return null;
        }
        return key.substring(ISSUANCE_STATE.length(), key.length() - ISSUANCE_STATE_SUFFIX.length());
    }

    /** {@code cleanup/<name>} */
    public static String cleanup(String name) {
        return CLEANUP + name;
    }

    /**
     * Whether the value under {@code key} is a private key (a certificate's, the internal CA's, the ACME account's),
     * which a backend that encrypts secrets at rest must encrypt.
     */
    public static boolean isPrivateKey(String key) {
        return key.endsWith("key.pem");
    }

    /** The kind of a key for metrics: one of {@link #KINDS}. */
    public static String kind(String key) {
        int slash = key.indexOf('/');
        String first = slash < 0 ? key : key.substring(0, slash);
        return switch (first) {
            case "certificates" -> "certificate";
            case "limits" -> "rate_limit";
            case "state" -> "issuance_state";
            case "cleanup" -> "cleanup";
            case "challenges" -> "challenge";
            case "acme" -> "acme_account";
            case "ca" -> "ca";
            default -> "other";
        };
    }
}
