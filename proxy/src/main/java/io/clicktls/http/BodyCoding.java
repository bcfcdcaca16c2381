package io.clicktls.http;

/**
 * The content codings of an HTML body that the link upgrade can read and write again: none ({@code identity}),
 * {@code gzip} and {@code deflate}. Any other coding (br, zstd, stacked codings) has no value here, and such a body
 * passes untouched.
 */
enum BodyCoding {
    IDENTITY,
    GZIP,
    DEFLATE;

    /**
     * The coding a {@code Content-Encoding} header names, or {@code null} when it is one we cannot read.
     *
     * @param contentEncoding the header's value; {@code null} or blank means no coding
     */
    static BodyCoding of(String contentEncoding) {
        if (contentEncoding == null || contentEncoding.isBlank()) {
            return IDENTITY;
        }
        String coding = contentEncoding.strip();
        if ("identity".equalsIgnoreCase(coding)) {
            return IDENTITY;
        }
        if ("gzip".equalsIgnoreCase(coding) || "x-gzip".equalsIgnoreCase(coding)) {
            return GZIP;
        }
        if ("deflate".equalsIgnoreCase(coding)) {
            return DEFLATE;
        }
        return null;
    }
}
