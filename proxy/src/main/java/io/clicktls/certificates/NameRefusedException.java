package io.clicktls.certificates;

/**
 * No certificate is served for a name because the issuance policy refused it. Expected in normal operation (scanners
 * send random SNI), so it carries no stack trace.
 */
public final class NameRefusedException extends Exception {

    private final String name;
    private final Refusal reason;

    public NameRefusedException(String name, Refusal reason) {
        super("no certificate for " + name + ": " + reason, null, false, false);
        this.name = name;
        this.reason = reason;
    }

    public String name() {
        return name;
    }

    public Refusal reason() {
        return reason;
    }
}
