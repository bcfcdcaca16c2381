package io.clicktls.tls;

/**
 * No certificate is served for a name because the issuance policy refused it. Expected in normal operation (scanners
 * send random SNI), so it carries no stack trace.
 */
public final class NameRefusedException extends Exception {

    private final String name;
    private final String reason;

    /** @param reason a short metric label, e.g. {@code not_configured} */
    public NameRefusedException(String name, String reason) {
        super("no certificate for " + name + ": " + reason, null, false, false);
        this.name = name;
        this.reason = reason;
    }

    public String name() {
        return name;
    }

    public String reason() {
        return reason;
    }
}
