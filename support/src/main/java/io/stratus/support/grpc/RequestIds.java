package io.stratus.support.grpc;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.util.UUID;
import java.util.regex.Pattern;
import org.slf4j.MDC;

/**
 * The request id that follows one request through the services, as Nova's {@code
 * x-openstack-request-id} does: carried in the gRPC header {@value #HEADER}, held in the
 * call's {@link Context} and, while the service works on the call or on work done for it,
 * in the thread ({@link #current()}) and the logging MDC ({@value #MDC_KEY}); answered in
 * the response headers. A service that is asked by a
 * peer takes the peer's id (when well-formed); the conductor's public API makes a new one
 * per call ({@link #serverAssigning()}), which its actions are recorded under.
 */
public final class RequestIds {
  /** The gRPC header. */
  public static final String HEADER = "x-stratus-request-id";
  /** The MDC key every log line of the request carries. */
  public static final String MDC_KEY = "request_id";

  static final Metadata.Key<String> KEY = Metadata.Key.of(HEADER, Metadata.ASCII_STRING_MARSHALLER);
  private static final Context.Key<String> CONTEXT = Context.key("stratus-request-id");
  /** The id of the work this thread does now (the MDC mirrors it for the log lines). */
  private static final ThreadLocal<String> CURRENT = new ThreadLocal<>();
  private static final Pattern WELL_FORMED = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

  private RequestIds() {}

  /** The request id of the call being served, or of the work this thread does; or null. */
  public static String current() {
    String id = CONTEXT.get();
    return id != null ? id : CURRENT.get();
  }

  /** Headers that carry {@code id}, for a stub's {@code MetadataUtils} interceptor. */
  public static Metadata headers(String id) {
    Metadata m = new Metadata();
    m.put(KEY, id);
    return m;
  }

  /** A new id: {@code req-UUID}. */
  public static String newId() {
    return "req-" + UUID.randomUUID();
  }

  /** Takes the caller's id when it sends a well-formed one, else makes one. */
  public static ServerInterceptor serverPropagating() {
    return new Server(false);
  }

  /** Makes a new id for every call (the public API's requests). */
  public static ServerInterceptor serverAssigning() {
    return new Server(true);
  }

  /** Sends the current request id (context or MDC) with every outgoing call. */
  public static ClientInterceptor client() {
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method,
          CallOptions options, Channel next) {
        String id = current();
        ClientCall<Q, R> call = next.newCall(method, options);
        return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
          @Override
          public void start(Listener<R> listener, Metadata headers) {
            if (id != null) {
              headers.put(KEY, id);
            }
            super.start(listener, headers);
          }
        };
      }
    };
  }

  /**
   * Runs {@code work} as work of request {@code id}: {@link #current()} and the MDC name
   * it meanwhile, and what was there before comes back after.
   */
  public static void withId(String id, Runnable work) {
    String before = CURRENT.get();
    set(id);
    try {
      work.run();
    } finally {
      set(before);
    }
  }

  /** Makes {@code id} (null: none) the current request id of this thread, and the MDC's. */
  public static void set(String id) {
    if (id == null) {
      CURRENT.remove();
      MDC.remove(MDC_KEY);
    } else {
      CURRENT.set(id);
      MDC.put(MDC_KEY, id);
    }
  }

  private record Server(boolean assign) implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
        ServerCallHandler<Q, R> next) {
      String sent = headers.get(KEY);
      String id = !assign && sent != null && WELL_FORMED.matcher(sent).matches() ? sent : newId();
      ServerCall<Q, R> answering = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
        @Override
        public void sendHeaders(Metadata responseHeaders) {
          responseHeaders.put(KEY, id);
          super.sendHeaders(responseHeaders);
        }
      };
      Context context = Context.current().withValue(CONTEXT, id);
      ServerCall.Listener<Q> inner = Contexts.interceptCall(context, answering, headers, next);
      return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(inner) {
        private void in(Runnable r) {
          withId(id, r);
        }

        @Override
        public void onMessage(Q message) {
          in(() -> super.onMessage(message));
        }

        @Override
        public void onHalfClose() {
          in(super::onHalfClose);
        }

        @Override
        public void onCancel() {
          in(super::onCancel);
        }

        @Override
        public void onComplete() {
          in(super::onComplete);
        }

        @Override
        public void onReady() {
          in(super::onReady);
        }
      };
    }
  }
}
