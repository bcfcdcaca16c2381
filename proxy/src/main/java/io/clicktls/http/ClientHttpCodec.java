package io.clicktls.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpStatusClass;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The HTTP/1.1 codec of a client connection: Netty's {@code HttpServerCodec}, except that the request line is held
 * to RFC 9112 section 3, {@code method SP request-target SP HTTP-version}, with exactly one space on each side of the
 * target.
 *
 * <p>Why: Netty parses the request line on "whitespace-delimited word boundaries", which the RFC allows a recipient
 * but which makes a proxy disagree with what it forwards: {@code GET /a<HTAB> HTTP/1.1} was taken as the target
 * {@code /a}, so the platform got a different URL than the bytes sent. Such a line now fails decoding (400, nothing
 * forwarded), as HAProxy answers it. Everything else (limits, header checks, framing rules) is Netty's decoder with
 * {@link ListenerPipelines#decoderConfig()}.
 *
 * <p>Like {@code HttpServerCodec}, the response encoder is told which method each response answers, so that the
 * response to a HEAD request goes out without a body. Not sharable; runs on the client channel's event loop.
 */
final class ClientHttpCodec extends CombinedChannelDuplexHandler<HttpRequestDecoder, HttpResponseEncoder> {

    ClientHttpCodec(HttpDecoderConfig config) {
        ArrayDeque<HttpMethod> methods = new ArrayDeque<>(2);
        init(new RequestDecoder(config, methods), new ResponseEncoder(methods));
    }

    private static final class RequestDecoder extends HttpRequestDecoder {

        private final ArrayDeque<HttpMethod> methods;

        RequestDecoder(HttpDecoderConfig config, ArrayDeque<HttpMethod> methods) {
            super(config);
            this.methods = methods;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            int before = out.size();
            super.decode(ctx, buffer, out);
            for (int i = before; i < out.size(); i++) {
                if (out.get(i) instanceof HttpRequest request) {
                    methods.add(request.method());
                }
            }
        }

        /**
         * The target, given with the whole line around it: one SP before and one after, and no other whitespace
         * there. A failure here becomes the request's decoder failure (400).
         */
        @Override
        protected String splitSecondWordInitialLine(byte[] line, int start, int length) {
            int end = start + length;
            if (start < 2
                    || end + 1 >= line.length
                    || line[start - 1] != ' '
                    || isWhitespace(line[start - 2])
                    || line[end] != ' '
                    || isWhitespace(line[end + 1])) {
                throw new IllegalArgumentException("request line not of the form: method SP target SP version");
            }
            return super.splitSecondWordInitialLine(line, start, length);
        }

        private static boolean isWhitespace(byte b) {
            return b == ' ' || b == '\t' || b == 0x0B || b == '\f' || b == '\r';
        }
    }

    private static final class ResponseEncoder extends HttpResponseEncoder {

        private final ArrayDeque<HttpMethod> methods;
        private HttpMethod method;

        ResponseEncoder(ArrayDeque<HttpMethod> methods) {
            this.methods = methods;
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpResponse msg) {
            method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(msg);
        }

        @Override
        protected void sanitizeHeadersBeforeEncode(HttpResponse msg, boolean isAlwaysEmpty) {
            // As HttpServerCodec: a 2xx to CONNECT has no body framing (RFC 9110 section 9.3.6). CONNECT is refused
            // before it is answered, so this only keeps the codec's contract whole.
            if (!isAlwaysEmpty
                    && HttpMethod.CONNECT.equals(method)
                    && msg.status().codeClass() == HttpStatusClass.SUCCESS) {
                msg.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
                return;
            }
            super.sanitizeHeadersBeforeEncode(msg, isAlwaysEmpty);
        }
    }
}
