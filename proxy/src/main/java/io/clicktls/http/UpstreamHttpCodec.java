package io.clicktls.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpStatusClass;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;

/**
 * The HTTP/1.1 codec of an upstream connection: Netty's {@code HttpClientCodec}, except that the request target is
 * written one byte per char (ISO-8859-1) instead of as UTF-8.
 *
 * <p>Why: both client-side decoders hand us the target one char per received byte (the HTTP/1.1 decoder reads the
 * request line as ISO-8859-1, HPACK gives {@code :path} as bytes), and Netty's request encoder writes it back as
 * UTF-8, so a byte 0x80 reached the platform as C2 80 and a UTF-8 path sent over HTTP/2 was encoded twice. Written
 * as ISO-8859-1, every byte of the target goes upstream as the client sent it. Header values need nothing of the
 * kind: Netty writes them one byte per char already.
 *
 * <p>Like {@code HttpClientCodec}, the response decoder is told which method each response answers, so that the
 * response to a HEAD request is read without a body. Not sharable; runs on the upstream channel's event loop.
 */
final class UpstreamHttpCodec extends CombinedChannelDuplexHandler<HttpResponseDecoder, HttpRequestEncoder> {

    UpstreamHttpCodec(HttpDecoderConfig config) {
        ArrayDeque<HttpMethod> methods = new ArrayDeque<>(2);
        init(new ResponseDecoder(config, methods), new RequestEncoder(methods));
    }

    private static final class RequestEncoder extends HttpRequestEncoder {

        private static final int SP = ' ';
        private static final int CRLF = ('\r' << 8) | '\n';

        private final ArrayDeque<HttpMethod> methods;

        RequestEncoder(ArrayDeque<HttpMethod> methods) {
            this.methods = methods;
        }

        @Override
        protected void encodeInitialLine(ByteBuf buf, HttpRequest request) {
            methods.add(request.method());
            ByteBufUtil.copy(request.method().asciiName(), buf);
            buf.writeByte(SP);
            String uri = request.uri();
            // Only origin-form targets (and "*") are sent upstream; an empty one cannot be, but would mean "/".
            buf.writeCharSequence(uri.isEmpty() ? "/" : uri, StandardCharsets.ISO_8859_1);
            buf.writeByte(SP);
            ByteBufUtil.writeAscii(buf, request.protocolVersion().text());
            ByteBufUtil.writeShortBE(buf, CRLF);
        }
    }

    private static final class ResponseDecoder extends HttpResponseDecoder {

        private final ArrayDeque<HttpMethod> methods;

        ResponseDecoder(HttpDecoderConfig config, ArrayDeque<HttpMethod> methods) {
            super(config);
            this.methods = methods;
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpMessage msg) {
            // An informational response comes before the final one and answers no request of its own.
            if (((HttpResponse) msg).status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                return super.isContentAlwaysEmpty(msg);
            }
            HttpMethod method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(msg);
        }
    }
}
