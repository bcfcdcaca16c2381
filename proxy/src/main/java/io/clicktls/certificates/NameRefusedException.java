package io.clicktls.certificates;

/**
 * No certificate is served for a name because the issuance policy refused it. Expected in normal operation (scanners
 * send random SNI), so it carries no stack trace.
 */
public final class NameRefusedException extends Exception {

    private final String name;
    private final Refusal reason;

    private final String detail;

    public NameRefusedException(String name, Refusal reason) {
        this(name, reason, null);
    }

    /** @param detail what the refusing step found, for a person (e.g. where the name's DNS points), or {@code null} */
    public NameRefusedException(String name, Refusal reason, String detail) {
        super(
                "no certificate for " + name + ": " + reason + (detail == null ? "" : " (" + detail + ")"),
                null,
                false,
                false);
        this.name = name;
        this.reason = reason;
        this.detail = detail;
    }

    public String name() {
        return name;
    }

    public Refusal reason() {
        return reason;
    }

    /** What the refusing step found, for a person; {@code null} when the reason says it all. */
    public String detail() {
        return detail;
    }
}
