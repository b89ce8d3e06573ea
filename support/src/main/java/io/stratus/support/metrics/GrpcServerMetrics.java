package io.stratus.support.metrics;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.TimeUnit;

/**
 * Times every call a gRPC server answers into {@code grpc.server.calls} (Prometheus:
 * {@code grpc_server_calls_seconds_count}, {@code _sum}, {@code _max}), tagged with the
 * service, the method and the status code: the rate, the latency and the errors of each
 * RPC in one meter. A streaming call is timed from its start to its status.
 */
final class GrpcServerMetrics implements ServerInterceptor {
  private final MeterRegistry registry;

  GrpcServerMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    long started = System.nanoTime();
    String service = call.getMethodDescriptor().getServiceName();
    String method = call.getMethodDescriptor().getBareMethodName();
    return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        Timer.builder("grpc.server.calls")
            .description("gRPC calls answered, by method and status code")
            .tag("grpc_service", service == null ? "" : service)
            .tag("grpc_method", method == null ? "" : method)
            .tag("code", status.getCode().name())
            .register(registry)
            .record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
        super.close(status, trailers);
      }
    }, headers);
  }
}
