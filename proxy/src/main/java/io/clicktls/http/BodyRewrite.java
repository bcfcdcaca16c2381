package io.clicktls.http;

import io.netty.buffer.ByteBuf;

/**
 * Rewrites one response body, chunk by chunk, in its content coding. Not thread-safe: one instance per response,
 * used on its channel's event loop; must not block.
 */
interface BodyRewrite {

    /**
     * Rewrites the next chunk as received; reads {@code chunk} without moving its indices or releasing it.
     *
     * @return the next piece of the rewritten body, owned by the caller (possibly empty)
     * @throws io.netty.handler.codec.compression.DecompressionException on a corrupt or oversized compressed body
     */
    ByteBuf rewrite(ByteBuf chunk);

    /** Ends the body. @return the rest of the rewritten body, owned by the caller (possibly empty) */
    ByteBuf finish();

    /**
     * Whether the last {@link #rewrite} gave back exactly the bytes of its chunk (then the chunk can be sent as it
     * is, without a new message around the output).
     */
    default boolean lastChunkUnchanged() {
        return false;
    }

    /** Links upgraded so far. */
    int replacements();

    /** Frees what the rewrite holds (native zlib memory); idempotent, and safe at any point. */
    void close();
}
